"""The release engine against the independent attacker (`tests.attacker`), on generated tables and
histories: no withheld cohort under k is bounded narrower than k by a linear programme over what
was published, no shown outcome is shared by all or none of a cohort or counted under the
minimum numerator, and one subject joining or leaving moves nothing the attacker can read.
The register refuses what the engine cannot protect: crossing bandings, magnitudes of
sensitive columns."""

from __future__ import annotations

import itertools
import shutil
import threading

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance_assets.privacy.cohorts import DisclosureRules, MeasureSpec, disclosure_audit, release_cohorts
from compliance_assets.privacy.intervals import shared_outcomes
from compliance_assets.privacy.joint import Neighbour
from compliance_assets.privacy.ledger import ledger_rows, previous_entries
from compliance_assets.privacy.suppression import Lattice
from compliance_assets.register import RegisterError, load_register
from compliance_assets.storage.warehouse import Warehouse
from tests.attacker import Release, homogeneous_or_small, intervals, narrowest_hidden_interval, pinned, revealed_attributes, true_tables, who_moved
from tests.conftest import REPO

DIMS = ["d1", "d2"]
MARGINS = [("d1",), ("d2",), ()]
COUNT = {"subjects": MeasureSpec("count_subjects")}
DOMAINS = {"d1": ["a", "b", "c"], "d2": ["x", "y", "z", "w"]}
ATOMS = pd.DataFrame(list(itertools.product(*DOMAINS.values())), columns=DIMS)


def _frame(sizes: list[int], outcomes: list[int] | None = None) -> pd.DataFrame:
    rows = []
    for (d1, d2), size, outcome in zip(ATOMS.itertuples(index=False), sizes, outcomes or [0] * len(sizes), strict=True):
        rows += [{"d1": d1, "d2": d2, "outcome": int(i < outcome)} for i in range(size)]
    frame = pd.DataFrame(rows, columns=[*DIMS, "outcome"])
    return frame.assign(subject=range(len(frame)))


def _attacker_release(table: pd.DataFrame) -> Release:
    return Release(table=table, dimensions=DIMS, derive={d: (lambda atoms, d=d: atoms[d]) for d in DIMS})


def _truth(frame: pd.DataFrame) -> pd.DataFrame:
    return true_tables(frame, DIMS, MARGINS)


sizes = st.lists(st.integers(0, 40), min_size=len(ATOMS), max_size=len(ATOMS))


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=sizes, k=st.sampled_from([5, 10]))
def test_no_withheld_cohort_under_k_is_bounded_narrower_than_k(sizes, k):
    frame = _frame(sizes)
    if frame.empty:
        return
    release = release_cohorts(frame, DIMS, "subject", COUNT, k, MARGINS)
    found = narrowest_hidden_interval([_attacker_release(release.released)], [_truth(frame)], ATOMS, k)
    assert not pinned(found, k), found[:3]


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=sizes, data=st.data())
def test_shown_outcomes_keep_the_measure_rules(sizes, data):
    outcomes = [data.draw(st.integers(0, size)) for size in sizes]
    frame = _frame(sizes, outcomes)
    if frame.empty:
        return
    measures = {**COUNT, "outcome": MeasureSpec("sum", "outcome")}
    release = release_cohorts(frame, DIMS, "subject", measures, 5, MARGINS, rules=DisclosureRules(outcomes=("outcome",), min_numerator=3))
    assert homogeneous_or_small(release.released, outcome_col="outcome", min_numerator=3).empty


def _outcome_attacker_release(table: pd.DataFrame) -> Release:
    """The attacker who also reads each shown row's outcome count: per atom, members with the
    outcome and without, neither negative."""
    return Release(table=table, dimensions=DIMS, derive={d: (lambda atoms, d=d: atoms[d]) for d in DIMS}, measures={"outcome": "outcome"})


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=sizes, data=st.data(), k=st.sampled_from([5, 10]), least=st.sampled_from([2, 3]))
def test_shown_outcome_counts_bound_no_withheld_cohort_under_k_narrower_than_k(sizes, data, k, least):
    """Subjects with and without the outcome are two tables: a row's outcome count and its
    complement each bound the cells under it, together tighter than its subjects alone."""
    frame = _frame(sizes, [data.draw(st.integers(0, size)) for size in sizes])
    if frame.empty:
        return
    rules = DisclosureRules(outcomes=("outcome",), min_numerator=least)
    release = release_cohorts(frame, DIMS, "subject", OUTCOME, k, MARGINS, rules=rules)
    found = narrowest_hidden_interval([_outcome_attacker_release(release.released)], [_truth(frame)], ATOMS, k)
    assert not pinned(found, k), found[:3]


