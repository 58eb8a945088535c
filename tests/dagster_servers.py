"""The webserver and the daemon as real processes on loopback, and the GraphQL calls a person's
browser makes: for the tests that exercise Dagster the way it runs in production."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tests.conftest import REPO, process_group
from tests.helpers import wait_for

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
STATUSES = """query Statuses($runIds: [String!]) { runsOrError(filter: {runIds: $runIds}) { __typename ... on Runs { results { runId status } } } }"""
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""
BACKFILL_STATUS = """query BackfillStatus($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename ... on PartitionBackfill { status } } }"""
BACKFILL_FINISHED = ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def graphql(port: int, query: str, variables: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


def reachable(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def launch(port: int, job: str, run_config: dict) -> str:
    params = {
        "selector": {"repositoryLocationName": "compliance_demo", "repositoryName": "__repository__", "jobName": job},
        "runConfigData": run_config,
        "mode": "default",
    }
    launched = graphql(port, LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def backfill(port: int, assets: list[str], partitions: list[str], run_config: dict) -> str:
    """What the UI's "Materialize → partitions" dialog sends; the daemon runs the backfill."""
    params = {"assetSelection": [{"path": [name]} for name in assets], "partitionNames": partitions, "runConfigData": run_config}
    launched = graphql(port, BACKFILL, {"params": params})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched["backfillId"]


def backfill_status(port: int, backfill_id: str) -> str:
    return graphql(port, BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]["status"]


def status(port: int, run_id: str) -> str:
    return graphql(port, STATUS, {"runId": run_id})["runOrError"]["status"]


def statuses(port: int, run_ids: list[str]) -> list[str]:
    """The runs' statuses in `run_ids`' order, in one query (as the UI's runs page asks)."""
    runs = graphql(port, STATUSES, {"runIds": run_ids})["runsOrError"]
    assert runs["__typename"] == "Runs", runs
    by_id = {run["runId"]: run["status"] for run in runs["results"]}
    return [by_id[run_id] for run_id in run_ids]


@contextmanager
def _process(args: list[str], env: dict, log: Path) -> Iterator[subprocess.Popen]:
    """The server and everything it starts (code servers, runs, their steps' log mirrors) end with the block."""
    with open(log, "w") as output, process_group(args, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT) as process:
        yield process


def daemon(env: dict, logs: Path):
    return _process([str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")], env, logs / "daemon.log")


@contextmanager
def webserver_and_daemon(logs: Path, **env_overrides: str) -> Iterator[int]:
    """Both on loopback against $DAGSTER_HOME; yields the webserver's port once it answers."""
    env = {**os.environ, **env_overrides}
    port = free_port()
    logs.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        stack.enter_context(daemon(env, logs))
        stack.enter_context(_process([sys.executable, "-m", "dagster_webserver", "-w", str(REPO / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)], env, logs / "webserver.log"))
        wait_for(lambda: reachable(port), 120, "the webserver")
        yield port
