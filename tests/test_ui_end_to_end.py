"""The UI as a person uses it: dagster-webserver and dagster-daemon on loopback against the
PostgreSQL instance, a materialisation launched through the webserver's GraphQL API and dequeued by
the daemon, one blocking check failing on purpose, and headless Chromium pages of the asset graph
and of the failing check, then a backfill of two days launched the way the UI's partition dialog
does and run by the daemon, and the asset's partitions page. Screenshots go to artifacts/ui/
(gitignored) for CI to keep."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from datetime import UTC, datetime, timedelta

from dagster import AssetKey, DagsterEventType, DagsterInstance, RunsFilter

from tests.conftest import REPO, small_run_config
from tests.dagster_servers import BACKFILL_FINISHED, FINISHED, backfill, backfill_status, graphql, launch, status, webserver_and_daemon
from tests.helpers import wait_for

ARTIFACTS = REPO / "artifacts" / "ui"


def _page(port: int, path: str, screenshot: Path) -> str:
    """Renders a page in headless Chromium; returns its DOM text after the app has loaded."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is required (.ci/run installs it)"
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=20000"]
    url = f"http://127.0.0.1:{port}{path}"
    subprocess.run([*flags, "--window-size=1600,1100", f"--screenshot={screenshot}", url], capture_output=True, timeout=120, check=True)
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True)
    return dom.stdout


@pytest.fixture
def blocking_register(tmp_path: Path) -> Path:
    """The demo register, except that events past retention block instead of being dropped."""
    copy = tmp_path / "register"
    shutil.copytree(REPO / "register", copy)
    sources = copy / "sources.yaml"
    sources.write_text(sources.read_text().replace("past_retention_on_arrival: drop", "past_retention_on_arrival: block"))
    return copy


def test_ui_launch_failing_check_and_pages(pg_env, blocking_register, tmp_path):
    home = Path(os.environ["DAGSTER_HOME"])
    started = time.monotonic()
    with webserver_and_daemon(tmp_path / "logs", COMPLIANCE_REGISTER_DIR=str(blocking_register)) as port:
        run_id = launch(port, "demo_pipeline", small_run_config())
        final = wait_for(lambda: (s := status(port, run_id)) in FINISHED and s, 600, "the run to finish (the daemon dequeues it)")
        launched_seconds = time.monotonic() - started
        assert final == "FAILURE"  # the blocking retention check stopped it, on purpose
        assert instance_events(home, run_id, DagsterEventType.RUN_ENQUEUED), "the run did not go through the queue"

        instance = DagsterInstance.from_config(str(home))
        checks = {
            (e.dagster_event.event_specific_data.asset_key.to_user_string(), e.dagster_event.event_specific_data.check_name): e.dagster_event.event_specific_data.passed
            for e in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
        }
        assert checks[("engagement_events", "retention")] is False
        assert checks[("customers", "retention")] is True
        materialised = {e.dagster_event.asset_key.to_user_string() for e in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)}
        assert "customers" in materialised and not {"engagement_events", "customer_features", "engagement_cohorts"} & materialised

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        # What "Skip" on the community dialog does, so the screenshots show the pages, not the dialog.
        assert graphql(port, "mutation { setNuxSeen }", {})["setNuxSeen"] is True
        graph = _page(port, "/locations/compliance_demo/asset-groups/raw/lineage", ARTIFACTS / "asset_graph.png")
        assert "engagement_events" in graph and "customers" in graph
        check = _page(port, "/assets/engagement_events?view=checks&checkDetail=retention", ARTIFACTS / "failing_check.png")
        assert "retention" in check and "Failed" in check

        started = time.monotonic()
        days = [(datetime.now(UTC).date() - timedelta(days=n)).isoformat() for n in (2, 1)]
        backfill_id = backfill(port, ["engagement_events", "search_logs"], days, small_run_config())
        final = wait_for(lambda: (s := backfill_status(port, backfill_id)) in BACKFILL_FINISHED and s, 600, "the backfill to finish (the daemon runs it)")
        backfill_seconds = time.monotonic() - started
        assert final in ("COMPLETED", "COMPLETED_SUCCESS"), final
        (run,) = instance.get_runs(filters=RunsFilter(tags={"dagster/backfill": backfill_id}))
        assert (run.tags["dagster/asset_partition_range_start"], run.tags["dagster/asset_partition_range_end"]) == tuple(days)
        for name in ("engagement_events", "search_logs"):
            assert instance.get_materialized_partitions(AssetKey(name)) == set(days)
        partitions = _page(port, "/assets/engagement_events?view=partitions", ARTIFACTS / "event_partitions.png")
        assert "engagement_events" in partitions and days[-1] in partitions
        (ARTIFACTS / "timings.json").write_text(
            json.dumps({"launch_to_finish_seconds": round(launched_seconds, 1), "backfill_seconds": round(backfill_seconds, 1)})
        )


def instance_events(home: Path, run_id: str, event_type: DagsterEventType) -> list:
    return DagsterInstance.from_config(str(home)).all_logs(run_id, of_type=event_type)
