"""Storage limitation on rows: a row may be kept while every value in it is within the retention
period of its data category, counted from the row's clock (the time the period runs from)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd


@dataclass(frozen=True)
class RetentionSummary:
    """What a retention check reports about a table: counts only, so it can be computed in SQL."""

    rows: int
    expired: int  # rows holding a value past its retention
    unclocked: int  # rows without a clock
    per_column: dict[str, int]  # values past retention, per column
    oldest_kept_days: float | None  # age of the oldest row that may stay


@dataclass(frozen=True)
class RetentionFindings:
    expired: pd.Series  # per row: holds a value past its retention
    unclocked: pd.Series  # per row: no clock, so its age cannot be judged
    per_column: dict[str, int]  # values past retention, per column
    oldest_kept_days: float | None  # age of the oldest row that may stay

    @property
    def violations(self) -> pd.Series:
        return self.expired | self.unclocked

    def summary(self) -> RetentionSummary:
        return RetentionSummary(len(self.expired), int(self.expired.sum()), int(self.unclocked.sum()), self.per_column, self.oldest_kept_days)


def past_retention(
    frame: pd.DataFrame, clock: str, periods: Mapping[str, timedelta], now: pd.Timestamp
) -> RetentionFindings:
    """Judges every row of `frame` at `now`; `periods` maps columns to their category's period.
    A null value holds nothing, so it never keeps a row past retention."""
    times = pd.to_datetime(frame[clock])
    age = now - times
    unclocked = times.isna()
    expired = pd.Series(False, index=frame.index)
    per_column: dict[str, int] = {}
    aged_past: dict[timedelta, pd.Series] = {}
    for column, period in periods.items():
        if period not in aged_past:
            aged_past[period] = (age > pd.Timedelta(period)) & ~unclocked
        over = aged_past[period].copy()
        if over.any():  # whether a value is there matters only in rows old enough to hold one past it
            over[over] = frame.loc[over, column].notna().to_numpy()
        per_column[column] = int(over.sum())
        expired |= over
    kept = age[~expired & ~unclocked]
    oldest = kept.max() / pd.Timedelta(days=1) if len(kept) else None
    return RetentionFindings(expired, unclocked, per_column, None if oldest is None or pd.isna(oldest) else float(oldest))
