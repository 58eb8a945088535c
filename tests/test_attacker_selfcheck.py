"""The attacker (tests/attacker.py) finds real attacks on hand-built toy publications.

A test suite is only as good as its attacker: these toys have known leaks (a lone suppressed cell, a
margin over two small hidden cells, crossing bandings, naive republication, homogeneous outcomes), so
the attacker must find each of them, and must never place a true value outside its own interval."""

from __future__ import annotations

from itertools import combinations, product

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.attacker import (
    Release,
    hidden_entries,
    homogeneous_or_small,
    intervals,
    narrowest_hidden_interval,
    outcome_from_rate,
    pinned,
    revealed_attributes,
    who_moved,
)


def columns(*names: str) -> dict:
    """Dimensions that are atom attributes as they are."""
    return {n: (lambda a, n=n: a[n]) for n in names}


def grid(**values: list) -> pd.DataFrame:
    return pd.DataFrame(list(product(*values.values())), columns=list(values))


def full_table(atoms, counts, dimensions, derive, outcomes=None) -> pd.DataFrame:
    """Every entry (cells, all margins, the total) in the published format, from true atom counts."""
    values = pd.DataFrame({d: derive[d](atoms).astype(object) for d in dimensions})
    values["subjects"] = np.asarray(counts)
    measures = ["subjects"]
    if outcomes is not None:
        values["outcome"] = np.asarray(outcomes)
        measures.append("outcome")
    parts = []
    for r in range(len(dimensions), -1, -1):
        for group in combinations(dimensions, r):
            g = (
                values.groupby(list(group), sort=True)[measures].sum().reset_index()
                if group
                else values[measures].sum().to_frame().T
            )
            g["grouped_by"] = ",".join(group) or "(total)"
            parts.append(g)
    table = pd.concat(parts, ignore_index=True)
    for d in dimensions:
        if d not in table:
            table[d] = None
    return table[[*dimensions, "grouped_by", *measures]].astype({m: int for m in measures})


def without(table: pd.DataFrame, *entries: dict) -> pd.DataFrame:
    """The table minus the entries matching each {column: value} (suppression by hand)."""
    drop = np.zeros(len(table), dtype=bool)
    for entry in entries:
        drop |= np.logical_and.reduce([(table[c] == v).fillna(False).to_numpy() for c, v in entry.items()])
    return table[~drop].reset_index(drop=True)


def cell(atoms: pd.DataFrame, **values) -> np.ndarray:
    return np.logical_and.reduce([(atoms[c] == v).to_numpy() for c, v in values.items()])


AB = grid(a=["a1", "a2"], b=["b1", "b2", "b3"])
AB_COUNTS = [3, 20, 30, 40, 50, 60]
AB_TRUTH = full_table(AB, AB_COUNTS, ["a", "b"], columns("a", "b"))


def ab_release(table: pd.DataFrame) -> Release:
    return Release(table, ["a", "b"], columns("a", "b"))


def test_a_lone_suppressed_cell_is_pinned_by_its_margins():
    release = ab_release(without(AB_TRUTH, {"grouped_by": "a,b", "a": "a1", "b": "b1"}))
    assert intervals([release], AB, [cell(AB, a="a1", b="b1")]) == [(3, 3)]
    assert intervals([release], AB, [cell(AB, a="a1", b="b1")], integer=True) == [(3, 3)]
    found = narrowest_hidden_interval([release], [AB_TRUTH], AB, k=10)
    assert [(f["key"], f["true"], f["lo"], f["hi"]) for f in found] == [(("a,b", "a1", "b1"), 3, 3, 3)]
    assert pinned(found, protection=1) == found


def test_complementary_suppression_leaves_a_wide_interval():
    hidden = [{"grouped_by": "a,b", "a": a, "b": b} for a in ("a1", "a2") for b in ("b1", "b2")]
    release = ab_release(without(AB_TRUTH, *hidden))
    assert intervals([release], AB, [cell(AB, a="a1", b="b1")]) == [(0, 23)]  # a1 row: 3 + 20
    found = narrowest_hidden_interval([release], [AB_TRUTH], AB, k=10)
    assert [(f["true"], f["lo"], f["hi"]) for f in found] == [(3, 0, 23)]
    assert pinned(found, protection=10) == []


