"""The UI as a person uses it: dagster-webserver and dagster-daemon on loopback against the
PostgreSQL instance, a materialisation launched through the webserver's GraphQL API and dequeued by
the daemon, one blocking check failing on purpose, and headless Chromium pages of the asset graph,
of the failing check, of an asset's page (sub-processors, retention per column) and of a passing
retention check's per-column breakdown, then a backfill of two days launched the way the UI's partition dialog
does and run by the daemon, and the asset's partitions page. Screenshots go to artifacts/ui/
(gitignored) for CI to keep."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Browser, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from dagster import AssetKey, DagsterEventType, DagsterInstance, RunsFilter

from tests.conftest import REPO, small_run_config
from tests.dagster_servers import BACKFILL_FINISHED, FINISHED, backfill, backfill_status, graphql, launch, status, webserver_and_daemon
from tests.helpers import wait_for

ARTIFACTS = REPO / "artifacts" / "ui"
PAGE_SECONDS = 120  # a ceiling for a page to show its text, not a speed target
SETTLE_SECONDS = 20


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, driven by Playwright: it waits for what a person waits for (the text a page
    must show), in real time. Chromium's --virtual-time-budget, used before, lets its clock run only
    while no request is pending, and once hung on the lineage page for good."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is required (.ci/run installs it)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


def _page(
    browser: Browser, port: int, path: str, screenshot: Path, shows: tuple[str, ...], *, scroll_to: str | None = None, markdown: str | None = None, then: tuple[str, ...] = ()
) -> None:
    """Opens a page, waits until every text in `shows` is on it (case and all), lets its queries
    settle (briefly: the UI polls) and takes the screenshot. `scroll_to` brings a text to the top
    first; `markdown` opens that metadata entry's Markdown as a person does ("[Show Markdown]" in
    its row), and the screenshot waits for the texts in `then` in the dialog."""
    page = browser.new_page(viewport={"width": 1600, "height": 1100})
    page.set_default_timeout(PAGE_SECONDS * 1000)
    try:
        page.goto(f"http://127.0.0.1:{port}{path}", wait_until="domcontentloaded")
        for text in shows:
            page.get_by_text(re.compile(re.escape(text))).first.wait_for(state="visible")
        try:
            page.wait_for_load_state("networkidle", timeout=SETTLE_SECONDS * 1000)
        except PlaywrightTimeout:
            pass  # a page that keeps polling is still the page a person sees
        if scroll_to:
            page.get_by_text(scroll_to).first.evaluate("element => element.scrollIntoView({block: 'start'})")
        if markdown:
            page.locator("tr", has_text=markdown).get_by_text("[Show Markdown]").first.click()
            for text in then:
                page.get_by_role("dialog").get_by_text(re.compile(re.escape(text))).first.wait_for(state="visible")
        page.screenshot(path=screenshot)
    finally:
        page.close()


@pytest.fixture
def blocking_register(tmp_path: Path) -> Path:
    """The demo register, except that events past retention block instead of being dropped."""
    copy = tmp_path / "register"
    shutil.copytree(REPO / "register", copy)
    sources = copy / "sources.yaml"
    sources.write_text(sources.read_text().replace("past_retention_on_arrival: drop", "past_retention_on_arrival: block"))
    return copy


def test_ui_launch_failing_check_and_pages(pg_env, blocking_register, browser, tmp_path):
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
        retention = {
            e.dagster_event.event_specific_data.asset_key.to_user_string(): e.dagster_event.event_specific_data.metadata
            for e in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
            if e.dagster_event.event_specific_data.check_name == "retention"
        }
        assert "| `email` | user.contact.email | 90 | 0 |" in retention["customers"]["per_column"].value, "a passing check shows what it checked, per column"
        materialised = {e.dagster_event.asset_key.to_user_string() for e in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)}
        assert "customers" in materialised and not {"engagement_events", "customer_features", "engagement_cohorts"} & materialised

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        # What "Skip" on the community dialog does, so the screenshots show the pages, not the dialog.
        assert graphql(port, "mutation { setNuxSeen }", {})["setNuxSeen"] is True
        _page(browser, port, "/locations/compliance_demo/asset-groups/raw/lineage", ARTIFACTS / "asset_graph.png", ("engagement_events", "customers"))
        _page(browser, port, "/assets/engagement_events?view=checks&checkDetail=retention", ARTIFACTS / "failing_check.png", ("retention", "Failed"))
        # What a data engineer and a DPO look for on an asset page: sub-processors and each column's retention.
        _page(browser, port, "/assets/customers", ARTIFACTS / "asset_columns.png", ("Retention: 90 days (user.contact.email)",))
        _page(browser, port, "/assets/customers", ARTIFACTS / "asset_sub_processors.png", ("Postmark (ActiveCampaign, LLC)", "No automated decisions"), scroll_to="privacy/column_retention")
        _page(browser, port, "/assets/customers", ARTIFACTS / "asset_column_retention.png", ("privacy/column_retention",), markdown="privacy/column_retention", then=("Raw contact data is kept 90 days after import",))
        _page(browser, port, "/assets/customers?view=checks&checkDetail=retention", ARTIFACTS / "retention_check.png", ("per_column",), markdown="per_column", then=("user.contact.email",))

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
        _page(browser, port, "/assets/engagement_events?view=partitions", ARTIFACTS / "event_partitions.png", ("engagement_events", days[-1]))
        (ARTIFACTS / "timings.json").write_text(
            json.dumps({"launch_to_finish_seconds": round(launched_seconds, 1), "backfill_seconds": round(backfill_seconds, 1)})
        )


def instance_events(home: Path, run_id: str, event_type: DagsterEventType) -> list:
    return DagsterInstance.from_config(str(home)).all_logs(run_id, of_type=event_type)
