"""An attacker who keeps every census release ever published, through real Dagster runs on
SQLite and PostgreSQL: a respondent added and the release re-run, the same respondent removed
again (an erasure followed by the refresh), and the same input re-run. The attacker
(`tests.attacker`, independent of the engine) subtracts the publications with an integer
programme and reads off whatever attributes the moved respondent must have, and does the same with the
outcome counts when one respondent's income changes; it also bounds every
withheld cohort with a linear programme over everything published, and scans the shown rates."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from compliance_assets.tiers import Tier
from compliance_assets.privacy.cohorts import MeasureSpec, release_cohorts
from tests.attacker import Release, homogeneous_or_small, narrowest_hidden_interval, outcome_from_rate, pinned, revealed_attributes, true_tables, who_moved
from tests.helpers import check_evaluation, published, run_job, warehouse_of

DIMS = ["sex", "race", "education"]
MARGINS = [("sex", "race"), ("education",), ()]
K = 50


def _census_copy(census_csv, tmp_path, extra_rows: pd.DataFrame | None = None):
    frame = pd.read_csv(census_csv, dtype=str, keep_default_na=False)
    if extra_rows is not None:
        frame = pd.concat([frame, extra_rows], ignore_index=True)
    path = tmp_path / f"adult_{len(frame)}.csv"
    frame.to_csv(path, index=False)
    return path, frame


def _release(table: pd.DataFrame) -> Release:
    return Release(table=table, dimensions=DIMS, derive={d: (lambda atoms, d=d: atoms[d]) for d in DIMS})


def _atoms(features: pd.DataFrame) -> pd.DataFrame:
    values = [sorted(features[d].dropna().unique()) for d in DIMS]
    return pd.DataFrame(list(itertools.product(*values)), columns=DIMS)


def _run(monkeypatch, path) -> pd.DataFrame:
    monkeypatch.setenv("COMPLIANCE_CENSUS_CSV", str(path))
    result = run_job("census_release")
    assert result.success
    return result


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def warehouse_env(request, local_env):
    if request.param == "postgresql":
        request.getfixturevalue("pg_env")
    return request.param


@pytest.mark.census
def test_a_census_history_gives_nothing_away(warehouse_env, census_csv, tmp_path, monkeypatch):
    original, frame = _census_copy(census_csv, tmp_path)
    # One more respondent: a copy of a row in a large cohort, with its own identity.
    newcomer = frame.iloc[[0]].copy()
    with_newcomer, _ = _census_copy(census_csv, tmp_path, newcomer)

    first = _run(monkeypatch, original)
    before = published(Tier.AGGREGATE, "census_cohorts")
    features_before = published(Tier.PSEUDONYMISED, "census_features")
    atoms = _atoms(features_before)

    second = _run(monkeypatch, with_newcomer)
    after_join = published(Tier.AGGREGATE, "census_cohorts")
    features_after = published(Tier.PSEUDONYMISED, "census_features")
    assert len(features_after) == len(features_before) + 1

    # Without the ledger, the plain release of the new data gives the newcomer away:
    naive = release_cohorts(
        features_after, DIMS, "subject_pseudonym",
        {"subjects": MeasureSpec("count_subjects"), "share_income_over_50k": MeasureSpec("mean", "income_over_50k")}, K, MARGINS,
    ).released
    naive_moved = who_moved([_release(before)], [_release(naive)], atoms, change=+1, k=K)
    assert revealed_attributes(atoms, naive_moved), "the attacker should read the newcomer off a plain republication"

    moved = who_moved([_release(before)], [_release(after_join)], atoms, change=+1, k=K)
    assert revealed_attributes(atoms, moved) == {}
    assert len(moved) > 1

    # The same respondent leaves again (erased from the source, then the release refreshed).
    _run(monkeypatch, original)
    after_leave = published(Tier.AGGREGATE, "census_cohorts")
    moved = who_moved([_release(after_join)], [_release(after_leave)], atoms, change=-1, k=K)
    assert revealed_attributes(atoms, moved) == {}

    # Re-running the same input publishes the same table.
    _run(monkeypatch, original)
    again = published(Tier.AGGREGATE, "census_cohorts")
    key = [*DIMS, "grouped_by"]
    pd.testing.assert_frame_equal(
        again.sort_values(key, na_position="last").reset_index(drop=True),
        after_leave.sort_values(key, na_position="last").reset_index(drop=True),
    )

    # Every publication is in the ledger, recorded with the table.
    ledger = warehouse_of().ledger("census_cohorts")
    assert ledger["publication"].nunique() == 4
    assert set(ledger["publication"]) >= {first.run_id, second.run_id}
    shown_last = ledger.loc[ledger["publication"] == ledger["publication"].iloc[-1]]
    assert shown_last["shown"].sum() == len(again)

    # No withheld cohort under k is bounded narrower than k by every table published so far.
    tabulated = _truth(features_before)
    for table in (before, after_leave):
        found = narrowest_hidden_interval([_release(table)], [tabulated], atoms, K)
        assert not pinned(found, K), found[:3]
    rates = again.assign(outcome=outcome_from_rate(again["share_income_over_50k"], again["subjects"]))
    assert homogeneous_or_small(rates, outcome_col="outcome", min_numerator=10).empty

    # Nobody joins or leaves: one respondent's income crosses 50K, and the release runs again.
    # Differencing the outcome counts (rate × subjects) must not tell whose.
    flipped = frame.copy()
    flipped.loc[0, "salary-class"] = " >50K"
    assert frame.loc[0, "salary-class"].strip() == "<=50K"
    path = tmp_path / "adult_flipped.csv"
    flipped.to_csv(path, index=False)
    _run(monkeypatch, path)
    after_flip = published(Tier.AGGREGATE, "census_cohorts")
    naive = release_cohorts(
        published(Tier.PSEUDONYMISED, "census_features"), DIMS, "subject_pseudonym",
        {"subjects": MeasureSpec("count_subjects"), "share_income_over_50k": MeasureSpec("mean", "income_over_50k")}, K, MARGINS,
    ).released
    naive_moved = who_moved([_outcomes(again)], [_outcomes(naive)], atoms, change=+1, k=K)
    assert revealed_attributes(atoms, naive_moved), "the attacker should read the changed income off a plain republication"
    moved = who_moved([_outcomes(again)], [_outcomes(after_flip)], atoms, change=+1, k=K)
    assert revealed_attributes(atoms, moved) == {}

    evaluation = check_evaluation(second, "census_cohorts", "no_differencing")
    metadata = {name: value.value for name, value in evaluation.metadata.items()}
    assert metadata["exposed_cohorts"] == 0
    assert metadata["earlier_publications"] == 1
    assert metadata["narrowest_interval_width"] >= K
    assert "change rule" in metadata["mechanism"]


def _outcomes(table: pd.DataFrame) -> Release:
    """The attacker's view of the outcome: each shown row's count of higher incomes as its figure."""
    return _release(table.assign(subjects=outcome_from_rate(table["share_income_over_50k"], table["subjects"])))


def _truth(frame: pd.DataFrame) -> pd.DataFrame:
    return true_tables(frame, DIMS, MARGINS)
