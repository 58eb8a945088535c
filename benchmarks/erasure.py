"""Erasure and retention on PostgreSQL, on tables the real pipeline published: one erasure's latency
(locate the subject, then delete or anonymise its rows in every tier and the vault), a request end
to end through the Dagster job, and one retention pass deleting about 10 % of the events.

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

from benchmarks.common import run_alone

console = Console()
ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def _databases(names: list[str], create: bool) -> None:
    engine = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for name in names:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if create:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def run(quick: bool) -> dict:
    from resources.secrets import generate_secret

    customers, samples = (2_000, 10) if quick else (100_000, 50)
    suffix = uuid.uuid4().hex[:8]
    warehouse_db, vault_db = f"bench_wh_{suffix}", f"bench_vault_{suffix}"
    base = ADMIN_URL.rsplit("/", 1)[0]
    _databases([warehouse_db, vault_db], create=True)
    keep = dict(os.environ)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-erasure-") as tmp:
            os.environ.update(
                {
                    "COMPLIANCE_WAREHOUSE_URL": f"{base}/{warehouse_db}",
                    "COMPLIANCE_VAULT_URL": f"{base}/{vault_db}",
                    "COMPLIANCE_MASTER_KEY": generate_secret(),
                    "COMPLIANCE_VAULT_KEY": generate_secret(),
                    "COMPLIANCE_DATA_DIR": str(Path(tmp) / "data"),
                }
            )
            return _measure(customers, samples)
    finally:
        os.environ.clear()
        os.environ.update(keep)
        _databases([warehouse_db, vault_db], create=False)


def _measure(customers: int, samples: int) -> dict:
    from compliance_assets.definitions import build_definitions
    from compliance_assets.factories.naming import Tier, table_name
    from compliance_assets.register import load_register
    from compliance_assets.environment import register_dir
    from compliance_assets.rights.erasure import erase
    from compliance_assets.rights.locate import locate_subject
    from resources.requests import PrivacyRequests

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
            raw_customers = warehouse.read_table(table_name(Tier.RAW, "customers"), ["email", "workspace_id"]).dropna()
            events_table = table_name(Tier.RAW, "engagement_events")
            events = warehouse.read_table(events_table, ["occurred_at"])["occurred_at"]
            picks = raw_customers.sample(samples + 3, random_state=5)
            locate_s, erase_s = [], []
            for email, workspace in picks.iloc[:samples].itertuples(index=False):
                t0 = time.perf_counter()
                plan = locate_subject(register, warehouse, keys, "customers", email, workspace)
                t1 = time.perf_counter()
                erase(register, warehouse, vault, plan)
                t2 = time.perf_counter()
                locate_s.append(t1 - t0)
                erase_s.append(t2 - t1)
            store = PrivacyRequests(vault)
            job = defs.resolve_job_def("privacy_request")
            end_to_end = []
            for email, workspace in picks.iloc[samples:].itertuples(index=False):
                request_id = store.submit("erasure", "customers", email, workspace)
                t0 = time.perf_counter()
                assert job.execute_in_process(run_config={"ops": {"handle_privacy_request": {"config": {"request_id": request_id}}}, **quiet}, instance=instance).success
                end_to_end.append(time.perf_counter() - t0)
            cutoff = events.quantile(0.10)
            t0 = time.perf_counter()
            purged = warehouse.purge_expired(events_table, "occurred_at", [(cutoff.to_pydatetime(), list(register.sources["engagement_events"].columns))], batch_rows=10_000)
            purge_seconds = time.perf_counter() - t0
    total = [a + b for a, b in zip(locate_s, erase_s, strict=True)]
    figures = {
        "customers": customers,
        "event_rows": int(len(events)),
        "pipeline_seconds": round(pipeline_seconds, 1),
        "erasure_p50_s": round(statistics.median(total), 3),
        "erasure_p95_s": round(float(np.percentile(total, 95)), 3),
        "locate_p50_s": round(statistics.median(locate_s), 3),
        "erase_p50_s": round(statistics.median(erase_s), 3),
        "request_end_to_end_s": round(statistics.median(end_to_end), 2),
        "projected_1000_requests_min": round(1000 * statistics.median(end_to_end) / 60, 1),
        "retention_rows_deleted": purged,
        "retention_seconds": round(purge_seconds, 2),
        "retention_rows_per_s": round(purged / purge_seconds) if purge_seconds else None,
    }
    table = Table(title=f"Erasure and retention on PostgreSQL ({customers:,} contacts, {len(events):,} events)")
    table.add_column("measure")
    table.add_column("figure", justify="right")
    table.add_row("one erasure p50 / p95 (locate + delete everywhere)", f"{figures['erasure_p50_s']} s / {figures['erasure_p95_s']} s (target p95 < 0.5 s)")
    table.add_row("  of which locate / erase (p50)", f"{figures['locate_p50_s']} s / {figures['erase_p50_s']} s")
    table.add_row("one request through the privacy_request job, in-process run (p50)", f"{figures['request_end_to_end_s']} s")
    table.add_row("1,000 requests, one in-process run each, one at a time (projected)", f"{figures['projected_1000_requests_min']} min (target < 5 min)")
    table.add_row("retention pass, ~10 % of the events", f"{purged:,} rows in {figures['retention_seconds']} s ({figures['retention_rows_per_s']:,} rows/s)")
    console.print(table)
    return figures


if __name__ == "__main__":
    run_alone("erasure", run, __doc__)
