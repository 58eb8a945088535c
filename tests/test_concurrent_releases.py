"""Two runs releasing the same cohorts at once take turns from reading the ledger to publishing:
a release compared with a publication the other run has since replaced would be audited against
the wrong history, and the second to publish never against the first. Each run is a process of
its own, as the queued run coordinator starts them."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from compliance_assets.privacy.cohorts import release_cohorts
from tests.conftest import REPO
from tests.helpers import run_job, warehouse_of
from tests.test_blocking import _run_with_engagement_release

pytestmark = pytest.mark.postgres
NAME = "engagement_cohorts"


def slow_release(source, dimensions, subject, measures, k, margins, revealed, **history):
    """The engine, printing how many of the ledger's publications it was given, and slow enough
    for the other run to overlap it."""
    print(f"publications read: {len(history['earlier'])}", flush=True)
    time.sleep(3)
    return release_cohorts(source, dimensions, subject, measures, k, margins, revealed, **history)


def _run() -> None:
    """One demo run with `engagement_cohorts` released by `slow_release` (a child process)."""
    assert _run_with_engagement_release(slow_release).success


def test_two_runs_releasing_at_once_each_read_the_others_publication(pg_env):
    assert run_job().success
    child = [sys.executable, "-c", "from tests.test_concurrent_releases import _run; _run()"]
    runs = [subprocess.Popen(child, cwd=REPO, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    seen = sorted(int(line.rsplit(" ", 1)[1]) for output in outputs for line in output.splitlines() if line.startswith("publications read: "))
    assert seen == [1, 2], f"the second release read the first one's publication: {seen}"
    assert warehouse_of().publications(NAME) == 3
