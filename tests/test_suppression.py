"""Complementary suppression, verified from the attacker's side: the released cells and margins
define a linear system (every margin is the sum of its cells) whose unknowns are the entries the
release withholds. A withheld entry under k is recoverable exactly when its unit vector lies in
the row space of that system; the test checks this with its own matrices, not with our engine."""

from __future__ import annotations

from collections import Counter
from itertools import product

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance_assets.privacy.cohorts import (
    GROUPED_BY,
    MeasureSpec,
    differencing_exposures,
    level_label,
    release_cohorts,
)

DIMS = ["d1", "d2", "d3"]
VALUES = {"d1": "abc", "d2": "xyz", "d3": "pq"}
LEVELS = [("d1",), ("d2",), ("d3",), ("d1", "d2"), ("d1", "d3"), ("d2", "d3"), ()]
COUNT = {"subjects": MeasureSpec("count_subjects")}


def _frame(sizes: dict[tuple[str, str, str], int]) -> pd.DataFrame:
    rows = [(*cell, f"s{i}-{n}") for i, (cell, size) in enumerate(sizes.items()) for n in range(size)]
    return pd.DataFrame(rows, columns=[*DIMS, "subject"])


def _recoverable(sizes, margins, released_keys, k) -> list:
    """Withheld entries under k that the published system of equations pins down."""
    entries: dict[tuple, int] = Counter()
    for cell, size in sizes.items():
        entries[(DIMS_LABEL, cell)] += size
        for margin in margins:
            entries[(level_label(margin), tuple(v if d in margin else None for d, v in zip(DIMS, cell)))] += size
    unknowns = [e for e in entries if e not in released_keys]
    column = {e: i for i, e in enumerate(unknowns)}
    rows = []
    for margin in margins:
        for key in {e[1] for e in entries if e[0] == level_label(margin)}:
            row = np.zeros(len(unknowns))
            if (level_label(margin), key) in column:
                row[column[(level_label(margin), key)]] = 1
            for cell in sizes:
                if all(key[i] is None or key[i] == cell[i] for i in range(3)) and (DIMS_LABEL, cell) in column:
                    row[column[(DIMS_LABEL, cell)]] = -1
            rows.append(row)
    system = np.array(rows) if rows else np.zeros((0, len(unknowns)))
    rank = np.linalg.matrix_rank(system) if len(rows) else 0
    found = []
    for entry, i in column.items():
        if entries[entry] < k:
            probe = np.vstack([system, np.eye(len(unknowns))[i]])
            if np.linalg.matrix_rank(probe) == rank:
                found.append(entry)
    return found


DIMS_LABEL = level_label(DIMS)


def _released_keys(released: pd.DataFrame) -> set:
    keys = set()
    for row in released.itertuples(index=False):
        values = tuple(None if pd.isna(getattr(row, d)) else getattr(row, d) for d in DIMS)
        keys.add((getattr(row, GROUPED_BY), values))
    return keys


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.dictionaries(
        st.tuples(*(st.sampled_from(VALUES[d]) for d in DIMS)), st.integers(1, 40), min_size=1, max_size=18
    ),
    margins=st.lists(st.sampled_from(LEVELS), unique=True, max_size=4),
    k=st.integers(2, 30),
)
def test_no_withheld_entry_under_k_can_be_solved_for(sizes, margins, k):
    release = release_cohorts(_frame(sizes), DIMS, "subject", COUNT, k, margins)
    assert (release.released["subjects"] >= k).all()
    released = _released_keys(release.released)
    assert _recoverable(sizes, margins, released, k) == []
    primary = release.suppressed[release.suppressed["suppression"] == "primary"]
    assert (primary["subjects"] < k).all()
    assert (release.suppressed.loc[release.suppressed["suppression"] == "secondary", "subjects"] >= k).all()


def test_primary_suppression_alone_is_caught_by_the_audit_and_by_the_linear_system():
    sizes = {("a", "x", "p"): 60, ("a", "y", "p"): 55, ("a", "z", "p"): 3}
    frame = _frame(sizes)
    full = release_cohorts(frame, DIMS, "subject", COUNT, 50, [("d1",)])
    primary_only = pd.concat(
        [full.released, full.suppressed[full.suppressed["suppression"] == "secondary"].drop(columns="suppression")],
        ignore_index=True,
    )
    assert full.stats["cohorts_suppressed_secondary"] == 1
    assert _recoverable(sizes, [("d1",)], _released_keys(primary_only), 50) == [(DIMS_LABEL, ("a", "z", "p"))]
    exposed = differencing_exposures(primary_only, frame, DIMS, "subject", 50, [("d1",)])
    assert set(exposed["exposure"]) == {
        "determined by the published totals",
        "a published total minus the released entries under it leaves fewer than k subjects",
        "bounded by the published totals to an interval narrower than the protection level",
    }
    assert differencing_exposures(full.released, frame, DIMS, "subject", 50, [("d1",)]).empty


def test_a_margin_another_table_reveals_is_protected_without_being_published():
    sizes = {("a", "x", "p"): 60, ("a", "y", "p"): 55, ("a", "z", "p"): 3, ("b", "x", "q"): 70}
    frame = _frame(sizes)
    release = release_cohorts(frame, DIMS, "subject", COUNT, 50, protected=[("d1",)])
    assert set(release.released[GROUPED_BY]) == {DIMS_LABEL}
    assert release.stats["cohorts_suppressed_secondary"] == 1
    assert differencing_exposures(release.released, frame, DIMS, "subject", 50, protected=[("d1",)]).empty


def test_two_small_cells_under_one_total_are_not_enough_when_together_under_k():
    sizes = {("a", "x", "p"): 60, ("a", "y", "p"): 2, ("a", "z", "p"): 3, ("a", "x", "q"): 80}
    release = release_cohorts(_frame(sizes), DIMS, "subject", COUNT, 50, [("d1",)])
    hidden = release.suppressed.set_index(["d2", "d3"])["suppression"].to_dict()
    assert hidden == {("y", "p"): "primary", ("z", "p"): "primary", ("x", "p"): "secondary"}


def test_every_cell_of_a_full_cross_tab_with_all_margins():
    sizes = {cell: 10 + 7 * i for i, cell in enumerate(product("abc", "xyz", "p"))}
    margins = [("d1",), ("d2",), ()]
    release = release_cohorts(_frame(sizes), DIMS, "subject", COUNT, 30, margins)
    assert _recoverable(sizes, margins, _released_keys(release.released), 30) == []
