"""Daily partitions of event sources: a run loads and replaces only the days it was given, the
nightly schedule loads yesterday, and a backfill loads any range of days in one run.

A run without a partition (an ad-hoc `materialize`, a test) refreshes the whole history the
source holds, as an unpartitioned asset would.

A cohort release may be partitioned by day too: each day's run publishes that day's release (a
snapshot of its feature table then), one day per run."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from dagster import AssetExecutionContext, DailyPartitionsDefinition, PartitionsDefinition

from compliance_assets.pipelines.raw import within
from compliance_assets.register import Register

EVENT_DAYS = DailyPartitionsDefinition(start_date="2025-01-01", timezone="UTC")


def partitions_of(register: Register, name: str) -> PartitionsDefinition | None:
    entry = register.sources.get(name) or register.cohorts.get(name)
    return EVENT_DAYS if entry is not None and entry.partitions == "daily" else None


def one_day_of(context: AssetExecutionContext) -> tuple[str, datetime, datetime]:
    """A partitioned cohort release's day: its key and [start, end). A release is one
    publication, audited against the one before it, so a run publishes one day, not a range."""
    window = window_of(context)
    keys = context.partition_keys if window is not None else []
    if window is None or len(keys) != 1:
        raise ValueError(f"a cohort release partitioned by day publishes one day per run, not {len(keys)}: materialise the days one at a time")
    return keys[0], *window


def window_of(context: AssetExecutionContext) -> tuple[datetime, datetime] | None:
    """The run's days as naive UTC [start, end), as the warehouse stores times; None when unpartitioned."""
    if not (context.has_partition_key or context.has_partition_key_range):
        return None
    window = context.partition_time_window
    return window.start.astimezone(UTC).replace(tzinfo=None), window.end.astimezone(UTC).replace(tzinfo=None)


def rows_for(context: AssetExecutionContext, frame: pd.DataFrame, clock: str) -> pd.DataFrame:
    """What a source hands a run: the rows of its days, and the rows whose time cannot be read
    (the raw tier quarantines those, rather than no day ever receiving them)."""
    window = window_of(context)
    if window is None:
        return frame
    times = pd.to_datetime(frame[clock], errors="coerce")
    return frame.loc[within(times, window) | times.isna()].reset_index(drop=True)

