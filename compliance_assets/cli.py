"""`compliance-assets` (or `python -m compliance_assets`): a team's code location from a terminal.

Every command works on one code location: `--location MODULE` (the module whose `defs` is it), or
by default the one the project in the current folder names in `pyproject.toml`
(`[tool.dg.project]` or `[tool.dagster] module_name`). The register is the one the location was
built from, or `--register DIR`. Errors are one readable line and exit code 2."""

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

from compliance_assets.cli_dpia import add_dpia_commands, run_dpia_command
from compliance_assets.cli_target import CliError, Target
from compliance_assets.jobs.dpia import REPORTS_ASSET
from compliance_assets.register import RegisterError, load_register
from compliance_assets.rights.requests import request_problem, served_lines

console = Console()

_STEP_EVENTS = (
    DagsterEventType.STEP_START,
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.ASSET_MATERIALIZATION,
    DagsterEventType.ASSET_CHECK_EVALUATION,
)


def _partition_tags(job, chosen: str | None) -> dict[str, str]:
    """The run tags of a backfill of `chosen` days in one run: `START...END`, or `all` for every
    partition the job's assets have so far (so none of them looks unloaded afterwards)."""
    if not chosen:
        return {}
    partitions = job.partitions_def
    if partitions is None:
        raise CliError(f"job '{job.name}' has no partitioned asset: drop --partitions")
    keys = partitions.get_partition_keys()
    start, _, end = chosen.partition("...")
    if chosen == "all":
        start, end = keys[0], keys[-1]
    if start not in keys or end not in keys:
        raise CliError(f"--partitions takes START...END between {keys[0]} and {keys[-1]}, or 'all'; got '{chosen}'")
    return {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}


def _run(target: Target, job_name: str, config_path: str | None, run_config: dict | None = None, partitions: str | None = None) -> int:
    job = target.job(job_name)
    tags = _partition_tags(job, partitions)
    run_config = run_config or (yaml.safe_load(open(config_path, encoding="utf-8")) if config_path else {})
    # The progress bar replaces Dagster's step-by-step console log; warnings still show.
    run_config.setdefault("loggers", {"console": {"config": {"log_level": "WARNING"}}})
    instance = DagsterInstance.get()
    run_id = str(uuid.uuid4())
    steps = sorted(node.name for node in job.graph.nodes)
    outcome: dict[str, object] = {}

    def execute() -> None:
        outcome["result"] = job.execute_in_process(run_config=run_config, instance=instance, run_id=run_id, raise_on_error=False, tags=tags)

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
        console.print(f"[green]Run {run_id} succeeded.[/green] In the Dagster UI (`dg dev`): http://127.0.0.1:3000/runs/{run_id}")
        if REPORTS_ASSET in rows:
            reports = target.folders().reports
            console.print(f"The reports are in {reports}: open {reports / 'checklist.html'} first, then the RoPA and each DPIA beside it.")
        return 0
    console.print(f"[red]Run {run_id} failed[/red] at {', '.join(failed) or 'start-up'}; see http://127.0.0.1:3000/runs/{run_id} (`dg dev`)")
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


def _resources_of(target: Target):
    @contextmanager
    def resources(*keys: str) -> Iterator[list]:
        """Resources as a run would get them (EnvVar-configured values resolved, nested ones wired)."""
        with ExitStack() as stack:
            yield [stack.enter_context(target.defs.resources[key].process_config_and_initialize_cm()) for key in keys]

    return resources


def _reidentify(target: Target, args: argparse.Namespace) -> int:
    from compliance_assets.vault.reidentification import ReidentificationRefused, reidentify

    register = target.register()
    if args.domain not in register.domains():
        raise CliError(f"unknown domain '{args.domain}': the register's domains are {', '.join(register.domains())}")
    try:
        with _resources_of(target)("pseudonym_vault", "audit_trail") as (vault, audit):
            identifier = reidentify(
                register, vault, audit,
                domain=args.domain, pseudonym=args.pseudonym, purpose=args.purpose, actor=args.actor,
            )
    except (ReidentificationRefused, LookupError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    print(identifier)
    return 0


def _rotate_keys(target: Target, args: argparse.Namespace) -> int:
    from compliance_assets.vault.rotation import rotate_keys

    with _resources_of(target)("warehouse", "pseudonym_vault", "pseudonym_keys", "audit_trail") as (warehouse, vault, keys, audit), Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=console) as progress:
        tasks: dict[str, object] = {}

        def advance(where: str, done: int, total: int) -> None:
            if where not in tasks:
                tasks[where] = progress.add_task(where, total=total)
            progress.update(tasks[where], completed=done)

        report = rotate_keys(
            target.register(), warehouse, vault, keys, audit,
            actor=args.actor, batch_rows=args.batch_rows, pause_seconds=args.pause_seconds, progress=advance,
        )
    if report.completed:
        console.print(f"[green]Key version {report.new_version} is active; version {report.old_version} is destroyed.[/green]")
        return 0
    console.print(f"[red]Rotation to version {report.new_version} not verified; version {report.old_version} kept:[/red]")
    for problem in report.problems:
        console.print(f"  - {problem}")
    return 1


