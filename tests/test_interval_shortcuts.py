"""The attacker's programme takes shortcuts: a target whose feasible point meets its own bounds
is not solved, lifts toward those bounds stand for many programmes, and whole points in the pool
stand for the integer programme. Each must give what solving every target does; scipy's
`linprog` and `milp` solve every target here, on random systems of equations and ranges."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from compliance_assets.privacy.intervals import INTEGER_SPAN, EquationSystem


@st.composite
def systems(draw):
    """A truth of whole counts; equations over some groups of columns, ranges around single
    columns (as a row carried from an earlier publication is) and around some groups; targets."""
    width = draw(st.integers(3, 10))
    truth = np.array(draw(st.lists(st.integers(0, 30), min_size=width, max_size=width)), dtype=float)
    group = st.lists(st.integers(0, width - 1), min_size=1, max_size=width, unique=True).map(np.array)
    rows = [(cells, np.ones(len(cells)), truth[cells].sum(), truth[cells].sum()) for cells in draw(st.lists(group, min_size=1, max_size=6))]
    equalities = len(rows)
    for column in draw(st.lists(st.integers(0, width - 1), max_size=width, unique=True)):
        below, above = draw(st.integers(0, 12)), draw(st.integers(0, 12))
        rows.append((np.array([column]), np.ones(1), truth[column] - below, truth[column] + above))
    for cells in draw(st.lists(group, max_size=3)):
        rows.append((cells, np.ones(len(cells)), truth[cells].sum() - draw(st.integers(0, 9)), truth[cells].sum() + draw(st.integers(0, 9))))
    targets = draw(st.lists(group, min_size=1, max_size=8))
    return width, truth, rows, equalities, targets


def _range(width, rows, cells, integer: bool) -> tuple[float, float]:
    """The target's minimum and maximum, solved on its own."""
    matrix = np.zeros((len(rows), width))
    for i, (columns, coefficients, _, _) in enumerate(rows):
        matrix[i, columns] = coefficients
    low, high = np.array([r[2] for r in rows]), np.array([r[3] for r in rows])
    cost = np.zeros(width)
    cost[cells] = 1.0
    ends = []
    for sign in (1.0, -1.0):
        if integer:
            found = milp(sign * cost, constraints=LinearConstraint(matrix, low, high), integrality=np.ones(width), bounds=Bounds(0, np.inf))
        else:
            found = linprog(sign * cost, A_ub=np.vstack([matrix, -matrix]), b_ub=np.concatenate([high, -low]), bounds=(0, None), method="highs")
        ends.append(np.inf if found.status == 3 else sign * found.fun)
    return ends[0], ends[1]


def _system(width, rows, equalities, truth) -> EquationSystem:
    return EquationSystem(np.zeros(width, dtype=np.int64), frozenset({0}), rows, equalities, truth=truth)


@settings(max_examples=80, deadline=None)
@given(systems())
def test_each_target_spans_what_its_own_programme_says(system):
    width, truth, rows, equalities, targets = system
    found = _system(width, rows, equalities, truth).ranges(targets, truth, None)
    for cells, (low, high) in zip(targets, found, strict=True):
        low_alone, high_alone = _range(width, rows, cells, integer=False)
        assert high == high_alone or abs(high - high_alone) < 1e-6
        if np.isfinite(high_alone):
            assert abs(low - low_alone) < 1e-6


@settings(max_examples=80, deadline=None)
@given(systems(), st.integers(2, 12))
def test_a_target_is_narrow_exactly_when_its_own_programmes_say_so(system, protection):
    """Narrow over whole counts where the linear range is under `INTEGER_SPAN` protection levels,
    else over the linear range; a narrow target's interval is the one solved alone."""
    width, truth, rows, equalities, targets = system
    found = _system(width, rows, equalities, truth).ranges(targets, truth, protection, integer=True)
    for cells, (low, high) in zip(targets, found, strict=True):
        linear = _range(width, rows, cells, integer=False)
        alone = _range(width, rows, cells, integer=True) if protection <= linear[1] - linear[0] < INTEGER_SPAN * protection else linear
        narrow = alone[1] - alone[0] < protection
        assert (high - low < protection) == narrow, (cells, (low, high), alone)
        if narrow:
            assert abs(low - alone[0]) < 1e-6 and abs(high - alone[1]) < 1e-6
