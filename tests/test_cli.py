"""The command line as a team uses it: every bad argument is one readable line and exit code 2,
caught before anything runs, and the code location comes from the project, not from a demo."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO, run_cli

BAD_ARGUMENTS = [
    (["request", "erasure", "--source", "customerz", "--scope", "ws"], "unknown source 'customerz'"),
    (["request", "erasure", "--source", "customers"], "scopes its subjects by 'workspace_id': give --scope"),
    (["request", "erasure", "--source", "customers", "--scope", "  "], "scopes its subjects by 'workspace_id': give --scope"),
    (["request", "access", "--source", "census_respondents", "--scope", "ws"], "source 'census_respondents' has no scope"),
    (["request", "erasure", "--source", "engagement_events", "--scope", "ws"], "source 'engagement_events' names no data subject"),
    (["request", "serve", "no-such-request"], "no privacy request 'no-such-request'"),
    (["reidentify", "--domain", "engagment", "--pseudonym", "x", "--purpose", "marketing", "--actor", "dpo@example.com"], "unknown domain 'engagment'"),
    (["run", "demo_pipelin"], "no job 'demo_pipelin' in the code location 'compliance_demo.definitions'"),
    (["--location", "nobody.definitions", "validate-register"], "code location module 'nobody.definitions' not found"),
]


@pytest.mark.parametrize(("arguments", "message"), BAD_ARGUMENTS, ids=[" ".join(a[:3]) for a, _ in BAD_ARGUMENTS])
def test_a_bad_argument_is_one_line_before_anything_runs(local_env, arguments, message):
    completed = run_cli("compliance_assets", *arguments, env_overrides={"COLUMNS": "300"})
    assert completed.returncode == 2, completed.stdout + completed.stderr
    lines = [line for line in (completed.stdout + completed.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], lines
    assert "Traceback" not in completed.stderr


def test_outside_a_project_the_location_must_be_named(tmp_path, local_env):
    completed = subprocess.run(
        [sys.executable, "-m", "compliance_assets", "validate-register"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "COLUMNS": "300", "PYTHONPATH": str(REPO)},
    )
    assert completed.returncode == 2
    assert completed.stdout.strip().startswith("no code location: pass --location MODULE")


def test_the_project_location_and_its_register_are_found_from_pyproject(local_env):
    completed = run_cli("compliance_assets", "validate-register")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Register OK" in completed.stdout
