"""Shared fixtures: an isolated local environment, real PostgreSQL databases, a small demo size."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings

# Speed is measured by the benchmarks, not by tests: no per-example deadline on a shared, busy machine.
settings.register_profile("no_deadline", deadline=None)
settings.load_profile("no_deadline")

from compliance_assets.resources.secrets import generate_secret
from compliance_assets.storage.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
CENSUS_CSV = REPO.parent / "shared" / "data" / "adult.csv"
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
SMALL_DEMO = {"customers": 3000, "events_per_customer": 12.0, "seed": 7}
# Files that start a webserver and a daemon and wait for their runs: they take turns on one worker.
DAGSTER_SERVER_FILES = {"test_load.py", "test_ui_end_to_end.py", "test_dpia_daemon.py"}
# Inherited by every process the suite starts (xdist workers included), so one that outlives the
# suite is recognised even after it was re-parented: Dagster's `tail -F` log mirrors, servers, runs.
SUITE_MARK = "COMPLIANCE_TEST_SUITE"
LEFTOVER_GRACE_SECONDS = 15  # Dagster's orphan watcher stops an orphaned `tail -F` within a second


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`make test`'s `--dist loadfile`, except that the files running Dagster's servers are one
    unit, so they never run beside each other. On a slow 2-core machine the 20-run load test beside
    the UI test starved the UI test's backfill past its wait (CI, 2026-12-01); alone, the UI
    test passed in 304 s. (`--dist loadgroup` cannot do this: xdist 3.8 renames node ids in a
    way pytest 9 ignores.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ServersInTurn(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return "dagster_servers" if Path(scope).name in DAGSTER_SERVER_FILES else scope

    return ServersInTurn(config, log)


def pytest_sessionstart(session: pytest.Session) -> None:
    os.environ.setdefault(SUITE_MARK, f"{os.getpid()}-{uuid.uuid4().hex}")


@pytest.hookimpl(hookwrapper=True)
def pytest_sessionfinish(session: pytest.Session):
    """After every other finisher (xdist's stops its workers): a process the suite started that
    is still alive fails the suite, and is then stopped so it does not outlive it."""
    yield
    if hasattr(session.config, "workerinput"):
        return  # the controller looks, once its workers are gone
    deadline = time.monotonic() + LEFTOVER_GRACE_SECONDS
    while (leftover := _leftover_processes()) and time.monotonic() < deadline:
        time.sleep(0.5)
    if not leftover:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{len(leftover)} process(es) started by the tests outlived them:", *(f"  {pid}: {command}" for pid, command in leftover.items())]
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line("\n".join(lines), red=True, bold=True)
    else:
        print("\n".join(lines), file=sys.stderr)
    for pid in leftover:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _leftover_processes() -> dict[int, str]:
    """Live processes (zombies aside) carrying this suite's mark, or descending from this process."""
    mark = f"{SUITE_MARK}={os.environ[SUITE_MARK]}".encode()
    processes: dict[int, tuple[int, str, bool]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            marked = mark in (entry / "environ").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if state != "Z":
            processes[int(entry.name)] = (int(ppid), command, marked)

    def descends(pid: int) -> bool:
        seen = set()
        while pid in processes and pid not in seen:
            seen.add(pid)
            pid = processes[pid][0]
            if pid == os.getpid():
                return True
        return False

    return {pid: command for pid, (_, command, marked) in processes.items() if marked or descends(pid)}


def small_run_config(**overrides) -> dict:
    return {
        "resources": {"demo_source": {"config": {**SMALL_DEMO, **overrides}}},
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }


@pytest.fixture
def master_key() -> str:
    return generate_secret()


@pytest.fixture
def local_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, master_key: str) -> Path:
    """The zero-config path in a temporary folder: SQLite warehouse, SQLite Dagster home."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("COMPLIANCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COMPLIANCE_MASTER_KEY", master_key)
    monkeypatch.setenv("COMPLIANCE_VAULT_KEY", generate_secret())
    monkeypatch.delenv("COMPLIANCE_VAULT_URL", raising=False)
    monkeypatch.setenv("COMPLIANCE_CENSUS_CSV", str(CENSUS_CSV))
    monkeypatch.delenv("COMPLIANCE_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("COMPLIANCE_REGISTER_DIR", raising=False)
    monkeypatch.delenv("COMPLIANCE_PUSH_DOWN_AGGREGATIONS", raising=False)
    return tmp_path


@dataclass(frozen=True)
class PostgresDatabases:
    instance_db: str
    warehouse_db: str
    vault_db: str

    def url(self, database: str) -> str:
        return postgres_url(database)

    @property
    def warehouse_url(self) -> str:
        return self.url(self.warehouse_db)

    @property
    def names(self) -> tuple[str, str, str]:
        return (self.instance_db, self.warehouse_db, self.vault_db)


def _admin_engine() -> sa.Engine:
    return sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def postgres_url(database: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database


@contextmanager
def fresh_postgres_databases(*names: str) -> Iterator[None]:
    """Databases created on the real server, dropped (connections and all) afterwards."""
    admin = _admin_engine()
    with admin.connect() as connection:
        for name in names:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def each_warehouse(request, tmp_path_factory) -> Iterator[Warehouse]:
    """An empty warehouse on each dialect we support, shared by a module's tests."""
    if request.param == "sqlite":
        yield Warehouse(f"sqlite:///{tmp_path_factory.mktemp('warehouse') / 'warehouse.db'}")
        return
    database = f"ca_wh_{uuid.uuid4().hex[:10]}"
    with fresh_postgres_databases(database):
        warehouse = Warehouse(postgres_url(database))
        yield warehouse
        warehouse.get_engine().dispose()


@pytest.fixture
def pg_databases() -> Iterator[PostgresDatabases]:
    """Fresh databases on the real server (Dagster's instance, the warehouse, the vault), dropped after."""
    suffix = uuid.uuid4().hex[:10]
    databases = PostgresDatabases(f"ca_instance_{suffix}", f"ca_warehouse_{suffix}", f"ca_vault_{suffix}")
    with fresh_postgres_databases(*databases.names):
        yield databases


@pytest.fixture
def pg_env(local_env: Path, pg_databases: PostgresDatabases, monkeypatch: pytest.MonkeyPatch) -> PostgresDatabases:
    """Dagster's instance and the warehouse both on PostgreSQL, configured as in production."""
    home = local_env / "dagster_home_pg"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_USERNAME", "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "postgres")
    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_DB", pg_databases.instance_db)
    monkeypatch.setenv("COMPLIANCE_WAREHOUSE_URL", pg_databases.warehouse_url)
    monkeypatch.setenv("COMPLIANCE_VAULT_URL", pg_databases.url(pg_databases.vault_db))
    return pg_databases


