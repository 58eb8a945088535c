"""`compliance-assets dpia ...`: the DPO's side of the living DPIA from a terminal."""

from __future__ import annotations

import argparse
import os
from types import SimpleNamespace

from dagster import DagsterInstance
from rich.console import Console
from rich.table import Table

from compliance_assets.dpia.approvals import Decision, write_pin

console = Console()


def _context(defs, dpia_reviews, audit_trail) -> SimpleNamespace:
    """What a run's context offers `decide`: the deployed code, the instance (for row counts) and resources."""
    instance = DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None
    return SimpleNamespace(
        repository_def=defs.get_repository_def(),
        instance=instance,
        resources=SimpleNamespace(dpia_reviews=dpia_reviews, audit_trail=audit_trail),
    )


def dpia_status(target, resources) -> int:
    from compliance_assets.dpia.lineage import review_states

    defs, register = target.defs, target.register()
    with resources("dpia_reviews", "audit_trail") as (store, audit):
        context = _context(defs, store, audit)
        states = review_states(context.repository_def.asset_graph, context.instance, register, store, sorted(register.dpias))
        table = Table(title="DPIAs")
        for column in ("activity", "status", "approved by", "open reviews", "changes"):
            table.add_column(column)
        blocked = 0
        for activity, state in states.items():
            open_reviews = store.blocking(activity)
            blocked += bool(open_reviews or state.needs_review)
            table.add_row(
                activity,
                "[red]review required[/red]" if state.needs_review or open_reviews else "[green]approved[/green]",
                f"{state.approved.approver} {state.approved.decided_at:%Y-%m-%d}" if state.approved else "-",
                str(len(open_reviews)),
                "\n".join(c.text for c in state.changes) or "-",
            )
    console.print(table)
    return 1 if blocked else 0


def dpia_decide(target, args: argparse.Namespace, resources) -> int:
    from compliance_assets.jobs.dpia import DpiaDecision, decide

    defs, register = target.defs, target.register()
    config = DpiaDecision(activity=args.activity, approver=args.approver, decision=args.decision, comment=args.comment)
    with resources("dpia_reviews", "audit_trail") as (store, audit):
        try:
            context = _context(defs, store, audit)
            state, _, path, open_reviews = decide(context, context.repository_def, register, config, target.folders().reports)
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            return 2
    console.print(f"{args.decision}d the DPIA of '{args.activity}' (state {state.current.digest[:12]}); open reviews: {open_reviews}; report: {path}")
    if args.pin and args.decision == "approve":
        pinned = write_pin(register.directory, Decision(args.activity, state.current, "approve", args.approver, args.comment, state.approved.decided_at))
        console.print(f"pinned in the repository: {pinned} (commit it so the deploy gate accepts this state)")
    return 0


def add_dpia_commands(commands) -> None:
    dpia = commands.add_parser("dpia", help="DPIA status and the DPO's decisions")
    sub = dpia.add_subparsers(dest="dpia_command", required=True)
    sub.add_parser("status", help="each DPIA's state against its approval; exits 1 while any review is open")
    for verb, text in (("approve", "approve the deployed state: pins it and unblocks publication"), ("reject", "reject the deployed state: publication stays blocked")):
        decided = sub.add_parser(verb, help=text)
        decided.add_argument("activity")
        decided.add_argument("--approver", required=True, help="the DPO's email")
        decided.add_argument("--comment", required=True)
        decided.set_defaults(decision=verb)
        if verb == "approve":
            decided.add_argument("--pin", action="store_true", help="also pin the approved state in register/dpia/approved/ for the deploy gate")


def run_dpia_command(target, args: argparse.Namespace, resources) -> int:
    if args.dpia_command == "status":
        return dpia_status(target, resources)
    args.pin = getattr(args, "pin", False)
    return dpia_decide(target, args, resources)