# Cell sizes and outcome counts (row-major over ATOMS) at k = 50 and a minimum numerator of 10, and
# what the release published when its programme read subject counts only: the withheld (c, y),
# 13 subjects, lies in [0, 78] by subjects, in [2, 46] with the outcome counts.
OUTCOME_BOUNDS_SIZES = [87, 47, 76, 18, 150, 73, 178, 120, 66, 13, 118, 161]
OUTCOME_BOUNDS_COUNTS = [10, 10, 38, 13, 135, 63, 160, 60, 56, 12, 12, 16]
OUTCOME_BLIND_RELEASE = pd.DataFrame({
    "d1": ["a", "b", "b", "c", "c", "a", "b", "c", None, None, None, None, None],
    "d2": ["z", "x", "z", "w", "z", None, None, None, "w", "x", "y", "z", None],
    "grouped_by": ["d1,d2"] * 5 + ["d1"] * 3 + ["d2"] * 4 + ["(total)"],
    "outcome": [38, 135, 160, 16, 12, 71, 418, 96, 89, 201, 85, 210, 585],
    "subjects": [76, 150, 178, 161, 118, 228, 521, 358, 299, 303, 133, 372, 1107],
})


def test_outcome_counts_that_bound_a_withheld_cohort_are_withheld_and_the_audit_sees_them():
    k, rules = 50, DisclosureRules(outcomes=("outcome",), min_numerator=10)
    frame = _frame(OUTCOME_BOUNDS_SIZES, OUTCOME_BOUNDS_COUNTS)
    blind = narrowest_hidden_interval([_outcome_attacker_release(OUTCOME_BLIND_RELEASE)], [_truth(frame)], ATOMS, k)
    assert [(f["key"], f["lo"], f["hi"]) for f in pinned(blind, k)] == [(("d1,d2", "c", "y"), 2.0, 46.0)]
    audit = disclosure_audit(OUTCOME_BLIND_RELEASE, frame, DIMS, "subject", k, MARGINS, measures=OUTCOME, rules=rules)
    assert audit.exposed[["d1", "d2"]].values.tolist() == [["c", "y"]]

    release = release_cohorts(frame, DIMS, "subject", OUTCOME, k, MARGINS, rules=rules)
    assert not pinned(narrowest_hidden_interval([_outcome_attacker_release(release.released)], [_truth(frame)], ATOMS, k), k)
    assert disclosure_audit(release.released, frame, DIMS, "subject", k, MARGINS, measures=OUTCOME, rules=rules).exposed.empty


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(0, 40), min_size=len(ATOMS), max_size=len(ATOMS)), steps=st.lists(st.tuples(st.booleans(), st.integers(0, len(ATOMS) - 1)), min_size=1, max_size=4))
def test_one_subject_joining_or_leaving_moves_nothing_readable(sizes, steps):
    k = 5
    frame = _frame(sizes)
    if frame.empty:
        return
    release = release_cohorts(frame, DIMS, "subject", COUNT, k, MARGINS)
    for number, (joins, atom) in enumerate(steps):
        members = frame.index[(frame["d1"] == ATOMS.iloc[atom]["d1"]) & (frame["d2"] == ATOMS.iloc[atom]["d2"])]
        if joins:
            newcomer = pd.DataFrame([ATOMS.iloc[atom].to_dict() | {"outcome": 0, "subject": 10_000 + number}])
            frame = pd.concat([frame, newcomer], ignore_index=True)
        elif len(members):
            frame = frame.drop(index=members[0]).reset_index(drop=True)
        else:
            continue
        ledger = ledger_rows(
            release.entries, DIMS, [], release="r", publication=str(number), published_at=pd.Timestamp("2026-01-01") + pd.Timedelta(days=number),
            register_version="r", code_version="c",
        )
        later = release_cohorts(frame, DIMS, "subject", COUNT, k, MARGINS, previous=previous_entries(ledger, DIMS, []))
        moved = who_moved([_attacker_release(release.released)], [_attacker_release(later.released)], ATOMS, change=1 if joins else -1, k=k)
        assert revealed_attributes(ATOMS, moved) == {}
        release = later


