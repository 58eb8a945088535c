"""Conforming arriving rows to their declared types loses nothing: every row is either kept, typed,
or set aside with a reason that names exactly the columns it could not read."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance_assets.privacy.conform import REASON_COLUMN, conform

TYPES = {"name": "string", "count": "integer", "amount": "float", "active": "boolean", "seen_at": "datetime"}
READABLE = {
    "name": st.text(max_size=6),
    "count": st.integers(-1000, 1000).map(str),
    "amount": st.floats(-1e6, 1e6, allow_nan=False).map(repr),
    "active": st.sampled_from(["true", "False", "1", "0"]),
    "seen_at": st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)).flatmap(
        lambda moment: st.sampled_from([moment.isoformat(), moment.isoformat(" ", "seconds") + "+02:00", moment.strftime("%m/%d/%Y %H:%M")])
    ),  # ISO with and without fractions or an offset, mixed with a US spelling
}
UNREADABLE = {"count": st.just("seven"), "amount": st.just("lots"), "active": st.just("maybe"), "seen_at": st.just("yesterday-ish")}


@st.composite
def arriving(draw) -> tuple[pd.DataFrame, list[set[str]]]:
    """Rows of text as a file delivers them, and for each row the columns made unreadable."""
    rows, broken = [], []
    for _ in range(draw(st.integers(0, 12))):
        spoiled = draw(st.sets(st.sampled_from(sorted(UNREADABLE))))
        rows.append({c: draw(UNREADABLE[c] if c in spoiled else st.none() | READABLE[c]) for c in TYPES})
        broken.append(spoiled)
    return pd.DataFrame(rows, columns=list(TYPES), dtype="string"), broken


def _naive_utc(text: str) -> pd.Timestamp:
    """One value read on its own: UTC unless it says otherwise, stored without a zone."""
    moment = pd.Timestamp(text)
    return (moment.tz_localize("UTC") if moment.tz is None else moment.tz_convert("UTC")).tz_localize(None)


@settings(max_examples=80, deadline=None)
@given(case=arriving())
def test_every_row_is_kept_or_set_aside_with_the_columns_it_could_not_read(case):
    frame, broken = case
    clean, rejected = conform(frame, TYPES)
    assert len(clean) + len(rejected) == len(frame)
    expected = [
        "; ".join(f"{c}: not a valid {TYPES[c]}" for c in TYPES if c in spoiled) for spoiled in broken if spoiled
    ]
    assert list(rejected[REASON_COLUMN]) == expected
    kept = frame.loc[[not spoiled for spoiled in broken]].reset_index(drop=True)
    pd.testing.assert_frame_equal(rejected.drop(columns=REASON_COLUMN), frame.loc[[bool(s) for s in broken]].reset_index(drop=True))
    assert list(clean["name"].astype(object).where(clean["name"].notna(), None)) == list(kept["name"].astype(object).where(kept["name"].notna(), None))
    assert [None if pd.isna(v) else v for v in clean["seen_at"]] == [None if pd.isna(v) else _naive_utc(v) for v in kept["seen_at"]]
    assert clean["count"].dtype == "Int64" and clean["active"].dtype == "boolean" and clean["seen_at"].dtype.kind == "M"


@settings(max_examples=60, deadline=None)
@given(case=arriving())
def test_rows_that_arrive_typed_conform_as_they_are(case):
    """A loader that hands over typed columns (as the demo's generator does) has nothing to read:
    the same rows come back, none set aside, with or without missing values."""
    frame, broken = case
    typed, _ = conform(frame.loc[[not spoiled for spoiled in broken]].reset_index(drop=True), TYPES)
    clean, rejected = conform(typed, TYPES)
    assert rejected.empty and list(rejected.columns) == [*TYPES, REASON_COLUMN]
    pd.testing.assert_frame_equal(clean, typed)
