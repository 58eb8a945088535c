"""The DPIA loop as it runs in production: the code location changes (a new sub-processor), the
daemon's sensor notices it against the approved pin and launches the review run, which the queued
coordinator dequeues; the next materialisation is blocked by `dpia_approved`; the DPO approves from
the CLI and the materialisation goes through. Dagster's instance and the warehouse are PostgreSQL."""

from __future__ import annotations

import os
import time

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from compliance_demo.definitions import build_definitions
from compliance_assets.register import load_register
from tests.conftest import run_cli
from tests.dagster_servers import daemon
from tests.helpers import check_outcomes, resource, run_job, wait_for
from tests.test_dpia import ACTIVITY, NEW_SUB_PROCESSOR, register_copy

pytestmark = pytest.mark.postgres


def test_daemon_reviews_a_changed_location_blocks_then_approval_unblocks(pg_env, tmp_path, monkeypatch):
    changed = register_copy(tmp_path, activities=NEW_SUB_PROCESSOR)
    monkeypatch.setenv("COMPLIANCE_REGISTER_DIR", str(changed))
    env = {**os.environ, "COMPLIANCE_SENSOR_INTERVAL_SECONDS": "2"}
    instance = DagsterInstance.get()
    started = time.monotonic()
    with daemon(env, tmp_path):
        def review_runs():
            return instance.get_runs(RunsFilter(tags={"privacy/activity": ACTIVITY}))

        runs = wait_for(lambda: [r for r in review_runs() if r.status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE)], 240, "the review run")
        assert [r.status for r in runs] == [DagsterRunStatus.SUCCESS], (tmp_path / "daemon.log").read_text()[-3000:]
        assert runs[0].job_name == "dpia_review" and runs[0].tags["dpia/changes"] == "new_sub_processor"
        seconds_to_review = time.monotonic() - started
        time.sleep(5)  # further ticks must not launch a second review for the same change
        assert len(review_runs()) == 1

    defs = build_definitions(load_register(changed))
    store = resource(defs, "dpia_reviews")
    (review,) = store.blocking(ACTIVITY)
    assert review.changes == [{"kind": "new_sub_processor", "text": "New sub-processor 'Mailgun Technologies' (Bounce handling) in IE."}]

    blocked = run_job(defs=defs)
    assert not blocked.success and check_outcomes(blocked)[("customer_features", "dpia_approved")] is False

    approved = run_cli("compliance_assets", "dpia", "approve", ACTIVITY, "--approver", "dpo@example.com", "--comment", "Mailgun (IE) is in the annex")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert store.blocking(ACTIVITY) == []
    status = run_cli("compliance_assets", "dpia", "status")
    assert status.returncode == 0, status.stdout

    unblocked = run_job(defs=defs)
    assert unblocked.success and check_outcomes(unblocked)[("customer_features", "dpia_approved")] is True
    events = set(resource(defs, "audit_trail").records()["event_type"])
    assert {"dpia_review_opened", "dpia_decision"} <= events
    print(f"\nchange → review run finished on the daemon in {seconds_to_review:.1f} s")