OUTCOME = {**COUNT, "outcome": MeasureSpec("sum", "outcome")}
OUTCOME_RULES = DisclosureRules(outcomes=("outcome",), min_numerator=3)


def _as_outcome_counts(released: pd.DataFrame) -> pd.DataFrame:
    """The attacker's view of the outcome: each shown row's outcome count in place of its subjects."""
    return released.assign(subjects=released["outcome"].astype("int64"))


def _republished(release, frame: pd.DataFrame, k: int, number: int):
    ledger = ledger_rows(
        release.entries, DIMS, ["outcome"], release="r", publication=str(number), published_at=pd.Timestamp("2026-01-01") + pd.Timedelta(days=number),
        register_version="r", code_version="c",
    )
    previous = previous_entries(ledger, DIMS, ["outcome"])
    return release_cohorts(frame, DIMS, "subject", OUTCOME, k, MARGINS, rules=OUTCOME_RULES, previous=previous), previous


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(0, 40), min_size=len(ATOMS), max_size=len(ATOMS)), data=st.data())
def test_one_members_outcome_changing_moves_nothing_readable(sizes, data):
    """Nobody joins or leaves; one member's outcome changes (a diagnosis, an income crossing a
    line) and the release runs again. The attacker differences the outcome counts."""
    k = 5
    frame = _frame(sizes, [data.draw(st.integers(0, size)) for size in sizes])
    if frame.empty:
        return
    release = release_cohorts(frame, DIMS, "subject", OUTCOME, k, MARGINS, rules=OUTCOME_RULES)
    for number, person in enumerate(data.draw(st.lists(st.integers(0, len(frame) - 1), min_size=1, max_size=3))):
        became = 1 - int(frame.loc[person, "outcome"])
        frame = frame.assign(outcome=frame["outcome"].where(frame.index != person, became))
        later, previous = _republished(release, frame, k, number)
        moved = who_moved([_attacker_release(_as_outcome_counts(release.released))], [_attacker_release(_as_outcome_counts(later.released))], ATOMS, change=1 if became else -1, k=k)
        assert revealed_attributes(ATOMS, moved) == {}
        assert disclosure_audit(later.released, frame, DIMS, "subject", k, MARGINS, measures=OUTCOME, rules=OUTCOME_RULES, previous=previous).exposed.empty
        release = later


def test_a_republished_outcome_change_of_one_member_is_carried_and_the_audit_sees_the_naive_one():
    k = 5
    frame = _frame([20] * len(ATOMS), [10] * len(ATOMS))
    first = release_cohorts(frame, DIMS, "subject", OUTCOME, k, MARGINS, rules=OUTCOME_RULES)
    frame = frame.assign(outcome=frame["outcome"].where(frame.index != 15, 1))  # one of (a, x)'s members
    later, previous = _republished(first, frame, k, 1)
    naive = release_cohorts(frame, DIMS, "subject", OUTCOME, k, MARGINS, rules=OUTCOME_RULES).released

    moved = who_moved([_attacker_release(_as_outcome_counts(first.released))], [_attacker_release(_as_outcome_counts(naive))], ATOMS, change=1, k=k)
    assert revealed_attributes(ATOMS, moved) == {"d1": "a", "d2": "x"}
    audit = disclosure_audit(naive, frame, DIMS, "subject", k, MARGINS, measures=OUTCOME, rules=OUTCOME_RULES, previous=previous)
    assert audit.exposed["exposure"].str.contains("outcome").any()

    moved = who_moved([_attacker_release(_as_outcome_counts(first.released))], [_attacker_release(_as_outcome_counts(later.released))], ATOMS, change=1, k=k)
    assert revealed_attributes(ATOMS, moved) == {}
    audit = disclosure_audit(later.released, frame, DIMS, "subject", k, MARGINS, measures=OUTCOME, rules=OUTCOME_RULES, previous=previous)
    assert audit.exposed.empty and audit.carried > 0


def _register_with(tmp_path, features_extra: str, cohorts_extra: str):
    copy = tmp_path / "register"
    shutil.copytree(REPO / "register", copy)
    features = copy / "features.yaml"
    features.write_text(features.read_text().replace("  census_features:\n", "  census_features:\n", 1).replace("      sex:\n", features_extra + "      sex:\n", 1))
    cohorts = copy / "cohorts.yaml"
    cohorts.write_text(cohorts.read_text() + cohorts_extra)
    return copy


