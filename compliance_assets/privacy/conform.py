"""Makes a frame match its declared column types. Values that cannot be read as their type are
not dropped: their rows are returned separately with the reason, to be quarantined."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from compliance_assets.privacy.normalise import normalise_as_is

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
        parsed = _timestamps(values)
        return parsed.dt.normalize() if type_ == "date" else parsed
    raise ValueError(f"unknown column type '{type_}'")


def _timestamps(values: pd.Series) -> pd.Series:
    """ISO 8601 in any of its spellings (with or without fractions or an offset) is read in one
    vectorised pass; only what is not ISO is read value by value. pandas' default guesses one
    format from the first value and turns a later value spelled otherwise into NaT."""
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
    unread = values.notna() & parsed.isna()
    if unread.any():
        parsed[unread] = pd.to_datetime(values[unread], errors="coerce", utc=True, format="mixed")
    return parsed.dt.tz_localize(None)


def _always_readable(values: pd.Series, type_: str) -> bool:
    """Whether no value of `values` can fail to be read as `type_`: every value has a text form,
    and values already of the type need no reading. Such a column is not searched for losses."""
    return type_ == "string" or values.dtype.kind in {"date": "M", "datetime": "M", "integer": "iu", "float": "iuf", "boolean": "b"}.get(type_, "")


def conform(frame: pd.DataFrame, types: Mapping[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Returns (rows that conform, rows that do not with a reason column). Reasons are written
    only for the rows that have one, and only columns that can fail are searched: 10 M clean rows
    of text cost no string work."""
    out = pd.DataFrame(index=frame.index)
    lost: dict[str, pd.Series] = {}
    for name, type_ in types.items():
        coerced = _coerce(frame[name], type_)
        if not _always_readable(frame[name], type_):
            lost[name] = frame[name].notna() & coerced.isna()
        out[name] = coerced
    bad = pd.Series(False, index=frame.index)
    for mask in lost.values():
        bad |= mask
    reasons = pd.Series("", index=frame.index[bad], dtype="string")
    for name, mask in lost.items():
        reasons = reasons.mask(mask[bad], reasons + f"{name}: not a valid {types[name]}; ")
    rejected = frame.loc[bad].astype("string").assign(**{REASON_COLUMN: reasons.str.rstrip("; ")})
    return (out.loc[~bad] if bad.any() else out).reset_index(drop=True), rejected.reset_index(drop=True)


def within_value_sets(frame: pd.DataFrame, sets: Mapping[str, Sequence[str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Returns (rows whose text columns hold only their registered values, the other rows with a
    reason naming the columns). A value is compared once cleaned (format characters out, NFKC,
    trimmed), and kept in its registered spelling: a fullwidth 'Ｍａｌｅ' is 'Male', a Cyrillic
    'Mаle' is not, and is set aside rather than fail the run."""
    if not sets or not len(frame):
        return frame, frame.iloc[:0].astype("string").assign(**{REASON_COLUMN: pd.Series(dtype="string")})
    out = frame.copy()
    bad = pd.Series(False, index=frame.index)
    outside: dict[str, pd.Series] = {}
    for name, values in sets.items():
        cleaned = normalise_as_is(frame[name])
        out[name] = cleaned
        outside[name] = cleaned.notna() & ~cleaned.isin(list(values))
        bad |= outside[name]
    reasons = pd.Series("", index=frame.index[bad], dtype="string")
    for name, mask in outside.items():
        reasons = reasons.mask(mask[bad], reasons + f"{name}: not in its registered value set; ")
    rejected = frame.loc[bad].astype("string").assign(**{REASON_COLUMN: reasons.str.rstrip("; ")})
    return out.loc[~bad].reset_index(drop=True), rejected.reset_index(drop=True)
