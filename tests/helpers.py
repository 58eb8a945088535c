"""Helpers for running the demo for real and reading what it published."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

import pandas as pd
import sqlalchemy as sa
from dagster import DagsterEventType, DagsterInstance, Definitions, ExecuteInProcessResult

from compliance_demo.definitions import build_definitions
from compliance_assets.tiers import Tier, table_name
from compliance_assets.storage.warehouse import Warehouse
from tests.attacker import Release, revealed_attributes, who_moved
from tests.conftest import small_run_config


def run_job(
    job: str = "demo_pipeline", defs: Definitions | None = None, partition_key: str | None = None, **demo_overrides
) -> ExecuteInProcessResult:
    """Without a partition key the event sources load their whole export, as `make demo` does."""
    defs = defs or build_definitions()
    return defs.resolve_job_def(job).execute_in_process(
        run_config=small_run_config(**demo_overrides), instance=DagsterInstance.get(), raise_on_error=False, partition_key=partition_key
    )


def warehouse_of(defs: Definitions | None = None) -> Warehouse:
    """The warehouse as a run would see it (EnvVar-configured URLs resolved)."""
    return resource(defs or build_definitions(), "warehouse")


def published(tier: Tier, name: str, defs: Definitions | None = None) -> pd.DataFrame:
    return warehouse_of(defs).read_table(table_name(tier, name))


def raw_values(source: str, column: str) -> pd.Series:
    """A raw column's values read straight from the warehouse, for tests whose transform must leak
    an identifier although the factory hands it none."""
    return warehouse_of().read_table(table_name(Tier.RAW, source), [column])[column].dropna().drop_duplicates().reset_index(drop=True)


def indexed_columns(warehouse: Warehouse, table: str, unique: bool = False) -> list[tuple[str, ...]]:
    """The column tuples `table`'s indexes (with `unique`, its unique indexes) cover, sorted."""
    indexes = sa.inspect(warehouse.get_engine()).get_indexes(table)
    return sorted(tuple(index["column_names"]) for index in indexes if index["unique"] or not unique)


def check_outcomes(result: ExecuteInProcessResult) -> dict[tuple[str, str], bool]:
    return {
        (e.event_specific_data.asset_key.to_user_string(), e.event_specific_data.check_name): e.event_specific_data.passed
        for e in result.all_events
        if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    }


def materialized(result: ExecuteInProcessResult) -> set[str]:
    return {
        e.event_specific_data.materialization.asset_key.to_user_string()
        for e in result.all_events
        if e.event_type == DagsterEventType.ASSET_MATERIALIZATION
    }


def executed_steps(result: ExecuteInProcessResult) -> set[str]:
    return {e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_START}


def resource(defs: Definitions, key: str):
    """A resource as a run gets it, for the resources that have no nested resources. Initialised in
    a context that is closed again (Dagster's ephemeral instance for it holds SQLite connections
    that were otherwise left to the garbage collector); ours connect lazily, on their own."""
    with defs.resources[key].process_config_and_initialize_cm() as value:
        return value


def check_evaluation(result: ExecuteInProcessResult, asset: str, check: str):
    """The evaluation of one asset's check in a run."""
    return next(
        e.event_specific_data for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.event_specific_data.check_name == check
        and e.event_specific_data.asset_key.to_user_string() == asset
    )


def kill_while_locked(engine: sa.Engine, table: str, args: Sequence[str], reached: Callable[[], bool]) -> None:
    """Runs `python -m <args>` while `table` is locked, waits until `reached()` says it got as far
    as the lock, kills it with SIGKILL there, then releases the lock."""
    from tests.conftest import REPO, process_group

    locker = engine.connect()
    transaction = locker.begin()
    locker.execute(sa.text(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE'))
    try:
        with process_group([sys.executable, "-m", *args], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as worker:
            _kill_when_reached(worker, table, args, reached)
    finally:
        transaction.rollback()
        locker.close()


def _kill_when_reached(worker: subprocess.Popen, table: str, args: Sequence[str], reached: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 120
    while not reached():
        assert time.monotonic() < deadline, f"{' '.join(args)} never got as far as {table}"
        assert worker.poll() is None, f"{' '.join(args)} ended although {table} was locked"
        time.sleep(0.2)
    time.sleep(1.0)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)


def wait_for(predicate: Callable[[], object], timeout: float, what: str):
    """Polls `predicate` each second until it returns something truthy, and returns that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def attributes_read_off(before: pd.DataFrame, after: pd.DataFrame, dims: list[str], change: int, k: int = 50) -> dict[str, object]:
    """What the independent attacker (`tests.attacker`) reads off one subject joining (change +1)
    or leaving (-1) between two publications of a cohort table: the attributes every place the
    subject can have been shares. Empty when the publications give nothing away."""
    values = [sorted(set(before[d].dropna()) | set(after[d].dropna())) for d in dims]
    atoms = pd.DataFrame(list(itertools.product(*values)), columns=dims)

    def release(table: pd.DataFrame) -> Release:
        return Release(table=table, dimensions=dims, derive={d: (lambda frame, d=d: frame[d]) for d in dims})

    return revealed_attributes(atoms, who_moved([release(before)], [release(after)], atoms, change=change, k=k))
