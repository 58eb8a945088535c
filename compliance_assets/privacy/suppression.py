"""Complementary suppression: hiding cells under k is not enough when totals are published,
because a suppressed cell is then a published total minus the released cells beside it.

The published table is a lattice of levels: the detailed cells (every dimension) and margins
(totals over a subset of dimensions, the grand total being the empty subset). Each margin entry is
the sum of the cells under it. An attacker who knows which entries are suppressed solves that
linear system; we suppress more entries until (1) no entry under k is determined by it, and
(2) under every released total the suppressed part is either nothing or at least k subjects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import permutations

import numpy as np
import pandas as pd

DETERMINED = "determined by the published totals"
SMALL_REMAINDER = "a published total minus the released entries under it leaves fewer than k subjects"


@dataclass
class Lattice:
    """Level 0 holds the detailed cells; every other level is a margin over a subset of them."""

    levels: list[tuple[str, ...]]
    values: list[np.ndarray]  # distinct subjects per entry, per level
    cell_entry: list[np.ndarray]  # per level: the entry each detailed cell falls in
    fixed: frozenset[int] = frozenset()  # levels the attacker knows anyway (other tables reveal them)
    suppressed: list[np.ndarray] = field(default_factory=list)
    sensitive: list[np.ndarray] = field(default_factory=list)  # entries that may not be revealed (under k, a measure rule)
    outcomes: list[np.ndarray] = field(default_factory=list)  # per level: (entries × outcome measures) counts of an outcome
    min_numerator: int = 0  # an outcome count (or its complement) of 1 to min_numerator - 1 may not be revealed
    signed: bool = False  # values are changes since a publication: a total reveals their net sum
    dominance: list[np.ndarray] = field(default_factory=list)  # per level: (entries × magnitude measures × [total, largest, second])
    p_percent: float = 10.0  # no contributor may be estimated within p % by the second largest
    kept: list[np.ndarray] = field(default_factory=list)  # per level: released entries that hiding would not hide (shown unchanged, they read as exact)
    others: list[np.ndarray] = field(default_factory=list)  # per level: (entries × measures no rule judges) their sums; signed, their changes (NaN: unknown)
    news: list[np.ndarray] = field(default_factory=list)  # signed, per level: known entries whose change no step read; given, only totals that are or hold one are judged

    def __post_init__(self) -> None:
        if not self.suppressed:
            self.suppressed = [np.zeros(len(v), dtype=bool) for v in self.values]
        if not self.outcomes:
            self.outcomes = [np.zeros((len(v), 0), dtype=np.int64) for v in self.values]
        if not self.dominance:
            self.dominance = [np.zeros((len(v), 0, 3)) for v in self.values]
        if not self.others:
            self.others = [np.zeros((len(v), 0)) for v in self.values]
        self.pairs = [
            (coarse, fine, self._parents(coarse, fine))
            for coarse, fine in permutations(range(len(self.levels)), 2)
            if set(self.levels[coarse]) < set(self.levels[fine])
        ]

    def hideable(self, level: int) -> np.ndarray:
        """Released entries that secondary suppression may still hide."""
        if level in self.fixed:
            return np.zeros(len(self.values[level]), dtype=bool)
        return ~self.suppressed[level] & ~self.kept[level] if self.kept else ~self.suppressed[level]

    def _parents(self, coarse: int, fine: int) -> np.ndarray:
        """For every entry of the finer level, the entry of the coarser level it belongs to."""
        parents = np.empty(len(self.values[fine]), dtype=np.int64)
        parents[self.cell_entry[fine]] = self.cell_entry[coarse]
        return parents


def build_lattice(
    tables: Sequence[pd.DataFrame],
    levels: Sequence[Sequence[str]],
    fixed: Sequence[int] = (),
    values: Sequence[np.ndarray] | None = None,
) -> Lattice:
    """`tables[j]` is level j's table (its dimensions and a `subjects` count) in
    `groupby(sort=True)` order; `tables[0]` holds the detailed cells. `values`, when given,
    replaces the subject counts (a republication audits the changes since the last one)."""
    cells = tables[0]
    counted, cell_entry = [], []
    for table, level in zip(tables, levels, strict=True):
        counted.append(table["subjects"].to_numpy(dtype=np.int64))
        if level:
            cell_entry.append(cells.groupby(list(level), dropna=False, observed=True, sort=True).ngroup().to_numpy(dtype=np.int64))
        else:
            cell_entry.append(np.zeros(len(cells), dtype=np.int64))
    return Lattice([tuple(level) for level in levels], list(values) if values is not None else counted, cell_entry, frozenset(fixed))


def small(values: np.ndarray, k: int) -> np.ndarray:
    """Entries of 1 to k - 1 subjects (or changed by as many): an empty entry reveals no one."""
    return (values > 0) & (values < k)


def outcome_violations(outcomes: np.ndarray, sizes: np.ndarray, min_numerator: int) -> np.ndarray:
    """Entries (rows of `outcomes`, one column per outcome measure) whose outcome is shared by all
    of its subjects or none (l-diversity), or counted 1 to `min_numerator` - 1 either way (the
    small-numbers rule of health statistics). Outcomes below 0 or above the size arise only in
    net changes (newcomers' outcomes less leavers' and flips): they leave the newcomers' share
    within the flips an attacker can count of none or all, and break the rule as well."""
    if outcomes.shape[1] == 0 or min_numerator <= 0:
        return np.zeros(len(sizes), dtype=bool)
    rest = sizes[:, None] - outcomes
    floor = max(min_numerator, 1)
    return (((outcomes < floor) | (rest < floor)) & (sizes[:, None] > 0)).any(axis=1)


def newcomers_break_rule(subjects_change: np.ndarray, outcome_changes: np.ndarray, k: int, min_numerator: int) -> np.ndarray:
    """Entries (or remainders) whose subjects moved by k or more and whose net newcomers' outcomes
    (the outcome change, signed as the subjects moved) break the outcome rule."""
    if outcome_changes.shape[1] == 0:
        return np.zeros(len(subjects_change), dtype=bool)
    newcomers = np.where((subjects_change >= 0)[:, None], outcome_changes, -outcome_changes)
    return (np.abs(subjects_change) >= k) & outcome_violations(newcomers, np.abs(subjects_change), min_numerator)


def drifted_sums(changes: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """Entries (rows of `changes`, one column per measure no rule judges) whose sum moved, or may
    have (unknown: NaN). `scale` bounds the rounding a sum of many signed parts picks up."""
    return drifted_each(changes, scale).any(axis=1)


def drifted_each(changes: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """`drifted_sums` per measure: (entries × measures)."""
    tolerance = 1e-6 + 1e-9 * (np.abs(changes) if scale is None else scale)
    return np.isnan(changes) | (np.abs(changes) > tolerance)


def moved_quietly(subjects_change: np.ndarray, changes: np.ndarray, k: int) -> np.ndarray:
    """Entries whose measures no rule judges changed while their subjects moved by fewer than k:
    the change is a few people's values, as when one is erased and one joins."""
    return (np.abs(subjects_change) < k) & drifted_sums(changes)