def test_non_negativity_pins_cells_under_a_small_margin():
    """No equation determines a1's cells (the b margins are hidden), but their margin of 8 and x >= 0
    confine each to [0, 8]: narrower than a protection interval of 10."""
    atoms = grid(a=["a1", "a2"], b=["b1", "b2"])
    truth = full_table(atoms, [3, 5, 40, 50], ["a", "b"], columns("a", "b"))
    release = ab_release(without(truth, {"grouped_by": "b"}, {"grouped_by": "a,b", "a": "a1"}))
    found = narrowest_hidden_interval([release], [truth], atoms, k=10)
    assert sorted((f["key"], f["true"], f["lo"], f["hi"]) for f in found) == [
        (("a,b", "a1", "b1"), 3, 0, 8),
        (("a,b", "a1", "b2"), 5, 0, 8),
    ]
    assert len(pinned(found, protection=10)) == 2
    assert pinned(found, protection=8) == []


def test_hidden_entries_match_missing_values_of_any_kind():
    published = without(AB_TRUTH, {"grouped_by": "a,b", "a": "a2", "b": "b3"}).astype(object)
    published = published.where(published.notna(), None)  # margins carry None instead of NaN
    hidden = hidden_entries(AB_TRUTH, ab_release(published), AB)
    assert [(h["key"], h["true"]) for h in hidden] == [(("a,b", "a2", "b3"), 60)]
    assert hidden[0]["mask"].tolist() == cell(AB, a="a2", b="b3").tolist()


def test_crossing_bandings_of_one_attribute_reveal_single_years():
    ages = pd.DataFrame({"age": range(100)})
    counts = 3 + ages.age % 5

    def banding(edges: list[int]) -> Release:
        labels = [f"{lo}-{hi}" for lo, hi in zip([0] + [e + 1 for e in edges[:-1]], edges)]
        derive = {"age": lambda a: pd.cut(a.age, [-1, *edges], labels=labels)}
        truth = full_table(ages, counts, ["age"], derive)
        assert truth.subjects.min() >= 50  # no band is small: nothing is suppressed
        return Release(truth, ["age"], derive)

    a, b = banding([17, 39, 64, 99]), banding([16, 38, 63, 99])
    years = [17, 39, 64, 30]
    found = intervals([a, b], ages, [(ages.age == y).to_numpy() for y in years])
    for year, (lo, hi) in zip(years[:3], found):
        assert lo == hi == counts[year], year
    assert found[3][1] - found[3][0] > 20  # an age both bandings put in one band stays hidden
    assert intervals([a], ages, [(ages.age == 17).to_numpy()])[0][1] > counts[17]


POPULATION = grid(age=["young", "mid", "old"], sex=["F", "M"], region=["N", "S", "E"])
POP_DIMS = ["age", "sex", "region"]
POP_COUNTS = 50 + 7 * np.arange(len(POPULATION))


def population_release(counts, margins_only: bool = False) -> Release:
    table = full_table(POPULATION, counts, POP_DIMS, columns(*POP_DIMS))
    if margins_only:
        table = table[~table.grouped_by.str.contains(",")].reset_index(drop=True)
    assert table.subjects.min() >= 50
    return Release(table, POP_DIMS, columns(*POP_DIMS))


@pytest.mark.parametrize("margins_only", [False, True])
@pytest.mark.parametrize("change", [+1, -1])
def test_naive_republication_reveals_who_moved(margins_only, change):
    moved = 11
    after = POP_COUNTS.copy()
    after[moved] += change
    before_r, after_r = population_release(POP_COUNTS, margins_only), population_release(after, margins_only)
    feasible = who_moved([before_r], [after_r], POPULATION, change=change)
    assert feasible == {moved}
    assert revealed_attributes(POPULATION, feasible) == POPULATION.iloc[moved].to_dict()


