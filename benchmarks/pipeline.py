"""End to end: the demo pipeline (raw → pseudonymised → cohorts) at 10 M events with every blocking
check on, on a SQLite and on a PostgreSQL warehouse, against the same pipeline with its checks off
(each check passed unjudged, so what remains is loading, pseudonymising, releasing and writing).

Two ways of running it are measured:
- **in one process**, as `make demo` runs it (`execute_in_process`, Dagster's instance in memory):
  checks on and off; memory is the process's peak RSS. The checks' overhead is what the target
  says: the run with them against the same run without. One pair of runs minutes apart is noise
  on a shared machine (one pair once gave +7 % and +34 % on the two warehouses), so with
  `--repeats 3` or more the median pair is judged. The other figure is the seconds the
  materialisations say their checks took, against the rest of their run: it was the noise-proof
  measure while the checks ran alone, but a table's indexes are now built beside its checks, whose
  seconds then include that contention, and it overstates them (on 2026-12-01, +33 % on both
  warehouses, where the median pairs gave +27 % and +30 %). With fewer than three repeats it is
  the one judged;
- **a process per step**, as the daemon runs a scheduled run (`dagster job execute`: the job's
  executor forks each step from a preloading server, two at a time on this machine, so the other
  raw steps run beside the events): checks on; the wall time is the run's own, from its start to
  its end in the instance; memory is the peak proportional set size of the whole process tree.

    python -m benchmarks.pipeline [--quick] [--events N] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.common import peak_rss_mb, postgres_databases, wait_measuring_tree, write_results

EVENTS_PER_CUSTOMER = 14.3
BACKENDS = ("sqlite", "postgresql")
console = Console()


def _pass_checks_unjudged() -> None:
    """The baseline's only difference: `audit_staged` returns a pass for each of the asset's
    check specs without reading the staged table or judging anything."""
    from dagster import AssetCheckResult

    from compliance_assets.factories import publish

    def unjudged(context, warehouse, staging, evaluations):
        return [AssetCheckResult(asset_key=spec.asset_key, check_name=spec.name, passed=True) for spec in context.assets_def.check_specs]

    publish.audit_staged = unjudged


def _run_config(customers: int) -> dict:
    return {
        "resources": {"demo_source": {"config": {"customers": customers, "events_per_customer": EVENTS_PER_CUSTOMER, "seed": 7}}},
        "loggers": {"console": {"config": {"log_level": "ERROR"}}},
    }


def _events_published(success: bool) -> int:
    from compliance_demo.definitions import defs
    from compliance_assets.tiers import Tier, table_name

    if not success:
        return 0
    with defs.resources["warehouse"].process_config_and_initialize_cm() as warehouse:
        return warehouse.row_count(table_name(Tier.RAW, "engagement_events"))


def _step_seconds(events) -> dict[str, float]:
    """Each successful step's duration, from a run's Dagster events."""
    from dagster import DagsterEventType

    return {
        event.step_key: round(event.event_specific_data.duration_ms / 1000, 2)
        for event in events
        if event.event_type == DagsterEventType.STEP_SUCCESS
    }


def _checks_seconds(events) -> float:
    """What the blocking checks took in a run, from its materialisations' own metadata."""
    from dagster import DagsterEventType

    from compliance_assets.tiers import CHECKS_SECONDS

    return round(
        sum(
            event.event_specific_data.materialization.metadata[CHECKS_SECONDS].value
            for event in events
            if event.event_type == DagsterEventType.ASSET_MATERIALIZATION
        ),
        2,
    )


def worker(checks: bool, customers: int) -> dict:
    from dagster import DagsterInstance

    from compliance_demo.definitions import build_definitions
    from resources.environment import register_dir
    from compliance_assets.register import load_register

    if not checks:
        _pass_checks_unjudged()
    defs = build_definitions(load_register(register_dir()))
    with DagsterInstance.ephemeral() as instance:
        started = time.perf_counter()
        result = defs.resolve_job_def("demo_pipeline").execute_in_process(run_config=_run_config(customers), instance=instance, raise_on_error=False)
        seconds = time.perf_counter() - started
    steps = _step_seconds(result.all_events)
    return {
        "success": result.success,
        "seconds": seconds,
        "checks_seconds": _checks_seconds(result.all_events),
        "events": _events_published(result.success),
        "steps": steps,
        "peak_rss_mb": peak_rss_mb(),
    }


