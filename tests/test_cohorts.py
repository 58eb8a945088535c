"""Cohort release: k counted on distinct subjects, and on the real census file the release
matches an independent count."""

from __future__ import annotations

import csv
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance_assets.privacy.cohorts import GRAND_TOTAL, GROUPED_BY, MeasureSpec, level_tables, one_row_per_subject, release_cohorts, undersized_cohorts

COUNT = {"subjects": MeasureSpec("count_subjects")}


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from("abc"), st.sampled_from("xy"), st.integers(0, 80)),
        min_size=0,
        max_size=400,
    ),
    k=st.integers(2, 20),
)
def test_every_released_cohort_has_k_distinct_subjects(rows, k):
    frame = pd.DataFrame(rows, columns=["d1", "d2", "subject"])
    release = release_cohorts(frame, ["d1", "d2"], "subject", COUNT, k)
    truth = frame.groupby(["d1", "d2"])["subject"].nunique()
    released = {tuple(r[:2]) for r in release.released[["d1", "d2"]].itertuples(index=False)}
    assert released == {key for key, n in truth.items() if n >= k}
    assert (release.released["subjects"] >= k).all()
    assert undersized_cohorts(release.released, frame, ["d1", "d2"], "subject", k).empty


def test_rows_of_one_subject_count_once():
    frame = pd.DataFrame({"d": ["a"] * 100, "subject": ["s1"] * 60 + ["s2"] * 40})
    release = release_cohorts(frame, ["d"], "subject", COUNT, 50)
    assert release.released.empty
    assert release.stats["cohorts_suppressed_primary"] == 1


def test_undersized_detects_a_release_that_lies_about_its_counts():
    frame = pd.DataFrame({"d": ["a"] * 10, "subject": range(10)})
    forged = pd.DataFrame({"d": ["a"], "subjects": [999]})
    assert len(undersized_cohorts(forged, frame, ["d"], "subject", 50)) == 1


def test_census_release_matches_an_independent_count(census_csv):
    independent: dict[tuple[str, str, str], int] = Counter()
    with census_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            independent[(row["sex"].strip(), row["race"].strip(), row["education"].strip())] += 1
    assert len(independent) == 152
    small = {key for key, n in independent.items() if n < 50}
    assert len(small) == 101 and sum(independent[key] for key in small) == 1167
    by_sex_race: dict[tuple[str, str], int] = Counter()
    for (sex, race, _), n in independent.items():
        by_sex_race[(sex, race)] += n

    frame = pd.read_csv(census_csv, skipinitialspace=True)
    frame["respondent"] = range(len(frame))
    dims = ["sex", "race", "education"]
    release = release_cohorts(frame, dims, "respondent", COUNT, 50, margins=[["sex", "race"], []])
    table = release.released
    cells = table[table[GROUPED_BY] == "sex,race,education"]
    released = {tuple(r[:3]): r[3] for r in cells[[*dims, "subjects"]].itertuples(index=False)}
    assert all(independent[key] == n >= 50 for key, n in released.items())
    hidden = release.suppressed
    primary = {tuple(r) for r in hidden.loc[hidden["suppression"] == "primary", dims].itertuples(index=False)}
    assert primary == small
    secondary = hidden.loc[(hidden["suppression"] == "secondary") & (hidden[GROUPED_BY] == "sex,race,education")]
    assert set(released) | small | {tuple(r) for r in secondary[dims].itertuples(index=False)} == set(independent)
    margins = table[table[GROUPED_BY] == "sex,race"]
    assert {(r.sex, r.race): r.subjects for r in margins.itertuples()} == {k: n for k, n in by_sex_race.items() if n >= 50}
    assert table.loc[table[GROUPED_BY] == GRAND_TOTAL, "subjects"].tolist() == [32561]
    stats = release.stats
    assert stats["cohorts_released"] == len(released) and stats["cohorts_suppressed_primary"] == 101
    assert stats["subjects_covered"] == sum(released.values())
    assert stats["min_released_cohort_size"] >= 50


def test_k_below_two_is_refused():
    with pytest.raises(ValueError, match="at least 2"):
        release_cohorts(pd.DataFrame({"d": [], "s": []}), ["d"], "s", COUNT, 1)


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from("abc"), st.sampled_from(["x", "y", None]), st.one_of(st.none(), st.integers(0, 9))),
        min_size=1,
        max_size=300,
    ),
    margins=st.lists(st.sampled_from([("d1",), ("d2",), ()]), unique=True, max_size=3),
)
def test_summing_cells_equals_counting_rows_when_every_row_is_a_subject(rows, margins):
    """The fast path (one row per subject: aggregate once, sum the margins) must agree with
    counting distinct subjects level by level."""
    frame = pd.DataFrame(rows, columns=["d1", "d2", "value"]).astype({"value": "Float64"})
    frame["subject"] = range(len(frame))
    measures = {"subjects": MeasureSpec("count_subjects"), "total": MeasureSpec("sum", "value"), "mean": MeasureSpec("mean", "value")}
    fast = level_tables(frame, ["d1", "d2"], [("d1", "d2"), *margins], "subject", measures)
    slow = level_tables(frame.assign(subject=frame["subject"] % 1_000_000).pipe(lambda f: pd.concat([f, f.head(1)])), ["d1", "d2"], [("d1", "d2"), *margins], "subject", measures)
    first = frame.head(1)
    assert first.index[0] == 0  # the duplicated first row adds no subject, so counts must agree
    for level, quick in zip([("d1", "d2"), *margins], fast, strict=True):
        grouped = frame.groupby(list(level), dropna=False, sort=True)["value"] if level else frame.groupby(lambda _: 0)["value"]
        np.testing.assert_allclose(quick["total"].astype(float), grouped.sum().astype(float).to_numpy())
        np.testing.assert_allclose(quick["mean"].astype(float), grouped.mean().astype(float).to_numpy(), equal_nan=True)
    for quick, counted in zip(fast, slow, strict=True):
        pd.testing.assert_frame_equal(
            quick[["d1", "d2", "grouped_by", "subjects"]].reset_index(drop=True),
            counted[["d1", "d2", "grouped_by", "subjects"]].reset_index(drop=True),
            check_dtype=False,
        )


@settings(max_examples=300, deadline=None)
@given(
    keys=st.one_of(
        st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40), st.integers(-5, 30)), max_size=60),
        st.lists(st.one_of(st.integers(2**63 - 40, 2**63 - 1), st.integers(-(2**63), -(2**63) + 40)), max_size=60),
    ),
    dtype=st.sampled_from(["Int64", "int64", "string", "object"]),
)
def test_one_row_per_subject_is_uniqueness_without_missing_keys(keys, dtype):
    """Sorting hashes, or a bitmap of a dense range of integers (up to the ends of int64), answers
    as a hash table would, collisions included (hash(-1) == hash(-2))."""
    if dtype == "int64":
        keys = [k for k in keys if k is not None]
    series = pd.Series(keys, dtype="object").astype(dtype) if dtype != "string" else pd.Series([None if k is None else str(k) for k in keys], dtype="string")
    assert one_row_per_subject(series) == (series.notna().all() and series.is_unique)
