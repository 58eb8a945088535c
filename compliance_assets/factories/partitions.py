"""Daily partitions of event sources: a run loads and replaces only the days it was given, the
nightly schedule loads yesterday, and a backfill loads any range of days in one run.

A run without a partition (an ad-hoc `materialize`, a test) refreshes the whole history the
source holds, as an unpartitioned asset would."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from dagster import AssetExecutionContext, DailyPartitionsDefinition, PartitionsDefinition

from compliance_assets.pipelines.raw import within
from compliance_assets.register import Register

EVENT_DAYS = DailyPartitionsDefinition(start_date="2025-01-01", timezone="UTC")


def partitions_of(register: Register, name: str) -> PartitionsDefinition | None:
    source = register.sources.get(name)
    return EVENT_DAYS if source is not None and source.partitions == "daily" else None


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