def dominance_violations(dominance: np.ndarray, p_percent: float) -> np.ndarray:
    """Entries (rows of `dominance`: per magnitude measure its total, largest and second largest
    contribution) where the p % rule fails: the total less the two largest contributions is under
    p % of the largest, so the second contributor can estimate the largest within p %."""
    if dominance.shape[1] == 0:
        return np.zeros(len(dominance), dtype=bool)
    total, first, second = dominance[..., 0], dominance[..., 1], dominance[..., 2]
    return ((first > 0) & (total - first - second < p_percent / 100 * first)).any(axis=1)


def change_dominance_violations(moved: np.ndarray, p_percent: float) -> np.ndarray:
    """Entries (rows of `moved`: per magnitude measure its change and bounds on the largest and
    second largest contribution that moved) whose change one contributor could dominate under the
    p % rule: the change less the two largest is under p % of the largest."""
    if moved.shape[1] == 0:
        return np.zeros(len(moved), dtype=bool)
    change, largest, second = np.abs(moved[..., 0]), moved[..., 1], moved[..., 2]
    return ((change > 0) & (largest > 0) & (change - largest - second < p_percent / 100 * largest)).any(axis=1)


def top_two(parents: np.ndarray, first: np.ndarray, second: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """For every parent, the two largest of its children's largest and second-largest values."""
    values = np.concatenate([first, second])
    owners = np.concatenate([parents, parents])
    order = np.lexsort((-values, owners))
    values, owners = values[order], owners[order]
    starts = np.searchsorted(owners, np.arange(size))
    ends = np.searchsorted(owners, np.arange(size), side="right")
    last = max(len(values) - 1, 0)
    padded = values if len(values) else np.zeros(1)
    return (
        np.where(ends > starts, padded[np.minimum(starts, last)], 0.0),
        np.where(ends > starts + 1, padded[np.minimum(starts + 1, last)], 0.0),
    )


def grouped_dominance(dominance: np.ndarray, parents: np.ndarray, size: int, members: np.ndarray | None = None) -> np.ndarray:
    """The (total, largest, second) of each parent, from those of its `members` children (all by default)."""
    if members is not None:
        dominance, parents = dominance[members], parents[members]
    out = np.zeros((size, dominance.shape[1], 3))
    for measure in range(dominance.shape[1]):
        out[:, measure, 0] = np.bincount(parents, weights=dominance[:, measure, 0], minlength=size)
        out[:, measure, 1], out[:, measure, 2] = top_two(parents, dominance[:, measure, 1], dominance[:, measure, 2], size)
    return out


def mark_sensitive(lattice: Lattice, k: int) -> Lattice:
    """What may not be revealed: entries under k (an entry of rows without a subject too) and
    entries whose outcome or magnitude measures break their rule."""
    lattice.sensitive = [
        (values < k) | outcome_violations(outcomes, values, lattice.min_numerator) | dominance_violations(dominance, lattice.p_percent)
        for values, outcomes, dominance in zip(lattice.values, lattice.outcomes, lattice.dominance, strict=True)
    ]
    return lattice


def suppress(lattice: Lattice, k: int) -> Lattice:
    """Primary suppression (entries under k), then secondary until the audit finds nothing.

    The local rule adds the smallest released sibling under a total whose suppressed part is a
    single entry or smaller than k; the exact audit then catches what only a combination of
    totals reveals, and its fix adds the smallest released entry beside the exposed one.
    """
    if not lattice.sensitive:
        mark_sensitive(lattice, k)
    for level, sensitive in enumerate(lattice.sensitive):
        lattice.suppressed[level] |= sensitive
    while True:
        _apply_local_rule(lattice, k)
        exposed = determined_entries(lattice, k)
        if not exposed:
            return lattice
        suppress_beside(lattice, *exposed[0])


def exposures(lattice: Lattice, k: int) -> list[tuple[int, int, str]]:
    """Every (level, entry, reason) an attacker could recover; empty when the release is safe."""
    found = [(coarse, int(p), SMALL_REMAINDER) for coarse, fine, parents in lattice.pairs for p in _small_remainders(lattice, coarse, fine, parents, k)]
    return found + [(level, entry, DETERMINED) for level, entry in determined_entries(lattice, k)]


def _small_remainders(lattice: Lattice, coarse: int, fine: int, parents: np.ndarray, k: int) -> np.ndarray:
    """Released totals under which the hidden part is one entry, 1 to k - 1 subjects, or a group
    whose outcome measures break their rule."""
    hidden = lattice.suppressed[fine]
    size = len(lattice.values[coarse])
    count = np.bincount(parents, weights=hidden, minlength=size)
    total = np.bincount(parents, weights=np.where(hidden, lattice.values[fine], 0), minlength=size).astype(np.int64)
    if lattice.signed:
        # The net change of the hidden part is known: it must be none or at least k, and a lone
        # hidden change is known exactly, which matters only when it is a small one.
        lone_small = np.bincount(parents, weights=hidden & lattice.sensitive[fine], minlength=size)
        exposed = small(np.abs(total), k) | ((count == 1) & (lone_small == 1))
        outcomes = lattice.outcomes[fine]
        if outcomes.shape[1] and lattice.min_numerator > 0:
            # The hidden part's net newcomers are a cohort: k or more of them keep the outcome rule.
            parts = np.stack(
                [np.bincount(parents, weights=np.where(hidden, outcomes[:, m], 0), minlength=size) for m in range(outcomes.shape[1])], axis=1
            ).astype(np.int64)
            exposed |= newcomers_break_rule(total, parts, k, lattice.min_numerator)
        if lattice.dominance[fine].shape[1]:
            # The hidden part's magnitude change, as the total's change less its shown parts', under the p % rule.
            exposed |= change_dominance_violations(grouped_dominance(lattice.dominance[fine], parents, size, hidden), lattice.p_percent) & (count > 0)
        if lattice.others and lattice.others[fine].shape[1]:
            # The hidden part's change of a mean age (as a sum) is a few people's ages unless k or
            # more of them moved. Only its net change bounds those from below: someone moving
            # between two hidden rows changes both and the part not at all.
            movers = np.abs(total)
            drift = np.where(hidden[:, None], lattice.others[fine], 0.0)
            parts = np.stack([np.bincount(parents, weights=drift[:, m], minlength=size) for m in range(drift.shape[1])], axis=1)
            scale = np.stack([np.bincount(parents, weights=np.abs(np.nan_to_num(drift[:, m])), minlength=size) for m in range(drift.shape[1])], axis=1)
            exposed |= (movers < k) & drifted_sums(parts, scale) & (count > 0)
        if lattice.news:
            # A total and rows each read at every step between tell only the sum of those steps' changes.
            exposed &= lattice.news[coarse] | (np.bincount(parents, weights=~hidden & lattice.news[fine], minlength=size) > 0)
        return np.flatnonzero(~lattice.suppressed[coarse] & exposed)
    exposed = (count == 1) | small(total, k)
    outcomes = lattice.outcomes[fine]
    if outcomes.shape[1]:
        parts = np.stack(
            [np.bincount(parents, weights=np.where(hidden, outcomes[:, m], 0), minlength=size) for m in range(outcomes.shape[1])], axis=1
        ).astype(np.int64)
        exposed |= outcome_violations(parts, total, lattice.min_numerator)
    if lattice.dominance[fine].shape[1]:
        exposed |= dominance_violations(grouped_dominance(lattice.dominance[fine], parents, size, hidden), lattice.p_percent) & (count > 0)
    return np.flatnonzero(~lattice.suppressed[coarse] & exposed)


def _apply_local_rule(lattice: Lattice, k: int) -> None:
    changed = True
    while changed:
        changed = False
        for coarse, fine, parents in lattice.pairs:
            for parent in _small_remainders(lattice, coarse, fine, parents, k):
                siblings = np.flatnonzero((parents == parent) & lattice.hideable(fine))
                if len(siblings):
                    lattice.suppressed[fine][siblings[np.argmin(lattice.values[fine][siblings])]] = True
                elif coarse not in lattice.fixed:
                    lattice.suppressed[coarse][parent] = True
                else:
                    continue
                changed = True


def suppress_beside(lattice: Lattice, level: int, entry: int) -> None:
    """Hides the smallest released neighbour of an exposed entry: a sibling under a shared total,
    one of its own parts, or the total above it. A margin with no such neighbour is exposed
    through its cells, so their neighbours are the candidates."""
    candidates = neighbours(lattice, level, entry)
    if not candidates and level:
        for cell in np.flatnonzero(lattice.cell_entry[level] == entry):
            candidates += neighbours(lattice, 0, int(cell))
    if not candidates:
        raise RuntimeError("an exposed cohort has no released neighbour left to hide")
    _, hide_level, hide_entry = min(candidates)
    lattice.suppressed[hide_level][hide_entry] = True


def neighbours(lattice: Lattice, level: int, entry: int, hideable: Sequence[np.ndarray] | None = None) -> list[tuple[int, int, int]]:
    """(subjects, level, entry) of every hideable entry (`hideable` per level, else the lattice's
    own) that shares an equation with `entry`."""
    can = hideable if hideable is not None else [lattice.hideable(level) for level in range(len(lattice.levels))]
    found: list[tuple[int, int, int]] = []
    for coarse, fine, parents in lattice.pairs:
        if fine == level:
            siblings = np.flatnonzero((parents == parents[entry]) & can[level])
            found += [(int(lattice.values[level][s]), level, int(s)) for s in siblings]
            if can[coarse][parents[entry]]:
                found.append((int(lattice.values[coarse][parents[entry]]), coarse, int(parents[entry])))
        elif coarse == level:
            parts = np.flatnonzero((parents == entry) & can[fine])
            found += [(int(lattice.values[fine][p]), fine, int(p)) for p in parts]
    return found


def determined_entries(lattice: Lattice, k: int) -> list[tuple[int, int]]:
    """Suppressed sensitive entries whose value the linear system (margin = sum of its cells) pins
    down: an unknown is determined exactly when every vector of the system's null space is zero
    there. Solved per connected component so the matrices stay small."""
    if not lattice.sensitive:
        mark_sensitive(lattice, k)
    unknowns = [(level, int(e)) for level, hidden in enumerate(lattice.suppressed) for e in np.flatnonzero(hidden)]
    if not unknowns:
        return []
    column = {u: i for i, u in enumerate(unknowns)}
    rows: list[list[tuple[int, float]]] = []
    hidden_cells = np.flatnonzero(lattice.suppressed[0])
    for level in range(1, len(lattice.levels)):
        members = pd.Series(hidden_cells).groupby(lattice.cell_entry[level][hidden_cells]).agg(list)
        for entry in range(len(lattice.values[level])):
            row = [(column[(0, int(c))], -1.0) for c in members.get(entry, [])]
            if lattice.suppressed[level][entry]:
                row.append((column[(level, entry)], 1.0))
            if row:
                rows.append(row)
    determined = _determined_columns(len(unknowns), rows)
    return [unknowns[i] for i in determined if lattice.sensitive[unknowns[i][0]][unknowns[i][1]]]


def _determined_columns(size: int, rows: list[list[tuple[int, float]]]) -> list[int]:
    root = components_of(size, [np.array([column for column, _ in row]) for row in rows])
    components: dict[int, list[int]] = {}
    for i in range(size):
        components.setdefault(int(root[i]), []).append(i)
    rows_of: dict[int, list[list[tuple[int, float]]]] = {}
    for row in rows:
        rows_of.setdefault(int(root[row[0][0]]), []).append(row)
    out: list[int] = []
    for key, members in components.items():
        component_rows = rows_of.get(key, [])
        if not component_rows:
            continue
        index = {m: i for i, m in enumerate(members)}
        matrix = np.zeros((len(component_rows), len(members)))
        for r, row in enumerate(component_rows):
            for c, coefficient in row:
                matrix[r, index[c]] = coefficient
        out += [members[i] for i in np.flatnonzero(_pinned(matrix))]
    return sorted(out)


def components_of(size: int, groups: list[np.ndarray]) -> np.ndarray:
    """Each of `size` unknowns' component (a representative), joining the unknowns of every group:
    equations that share no unknown are solved apart, so their matrices stay small."""
    parent = np.arange(size)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for cells in groups:
        if not len(cells):
            continue
        root = find(int(cells[0]))
        for other in cells[1:]:
            parent[find(int(other))] = root
    return np.array([find(i) for i in range(size)], dtype=np.int64)


def _pinned(matrix: np.ndarray) -> np.ndarray:
    """Columns on which the null space of `matrix` vanishes."""
    _, singular, vt = np.linalg.svd(matrix)
    rank = int((singular > 1e-9 * max(matrix.shape)).sum())
    null = vt[rank:]
    return np.abs(null).max(axis=0, initial=0.0) < 1e-9
