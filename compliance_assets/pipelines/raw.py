"""The intake of a raw source's arriving frames, in the order the law and the tables need: columns
against the register first (we may not hold what we have not recorded), then erased subjects out
before anything is conformed (so no table, staging copy or quarantine ever holds them), then
unreadable rows and values outside a registered set set aside, then retention on arrival, then the run's days, and minors counted
last, on what is kept."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import pandas as pd

from compliance_assets.privacy.conform import REASON_COLUMN, conform, within_value_sets
from compliance_assets.privacy.minimisation import missing_columns, unregistered_columns
from compliance_assets.privacy.quarantine import OUTSIDE_DAYS, OUTSIDE_VALUE_SET, UNCLOCKED, UNREADABLE, Tally
from compliance_assets.privacy.retention import past_retention
from compliance_assets.register import Register
from compliance_assets.register.ages import minors

Suppress = Callable[[pd.DataFrame], pd.DataFrame]


class UnmatchedColumns(ValueError):
    """The arriving frame has columns the register does not declare, or lacks some it does."""

    def __init__(self, name: str, undeclared: list[str], missing: list[str]) -> None:
        super().__init__(f"'{name}' does not match register/sources.yaml (sources.{name}.columns)")
        self.undeclared, self.missing = undeclared, missing


def loaded_days(window: tuple[datetime, datetime] | None) -> str | None:
    """The run's days as people read them: the last day loaded, not the exclusive end."""
    return f"{window[0]:%Y-%m-%d} to {window[1] - timedelta(days=1):%Y-%m-%d}" if window else None


def within(times: pd.Series, window: tuple[datetime, datetime]) -> pd.Series:
    """Which times fall in [start, end); a missing time falls in no window."""
    start, end = window
    return ((times >= pd.Timestamp(start)) & (times < pd.Timestamp(end))).fillna(False).astype(bool)


class RawIntake:
    """Admits the frames (or chunks) of one raw source for one run, remembering what it set aside.

    `suppress` holds back the rows of erased subjects (or empties their identifying columns); it
    sees each frame before it is conformed. `window` is the run's days [start, end) as naive
    UTC, or None when the run loads the whole history. Every arriving row ends up admitted, set
    aside with a reason, dropped past retention, or withheld by `suppress`: the counts reconcile."""

    def __init__(
        self,
        register: Register,
        name: str,
        now: pd.Timestamp,
        window: tuple[datetime, datetime] | None = None,
        suppress: Suppress | None = None,
    ) -> None:
        self._name, self._now, self._window, self._suppress = name, now, window, suppress
        self._source = register.sources[name]
        self._types = {c: spec.type for c, spec in self._source.columns.items()}
        self._value_sets = {c: spec.values for c, spec in self._source.columns.items() if spec.values is not None}
        self._periods = register.retention_periods(name) if self._source.retention_clock else {}
        self._rejected: list[pd.DataFrame] = []
        self.loaded_days = loaded_days(window)
        self.tally = Tally(name)
        self.admitted = 0
        self.withheld = 0
        self.expired = 0
        self.minors: Counter[str] = Counter()

    def admit(self, arriving: pd.DataFrame) -> pd.DataFrame:
        """One frame or chunk, conformed, with its erased, unreadable, unclocked, expired and
        out-of-window rows taken out. Raises `UnmatchedColumns` before touching any row."""
        source = self._source
        undeclared = unregistered_columns(arriving, source.columns)
        absent = missing_columns(arriving, source.columns)
        if undeclared or absent:
            raise UnmatchedColumns(self._name, list(undeclared), list(absent))
        self.tally.arrived += len(arriving)
        arriving = arriving[list(source.columns)]
        if self._suppress is not None:
            before = len(arriving)
            arriving = self._suppress(arriving)
            self.withheld += before - len(arriving)
        clean, unreadable = conform(arriving, self._types)
        self._keep_aside(unreadable, UNREADABLE)
        clean, outside = within_value_sets(clean, self._value_sets)
        self._keep_aside(outside, OUTSIDE_VALUE_SET)
        clock = source.retention_clock
        if clock:
            findings = past_retention(clean, clock, self._periods, self._now)
            self._set_aside(clean.loc[findings.unclocked], f"{clock}: missing, so its retention cannot be judged", UNCLOCKED)
            keep = ~findings.unclocked
            if source.past_retention_on_arrival == "drop":
                self.expired += int(findings.expired.sum())
                keep &= ~findings.expired
            clean = clean.loc[keep].reset_index(drop=True)
        if self._window:
            elsewhere = ~within(clean[source.event_time], self._window)
            self._set_aside(clean.loc[elsewhere], f"{source.event_time}: not in the days this run loads ({self.loaded_days})", OUTSIDE_DAYS)
            clean = clean.loc[~elsewhere].reset_index(drop=True)
        self.minors.update(minors(clean, source.columns, self._now))
        self.admitted += len(clean)
        return clean

    def _set_aside(self, rows: pd.DataFrame, reason: str, cause: str) -> None:
        self._keep_aside(rows.astype("string").assign(**{REASON_COLUMN: reason}), cause)

    def _keep_aside(self, rejected: pd.DataFrame, cause: str) -> None:
        self._rejected.append(rejected)
        self.tally.add(cause, len(rejected), reasons=rejected[REASON_COLUMN])

    @property
    def arrived(self) -> int:
        return self.tally.arrived

    @property
    def quarantined(self) -> int:
        """Rows set aside so far, each with its reason."""
        return self.tally.quarantined

    def set_aside(self) -> pd.DataFrame | None:
        """Every row set aside so far with its reason in `REASON_COLUMN`; None when there is none."""
        frames = [frame for frame in self._rejected if len(frame)]
        return pd.concat(frames, ignore_index=True) if frames else None
