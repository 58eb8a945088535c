"""`python -m compliance_assets`: run a job with progress, or validate the register."""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

import yaml
from dagster import DagsterEventType, DagsterInstance
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from compliance_assets import environment
from compliance_assets.cli_dpia import add_dpia_commands, run_dpia_command
from compliance_assets.register import RegisterError, load_register

console = Console()

_STEP_EVENTS = (
    DagsterEventType.STEP_START,
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.ASSET_MATERIALIZATION,
    DagsterEventType.ASSET_CHECK_EVALUATION,
)


def _run(job_name: str, config_path: str | None, run_config: dict | None = None) -> int:
    from compliance_assets.definitions import defs

    job = defs.resolve_job_def(job_name)
    run_config = run_config or (yaml.safe_load(open(config_path, encoding="utf-8")) if config_path else {})
    # The progress bar replaces Dagster's step-by-step console log; warnings still show.
    run_config.setdefault("loggers", {"console": {"config": {"log_level": "WARNING"}}})
    instance = DagsterInstance.get()
    run_id = str(uuid.uuid4())
    steps = sorted(node.name for node in job.graph.nodes)
    outcome: dict[str, object] = {}

    def execute() -> None:
        outcome["result"] = job.execute_in_process(run_config=run_config, instance=instance, run_id=run_id, raise_on_error=False)

    worker = threading.Thread(target=execute, daemon=True)
    checks: list[tuple[str, str, bool]] = []
    rows: dict[str, object] = {}
    failed: list[str] = []
    seen = 0
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(f"{job_name}: starting", total=len(steps))

        def drain() -> None:
            nonlocal seen
            records = instance.all_logs(run_id, of_type=set(_STEP_EVENTS))
            for record in records[seen:]:
                event = record.dagster_event
                if event.event_type == DagsterEventType.STEP_START:
                    progress.update(task, description=f"{job_name}: {event.step_key}")
                elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
                    progress.advance(task)
                    if event.event_type == DagsterEventType.STEP_FAILURE:
                        failed.append(event.step_key)
                elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                    materialization = event.event_specific_data.materialization
                    # Reports have no rows: show their status (a DPIA's) or that they were written.
                    shown = materialization.metadata.get("dagster/row_count") or materialization.metadata.get("status")
                    rows[materialization.asset_key.to_user_string()] = shown.value if shown else "written"
                elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                    evaluation = event.event_specific_data
                    checks.append((evaluation.asset_key.to_user_string(), evaluation.check_name, evaluation.passed))
            seen = len(records)

        worker.start()
        while worker.is_alive():
            drain()
            time.sleep(0.25)
        worker.join()
        drain()
    _summary(rows, checks)
    result = outcome["result"]
    if result.success:
        console.print(f"[green]Run {run_id} succeeded.[/green] Open the Dagster UI with [bold]make ui[/bold] → http://127.0.0.1:3000/runs/{run_id}")
        return 0
    console.print(f"[red]Run {run_id} failed[/red] at {', '.join(failed) or 'start-up'}; see http://127.0.0.1:3000/runs/{run_id} (make ui)")
    return 1


def _summary(rows: dict[str, object], checks: list[tuple[str, str, bool]]) -> None:
    table = Table(title="Published assets and their blocking checks")
    table.add_column("asset")
    table.add_column("rows / status", justify="right")
    table.add_column("checks")
    by_asset: dict[str, list[str]] = {}
    for asset, name, passed in checks:
        by_asset.setdefault(asset, []).append(f"[green]✓ {name}[/green]" if passed else f"[red]✗ {name}[/red]")
    for asset in sorted(set(rows) | set(by_asset)):
        table.add_row(asset, str(rows.get(asset, "not published")), "  ".join(by_asset.get(asset, [])))
    console.print(table)


@contextmanager
def _resources(*keys: str) -> Iterator[list]:
    """Resources as a run would get them (EnvVar-configured values resolved, nested ones wired)."""
    from compliance_assets.definitions import defs

    with ExitStack() as stack:
        yield [stack.enter_context(defs.resources[key].process_config_and_initialize_cm()) for key in keys]


def _reidentify(args: argparse.Namespace) -> int:
    from compliance_assets.vault.reidentification import ReidentificationRefused, reidentify

    try:
        with _resources("pseudonym_vault", "audit_trail") as (vault, audit):
            identifier = reidentify(
                load_register(environment.register_dir()), vault, audit,
                domain=args.domain, pseudonym=args.pseudonym, purpose=args.purpose, actor=args.actor,
            )
    except (ReidentificationRefused, LookupError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    print(identifier)
    return 0


def _rotate_keys(args: argparse.Namespace) -> int:
    from compliance_assets.vault.rotation import rotate_keys

    with _resources("warehouse", "pseudonym_vault", "pseudonym_keys", "audit_trail") as (warehouse, vault, keys, audit), Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=console) as progress:
        tasks: dict[str, object] = {}

        def advance(where: str, done: int, total: int) -> None:
            if where not in tasks:
                tasks[where] = progress.add_task(where, total=total)
            progress.update(tasks[where], completed=done)

        report = rotate_keys(
            load_register(environment.register_dir()), warehouse, vault, keys, audit,
            actor=args.actor, batch_rows=args.batch_rows, pause_seconds=args.pause_seconds, progress=advance,
        )
    if report.completed:
        console.print(f"[green]Key version {report.new_version} is active; version {report.old_version} is destroyed.[/green]")
        return 0
    console.print(f"[red]Rotation to version {report.new_version} not verified; version {report.old_version} kept:[/red]")
    for problem in report.problems:
        console.print(f"  - {problem}")
    return 1