PARTNER_BANDS = """      age_band_partner:
        type: string
        category: user.demographic.age_range
        identifier: quasi
        sources: [census_respondents.age]
        extraction: Age cut into a partner registry's bands
        minimisation: Bands replace the exact age
        necessity: Figures comparable with the partner registry
{bands}"""
PARTNER_RELEASE = """
  census_partner_cohorts:
    activity: census_statistics
    description: Respondents per the partner registry's age bands.
    source: census_features
    dimensions: [age_band_partner, sex]
    measures:
      subjects: {aggregation: count_subjects, description: Distinct respondents in the cohort}
"""
OWN_RELEASE = """
  census_age_cohorts:
    activity: census_statistics
    description: Respondents per age band.
    source: census_features
    dimensions: [age_band, sex]
    measures:
      subjects: {aggregation: count_subjects, description: Distinct respondents in the cohort}
"""


PARTNER_SET = """
  census_partner_features:
    activity: census_statistics
    description: The same respondents for the partner registry.
    subject_source: census_respondents
    features:
""" + PARTNER_BANDS + """      sex:
        type: string
        category: user.demographic.gender
        identifier: quasi
        sources: [census_respondents.sex]
        extraction: Copied
        minimisation: Two values
        necessity: The partner's figures are by sex
"""


@pytest.mark.parametrize(
    ("bands", "message"),
    [
        ("        bands: [17, 24, 34, 44, 54, 64]\n", "crossing bandings of census_respondents.age"),
        ("", "declare each feature's bands"),
    ],
)
def test_two_bandings_of_one_attribute_in_two_feature_tables_are_refused_naming_both_releases(tmp_path, bands, message):
    copy = _register_with(tmp_path, "", OWN_RELEASE + PARTNER_RELEASE.replace("source: census_features", "source: census_partner_features"))
    features = copy / "features.yaml"
    features.write_text(features.read_text() + PARTNER_SET.format(bands=bands))
    with pytest.raises(RegisterError) as raised:
        load_register(copy)
    text = str(raised.value)
    assert message in text
    assert "census_age_cohorts.age_band" in text and "census_partner_cohorts.age_band_partner" in text


def test_two_bandings_of_one_feature_table_load_to_be_audited_together(tmp_path):
    copy = _register_with(tmp_path, PARTNER_BANDS.format(bands="        bands: [17, 24, 34, 44, 54, 64]\n"), OWN_RELEASE + PARTNER_RELEASE)
    assert {"census_age_cohorts", "census_partner_cohorts"} <= set(load_register(copy).cohorts)


def _banded(ages: np.ndarray, bounds: list[int]) -> pd.Series:
    labels = [f"{bounds[i]}-{bounds[i + 1] - 1}" for i in range(len(bounds) - 1)]
    return pd.cut(pd.Series(ages), bounds, right=False, labels=labels).astype(str)


@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), people=st.integers(1_500, 4_000))
def test_two_bandings_published_together_isolate_no_slice_under_k(seed, people):
    """The issue's partner-registry attack: our bands and a partner's, one year apart, both
    published from one feature table. The attacker's programme over both tables may not bound
    any year-of-age slice (by sex or not) under k narrower than k."""
    rng = np.random.default_rng(seed)
    ages, sexes = rng.integers(0, 83, people), rng.choice(["F", "M"], people)
    ours, partners = [0, 18, 40, 65, 200], [0, 17, 39, 64, 200]
    frame = pd.DataFrame({"subject": range(people), "sex": sexes, "ours": _banded(ages, ours), "partners": _banded(ages, partners)})
    first = release_cohorts(frame, ["ours", "sex"], "subject", COUNT, 50, [("ours",), ()])
    recorded = ledger_rows(first.entries, ["ours", "sex"], [], release="ours", publication="1", published_at=pd.Timestamp("2026-01-01"), register_version="r", code_version="c")
    neighbour = Neighbour("ours", ["ours", "sex"], previous_entries(recorded, ["ours", "sex"], ["subjects"]))
    second = release_cohorts(frame, ["partners", "sex"], "subject", COUNT, 50, [("partners",), ()], neighbours=[neighbour])
    assert disclosure_audit(second.released, frame, ["partners", "sex"], "subject", 50, [("partners",), ()], neighbours=[neighbour]).exposed.empty

    atoms = pd.DataFrame([(age, sex) for age in range(83) for sex in ("F", "M")], columns=["age", "sex"])
    releases = [
        Release(first.released, ["ours", "sex"], {"ours": lambda a: _banded(a["age"].to_numpy(), ours), "sex": lambda a: a["sex"]}),
        Release(second.released, ["partners", "sex"], {"partners": lambda a: _banded(a["age"].to_numpy(), partners), "sex": lambda a: a["sex"]}),
    ]
    slices = [(atoms["age"] == age).to_numpy() & (atoms["sex"].isin(group)).to_numpy() for age in (17, 39, 64) for group in (["F"], ["M"], ["F", "M"])]
    truths = [int(((ages == age) & np.isin(sexes, group)).sum()) for age in (17, 39, 64) for group in (["F"], ["M"], ["F", "M"])]
    for (low, high), truth in zip(intervals(releases, atoms, slices), truths, strict=True):
        assert truth >= 50 or high - low >= 50, (truth, low, high)


