"""Shared pieces of the benchmarks: timing, peak memory, machine facts, the results file."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import time
from collections.abc import Callable
from contextlib import contextmanager
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.json"
ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


@dataclass
class Timer:
    seconds: float = 0.0
    _started: float = field(default=0.0, repr=False)

    @contextmanager
    def running(self):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - started


def peak_rss_mb() -> float:
    """Peak resident set size of this process's own program so far, in MB: Linux's `VmHWM`.

    Not `getrusage`: Linux carries `ru_maxrss` across `exec`, and Python starts a subprocess with
    `vfork`, so a worker started by `python -m benchmarks` after the cohort benchmark's 10 M-row
    frames reported that parent's 3.6 GB as its own."""
    own_peak = _proc_kb("/proc/self/status", "VmHWM:")
    if own_peak is None:  # not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return own_peak / 1024


def _proc_kb(path: str, field: str) -> int | None:
    """The kB figure of `field` in a /proc file (e.g. `Pss:` in smaps_rollup), or None if the
    file or the field is not there (not Linux, or the process has ended)."""
    try:
        with open(path) as lines:
            return next(int(line.split()[1]) for line in lines if line.startswith(field))
    except (OSError, StopIteration):
        return None


def _descendants(pid: int) -> list[int]:
    found, waiting = [], [pid]
    while waiting:
        current = waiting.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                waiting += [int(child) for child in Path(f"/proc/{current}/task/{task}/children").read_text().split()]
        except OSError:  # it ended while we looked
            continue
    return found


def _proportional_kb(pid: int) -> int:
    return _proc_kb(f"/proc/{pid}/smaps_rollup", "Pss:") or 0


def wait_measuring_tree(process: subprocess.Popen, interval: float = 0.25) -> float:
    """Waits for `process`; returns the peak, sampled every `interval` s, of the proportional set
    size of it and all its descendants, in MB. Proportional, so pages that forked step processes
    share with their server count once, not once per process (Linux only)."""
    peak = 0
    while process.poll() is None:
        peak = max(peak, sum(_proportional_kb(pid) for pid in _descendants(process.pid)))
        time.sleep(interval)
    return peak / 1024


def machine() -> dict[str, object]:
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
    }


def openssl_hash_rate(message_bytes: int, seconds: int = 2) -> float | None:
    """Messages per second that `openssl speed -evp sha256` hashes at this length, on one core."""
    try:
        completed = subprocess.run(
            ["openssl", "speed", "-evp", "sha256", "-bytes", str(message_bytes), "-seconds", str(seconds)],
            capture_output=True, text=True, timeout=seconds * 10 + 30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in completed.stdout.splitlines():
        if line.startswith("sha256"):
            kilobytes_per_second = float(line.split()[-1].rstrip("k"))
            return kilobytes_per_second * 1000 / message_bytes
    return None


def write_results(name: str, results: dict) -> None:
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing["machine"] = machine()
    existing[name] = results
    RESULTS.write_text(json.dumps(existing, indent=2) + "\n")


def run_alone(name: str, run: Callable[[bool], dict], description: str | None) -> None:
    """`python -m benchmarks.<name> [--quick]`: one benchmark, its figures written to results.json."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds), as CI runs them")
    write_results(name, run(parser.parse_args().quick))


def _databases(names: list[str], create: bool) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for name in names:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if create:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


@contextmanager
def postgres_databases(*names: str) -> Iterator[list[str]]:
    """Fresh PostgreSQL databases for one benchmark, dropped afterwards; yields their URLs."""
    _databases(list(names), create=True)
    base = ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield [f"{base}/{name}" for name in names]
    finally:
        _databases(list(names), create=False)