def test_carrying_every_row_forward_reveals_nothing():
    before = population_release(POP_COUNTS)
    assert who_moved([before], [before], POPULATION) == set(range(len(POPULATION)))
    assert revealed_attributes(POPULATION, set(range(len(POPULATION)))) == {}
    # An attacker who rules carrying forward out finds the publications contradict a change.
    assert who_moved([before], [before], POPULATION, carried_forward_possible=False) == set()


def test_who_moved_for_two_subjects_agrees_with_brute_force():
    """|change| > 1 goes through the MILP: compare with recomputing the margins for every pair."""
    after = POP_COUNTS.copy()
    after[[1, 16]] += 1
    before_r, after_r = population_release(POP_COUNTS, True), population_release(after, True)
    expected = set()
    for pair in combinations(range(len(POPULATION)), 2):
        candidate = POP_COUNTS.copy()
        candidate[list(pair)] += 1
        if population_release(candidate, True).table.equals(after_r.table):
            expected |= set(pair)
    assert who_moved([before_r], [after_r], POPULATION, change=+2) == expected
    assert len(expected) > 2  # margins alone leave the pair ambiguous


def test_measures_hidden_beside_published_subjects_are_recovered():
    atoms = grid(a=["a1", "a2"], b=["b1", "b2"])
    truth = full_table(atoms, [30, 50, 40, 60], ["a", "b"], columns("a", "b"), outcomes=[2, 25, 20, 30])
    table = truth.astype({"outcome": float})
    table.loc[(table.grouped_by == "a,b") & (table.a == "a1") & (table.b == "b1"), "outcome"] = np.nan
    release = Release(table, ["a", "b"], columns("a", "b"), measures={"outcome": "outcome"})
    target = ("outcome", cell(atoms, a="a1", b="b1"))
    assert intervals([release], atoms, [target]) == [(2, 2)]
    # With only the total outcome (77) published, a1b1's outcome is bounded by its 30 subjects.
    table.loc[table.grouped_by != "(total)", "outcome"] = np.nan
    release = Release(table, ["a", "b"], columns("a", "b"), measures={"outcome": "outcome"})
    assert intervals([release], atoms, [target]) == [(0, 30)]
    assert intervals([release], atoms, [target], bounded_by_subjects=False) == [(0, 77)]


def test_homogeneous_or_small_outcomes_are_flagged():
    table = pd.DataFrame(
        {"g": list("abcdef"), "subjects": [60, 70, 80, 100, 100, 90], "outcome": [0, 70, 3, 25, 97, None]}
    )
    flagged = homogeneous_or_small(table, outcome_col="outcome", min_numerator=10)
    assert flagged.g.tolist() == ["a", "b", "c", "e"]
    assert outcome_from_rate(0.25, 100) == 25
    assert outcome_from_rate(pd.Series([0.5, 0.03]), pd.Series([10, 100])).tolist() == [5, 3]


@settings(max_examples=40)
@given(
    shape=st.tuples(st.integers(1, 3), st.integers(2, 3)),
    data=st.data(),
)
def test_attacker_is_exact_when_nothing_is_hidden_and_never_wrong(shape, data):
    atoms = grid(a=[f"a{i}" for i in range(shape[0])], b=[f"b{j}" for j in range(shape[1])])
    counts = data.draw(st.lists(st.integers(0, 20), min_size=len(atoms), max_size=len(atoms)))
    truth = full_table(atoms, counts, ["a", "b"], columns("a", "b"))
    cells = [cell(atoms, a=a, b=b) for a, b in zip(atoms.a, atoms.b)]
    assert intervals([ab_release(truth)], atoms, cells) == [(c, c) for c in counts]

    keep = data.draw(st.lists(st.booleans(), min_size=len(truth), max_size=len(truth)))
    release = ab_release(truth[np.array(keep)].reset_index(drop=True))
    entries = hidden_entries(truth, release, atoms)
    assert len(entries) == len(keep) - sum(keep)
    masks = [e["mask"] for e in entries] + cells
    trues = [e["true"] for e in entries] + counts
    lp, ilp = intervals([release], atoms, masks), intervals([release], atoms, masks, integer=True)
    for true, (lo, hi), (ilo, ihi) in zip(trues, lp, ilp):
        assert lo <= ilo <= true <= ihi <= hi
