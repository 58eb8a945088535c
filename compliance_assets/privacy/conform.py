"""Makes a frame match its declared column types. Values that cannot be read as their type are
not dropped: their rows are returned separately with the reason, to be quarantined."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

REASON_COLUMN = "_quarantine_reason"


def _coerce(values: pd.Series, type_: str) -> pd.Series:
    if type_ == "string":
        return values.astype("string")
    if type_ == "integer":
        return pd.to_numeric(values, errors="coerce").astype("Int64")
    if type_ == "float":
        return pd.to_numeric(values, errors="coerce").astype("Float64")
    if type_ == "boolean":
        mapped = values.map(
            lambda v: v if isinstance(v, bool) else {"true": True, "false": False, "1": True, "0": False}.get(str(v).strip().lower()),
            na_action="ignore",
        )
        return mapped.astype("boolean")
    if type_ in ("date", "datetime"):
        parsed = pd.to_datetime(values, errors="coerce", utc=True).dt.tz_localize(None)
        return parsed.dt.normalize() if type_ == "date" else parsed
    raise ValueError(f"unknown column type '{type_}'")


def conform(frame: pd.DataFrame, types: Mapping[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Returns (rows that conform, rows that do not with a reason column)."""
    out = pd.DataFrame(index=frame.index)
    reasons = pd.Series("", index=frame.index, dtype="string")
    for name, type_ in types.items():
        coerced = _coerce(frame[name], type_)
        lost = frame[name].notna() & coerced.isna()
        reasons = reasons.mask(lost, reasons + f"{name}: not a valid {type_}; ")
        out[name] = coerced
    bad = reasons != ""
    rejected = frame.loc[bad].astype("string").assign(**{REASON_COLUMN: reasons[bad].str.rstrip("; ")})
    return out.loc[~bad].reset_index(drop=True), rejected.reset_index(drop=True)
