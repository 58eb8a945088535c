"""End to end: the demo pipeline (raw → pseudonymised → cohorts) at 10 M events with every blocking
check on, on a SQLite and on a PostgreSQL warehouse, against the same pipeline with its checks off
(each check passed unjudged, so what remains is loading, pseudonymising, releasing and writing).
Each run is its own process, so its peak RSS is its own; Dagster's instance is in memory.

    python -m benchmarks.pipeline [--quick] [--events N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.common import peak_rss_mb, postgres_databases, write_results

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


def worker(checks: bool, customers: int) -> dict:
    from dagster import DagsterInstance, DagsterEventType

    from compliance_assets.definitions import build_definitions
    from compliance_assets.environment import register_dir
    from compliance_assets.factories.naming import Tier, table_name
    from compliance_assets.register import load_register

    if not checks:
        _pass_checks_unjudged()
    defs = build_definitions(load_register(register_dir()))
    config = {
        "resources": {"demo_source": {"config": {"customers": customers, "events_per_customer": EVENTS_PER_CUSTOMER, "seed": 7}}},
        "loggers": {"console": {"config": {"log_level": "ERROR"}}},
    }
    with DagsterInstance.ephemeral() as instance:
        started = time.perf_counter()
        result = defs.resolve_job_def("demo_pipeline").execute_in_process(run_config=config, instance=instance, raise_on_error=False)
        seconds = time.perf_counter() - started
    steps = {
        event.step_key: round(event.event_specific_data.duration_ms / 1000, 2)
        for event in result.all_events
        if event.event_type == DagsterEventType.STEP_SUCCESS
    }
    events = 0
    if result.success:
        with defs.resources["warehouse"].process_config_and_initialize_cm() as warehouse:
            events = warehouse.row_count(table_name(Tier.RAW, "engagement_events"))
    return {"success": result.success, "seconds": seconds, "events": events, "steps": steps, "peak_rss_mb": peak_rss_mb()}


def _measure(backend: str, checks: bool, customers: int) -> dict:
    """One run in a fresh warehouse of `backend`, in its own process."""
    from resources.secrets import generate_secret

    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        env = {
            **os.environ,
            "COMPLIANCE_DATA_DIR": str(Path(tmp) / "data"),
            "COMPLIANCE_MASTER_KEY": generate_secret(),
            "COMPLIANCE_VAULT_KEY": generate_secret(),
        }
        command = [sys.executable, "-W", "ignore", "-m", "benchmarks.pipeline", "--worker", "--customers", str(customers)] + ([] if checks else ["--checks-off"])
        if backend == "sqlite":
            completed = subprocess.run(command, env=env, capture_output=True, text=True)
        else:
            suffix = uuid.uuid4().hex[:8]
            with postgres_databases(f"bench_pipe_wh_{suffix}", f"bench_pipe_vault_{suffix}") as (warehouse_url, vault_url):
                env.update({"COMPLIANCE_WAREHOUSE_URL": warehouse_url, "COMPLIANCE_VAULT_URL": vault_url})
                completed = subprocess.run(command, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"the {backend} run (checks {'on' if checks else 'off'}) failed:\n{completed.stderr[-3000:]}")
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    if not figures["success"]:
        raise RuntimeError(f"the demo pipeline failed on {backend} (checks {'on' if checks else 'off'})")
    return figures


def run(quick: bool, events: int | None = None) -> dict:
    events = events or (30_000 if quick else 10_000_000)
    customers = max(1_000, round(events / EVENTS_PER_CUSTOMER))
    results: dict = {"target_events": events, "customers": customers, "runs": {}}
    table = Table(title=f"The demo pipeline end to end, ~{events:,} events ({customers:,} contacts)")
    for column in ("warehouse", "checks", "wall s", "events/s", "peak RSS MB", "checks' overhead"):
        table.add_column(column, justify="left" if column in ("warehouse", "checks") else "right")
    for backend in BACKENDS:
        with console.status(f"{backend}: checks on, then off"):
            on, off = _measure(backend, True, customers), _measure(backend, False, customers)
        overhead = on["seconds"] / off["seconds"] - 1
        results["runs"][backend] = {"checks_on": on, "checks_off": off, "checks_overhead": overhead}
        for label, figures in (("on", on), ("off", off)):
            table.add_row(
                backend, label, f"{figures['seconds']:.1f}", f"{figures['events'] / figures['seconds']:,.0f}",
                f"{figures['peak_rss_mb']:,.0f}", f"{overhead:+.0%}" if label == "on" else "",
            )
    console.print(table)
    steps = Table(title="Where the time goes, checks on (seconds per step)")
    steps.add_column("step")
    for backend in BACKENDS:
        steps.add_column(backend, justify="right")
    for step in results["runs"][BACKENDS[0]]["checks_on"]["steps"]:
        steps.add_row(step, *(f"{results['runs'][b]['checks_on']['steps'].get(step, 0):.1f}" for b in BACKENDS))
    console.print(steps)
    at_scale = events >= 10_000_000  # the time and memory targets are set for 10 M events
    verdicts = []
    for backend in BACKENDS:
        on = results["runs"][backend]["checks_on"]
        verdicts += [
            (f"{backend}: {on['seconds']:.0f} s for {on['events']:,} events (target ≤ 90 s at 10 M)", on["seconds"] <= 90 if at_scale else None),
            (f"{backend}: peak RSS {on['peak_rss_mb']:,.0f} MB (target ≤ 2,000 MB at 10 M)", on["peak_rss_mb"] <= 2000 if at_scale else None),
            (f"{backend}: the checks add {results['runs'][backend]['checks_overhead']:.0%} (target ≤ 30 %)", results["runs"][backend]["checks_overhead"] <= 0.30),
        ]
    for text, ok in verdicts:
        console.print({True: "[green]✓[/green] ", False: "[red]✗[/red] ", None: "· "}[ok] + text)
    results["targets_met"] = all(ok is not False for _, ok in verdicts) and at_scale
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds), as CI runs them")
    parser.add_argument("--events", type=int, help="how many events to generate (default 10 M; 30,000 with --quick)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--customers", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--checks-off", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(not args.checks_off, args.customers)))
        return
    write_results("pipeline", run(args.quick, args.events))


if __name__ == "__main__":
    main()