def multiprocess_worker(customers: int) -> dict:
    """`dagster job execute` in the instance at $DAGSTER_HOME, its process tree's memory sampled."""
    from dagster import DagsterEventType, DagsterInstance

    home = Path(os.environ["DAGSTER_HOME"])
    config = home / "run_config.yaml"
    config.write_text(json.dumps(_run_config(customers)))  # JSON is YAML
    command = [sys.executable, "-W", "ignore", "-m", "dagster", "job", "execute", "-m", "compliance_demo.definitions", "-j", "demo_pipeline", "-c", str(config)]
    with open(home / "cli.log", "w") as log:
        peak_mb = wait_measuring_tree(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
    with DagsterInstance.get() as instance:
        (record,) = instance.get_run_records(limit=1)
        success = record.dagster_run.is_success
        logs = instance.all_logs(record.dagster_run.run_id, of_type={DagsterEventType.STEP_SUCCESS, DagsterEventType.ASSET_MATERIALIZATION})
        steps = _step_seconds(entry.dagster_event for entry in logs)
        checks = _checks_seconds(entry.dagster_event for entry in logs)
        seconds = record.end_time - record.start_time
    return {"success": success, "seconds": seconds, "checks_seconds": checks, "events": _events_published(success), "steps": steps, "peak_rss_mb": peak_mb}


def _measure(backend: str, checks: bool, customers: int, multiprocess: bool = False) -> dict:
    """One run in a fresh warehouse of `backend` and a fresh Dagster instance, in its own process."""
    from compliance_assets.resources.secrets import generate_secret

    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        home = Path(tmp) / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "COMPLIANCE_DATA_DIR": str(Path(tmp) / "data"),
            "COMPLIANCE_MASTER_KEY": generate_secret(),
            "COMPLIANCE_VAULT_KEY": generate_secret(),
        }
        command = [sys.executable, "-W", "ignore", "-m", "benchmarks.pipeline", "--worker", "--customers", str(customers)]
        command += ["--multiprocess"] if multiprocess else [] if checks else ["--checks-off"]
        if backend == "sqlite":
            completed = subprocess.run(command, env=env, capture_output=True, text=True)
        else:
            suffix = uuid.uuid4().hex[:8]
            with postgres_databases(f"bench_pipe_wh_{suffix}", f"bench_pipe_vault_{suffix}") as (warehouse_url, vault_url):
                env.update({"COMPLIANCE_WAREHOUSE_URL": warehouse_url, "COMPLIANCE_VAULT_URL": vault_url})
                completed = subprocess.run(command, env=env, capture_output=True, text=True)
    label = f"{backend}, {'a process per step' if multiprocess else 'one process'}, checks {'on' if checks else 'off'}"
    if completed.returncode != 0:
        raise RuntimeError(f"the run ({label}) failed:\n{completed.stderr[-3000:]}")
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    if not figures["success"]:
        raise RuntimeError(f"the demo pipeline failed ({label})")
    return figures


RUNS = {"checks_on": "one process", "checks_off": "one process", "per_step": "a process per step"}
CHECKED = ("checks_on", "per_step")  # the runs with every check on, judged against the targets