def _check(target: Target, args: argparse.Namespace) -> int:
    from compliance_assets.gate import run_gate

    sample = yaml.safe_load(open(args.sample_config, encoding="utf-8")) if args.sample_config else {}
    sample.setdefault("loggers", {"console": {"config": {"log_level": "CRITICAL"}}})
    with console.status("Checking the register, the definitions and a staging sample…"):
        violations = run_gate(target.register_dir(), target.module, args.job, sample)
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


def _verify_audit(target: Target) -> int:
    """Checks the chain under its key and against every head checkpointed in this Dagster instance."""
    with _resources_of(target)("audit_trail") as (audit,):
        verification = audit.verification(DagsterInstance.get())
    if verification.intact:
        console.print(f"[green]Audit trail intact:[/green] {verification.summary()}.", soft_wrap=True)
        return 0
    console.print(f"[red]Audit trail {verification.summary()}[/red]", soft_wrap=True)
    return 1


def _request(target: Target, args: argparse.Namespace) -> int:
    """Files a request (the identifier comes on standard input, never on the command line, where
    shell history and the process list would keep it), or serves one now in this process and
    says what became of the subject's data."""
    from compliance_assets.jobs.privacy_requests import REQUEST_JOB
    from compliance_assets.resources.requests import PrivacyRequests

    if args.request_command == "serve":
        with _resources_of(target)("pseudonym_vault") as (vault,):
            try:
                PrivacyRequests(vault).get(args.request_id)
            except LookupError as error:
                raise CliError(str(error.args[0])) from error
        code = _run(target, REQUEST_JOB, None, {"ops": {"handle_privacy_requests": {"config": {"request_ids": [args.request_id]}}}})
        with _resources_of(target)("pseudonym_vault") as (vault,):
            request = PrivacyRequests(vault).get(args.request_id)
        for line in served_lines(request.kind, request.status, request.outcome or {}):
            console.print(line)
        return code
    problem = request_problem(target.register(), args.source, args.scope)
    if problem:
        raise CliError(problem)
    identifier = sys.stdin.readline().strip()
    with _resources_of(target)("pseudonym_vault") as (vault,):
        try:
            request_id = PrivacyRequests(vault).submit(args.request_command, args.source, identifier, args.scope)
        except ValueError as exc:
            raise CliError(str(exc)) from exc
    print(request_id)
    return 0


def _validate_register(target: Target) -> int:
    try:
        register = load_register(target.register_dir())
    except RegisterError as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    console.print(f"[green]Register OK[/green]: {len(register.activities)} activities, {len(register.asset_names)} assets.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="compliance-assets", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--location", help="module whose `defs` is the code location (default: the project's, from pyproject.toml)")
    parser.add_argument("--register", help="register folder (default: the one the code location was built from)")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a job of the code location, with progress")
    run.add_argument("job")
    run.add_argument("-c", "--config", help="run config YAML")
    run.add_argument("--partitions", help="a backfill in one run: START...END (days), or 'all' for every partition so far")
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
    commands.add_parser("verify-audit", help="verify the audit trail's keyed chain and checkpointed heads; names the first bad record")
    gate = commands.add_parser("check", help="the deploy gate for CI: exits non-zero on any privacy violation")
    gate.add_argument("--job", action="append", required=True, help="job(s) to run on the staging sample")
    gate.add_argument("--sample-config", help="run config YAML for the staging sample (e.g. a small source)")
    request = commands.add_parser("request", help="data-subject requests: file one, or serve one now")
    request_commands = request.add_subparsers(dest="request_command", required=True)
    for kind, text in (
        ("erasure", "file an erasure request (Art. 17); the identifier is read from standard input"),
        ("access", "file an access request (Art. 15): a JSON and CSV export of everything held"),
        ("portability", "file a portability request (Art. 20): the data the subject provided"),
    ):
        filed = request_commands.add_parser(kind, help=text)
        filed.add_argument("--source", required=True, help="raw source whose subject identifier is given")
        filed.add_argument("--scope", help="the subject's scope, e.g. the client workspace, where the source has one")
    serve = request_commands.add_parser("serve", help="serve a filed request now, in this process (the sensor does it on the daemon)")
    serve.add_argument("request_id")
    add_dpia_commands(commands)
    args = parser.parse_args(argv)
    try:
        return _dispatch(Target.resolve(args.location, args.register), args)
    except CliError as error:
        console.print(f"[red]{error}[/red]", highlight=False)
        return 2


def _dispatch(target: Target, args: argparse.Namespace) -> int:
    if args.command == "dpia":
        return run_dpia_command(target, args, _resources_of(target))
    if args.command == "request":
        return _request(target, args)
    if args.command == "check":
        return _check(target, args)
    if args.command == "verify-audit":
        return _verify_audit(target)
    if args.command == "run":
        return _run(target, args.job, args.config, partitions=args.partitions)
    if args.command == "reidentify":
        return _reidentify(target, args)
    if args.command == "rotate-keys":
        return _rotate_keys(target, args)
    return _validate_register(target)


if __name__ == "__main__":
    sys.exit(main())
