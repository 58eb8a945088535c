"""Whether a source's rows show minors, counted at ingestion: WP248 counts children among vulnerable
subjects, and the register cannot say whom a client's export holds. Only counts leave the step,
never an age."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from compliance_assets.register.models import Column
from compliance_assets.register.taxonomy import is_within

ROWS_UNDER_18 = "privacy/rows_under_18"  # minors (UNCRC, WP248's "children")
ROWS_UNDER_16 = "privacy/rows_under_16"  # under the Art. 8 age of consent to online services
AGE_IN_YEARS = "user.demographic.age_range"
BIRTH_DATE = "user.demographic.date_of_birth"


def age_columns(columns: Mapping[str, Column]) -> list[str]:
    """Columns holding an age in years (a number) or a date of birth."""
    return [
        name for name, spec in columns.items()
        if (is_within(spec.category, AGE_IN_YEARS) and spec.type in ("integer", "float"))
        or (is_within(spec.category, BIRTH_DATE) and spec.type in ("date", "datetime"))
    ]


def ages(frame: pd.DataFrame, columns: Mapping[str, Column], now: pd.Timestamp) -> pd.Series:
    """Per row, the youngest age any of its age columns gives, in whole years (missing: none)."""
    found = []
    for name in age_columns(columns):
        values = frame[name]
        if columns[name].type in ("date", "datetime"):
            values = (now - pd.to_datetime(values)).dt.days // 365.25
        found.append(pd.to_numeric(values, errors="coerce"))
    return pd.concat(found, axis=1).min(axis=1) if found else pd.Series(float("nan"), index=frame.index)


def minors(frame: pd.DataFrame, columns: Mapping[str, Column], now: pd.Timestamp) -> dict[str, int]:
    """Rows of subjects under 18 and under 16; empty when the source has no age column."""
    if not age_columns(columns):
        return {}
    youngest = ages(frame, columns, now)
    return {ROWS_UNDER_18: int((youngest < 18).sum()), ROWS_UNDER_16: int((youngest < 16).sum())}
