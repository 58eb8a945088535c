"""Under load: 20 demo runs launched at once through the webserver go through the queued run
coordinator (at most 4 at a time, dagster.yaml) on the daemon, against PostgreSQL. Every run
succeeds with each of its events exactly once, the warehouse neither deadlocks nor loses a
publication (concurrent runs of one asset take turns at its staging table), and the audit trail's
hash chain holds with 20 concurrent writers."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
import sqlalchemy as sa
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from compliance_demo.definitions import EMAIL_MARKETING_ASSETS, build_definitions
from tests.conftest import REPO, small_run_config
from tests.dagster_servers import FINISHED, launch, statuses, webserver_and_daemon
from tests.helpers import resource, wait_for
from tests.test_demo_pipeline import EXPECTED_CHECKS

pytestmark = pytest.mark.postgres
RUNS = 20
MAX_CONCURRENT_RUNS = 4  # dagster.yaml: run_queue.max_concurrent_runs
UNFINISHED = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


def _max_overlap(records) -> int:
    moments = sorted([(r.start_time, 1) for r in records] + [(r.end_time, -1) for r in records], key=lambda m: (m[0], m[1]))
    running = peak = 0
    for _, step in moments:
        running += step
        peak = max(peak, running)
    return peak


def _why_failed(instance, run_ids) -> str:
    """Each failed run's step and run failures, so a failure in CI says what went wrong."""
    reasons = []
    for record in instance.get_run_records(RunsFilter(run_ids=run_ids, statuses=[DagsterRunStatus.FAILURE])):
        run_id = record.dagster_run.run_id
        for stored in instance.get_records_for_run(run_id, limit=100_000).records:
            event = stored.event_log_entry.dagster_event
            error = getattr(event.event_specific_data, "error", None) if event is not None else None
            if event is not None and (event.is_failure or error is not None):
                reasons.append(f"{run_id[:8]} {event.step_key or ''}: {event.message or ''}\n{error.to_string() if error else ''}")
    return "\n".join(reasons) or "no failure event recorded"


def test_twenty_runs_at_once_through_the_queue(pg_env, tmp_path):
    config = small_run_config(customers=600)
    config["execution"] = {"config": {"in_process": {}}}
    started = time.monotonic()
    with webserver_and_daemon(tmp_path / "logs") as port:
        run_ids = [launch(port, "demo_pipeline", config) for _ in range(RUNS)]
        finals = wait_for(
            lambda: (states := statuses(port, run_ids)) and all(s in FINISHED for s in states) and states,
            2400, "20 runs to finish",  # a ceiling: the whole test took 1,113 s on a slow 2-core machine (CI, 2026-12-01)
        )
        seconds = time.monotonic() - started
        # Each demo run re-ingests consent withdrawals, so the consent sensor queues refresh runs too:
        # let the queue drain before looking at the warehouse.
        instance = DagsterInstance.get()
        wait_for(lambda: not instance.get_runs(RunsFilter(statuses=UNFINISHED)), 600, "the queue to drain")
    assert Counter(finals) == {"SUCCESS": RUNS}, _why_failed(instance, run_ids)

    records = instance.get_run_records(RunsFilter(run_ids=run_ids))
    assert _max_overlap(records) <= MAX_CONCURRENT_RUNS
    assert all(r.dagster_run.status == DagsterRunStatus.SUCCESS for r in instance.get_run_records()), "sensor-launched runs too"
    for run_id in run_ids:
        stored = instance.get_records_for_run(run_id, limit=100_000).records
        assert len({r.storage_id for r in stored}) == len(stored)
        events = [r.event_log_entry for r in stored]
        kinds = Counter(e.dagster_event.event_type for e in events if e.dagster_event is not None)
        assert kinds[DagsterEventType.RUN_ENQUEUED] == 1 and kinds[DagsterEventType.RUN_SUCCESS] == 1
        assert kinds[DagsterEventType.STEP_SUCCESS] == len(EMAIL_MARKETING_ASSETS)
        materialised = Counter(e.dagster_event.asset_key.to_user_string() for e in events if e.dagster_event and e.dagster_event.event_type == DagsterEventType.ASSET_MATERIALIZATION)
        assert materialised == Counter(EMAIL_MARKETING_ASSETS), "each asset exactly once"
        assert kinds[DagsterEventType.ASSET_CHECK_EVALUATION] == len(EXPECTED_CHECKS)

    defs = build_definitions()
    audit = resource(defs, "audit_trail")
    assert audit.verify() is None
    trail = audit.records()
    ours = trail["actor"].isin([f"dagster-run:{r}" for r in run_ids])
    assert (ours & (trail["event_type"] == "publication")).sum() == RUNS * len(EMAIL_MARKETING_ASSETS)
    warehouse = resource(defs, "warehouse")
    assert not [t for t in sa.inspect(warehouse.get_engine()).get_table_names() if t.startswith("staging__")], "a publication was left half-done"
    timings = REPO / "artifacts" / "load" / "timings.json"
    timings.parent.mkdir(parents=True, exist_ok=True)
    timings.write_text(json.dumps({"runs": RUNS, "launch_to_all_finished_seconds": round(seconds, 1), "max_concurrent_runs_seen": _max_overlap(records)}))