@pytest.fixture
def census_csv() -> Path:
    if not CENSUS_CSV.is_file():
        pytest.fail(f"{CENSUS_CSV} is missing: CI places shared/ beside the checkout")
    return CENSUS_CSV


def process_members(group: int) -> list[int]:
    """The live processes (zombies aside) of process group `group`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, _, pgrp = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
        except (FileNotFoundError, ProcessLookupError):
            continue
        if state != "Z" and int(pgrp) == group:
            members.append(int(entry.name))
    return members


@contextmanager
def process_group(args: list[str], grace: float = 30.0, **popen) -> Iterator[subprocess.Popen]:
    """`args` started in a process group of its own; when the block ends, every process of that
    group is stopped. Dagster's processes start helpers that are not stopped with their starter: a
    daemon's or webserver's code server, the runs it launched, their step processes and each one's
    `tail -F` mirror of its compute logs. Stopping only the process we started left those running
    after the test, and after the suite. The starter is asked first (SIGTERM), then what is left of
    its group is given `grace` seconds to end before it is terminated, then killed."""
    process = subprocess.Popen(args, start_new_session=True, **popen)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for signal_number in (None, signal.SIGTERM, signal.SIGKILL):
            if signal_number is not None and process_members(process.pid):
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal_number)
            deadline = time.monotonic() + (grace if signal_number is None else 10)
            while process_members(process.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if not process_members(process.pid):
                return


def run_cli(*args: str, env_overrides: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Runs `python -m <args>` and waits for it to exit. Its output goes to files, not pipes:
    Dagster mirrors compute logs through `tail -F` helpers, and a pipe one held open would keep a
    reader waiting after the command has finished; they are stopped with the command's group."""
    env = {**os.environ, **(env_overrides or {})}
    command = [sys.executable, "-m", *args]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        with process_group(command, cwd=REPO, env=env, stdout=out, stderr=err, text=True) as process:
            returncode = process.wait(timeout=timeout)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(command, returncode, out.read(), err.read())