def _median_run(runs: list[dict]) -> dict:
    """The run of median wall time (the lower one of an even count: a run that happened), with every
    run's wall time beside it and the highest peak memory of them all."""
    middle = sorted(runs, key=lambda figures: figures["seconds"])[(len(runs) - 1) // 2]
    return {**middle, "every_run_s": [round(figures["seconds"], 1) for figures in runs], "peak_rss_mb": max(figures["peak_rss_mb"] for figures in runs)}


def _in_run_overhead(figures: dict) -> float:
    return figures["checks_seconds"] / (figures["seconds"] - figures["checks_seconds"])


def run(quick: bool, events: int | None = None, repeats: int = 1) -> dict:
    """`repeats` times each of the three runs, in turn, so a slow spell of a shared machine falls on
    all three; each figure is then the median run's."""
    events = events or (30_000 if quick else 10_000_000)
    customers = max(1_000, round(events / EVENTS_PER_CUSTOMER))
    results: dict = {"target_events": events, "customers": customers, "repeats": repeats, "runs": {}}
    median = f", the median of {repeats} runs each" if repeats > 1 else ""
    table = Table(title=f"The demo pipeline end to end, ~{events:,} events ({customers:,} contacts){median}")
    for column in ("warehouse", "executed in", "checks", "wall s", "events/s", "peak memory MB", "checks' overhead"):
        table.add_column(column, justify="left" if column in ("warehouse", "executed in", "checks") else "right")
    for backend in BACKENDS:
        repeated: dict[str, list[dict]] = {key: [] for key in RUNS}
        for turn in range(repeats):
            with console.status(f"{backend} ({turn + 1} of {repeats}): in one process with checks on, then off; then a process per step"):
                repeated["checks_on"].append(_measure(backend, True, customers))
                repeated["checks_off"].append(_measure(backend, False, customers))
                repeated["per_step"].append(_measure(backend, True, customers, multiprocess=True))
        figures = {key: _median_run(runs) for key, runs in repeated.items()}
        overhead = statistics.median(_in_run_overhead(one) for one in repeated["checks_on"])
        paired = figures["checks_on"]["seconds"] / figures["checks_off"]["seconds"] - 1
        results["runs"][backend] = {**figures, "checks_overhead": overhead, "checks_overhead_against_run_off": paired}
        for key, run_figures in figures.items():
            table.add_row(
                backend, RUNS[key], "off" if key == "checks_off" else "on", f"{run_figures['seconds']:.1f}",
                f"{run_figures['events'] / run_figures['seconds']:,.0f}", f"{run_figures['peak_rss_mb']:,.0f}",
                f"{overhead:+.0%} ({paired:+.0%})" if key == "checks_on" else "",
            )
    console.print(table)
    console.print("Peak memory: RSS of the one process; proportional set size of the whole tree for a process per step.")
    console.print(
        "Checks' overhead: the seconds the checks took in the run (their materialisations' privacy/checks_seconds, "
        "which include the index builds running beside them) against the rest of that run; in brackets, the run "
        "against the separate run with checks off, minutes apart."
    )
    steps = Table(title="Where the time goes, checks on (seconds per step)")
    steps.add_column("step")
    for backend in BACKENDS:
        for key in CHECKED:
            steps.add_column(f"{backend}, {RUNS[key]}", justify="right")
    for step in results["runs"][BACKENDS[0]]["checks_on"]["steps"]:
        steps.add_row(step, *(f"{results['runs'][b][key]['steps'].get(step, 0):.1f}" for b in BACKENDS for key in CHECKED))
    console.print(steps)
    at_scale = events >= 10_000_000  # the time and memory targets are set for 10 M events
    verdicts = []
    for backend in BACKENDS:
        for key in CHECKED:
            on = results["runs"][backend][key]
            verdicts += [
                (f"{backend}, {RUNS[key]}: {on['seconds']:.0f} s for {on['events']:,} events (target ≤ 90 s at 10 M)", on["seconds"] <= 90 if at_scale else None),
                (f"{backend}, {RUNS[key]}: peak memory {on['peak_rss_mb']:,.0f} MB (target ≤ 2,000 MB at 10 M)", on["peak_rss_mb"] <= 2000 if at_scale else None),
            ]
        judged = results["runs"][backend]
        # One pair of runs minutes apart is noise on a shared machine; the medians of three taken in
        # turn are not. Without them, the checks' own seconds, which overstate them (see the docstring).
        judged_overhead = judged["checks_overhead_against_run_off"] if repeats >= 3 else judged["checks_overhead"]
        verdicts.append(
            (
                f"{backend}: the run with the checks against the run without: {judged['checks_overhead_against_run_off']:+.0%}; "
                f"the checks' own seconds against the rest of their run: {judged['checks_overhead']:+.0%} "
                f"(target ≤ 30 %; {'the first judged, the median of three pairs' if repeats >= 3 else 'the second judged, which overstates them: one pair is noise, take --repeats 3'})",
                judged_overhead <= 0.30 if at_scale else None,
            )
        )
    for text, ok in verdicts:
        console.print({True: "[green]✓[/green] ", False: "[red]✗[/red] ", None: "· "}[ok] + text)
    results["targets_met"] = all(ok is not False for _, ok in verdicts) and at_scale
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds), as CI runs them")
    parser.add_argument("--events", type=int, help="how many events to generate (default 10 M; 30,000 with --quick)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each kind, taken in turn; the figures are the median run's (default 1)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--customers", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--checks-off", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--multiprocess", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(multiprocess_worker(args.customers) if args.multiprocess else worker(not args.checks_off, args.customers)))
        return
    write_results("pipeline", run(args.quick, args.events, args.repeats))


if __name__ == "__main__":
    main()
