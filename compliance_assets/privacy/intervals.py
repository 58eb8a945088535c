"""Protection intervals: what an attacker can bound, not only solve.

The exact audit (`suppression.determined_entries`) finds hidden entries that the published totals
give away as a single value. An attacker also knows that counts are never negative, and a linear
programme over the same equations then bounds some hidden entries to a narrow range ("between 0
and 8") without pinning them. For every hidden entry that may not be revealed, this computes the
attacker's feasible interval [low, high] over every published equation, with counts ≥ 0 and with
the ranges carried-forward entries are known to lie in (HiGHS through scipy's `linprog`). A
release is safe when each such interval is at least `protection` wide: with the default k, the
attacker cannot even tell that the cohort is under k (tau-Argus's protection levels, as one width).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_matrix
from scipy.sparse import vstack as scipy_vstack

from compliance_assets.privacy.suppression import Lattice, mark_sensitive, suppress, suppress_beside


@dataclass(frozen=True)
class Interval:
    level: int
    entry: int
    low: float
    high: float

    @property
    def width(self) -> float:
        return self.high - self.low


Ranges = Mapping[tuple[int, int], tuple[float, float]]


def attacker_intervals(lattice: Lattice, k: int, ranges: Ranges | None = None) -> list[Interval]:
    """The feasible interval of every suppressed sensitive entry. `ranges` bounds hidden entries
    the attacker knows approximately (a row carried forward from an earlier publication lies
    within k - 1 of the value it shows). An entry whose cells no published equation constrains is
    [0, ∞) without a programme; otherwise its maximum is solved first, and its minimum only when
    the maximum is finite."""
    if not lattice.sensitive:
        mark_sensitive(lattice, k)
    ranges = dict(ranges or {})
    hidden_cells = np.flatnonzero(lattice.suppressed[0])
    if not len(hidden_cells):
        return []
    column = np.full(len(lattice.values[0]), -1, dtype=np.int64)
    column[hidden_cells] = np.arange(len(hidden_cells))
    known = np.where(lattice.suppressed[0], 0, lattice.values[0])
    equalities, bounded, targets = [], [], []
    for level in range(len(lattice.levels)):
        entries = lattice.cell_entry[level] if level else np.arange(len(lattice.values[0]))
        size = len(lattice.values[level])
        released_part = np.bincount(entries, weights=known, minlength=size)
        members = _members(entries[hidden_cells], size)
        for entry in range(size):
            cells = members[entry]
            if lattice.suppressed[level][entry]:
                if (level, entry) in ranges and len(cells):
                    low, high = ranges[(level, entry)]
                    bounded.append((cells, low - released_part[entry], high - released_part[entry]))
                if lattice.sensitive[level][entry]:
                    targets.append((level, entry, cells, released_part[entry]))
            elif len(cells):
                equalities.append((cells, lattice.values[level][entry] - released_part[entry]))
    constraints = [cells for cells, _ in equalities] + [cells for cells, _, _ in bounded]
    components = _components(len(hidden_cells), constraints)
    constrained = set(components[np.concatenate(constraints)].tolist()) if constraints else set()
    found, systems = [], {}
    for level, entry, cells, offset in targets:
        if not len(cells):
            found.append(Interval(level, entry, float(offset), float(offset)))
        elif not constrained.intersection(components[cells].tolist()):
            found.append(Interval(level, entry, float(offset), np.inf))
        else:
            low, high = _bounds(cells, components, equalities, bounded, systems)
            found.append(Interval(level, entry, low + offset, high + offset))
    return found


def narrow_intervals(intervals: list[Interval], protection: int) -> list[Interval]:
    return [interval for interval in intervals if interval.width < protection]


def _members(entries: np.ndarray, size: int) -> list[np.ndarray]:
    """For each entry, the columns (hidden cells) under it."""
    order = np.argsort(entries, kind="stable")
    splits = np.searchsorted(entries[order], np.arange(size + 1))
    return [order[splits[i] : splits[i + 1]] for i in range(size)]


def _components(size: int, groups: list[np.ndarray]) -> np.ndarray:
    parent = np.arange(size)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for cells in groups:
        root = find(int(cells[0]))
        for other in cells[1:]:
            parent[find(int(other))] = root
    return np.array([find(i) for i in range(size)])


def _bounds(cells: np.ndarray, components: np.ndarray, equalities, bounded, systems: dict) -> tuple[float, float]:
    """min and max of the target's sum over the component its cells belong to (each component's
    system built once, in `systems`)."""
    wanted = frozenset(components[cells].tolist())
    if wanted not in systems:
        variables = np.flatnonzero(np.isin(components, list(wanted)))
        index = np.full(len(components), -1, dtype=np.int64)
        index[variables] = np.arange(len(variables))
        a_eq, b_eq = _rows([(c, v) for c, v in equalities if components[c[0]] in wanted], index, len(variables))
        limits = [(c, low, high) for c, low, high in bounded if components[c[0]] in wanted]
        a_ub, b_ub = _rows([(c, high) for c, _, high in limits] + [(c, -low) for c, low, _ in limits], index, len(variables), negate_from=len(limits))
        systems[wanted] = (variables, index, a_eq, b_eq, a_ub, b_ub)
    variables, index, a_eq, b_eq, a_ub, b_ub = systems[wanted]
    objective = np.zeros(len(variables))
    objective[index[cells]] = 1.0
    out = []
    for sign in (-1.0, 1.0):
        if out and out[0] == np.inf:
            out.append(0.0)  # unbounded above: the range is wide whatever its minimum
            break
        solved = linprog(sign * objective, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        if solved.status == 2 and a_eq is not None:
            # Subjects with rows in several cells: a total counts them once, so it is at most
            # the sum of its cells, not equal to it.
            relaxed_ub = -a_eq if a_ub is None else scipy_vstack([a_ub, -a_eq])
            relaxed_b = -b_eq if b_ub is None else np.concatenate([b_ub, -b_eq])
            solved = linprog(sign * objective, A_ub=relaxed_ub, b_ub=relaxed_b, bounds=(0, None), method="highs")
        if solved.status == 3:  # unbounded: only the maximum can be
            out.append(np.inf)
        elif solved.status != 0:
            raise RuntimeError(f"the attacker's linear programme failed: {solved.message}")
        else:
            out.append(sign * solved.fun)
    high, low = out
    return low, high


def _rows(rows, index: np.ndarray, width: int, negate_from: int | None = None):
    if not rows:
        return None, None
    data, cols, starts, rhs = [], [], [0], []
    for number, (cells, value) in enumerate(rows):
        coefficient = -1.0 if negate_from is not None and number >= negate_from else 1.0
        cols.extend(index[cells].tolist())
        data.extend([coefficient] * len(cells))
        starts.append(len(cols))
        rhs.append(float(value))
    return csr_matrix((data, cols, starts), shape=(len(rows), width)), np.array(rhs)


def protect(lattice: Lattice, k: int, protection: int, ranges: Ranges | None = None) -> Lattice:
    """Suppression until neither the exact audit nor the attacker's linear programme finds an
    entry it may not reveal: each narrow interval hides the smallest released entry beside it."""
    while True:
        suppress(lattice, k)
        narrow = narrow_intervals(attacker_intervals(lattice, k, ranges), protection)
        if not narrow:
            return lattice
        suppress_beside(lattice, narrow[0].level, narrow[0].entry)