def test_one_banding_in_two_releases_loads(tmp_path):
    copy = _register_with(tmp_path, "", OWN_RELEASE)
    assert "census_age_cohorts" in load_register(copy).cohorts


def test_a_magnitude_of_a_sensitive_column_is_under_the_p_percent_rule(tmp_path):
    copy = tmp_path / "register"
    shutil.copytree(REPO / "register", copy)
    features = copy / "features.yaml"
    features.write_text(features.read_text().replace("        category: user.behavior\n", "        category: user.behavior\n        sensitive: true\n", 1))
    rules = load_register(copy).disclosure_rules("engagement_cohorts")
    assert rules.magnitudes == ("opens",) and rules.p_percent == 10.0


def _p_percent_breaches(frame: pd.DataFrame, shown: pd.DataFrame, column: str, p: float) -> list:
    """Shown rows whose members' contributions fail the p % rule, recomputed from the rows."""
    breaches = []
    for row in shown.itertuples(index=False):
        grouped = [d for d in DIMS if d in str(row.grouped_by).split(",")]
        members = frame
        for d in grouped:
            members = members.loc[members[d] == getattr(row, d)]
        values = members[column].abs().sort_values(ascending=False).to_numpy()
        if len(values) and values[0] > 0:
            second = values[1] if len(values) > 1 else 0.0
            if values.sum() - values[0] - second < p / 100 * values[0]:
                breaches.append(row)
    return breaches


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=sizes, data=st.data())
def test_shown_magnitudes_keep_the_p_percent_rule(sizes, data):
    frame = _frame(sizes)
    if frame.empty:
        return
    amounts = data.draw(st.lists(st.sampled_from([0, 1, 5, 20, 1_000, 50_000]), min_size=len(frame), max_size=len(frame)))
    frame = frame.assign(amount=amounts)
    measures = {**COUNT, "amount": MeasureSpec("sum", "amount")}
    release = release_cohorts(frame, DIMS, "subject", measures, 5, MARGINS, rules=DisclosureRules(magnitudes=("amount",), p_percent=10))
    assert _p_percent_breaches(frame, release.released, "amount", 10) == []
    exposed = disclosure_audit(release.released, frame, DIMS, "subject", 5, MARGINS, (), measures, DisclosureRules(magnitudes=("amount",)))
    assert exposed.exposed.empty


def test_one_dominant_contributor_is_withheld_and_the_audit_sees_it():
    frame = _frame([30] * len(ATOMS)).assign(amount=1)
    frame.loc[0, "amount"] = 1_000_000  # one subject dominates its cell, and every total above it
    measures = {**COUNT, "amount": MeasureSpec("sum", "amount")}
    rules = DisclosureRules(magnitudes=("amount",))
    release = release_cohorts(frame, DIMS, "subject", measures, 5, MARGINS, rules=rules)
    assert _p_percent_breaches(frame, release.released, "amount", 10) == []
    plain = release_cohorts(frame, DIMS, "subject", measures, 5, MARGINS)
    assert _p_percent_breaches(frame, plain.released, "amount", 10)
    audit = disclosure_audit(plain.released, frame, DIMS, "subject", 5, MARGINS, (), measures, rules)
    assert audit.measure_violations > 0


