"""The UI as a person uses it: dagster-webserver and dagster-daemon on loopback against the
PostgreSQL instance, a materialisation launched through the webserver's GraphQL API and dequeued by
the daemon, one blocking check failing on purpose, and headless Chromium pages of the asset graph
and of the failing check. Screenshots go to artifacts/ui/ (gitignored) for CI to keep."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance

from tests.conftest import REPO, small_run_config

ARTIFACTS = REPO / "artifacts" / "ui"
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""
STATUS = """query Status($runId: ID!) { runOrError(runId: $runId) { __typename ... on Run { status } } }"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _graphql(port: int, query: str, variables: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


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
    env = {**os.environ, "COMPLIANCE_REGISTER_DIR": str(blocking_register)}
    port = _free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    started = time.monotonic()
    webserver = subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-w", str(REPO / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=env, stdout=open(logs / "webserver.log", "w"), stderr=subprocess.STDOUT,
    )
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")],
        cwd=REPO, env=env, stdout=open(logs / "daemon.log", "w"), stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(lambda: _reachable(port), 120, "the webserver")
        params = {
            "selector": {"repositoryLocationName": "compliance_demo", "repositoryName": "__repository__", "jobName": "demo_pipeline"},
            "runConfigData": {k: v for k, v in small_run_config().items()},
            "mode": "default",
        }
        launched = _graphql(port, LAUNCH, {"params": params})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        status = _wait_for(
            lambda: (s := _graphql(port, STATUS, {"runId": run_id})["runOrError"]["status"]) in ("SUCCESS", "FAILURE", "CANCELED") and s,
            300, "the run to finish (the daemon dequeues it)",
        )
        launched_seconds = time.monotonic() - started
        assert status == "FAILURE"  # the blocking retention check stopped it, on purpose
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
        graph = _page(port, "/locations/compliance_demo/asset-groups/raw/lineage", ARTIFACTS / "asset_graph.png")
        assert "engagement_events" in graph and "customers" in graph
        check = _page(port, "/assets/engagement_events?view=checks", ARTIFACTS / "failing_check.png")
        assert "retention" in check and "Failed" in check
        (ARTIFACTS / "timings.json").write_text(json.dumps({"launch_to_finish_seconds": round(launched_seconds, 1)}))
    finally:
        for process in (daemon, webserver):
            process.terminate()
        for process in (daemon, webserver):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def instance_events(home: Path, run_id: str, event_type: DagsterEventType) -> list:
    return DagsterInstance.from_config(str(home)).all_logs(run_id, of_type=event_type)


def _reachable(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False
