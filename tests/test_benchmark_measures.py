"""The benchmarks' own measuring instruments: a figure is only as good as what took it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKER = "import json, sys; from benchmarks.common import peak_rss_mb; block = bytearray(int(sys.argv[1]) * 2**20); block[::4096] = b'x' * len(block[::4096]); print(json.dumps(peak_rss_mb()))"


def _worker_peak_mb(allocating_mb: int) -> float:
    """What a worker process started from this one reports as its peak, having touched `allocating_mb`."""
    completed = subprocess.run([sys.executable, "-c", WORKER, str(allocating_mb)], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(completed.stdout)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="the process's own high-water mark is read from Linux's /proc")
def test_a_worker_reports_its_own_peak_memory_not_its_parents():
    parent = bytearray(600 * 2**20)
    parent[::4096] = b"x" * len(parent[::4096])  # touched: resident in this, the parent process
    small, large = _worker_peak_mb(0), _worker_peak_mb(300)
    assert small < 200, f"a worker that allocated nothing reported {small:.0f} MB: its parent's peak"
    assert 300 <= large < 500
    del parent