@pytest.mark.postgres
def test_two_releases_published_at_once_both_reach_a_new_ledger(pg_databases):
    """Parallel steps publish two releases as the ledger table is first made: both must land."""
    warehouse = Warehouse(pg_databases.warehouse_url)
    frame = _frame([60] * len(ATOMS))
    release = release_cohorts(frame, DIMS, "subject", COUNT, 5, MARGINS)
    try:
        for attempt in range(8):
            with warehouse.begin() as connection:
                connection.execute(sa.text("DROP TABLE IF EXISTS privacy__ledger"))
            names = [f"cohorts_{attempt}_{i}" for i in range(2)]
            for name in names:
                warehouse.stage(name, release.released)
            start, failures = threading.Barrier(2), []

            def publish(name: str) -> None:
                rows = ledger_rows(release.entries, DIMS, [], release=name, publication=name, published_at=pd.Timestamp("2026-01-01"), register_version="r", code_version="c")
                start.wait()
                try:
                    warehouse.publish(name, ledger=rows)
                except Exception as error:  # noqa: BLE001 - the test reports what a step would
                    failures.append(error)

            threads = [threading.Thread(target=publish, args=(name,)) for name in names]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert failures == []
            assert all(len(warehouse.ledger(name)) == len(release.entries) for name in names)
    finally:
        warehouse.get_engine().dispose()


def test_a_region_whose_subjects_span_cells_does_not_hide_another_regions_shared_outcome():
    """Region a counts a subject in two of its cells: its shown cells, five and five, exceed its
    distinct total of eight, so its equations have no solution and must be relaxed. Region b is
    apart: its withheld cell of three holds none with the outcome, as its total (13, four) less
    its shown cell (10, four) proves. Relaxing a's equations may not relax b's: the proof is
    found (one model per connected group of withheld cells)."""
    lattice = Lattice(
        levels=[("region", "cell"), ("region",)],
        values=[np.array([5, 5, 1, 3, 10]), np.array([8, 13])],
        cell_entry=[np.arange(5), np.array([0, 0, 0, 1, 1])],
        suppressed=[np.array([False, False, True, True, False]), np.zeros(2, dtype=bool)],
        outcomes=[np.array([[2], [2], [0], [0], [4]]), np.array([[4], [4]])],
        min_numerator=2,
    )
    proven = {(found.level, found.entry) for found in shared_outcomes(lattice, 5)}
    assert (0, 3) in proven, proven


THREE = ["d1", "d2", "d3"]
THREE_ATOMS = pd.DataFrame(list(itertools.product("ab", "xyz", "pqr")), columns=THREE)
PAIRWISE = [("d1", "d2"), ("d1", "d3"), ("d2", "d3"), ()]


@pytest.mark.parametrize(
    ("sizes", "outcomes", "numerator"),
    [
        ([0, 2, 1, 9, 7, 9, 8, 1, 5, 8, 7, 5, 7, 0, 3, 4, 1, 0], [0, 1, 1, 0, 5, 5, 4, 1, 0, 5, 0, 1, 2, 0, 0, 0, 0, 0], 2),
    ],
)
def test_an_integer_attacker_pins_no_cohort_a_linear_one_leaves_at_k(sizes, outcomes, numerator):
    """Three dimensions, every two-way margin shown, no cell. The linear programme bounds (a, x, r),
    one subject, to [0, 5]: wide enough at k = 5, but only at a point with half an outcome here and
    there. Counts are whole: an integer programme over the same equations bounds it to [0, 4]."""
    rows = []
    for (d1, d2, d3), size, outcome in zip(THREE_ATOMS.itertuples(index=False), sizes, outcomes, strict=True):
        rows += [{"d1": d1, "d2": d2, "d3": d3, "outcome": int(i < outcome)} for i in range(size)]
    frame = pd.DataFrame(rows).assign(subject=lambda f: np.arange(len(f)))
    measures = {"subjects": MeasureSpec("count_subjects"), "outcome": MeasureSpec("sum", "outcome")}
    release = release_cohorts(frame, THREE, "subject", measures, 5, PAIRWISE, rules=DisclosureRules(outcomes=("outcome",), min_numerator=numerator))
    seen = Release(table=release.released, dimensions=THREE, derive={d: (lambda atoms, d=d: atoms[d]) for d in THREE}, measures={"outcome": "outcome"})
    found = narrowest_hidden_interval([seen], [true_tables(frame, THREE, [p for p in PAIRWISE])], THREE_ATOMS, 5, integer=True)
    assert pinned(found, 5) == [], pinned(found, 5)[:3]