DEMO_MODULE = "compliance_assets.definitions"
DEMO_SAMPLE = {"resources": {"demo_source": {"config": {"customers": 2000}}}}


def _check(args: argparse.Namespace) -> int:
    from compliance_assets.gate import run_gate

    sample = yaml.safe_load(open(args.sample_config, encoding="utf-8")) if args.sample_config else (DEMO_SAMPLE if args.module == DEMO_MODULE else {})
    sample.setdefault("loggers", {"console": {"config": {"log_level": "CRITICAL"}}})
    with console.status("Checking the register, the definitions and a staging sample…"):
        violations = run_gate(environment.register_dir(), args.module, args.job or ["demo_pipeline"], sample)
    if not violations:
        console.print("[green]Deploy gate passed:[/green] register complete, every personal-data asset carries its tier's blocking checks, and they pass on the staging sample.")
        return 0
    table = Table(title=f"Deploy gate: {len(violations)} violation(s)")
    for column in ("rule", "where", "what"):
        table.add_column(column, overflow="fold")
    for violation in violations:
        table.add_row(violation.rule, violation.where, violation.detail)
    console.print(table)
    return 1


def _verify_audit() -> int:
    with _resources("audit_trail") as (audit,):
        problem = audit.verify()
        records = len(audit.records())
    if problem is None:
        console.print(f"[green]Audit trail intact:[/green] {records} records, hash chain verified.")
        return 0
    console.print(f"[red]Audit trail broken at {problem}[/red]")
    return 1


def _request(args: argparse.Namespace) -> int:
    """Files a request (the identifier comes on standard input, never on the command line, where
    shell history and the process list would keep it), or serves one now in this process."""
    from compliance_assets.jobs.privacy_requests import REQUEST_JOB
    from resources.requests import PrivacyRequests

    if args.request_command == "serve":
        return _run(REQUEST_JOB, None, {"ops": {"handle_privacy_requests": {"config": {"request_ids": [args.request_id]}}}})
    identifier = sys.stdin.readline().strip()
    with _resources("pseudonym_vault") as (vault,):
        try:
            request_id = PrivacyRequests(vault).submit(args.request_command, args.source, identifier, args.scope)
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            return 2
    print(request_id)
    return 0


def _validate_register() -> int:
    try:
        register = load_register(environment.register_dir())
    except RegisterError as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    console.print(f"[green]Register OK[/green]: {len(register.activities)} activities, {len(register.asset_names)} assets.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compliance_assets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a job of the demo code location, with progress")
    run.add_argument("job", nargs="?", default="demo_pipeline")
    run.add_argument("-c", "--config", help="run config YAML")
    commands.add_parser("validate-register", help="load the register and report every problem")
    reid = commands.add_parser("reidentify", help="read an identifier back from a pseudonym (audited)")
    reid.add_argument("--domain", required=True)
    reid.add_argument("--pseudonym", required=True)
    reid.add_argument("--purpose", required=True, help="fideslang data use the register allows for the domain")
    reid.add_argument("--actor", required=True, help="who asks (recorded in the audit trail)")
    rotate = commands.add_parser("rotate-keys", help="move every pseudonym to a new key version, then destroy the old one")
    rotate.add_argument("--actor", required=True)
    rotate.add_argument("--batch-rows", type=int, default=5_000)
    rotate.add_argument("--pause-seconds", type=float, default=0.0)
    commands.add_parser("verify-audit", help="verify the audit trail's hash chain; names the first bad record")
    gate = commands.add_parser("check", help="the deploy gate for CI: exits non-zero on any privacy violation")
    gate.add_argument("--module", default=DEMO_MODULE, help="module whose `defs` is the code location")
    gate.add_argument("--job", action="append", help="job(s) to run on the staging sample (default: demo_pipeline)")
    gate.add_argument("--sample-config", help="run config YAML for the staging sample")
    request = commands.add_parser("request", help="data-subject requests: file one, or serve one now")
    request_commands = request.add_subparsers(dest="request_command", required=True)
    for kind, text in (
        ("erasure", "file an erasure request (Art. 17); the identifier is read from standard input"),
        ("access", "file an access request (Art. 15): a JSON and CSV export of everything held"),
        ("portability", "file a portability request (Art. 20): the data the subject provided"),
    ):
        filed = request_commands.add_parser(kind, help=text)
        filed.add_argument("--source", default="customers", help="raw source whose subject identifier is given")
        filed.add_argument("--scope", help="the subject's scope, e.g. the client workspace")
    serve = request_commands.add_parser("serve", help="serve a filed request now, in this process (the sensor does it on the daemon)")
    serve.add_argument("request_id")
    add_dpia_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "dpia":
        return run_dpia_command(args, _resources)
    if args.command == "request":
        return _request(args)
    if args.command == "check":
        return _check(args)
    if args.command == "verify-audit":
        return _verify_audit()
    if args.command == "run":
        return _run(args.job, args.config)
    if args.command == "reidentify":
        return _reidentify(args)
    if args.command == "rotate-keys":
        return _rotate_keys(args)
    return _validate_register()


if __name__ == "__main__":
    sys.exit(main())
