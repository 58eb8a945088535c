"""Erasure and retention on PostgreSQL, on tables the real pipeline published, the events table then
grown in SQL to 10 M rows (copies of the published events under made-up contact ids, so no real
subject gains rows): one erasure's latency (locate the subject, then delete or anonymise its rows
in every tier and the vault), 1,000 queued erasures drained the way the daemon drains them (request
sensor ticks, the runs it asks for, the cohort refresh), and one retention pass deleting 10 % of
the events.

    python -m benchmarks.erasure [--quick]     (needs PostgreSQL on 127.0.0.1:5432, trust auth)
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from dagster import DagsterInstance
from rich.console import Console
from rich.table import Table

from benchmarks.common import postgres_databases, run_alone

console = Console()
def run(quick: bool) -> dict:
    from compliance_assets.resources.secrets import generate_secret

    customers, samples, queued, event_rows = (2_000, 10, 20, 50_000) if quick else (100_000, 50, 1_000, 10_000_000)
    suffix = uuid.uuid4().hex[:8]
    keep = dict(os.environ)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-erasure-") as tmp, postgres_databases(f"bench_wh_{suffix}", f"bench_vault_{suffix}") as (warehouse_url, vault_url):
            os.environ.update(
                {
                    "COMPLIANCE_WAREHOUSE_URL": warehouse_url,
                    "COMPLIANCE_VAULT_URL": vault_url,
                    "COMPLIANCE_MASTER_KEY": generate_secret(),
                    "COMPLIANCE_VAULT_KEY": generate_secret(),
                    "COMPLIANCE_DATA_DIR": str(Path(tmp) / "data"),
                }
            )
            return _measure(customers, samples, queued, event_rows)
    finally:
        os.environ.clear()
        os.environ.update(keep)


def _grow(warehouse, table: str, rows: int) -> int:
    """Appends copies of the table's rows under made-up contact ids until it holds about `rows`."""
    engine = warehouse.get_engine()
    with engine.begin() as connection:
        have = connection.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one()
        copies = max(0, round(rows / have) - 1) if have else 0
        if copies:
            connection.execute(sa.text(
                f'''INSERT INTO "{table}" (event_id, workspace_id, customer_id, campaign_id, event_type, occurred_at, ip_address, user_agent)
                SELECT event_id || '-' || g, workspace_id, 'copy' || g || '-' || customer_id, campaign_id, event_type, occurred_at, ip_address, user_agent
                FROM "{table}" CROSS JOIN generate_series(1, :copies) AS g'''
            ), {"copies": copies})
        connection.execute(sa.text(f'ANALYZE "{table}"'))
        return connection.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one()


def _drain(defs, instance, vault, quiet: dict) -> tuple[int, int]:
    """What the daemon does with a backlog: tick the request sensor, run what it asks for, until
    it asks for nothing. Returns (request runs, refresh runs)."""
    from dagster import build_sensor_context

    sensor = defs.resolve_sensor_def("privacy_requests")
    runs = {"privacy_request": 0, "cohort_refresh": 0}
    while True:
        with build_sensor_context(instance=instance, resources={"pseudonym_vault": vault}, definitions=defs) as context:
            requests = list(sensor(context))
        if not requests:
            return runs["privacy_request"], runs["cohort_refresh"]
        for request in requests:
            job = defs.resolve_job_def(request.job_name)
            config = {**(request.run_config or {}), **quiet}
            assert job.execute_in_process(run_config=config, instance=instance, asset_selection=request.asset_selection, tags=request.tags).success
            runs[request.job_name] += 1


def _measure(customers: int, samples: int, queued: int, event_rows: int) -> dict:
    from compliance_demo.definitions import build_definitions
    from compliance_assets.tiers import Tier, table_name
    from compliance_assets.register import load_register
    from resources.environment import register_dir
    from compliance_assets.rights.erasure import erase
    from compliance_assets.rights.heap import long_lived_objects_frozen
    from compliance_assets.rights.locate import locate_subject
    from compliance_assets.resources.requests import PrivacyRequests

    register = load_register(register_dir())
    defs = build_definitions(register)
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    config = {"resources": {"demo_source": {"config": {"customers": customers, "events_per_customer": 12.0, "seed": 11}}}, **quiet}
    with DagsterInstance.ephemeral() as instance:
        started = time.perf_counter()
        assert defs.resolve_job_def("demo_pipeline").execute_in_process(run_config=config, instance=instance).success
        pipeline_seconds = time.perf_counter() - started
        with ExitStack() as stack:
            warehouse, vault, keys = (stack.enter_context(defs.resources[k].process_config_and_initialize_cm()) for k in ("warehouse", "pseudonym_vault", "pseudonym_keys"))
            events_table = table_name(Tier.RAW, "engagement_events")
            with console.status(f"growing {events_table} to {event_rows:,} rows"):
                events_held = _grow(warehouse, events_table, event_rows)
            raw_customers = warehouse.read_table(table_name(Tier.RAW, "customers"), ["email", "workspace_id"]).dropna()
            raw_customers = raw_customers[raw_customers["email"].str.strip() != ""]  # the demo's exports leave some blank: such a subject is asked for by another identifier
            picks = raw_customers.sample(samples + queued, random_state=5)
            locate_s, erase_s = [], []
            with long_lived_objects_frozen():  # as the request job serves them
                for email, workspace in picks.iloc[:samples].itertuples(index=False):
                    t0 = time.perf_counter()
                    plan = locate_subject(register, warehouse, keys, "customers", email, workspace)
                    t1 = time.perf_counter()
                    erase(register, warehouse, vault, plan)
                    t2 = time.perf_counter()
                    locate_s.append(t1 - t0)
                    erase_s.append(t2 - t1)
            store = PrivacyRequests(vault)
            for email, workspace in picks.iloc[samples:].itertuples(index=False):
                store.submit("erasure", "customers", email, workspace)
            t0 = time.perf_counter()
            with console.status(f"draining {queued:,} queued erasures"):
                request_runs, refresh_runs = _drain(defs, instance, vault, quiet)
            drain_seconds = time.perf_counter() - t0
            assert not store.with_status("pending", "queued", "running", "erased", "failed")
            cutoff = warehouse.read_table(events_table, ["occurred_at"])["occurred_at"].quantile(0.10)
            t0 = time.perf_counter()
            purged = warehouse.purge_expired(events_table, "occurred_at", [(cutoff.to_pydatetime(), list(register.sources["engagement_events"].columns))], batch_rows=10_000)
            purge_seconds = time.perf_counter() - t0
    total = [a + b for a, b in zip(locate_s, erase_s, strict=True)]
    figures = {
        "customers": customers,
        "event_rows": int(events_held),
        "pipeline_seconds": round(pipeline_seconds, 1),
        "erasure_p50_s": round(statistics.median(total), 3),
        "erasure_p95_s": round(float(np.percentile(total, 95)), 3),
        "locate_p50_s": round(statistics.median(locate_s), 3),
        "erase_p50_s": round(statistics.median(erase_s), 3),
        "queued_erasures": queued,
        "queued_erasures_minutes": round(drain_seconds / 60, 2),
        "queued_erasures_request_runs": request_runs,
        "queued_erasures_refresh_runs": refresh_runs,
        "retention_rows_deleted": purged,
        "retention_seconds": round(purge_seconds, 2),
        "retention_rows_per_s": round(purged / purge_seconds) if purge_seconds else None,
    }
    table = Table(title=f"Erasure and retention on PostgreSQL ({customers:,} contacts, {events_held:,} events)")
    table.add_column("measure")
    table.add_column("figure", justify="right")
    table.add_row("one erasure p50 / p95 (locate + delete everywhere)", f"{figures['erasure_p50_s']} s / {figures['erasure_p95_s']} s (target p95 < 0.5 s)")
    table.add_row("  of which locate / erase (p50)", f"{figures['locate_p50_s']} s / {figures['erase_p50_s']} s")
    table.add_row(
        f"{queued:,} queued erasures: sensor ticks + {request_runs} request run(s) + {refresh_runs} cohort refresh run(s)",
        f"{figures['queued_erasures_minutes']} min (target < 5 min)",
    )
    table.add_row("retention pass, ~10 % of the events", f"{purged:,} rows in {figures['retention_seconds']} s ({figures['retention_rows_per_s']:,} rows/s)")
    console.print(table)
    return figures


if __name__ == "__main__":
    run_alone("erasure", run, __doc__)
