"""Protection intervals: what an attacker can bound, not only solve.

The exact audit (`suppression.determined_entries`) finds hidden entries that the published totals
give away as a single value. An attacker also knows that counts are never negative, and a linear
programme over the same equations then bounds some hidden entries to a narrow range ("between 0
and 8") without pinning them. For every hidden entry that may not be revealed, this computes the
attacker's feasible interval [low, high] over every published equation, with counts ≥ 0 and with
the ranges carried-forward entries are known to lie in (HiGHS, through its own Python binding `highspy`). A
release is safe when each such interval is at least `protection` wide: with the default k, the
attacker cannot even tell that the cohort is under k (tau-Argus's protection levels, as one width).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache

import highspy
import numpy as np
from scipy import sparse
from scipy.sparse import csr_matrix

from compliance_assets.privacy.suppression import Lattice, components_of, mark_sensitive, suppress, suppress_beside


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


@dataclass(frozen=True)
class Movement:
    """What counting the joins and leaves since the last publication tells an attacker: each
    detailed cell's range then (`low`, `high`; NaN where nothing was known) and how many joined
    and left in all. The leavers are one budget across the cells: a cell can only have lost what
    the others did not."""

    low: np.ndarray
    high: np.ndarray
    joined: float
    left: float


@dataclass(frozen=True)
class Doubt:
    """What an attacker can prove when it cannot tell a row shown unchanged from a row carried
    forward: `same` (per published level) marks rows whose figures are the ones last shown, which
    shown are to it only within k - 1 of the truth; `known_before` and `movement` are the earlier
    publications' ranges and the moves since, as it could prove them. A release may narrow no
    entry under k for this attacker either, against what it could prove before."""

    same: list[np.ndarray]
    known_before: Ranges
    movement: Movement | None

    def view(self, lattice: Lattice, k: int) -> tuple[Lattice, dict[tuple[int, int], tuple[float, float]]]:
        """The lattice as this attacker reads it (rows shown unchanged taken as hidden) and the
        ranges it knows those rows in."""
        shown_same = [same & ~lattice.suppressed[level] for level, same in enumerate(self.same)]
        promise = {
            (level, int(e)): (max(float(lattice.values[level][e]) - (k - 1), 0.0), float(lattice.values[level][e]) + (k - 1))
            for level, same in enumerate(shown_same)
            for e in np.flatnonzero(same)
        }
        suppressed = [hidden | shown_same[level] if level < len(shown_same) else hidden.copy() for level, hidden in enumerate(lattice.suppressed)]
        return replace(lattice, suppressed=suppressed), promise

    def narrow(self, lattice: Lattice, k: int, ranges: Ranges, protection: int, excused: list[Interval]) -> list[Interval]:
        """Of the entries `excused` (narrow, but no narrower than the earlier publications left
        them to the attacker who takes rows shown unchanged as exact), those this attacker finds
        narrower than the protection level and than what it could prove before. Its programme
        loosens the other's (rows shown unchanged as ranges, the earlier ranges it could prove
        wider), so only entries narrow to the other can be narrow to it."""
        if not excused:
            return []
        wanted = {(i.level, i.entry) for i in excused}
        seen, promise = self.view(lattice, k)
        found = attacker_intervals(seen, k, within_both(within_both(ranges, promise), self.known_before), protection, self.movement, wanted)
        narrow = narrow_intervals(found, protection)
        if not narrow:
            return []
        return narrow_intervals(narrow, protection, intervals_before(lattice, k, protection, self.known_before, self.movement, wanted))


def attacker_intervals(
    lattice: Lattice,
    k: int,
    ranges: Ranges | None = None,
    protection: float | None = None,
    movement: Movement | None = None,
    targets_of: set[tuple[int, int]] | None = None,
) -> list[Interval]:
    """The feasible interval of every suppressed entry under k (one withheld for a measure rule
    has k or more subjects: its count is no secret, its measure is, and the measure rules guard
    that). `ranges` bounds hidden entries the attacker knows approximately (a row carried forward
    from an earlier publication lies within k - 1 of the value it shows). An entry whose cells no published equation constrains is
    [0, ∞) without a programme; otherwise its maximum is solved first, and its minimum only when
    the maximum is finite. With `protection`, an entry already seen to span that much across
    feasible points gets that inner range (at least as wide as the truth) instead of its own
    programmes: only the narrow-looking ones are solved exactly. With `movement`, each withheld
    cell known before has how much it lost and gained since as two more unknowns, and those of all
    cells together stay within the leavers and joiners counted, less what the shown cells moved.
    `targets_of` names the (withheld) entries to bound instead."""
    if not lattice.sensitive:
        mark_sensitive(lattice, k)
    hidden_cells = np.flatnonzero(lattice.suppressed[0])
    if not len(hidden_cells):
        return []
    rows, equal, counted, truth, targets, _ = _attacker_rows(lattice, k, ranges, movement, targets_of)
    constraints = [columns for columns, _, _, _ in rows]
    components = components_of(len(truth), constraints)
    constrained = set(components[np.concatenate(constraints)].tolist()) if constraints else set()
    found: dict[int, Interval] = {}
    groups: dict[frozenset, list[int]] = {}
    for number, (level, entry, cells, offset) in enumerate(targets):
        if not len(cells):
            found[number] = Interval(level, entry, float(offset), float(offset))
        elif not constrained.intersection(components[cells].tolist()):
            found[number] = Interval(level, entry, float(offset), np.inf)
        else:
            groups.setdefault(frozenset(components[cells].tolist()), []).append(number)
    for wanted, numbers in groups.items():
        system = EquationSystem(components, wanted, rows, equal, counted=counted, truth=truth)
        members = [system.index[targets[n][2]] for n in numbers]
        for number, (low, high) in zip(numbers, system.ranges(members, truth[system.variables], protection, integer=True), strict=True):
            level, entry, _, offset = targets[number]
            found[number] = Interval(level, entry, low + offset, high + offset)
    return [found[n] for n in range(len(targets))]


def _attacker_rows(lattice: Lattice, k: int, ranges: Ranges | None, movement: Movement | None, targets_of: set[tuple[int, int]] | None):
    """The attacker's programme over one publication's withheld cells (`attacker_intervals`): its
    rows, how many are equations, which are published counts (`EquationSystem`), a feasible point (the truth), the targets (level, entry, cells,
    released part) and where the withheld cells' outcome counts start among the columns (None
    without outcome counts)."""
    ranges = dict(ranges or {})
    hidden_cells = np.flatnonzero(lattice.suppressed[0])
    known = np.where(lattice.suppressed[0], 0, lattice.values[0])
    equalities, bounded, targets, members_of, coarse = [], [], [], [], []
    for level in range(len(lattice.levels)):
        entries = lattice.cell_entry[level] if level else np.arange(len(lattice.values[0]))
        size = len(lattice.values[level])
        released_part = np.bincount(entries, weights=known, minlength=size)
        members = entry_members(entries[hidden_cells], size)
        members_of.append(members)
        for entry in range(size):
            cells = members[entry]
            if lattice.suppressed[level][entry]:
                if (level, entry) in ranges and len(cells):
                    low, high = ranges[(level, entry)]
                    bounded.append((cells, low - released_part[entry], high - released_part[entry]))
                    coarse.append(level > 0)
                if (level, entry) in targets_of if targets_of is not None else lattice.sensitive[level][entry] and lattice.values[level][entry] < k:
                    targets.append((level, entry, cells, released_part[entry]))
            elif len(cells):
                equalities.append((cells, lattice.values[level][entry] - released_part[entry]))
    truth = lattice.values[0][hidden_cells].astype(float)
    extra = []
    if movement is not None:
        extra, truth = _movement_rows(lattice, hidden_cells, movement, truth)
    outcomes_at = len(truth)
    splits, split_rows, truth = _outcome_rows(lattice, hidden_cells, truth, members_of)
    rows, equal = unit_rows(equalities + splits, bounded)
    counted = np.concatenate([np.ones(equal, dtype=bool), np.array(coarse, dtype=bool), np.zeros(len(extra) + len(split_rows), dtype=bool)])
    rows += extra + split_rows
    return rows, equal, counted, truth, targets, outcomes_at if len(truth) > outcomes_at else None


def shared_outcomes(lattice: Lattice, k: int, ranges: Ranges | None = None, movement: Movement | None = None) -> list[Interval]:
    """Withheld entries whose members the attacker proves to share one value of an outcome
    measure: none has it, or all have it (l-diversity, which the outcome rule keeps for shown
    rows, read off withheld ones through the shown outcome counts). Only an entry with no shown
    cell under it can be proven so (a shown cell keeps the rule), and only one whose members do
    all share it: the programme is asked whether any feasible point gives one member the other
    value, one model per connected group of withheld cells (an inconsistent group relaxes its own
    equations only). Each is returned as an interval of width 0 (proven, whether none or all
    have it). Without the outcome rule (a minimum numerator of 0) nothing is asked."""
    if lattice.signed or not lattice.outcomes or not lattice.outcomes[0].shape[1] or lattice.min_numerator <= 0:
        return []
    if not lattice.sensitive:
        mark_sensitive(lattice, k)
    hidden_cells = np.flatnonzero(lattice.suppressed[0])
    if not len(hidden_cells):
        return []
    rows, equal, counted, truth, _, outcomes_at = _attacker_rows(lattice, k, ranges, movement, set())
    if outcomes_at is None:
        return []
    width, wanted = len(hidden_cells), {}
    for level in range(len(lattice.levels)):
        if level in lattice.fixed:
            continue
        entries = lattice.cell_entry[level] if level else np.arange(len(lattice.values[0]))
        size = len(lattice.values[level])
        shown_under = np.bincount(entries[~lattice.suppressed[0]], minlength=size) > 0
        members = entry_members(entries[hidden_cells], size)
        for entry in np.flatnonzero(lattice.suppressed[level] & ~shown_under & (lattice.values[level] >= 1)):
            cells = members[entry]
            for outcome, having in enumerate(lattice.outcomes[level][entry]):
                counts = outcomes_at + outcome * width + cells
                if having == 0:
                    wanted.setdefault((level, int(entry)), []).append((counts, np.ones(len(cells))))
                elif having == lattice.values[level][entry]:
                    wanted.setdefault((level, int(entry)), []).append(lacking(cells, counts))
    if not wanted:
        return []
    components = components_of(len(truth), [columns for columns, _, _, _ in rows])
    groups: dict[frozenset, list] = {}
    for key, found in wanted.items():
        for columns, coefficients in found:
            groups.setdefault(frozenset(components[columns].tolist()), []).append((key, columns, coefficients))
    proven = {}
    for component, objectives in groups.items():
        system = EquationSystem(components, component, rows, equal, counted=counted, truth=truth)
        reached = system.reaches([(system.index[columns], coefficients) for _, columns, coefficients in objectives], 1.0, truth[system.variables])
        proven.update(dict.fromkeys(key for (key, _, _), fine in zip(objectives, reached, strict=True) if not fine))
    return [Interval(level, entry, 0.0, 0.0) for level, entry in proven]


def lacking(everyone: np.ndarray, having: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns and coefficients that count the members without an outcome: each cell's subjects
    (`everyone`) less those with it (`having`, the same cells' outcome counts)."""
    return np.concatenate([everyone, having]), np.concatenate([np.ones(len(everyone)), -np.ones(len(having))])


def within_both(first: Ranges, second: Ranges) -> dict[tuple[int, int], tuple[float, float]]:
    """Ranges known two ways: each entry within both."""
    merged = dict(first)
    for key, (low, high) in second.items():
        if key in merged:
            low, high = max(low, merged[key][0]), min(high, merged[key][1])
        merged[key] = (low, high)
    return merged


def unit_rows(equalities, bounded) -> tuple[list, int]:
    """Equations (cells, value) and ranges (cells, low, high) over sums of cells as the rows
    `EquationSystem` takes, and how many of them are equations."""
    rows = [(cells, np.ones(len(cells)), value, value) for cells, value in equalities]
    return rows + [(cells, np.ones(len(cells)), low, high) for cells, low, high in bounded], len(rows)


class EquationSystem:
    """One component's equations in a HiGHS model built once: each target only changes the
    objective, and the solver starts from the last optimal basis. A pool of feasible points (the
    truth, and every optimum found) spares the programmes of targets whose values across the pool
    already differ by the protection level."""

    def __init__(
        self, components: np.ndarray, wanted: frozenset, rows, equalities: int, interior: bool = False, counted: np.ndarray | None = None, truth: np.ndarray | None = None
    ):
        """`rows`: (columns, coefficients, low, high), the first `equalities` of them equations.
        `interior`: solve by interior point, for programmes primal simplex crawls through (many
        degenerate vertices, as where outcome counts flow between publications). `counted`: per
        row, whether it is a published count of distinct subjects (or of those with an outcome)
        over several cells, which a subject with rows in more than one cell breaks (by default
        the equations). With `truth` (a point over all `components`), the counted rows it breaks
        are relaxed before anything is solved, and only those: the attacker is taken to know
        where subjects span cells and where they do not. Should the programme still have no
        solution (the truth breaking a row no subject explains), every counted row is relaxed,
        and past that the figures are refused (`solve`)."""
        self.interior = interior
        self.variables = np.flatnonzero(np.isin(components, list(wanted)))
        self.index = np.full(len(components), -1, dtype=np.int64)
        self.index[self.variables] = np.arange(len(self.variables))
        mine = [i for i, (columns, _, _, _) in enumerate(rows) if components[columns[0]] in wanted]
        counted = np.arange(len(rows)) < equalities if counted is None else np.asarray(counted, dtype=bool)
        self.counted = counted[mine] if len(mine) else np.zeros(0, dtype=bool)
        rows = [rows[i] for i in mine]
        self.matrix = matrix_of([(self.index[columns], coefficients) for columns, coefficients, _, _ in rows], len(self.variables))
        self.mixed = np.asarray((self.matrix < 0).sum(axis=1)).ravel() > 0
        self.lower = np.array([low for _, _, low, _ in rows], dtype=float)
        self.upper = np.array([high for _, _, _, high in rows], dtype=float)
        self.relaxed = 0  # how many times rows were relaxed: bounds worked out before no longer hold
        if truth is not None:
            self._relax(self._broken(truth[self.variables]))
        self.solver = self._model(self.upper)
        self.pool: list[np.ndarray] = []
        self.cost = np.zeros(len(self.variables))

    def _broken(self, point: np.ndarray) -> np.ndarray:
        """The counted rows `point` breaks: a total that counts a subject once below the sum of
        cells that count it in each."""
        sums = self.matrix @ point
        return self.counted & ((sums > self.upper + 1e-6) | (self.mixed & (sums < self.lower - 1e-6)))

    def _relax(self, rows: np.ndarray) -> bool:
        """Counted rows as the most they can say: a total of distinct subjects is at most the sum
        of its cells (a difference of such totals, as an outcome's complement, says nothing)."""
        rows = rows & (np.isfinite(self.upper) | (self.mixed & np.isfinite(self.lower)))
        if not rows.any():
            return False
        self.upper, self.lower = np.where(rows, np.inf, self.upper), np.where(rows & self.mixed, -np.inf, self.lower)
        self.relaxed += 1
        return True

    def _model(self, upper: np.ndarray) -> highspy.Highs:
        solver = highs_solver()
        solver.setOptionValue("solver", "ipm" if self.interior else "simplex")
        solver.passModel(highs_model(self.matrix, self.lower, upper))
        return solver

    def feasible(self, point: np.ndarray) -> bool:
        sums = self.matrix @ point
        return bool(np.all(sums >= self.lower - 1e-6) and np.all(sums <= self.upper + 1e-6) and np.all(point >= -1e-9))

    def ranges(self, members: list[np.ndarray], truth: np.ndarray, protection: float | None, integer: bool = False) -> list[tuple[float, float]]:
        """Each target's (columns) [low, high] over the feasible points; with `protection`, an
        inner range once it spans that much. `integer`: counts are whole, and an attacker who
        knows it can bound a target tighter than the linear programme does (a vertex with half an
        outcome count); a target the linear programme leaves spanning less than twice the
        protection level is bounded by an integer programme too."""
        out = self._linear_ranges(members, truth, protection)
        if integer and protection is not None:
            close = [n for n, (low, high) in enumerate(out) if protection - 1e-6 <= high - low < INTEGER_SPAN * protection]
            close = [n for n, met in zip(close, self._whole_reach([members[n] for n in close], [out[n] for n in close]), strict=True) if not met]
            for number, bounds in zip(close, self._integer_ranges([members[n] for n in close]), strict=True):
                out[number] = bounds or out[number]
        return out

    def _linear_ranges(self, members: list[np.ndarray], truth: np.ndarray, protection: float | None) -> list[tuple[float, float]]:
        feasible = self.feasible(truth)
        if feasible:
            self.pool.append(truth)
        classes, class_total = self._twins(truth) if feasible and protection is not None else (None, None)
        selector = matrix_of([(cells, np.ones(len(cells))) for cells in members], len(self.variables))
        seen_low, seen_high = np.full(len(members), np.inf), np.full(len(members), -np.inf)

        def absorb(points: list[np.ndarray]) -> None:
            if points:
                sums = selector @ np.column_stack(points)
                np.minimum(seen_low, sums.min(axis=1), out=seen_low)
                np.maximum(seen_high, sums.max(axis=1), out=seen_high)

        absorb(self.pool)
        if protection is not None:
            self._spread(selector, seen_low, seen_high, protection, absorb)
        box = [self.relaxed, *self._box(members)]

        def bound(end: int, number: int) -> float:
            if box[0] != self.relaxed:  # rows relaxed since: the bounds widen with them
                box[:] = [self.relaxed, *self._box(members)]
            return float(box[end][number])

        if protection is None:
            self._reach(selector, seen_low, seen_high, box[1], box[2], absorb)
        out = []
        for number, cells in enumerate(members):
            if classes is not None:
                own = np.unique(classes[cells])
                if len(own) == 1 and np.count_nonzero(classes == own[0]) > len(cells) and class_total[own[0]] >= protection:
                    out.append((0.0, float(class_total[own[0]])))
                    continue
            if protection is not None and seen_high[number] - seen_low[number] >= protection:
                out.append((float(seen_low[number]), float(seen_high[number])))
                continue
            objective = np.zeros(len(self.variables))
            objective[cells] = 1.0
            if seen_high[number] >= bound(2, number) - 1e-6:
                high = bound(2, number)  # a feasible point meets a bound: the optimum, with no programme
            else:
                found = len(self.pool)
                high = self.solve(objective, maximise=True)
                absorb(self.pool[found:])
            if high == np.inf:
                low = 0.0
            elif protection is not None and high - seen_low[number] >= protection:
                low = float(seen_low[number])  # wide enough already: an inner range, as above
            elif seen_low[number] <= bound(1, number) + 1e-6:
                low = bound(1, number)
            else:
                found = len(self.pool)
                low = self.solve(objective, maximise=False)
                absorb(self.pool[found:])
            out.append((low, high))
        return out

    def _box(self, members: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Bounds on each target that need no programme: the sum of its columns' own bounds (rows
        over one column, and 0 below). A feasible point that meets one proves it the optimum."""
        single = np.flatnonzero(np.diff(self.matrix.indptr) == 1)
        column = self.matrix.indices[self.matrix.indptr[single]]
        scale = self.matrix.data[self.matrix.indptr[single]]
        ends = np.sort(np.column_stack([self.lower[single], self.upper[single]]) / scale[:, None], axis=1)
        low, high = np.zeros(len(self.variables)), np.full(len(self.variables), np.inf)
        np.maximum.at(low, column, ends[:, 0])
        np.minimum.at(high, column, ends[:, 1])
        return np.array([low[cells].sum() for cells in members]), np.array([high[cells].sum() for cells in members])

    def _reach(self, selector, seen_low: np.ndarray, seen_high: np.ndarray, floor: np.ndarray, ceiling: np.ndarray, absorb) -> None:
        """Widens the pool toward the targets' own bounds (`_box`), both ways: one lift takes every
        target still short of its bound from the other bound (where every point has it) as far
        as that bound and counts no further (`_lift`), while a lift brings enough of them there.
        Where bounds and equations do not fight, a few programmes stand for two per target; where
        one equation lets one target at a time reach its bound, a programme per target is as quick."""
        for seen, maximise in ((seen_high, True), (seen_low, False)):
            while True:
                waiting = np.flatnonzero(np.isfinite(ceiling) & (ceiling - floor > 1e-6) & ((seen < ceiling - 1e-6) if maximise else (seen > floor + 1e-6)))
                if len(waiting) < 2:
                    break
                point = self._lift(selector[waiting], (floor if maximise else ceiling)[waiting], (ceiling - floor)[waiting], maximise)
                if point is None:
                    break
                absorb([point])
                if np.count_nonzero((seen[waiting] >= ceiling[waiting] - 1e-6) if maximise else (seen[waiting] <= floor[waiting] + 1e-6)) < max(1, len(waiting) // REACH_SHARE):
                    break

    def _whole_reach(self, members: list[np.ndarray], bounds: list[tuple[float, float]]) -> np.ndarray:
        """Per target, whether whole feasible points in the pool (vertices here are often whole)
        meet both its ends: then whole counts reach as far as the linear programme, and its
        integer programme would say no more."""
        whole = [np.rint(point) for point in self.pool if np.abs(point - np.rint(point)).max(initial=0) < 1e-6]
        whole = [point for point in whole if self.feasible(point)]
        if not members or not whole:
            return np.zeros(len(members), dtype=bool)
        sums = matrix_of([(cells, np.ones(len(cells))) for cells in members], len(self.variables)) @ np.column_stack(whole)
        low, high = np.array(bounds).T
        return (sums.min(axis=1) <= low + 1e-6) & (sums.max(axis=1) >= high - 1e-6)

    def _integer_ranges(self, members: list[np.ndarray]) -> list[tuple[float, float] | None]:
        """Each target's [low, high] over whole counts, or None where the integer programme
        did not prove both ends (cut short, or no whole point): the linear range stands, as it
        must where the range excuses a release (what was known before it) as much as where it
        judges one. One solver per call, so its time limit counts this call's work alone. No
        starting point is given: HiGHS 1.16, handed one after the objective changed, reports its
        presolved model's bound as the optimum (a minimum of 0 where every whole point has 1)."""
        if not members:
            return []
        solver = new_highs()
        solver.setOptionValue("mip_rel_gap", 0.0)
        solver.setOptionValue("time_limit", INTEGER_SECONDS)
        solver.passModel(highs_model(self.matrix, self.lower, self.upper, integer=True))
        out = []
        for cells in members:
            cost = np.zeros(len(self.variables))
            cost[cells] = 1.0
            solver.changeColsCost(len(cost), np.arange(len(cost), dtype=np.int32), cost)
            bounds: list[float] = []
            for sense in (highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize):
                solver.changeObjectiveSense(sense)
                solver.run()
                if solver.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                    break
                bounds.append(float(solver.getInfo().objective_function_value))
            out.append((bounds[0], bounds[1]) if len(bounds) == 2 else None)
        return out

    def reaches(self, objectives: list[tuple[np.ndarray, np.ndarray]], level: float, truth: np.ndarray) -> np.ndarray:
        """Whether each objective (columns among this system's own variables, coefficients)
        reaches `level` at some feasible point:
        the pool first, then lifts of all those still short while they lift any, then one
        programme each. Only proving an objective below `level` takes its own programme."""
        if self.feasible(truth):
            self.pool.append(truth)
        selector = matrix_of(objectives, len(self.variables))
        best = np.full(len(objectives), -np.inf)

        def absorb(points: list[np.ndarray]) -> None:
            if points:
                np.maximum(best, (selector @ np.column_stack(points)).max(axis=1), out=best)

        absorb(self.pool)
        while len(waiting := np.flatnonzero(best < level - 1e-6)) >= 2:
            point = self._lift(selector[waiting], np.zeros(len(waiting)), level, maximise=True)
            if point is None:
                break
            absorb([point])
            if not np.any(best[waiting] >= level - 1e-6):
                break
        for number in np.flatnonzero(best < level - 1e-6):
            found = len(self.pool)
            value = self.solve(selector[[number]].toarray().ravel(), maximise=True)
            absorb(self.pool[found:])
            best[number] = max(best[number], value)
        return best >= level - 1e-6

    def _spread(self, selector, seen_low: np.ndarray, seen_high: np.ndarray, protection: float, absorb) -> None:
        """Widens the pool with one programme for many targets: the point that maximises the sum
        of every target not yet seen to span the protection level lifts most of them at once
        (a tenth of the programmes a target at a time), until one no longer helps. (A lift
        capped per target, `_lift`, spreads itself too thin here: a span needs a target to go
        far, and the capped sum rewards going part of the way.)"""
        while True:
            waiting = np.flatnonzero(seen_high - seen_low < protection)
            if len(waiting) < 2:
                return
            objective = np.asarray(selector[waiting].sum(axis=0)).ravel()
            found = len(self.pool)
            if self.solve(objective, maximise=True) == np.inf:
                return
            absorb(self.pool[found:])
            if np.count_nonzero(seen_high[waiting] - seen_low[waiting] >= protection) == 0:
                return

    def _lift(self, targets, offsets: np.ndarray, reach: float | np.ndarray, maximise: bool) -> np.ndarray | None:
        """A feasible point that takes as many `targets` (rows of a selector) as it can `reach`
        above their `offsets` (below, not maximising), each counted only up to that reach (one
        for all, or one each): a plain sum spends itself on the few targets that can go furthest. One more unknown per
        target, t <= its lift, 0 <= t <= reach, and the sum of t maximised. None when the
        programme has no optimum (the caller then solves target by target, where `solve` relaxes
        the equations a subject counted in several cells breaks)."""
        count, width = targets.shape[0], len(self.variables)
        sign = 1.0 if maximise else -1.0
        matrix = sparse.bmat([[self.matrix, None], [-sign * targets, sparse.identity(count)]], format="csr")
        solver = highs_solver("lifts")
        solver.setOptionValue("solver", "ipm" if self.interior else "simplex")
        solver.setOptionValue("simplex_strategy", DUAL)
        lp = highs_model(
            matrix,
            np.concatenate([self.lower, np.full(count, -np.inf)]),
            np.concatenate([self.upper, -sign * offsets]),
            cost=np.concatenate([np.zeros(width), np.ones(count)]),
            column_upper=np.concatenate([np.full(width, np.inf), np.full(count, reach)]),
        )
        lp.sense_ = highspy.ObjSense.kMaximize
        solver.passModel(lp)
        solver.run()
        if solver.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        point = np.array(solver.getSolution().col_value[:width])
        self.pool.append(point)
        return point

    def _twins(self, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cells that every equation holds together or not at all are interchangeable: moving
        subjects between them keeps every published figure, so a target made of some (not all) of
        one such class ranges at least from 0 to the class's total. Returns each cell's class and
        each class's total, with no programme."""
        columns = self.matrix.tocsc()
        signatures = [columns.indices[columns.indptr[v] : columns.indptr[v + 1]].tobytes() for v in range(len(self.variables))]
        _, classes = np.unique(np.array(signatures, dtype=object), return_inverse=True)
        return classes, np.bincount(classes, weights=truth)

    def solve(self, objective: np.ndarray, maximise: bool) -> float:
        """The objective's maximum or minimum; its optimum joins the pool."""
        changed = np.flatnonzero(objective != self.cost)
        if len(changed):
            self.solver.changeColsCost(len(changed), changed.astype(np.int32), objective[changed])
            self.cost = objective.copy()
        self.solver.changeObjectiveSense(highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize)
        if not self.interior:
            self.solver.setOptionValue("simplex_strategy", PRIMAL if self.solver.getBasis().valid else DUAL)
        self.solver.run()
        status = self.solver.getModelStatus()
        if status == highspy.HighsModelStatus.kInfeasible:
            if not self._relax(self.counted):
                raise RuntimeError(
                    "the published figures contradict each other: no count of subjects per cell meets them all, even counting a subject in several cells"
                )
            self.solver = self._model(self.upper)
            self.cost = np.zeros(len(self.variables))
            return self.solve(objective, maximise)
        if status in (highspy.HighsModelStatus.kUnbounded, highspy.HighsModelStatus.kUnboundedOrInfeasible):
            if self.pool:
                return np.inf
            # HiGHS's presolve can call an infeasible programme unbounded: only a feasible point
            # (one is in the pool once any programme of this model is solved) settles it.
            self.solve(np.zeros(len(self.variables)), maximise)
            return self.solve(objective, maximise)
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"the attacker's linear programme failed: {self.solver.modelStatusToString(status)}")
        self.pool.append(np.array(self.solver.getSolution().col_value))
        return float(self.solver.getInfo().objective_function_value)


REACH_SHARE = 20  # a lift toward the targets' bounds (`_reach`) that brings fewer than one in this many there is the last
INTEGER_SPAN = 2.0  # targets the linear programme leaves spanning under this many protection levels are bounded over whole counts too
INTEGER_SECONDS = 10.0  # for one model's integer programmes; cut short, the linear ranges stand

PRIMAL = 4  # HiGHS's simplex_strategy: from the last optimal basis, a new objective keeps it feasible, so primal simplex restarts where the dual starts over
DUAL = 1  # without a basis yet, dual simplex finds the first optimum many times faster than primal


@cache
def highs_solver(purpose: str = "targets") -> highspy.Highs:
    """One solver per process and purpose (the targets' model, the lifts' and the shifts'
    beside it), its model replaced for each component."""
    return new_highs()


def new_highs() -> highspy.Highs:
    """A silent HiGHS solver. HiGHS prints its banner to the process's standard output when a
    solver is made, before any option can silence it, so it is made with that output pointed at
    /dev/null (a command's own output stays clean)."""
    sys.stdout.flush()
    kept = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            solver = highspy.Highs()
    finally:
        os.dup2(kept, 1)
        os.close(kept)
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("simplex_strategy", PRIMAL)
    return solver


def highs_model(
    matrix: csr_matrix,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    cost: np.ndarray | None = None,
    column_lower: np.ndarray | None = None,
    column_upper: np.ndarray | None = None,
    integer: bool = False,
) -> highspy.HighsLp:
    """A HiGHS model of the rows of `matrix` between their bounds (infinite: none), over columns
    from 0 (or `column_lower`) up, `integer` if whole: every programme here is built this way."""
    rows, width = matrix.shape
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = width, rows
    lp.col_cost_ = np.zeros(width) if cost is None else cost
    lp.col_lower_ = np.zeros(width) if column_lower is None else np.where(np.isinf(column_lower), -highspy.kHighsInf, column_lower)
    lp.col_upper_ = np.full(width, highspy.kHighsInf) if column_upper is None else np.where(np.isinf(column_upper), highspy.kHighsInf, column_upper)
    lp.row_lower_ = np.where(np.isinf(row_lower), -highspy.kHighsInf, row_lower)
    lp.row_upper_ = np.where(np.isinf(row_upper), highspy.kHighsInf, row_upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data.astype(float)
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * width
    return lp


def matrix_of(rows: list[tuple[np.ndarray, np.ndarray]], width: int) -> csr_matrix:
    if not rows:
        return csr_matrix((0, width))
    starts = np.concatenate([[0], np.cumsum([len(columns) for columns, _ in rows])])
    columns = np.concatenate([columns for columns, _ in rows])
    values = np.concatenate([np.asarray(coefficients, dtype=float) for _, coefficients in rows])
    return csr_matrix((values, columns, starts), shape=(len(rows), width))


def _movement_rows(lattice: Lattice, hidden_cells: np.ndarray, movement: Movement, truth: np.ndarray) -> tuple[list, np.ndarray]:
    """Rows tying each withheld cell known before to what it lost (r) and gained (a) since:
    x + r >= its lowest then, a - x >= -(its highest then), r, a >= 0; and the two budgets: all
    r at most the leavers, all a at most the joiners, less what the shown cells must have lost
    and gained. Returns the rows and the truth extended by r and a at their least."""
    low, high = movement.low[hidden_cells], movement.high[hidden_cells]
    boxed = np.flatnonzero(~np.isnan(low))
    shown = ~lattice.suppressed[0] & ~np.isnan(movement.low)
    values = lattice.values[0].astype(float)
    lost = float(np.maximum(movement.low[shown] - values[shown], 0).sum())
    gained = float(np.maximum(values[shown] - movement.high[shown], 0).sum())
    if not len(boxed):
        return [], truth
    width = len(hidden_cells)
    removed = width + np.arange(len(boxed))
    added = width + len(boxed) + np.arange(len(boxed))
    rows = []
    for i, cell in enumerate(boxed):
        rows.append((np.array([cell, removed[i]]), np.array([1.0, 1.0]), float(low[cell]), np.inf))
        rows.append((np.array([added[i], cell]), np.array([1.0, -1.0]), -float(high[cell]), np.inf))
    rows.append((removed, np.ones(len(boxed)), -np.inf, max(movement.left - lost, 0.0)))
    rows.append((added, np.ones(len(boxed)), -np.inf, max(movement.joined - gained, 0.0)))
    x = truth[boxed]
    return rows, np.concatenate([truth, np.maximum(low[boxed] - x, 0), np.maximum(x - high[boxed], 0)])


def _outcome_rows(lattice: Lattice, hidden_cells: np.ndarray, truth: np.ndarray, members_of: list[list[np.ndarray]]) -> tuple[list, list, np.ndarray]:
    """A shown row's outcome counts are equations too. Per outcome, each withheld cell's members
    are those with it and those without, neither negative, so a shown row's outcome count and its
    complement each bound the withheld cells under it: together tighter than its subjects alone.
    Returns the equations (over the withheld cells' outcome counts, appended after the columns
    `truth` already has), the rows tying each count to its cell, and the truth extended by them.
    Levels only other tables reveal carry no outcome; changes (`signed`) are not split.
    `members_of`: per level, each entry's withheld cells (as `_members` gives them)."""
    if lattice.signed or not lattice.outcomes or not lattice.outcomes[0].shape[1]:
        return [], [], truth
    width, base = len(hidden_cells), len(truth)
    equations, rows, extended = [], [], [truth]
    for i in range(lattice.outcomes[0].shape[1]):
        columns = base + i * width + np.arange(width)
        counts = lattice.outcomes[0][:, i].astype(float)
        known = np.where(lattice.suppressed[0], 0.0, counts)
        for level, members in enumerate(members_of):
            if level in lattice.fixed:
                continue
            entries = lattice.cell_entry[level] if level else np.arange(len(lattice.values[0]))
            released_part = np.bincount(entries, weights=known, minlength=len(lattice.values[level]))
            for entry in np.flatnonzero(~lattice.suppressed[level]):
                if len(members[entry]):
                    equations.append((columns[members[entry]], float(lattice.outcomes[level][entry, i]) - released_part[entry]))
        rows += [(np.array([cell, columns[cell]]), np.array([1.0, -1.0]), 0.0, np.inf) for cell in range(width)]
        extended.append(counts[hidden_cells])
    return equations, rows, np.concatenate(extended)


def narrow_intervals(intervals: list[Interval], protection: int, before: list[Interval] | None = None) -> list[Interval]:
    """Intervals narrower than the protection level. With `before` (each target's interval from
    what the attacker knew without this release: `intervals_before`), an interval is narrow only
    where it is also narrower than that one: a release answers for what it adds, and cannot widen
    what earlier publications already bound."""
    earlier = {(i.level, i.entry): i.width for i in before or []}
    return [i for i in intervals if i.width < min(float(protection), earlier.get((i.level, i.entry), np.inf)) - 1e-6]


def intervals_before(
    lattice: Lattice, k: int, protection: int, known_before: Ranges, movement: Movement | None = None, targets_of: set[tuple[int, int]] | None = None
) -> list[Interval]:
    """Every sensitive entry's interval (or those of `targets_of`) from the earlier publications
    alone: this release hides every entry it may, and only the ranges the attacker knew before
    bound them."""
    every = Lattice(
        lattice.levels,
        lattice.values,
        lattice.cell_entry,
        fixed=lattice.fixed,
        suppressed=[np.ones(len(v), dtype=bool) if level not in lattice.fixed else lattice.suppressed[level].copy() for level, v in enumerate(lattice.values)],
        sensitive=lattice.sensitive,
    )
    return attacker_intervals(every, k, known_before, protection, movement, targets_of)


def entry_members(entries: np.ndarray, size: int, items: np.ndarray | None = None) -> list[np.ndarray]:
    """For each entry (of `size`), the positions in `entries` (one entry each) under it, or the
    `items` at those positions."""
    order = np.argsort(entries, kind="stable")
    splits = np.searchsorted(entries[order], np.arange(size + 1))
    picked = order if items is None else items[order]
    return [picked[splits[i] : splits[i + 1]] for i in range(size)]


def protect(
    lattice: Lattice,
    k: int,
    protection: int,
    ranges: Ranges | None = None,
    known_before: Ranges | None = None,
    movement: Movement | None = None,
    doubt: Doubt | None = None,
) -> list[Interval]:
    """Suppression until neither the exact audit nor the attacker's linear programme finds an
    entry it may not reveal, nor a withheld entry whose members it proves to share an outcome
    value (`shared_outcomes`): each narrow interval hides the smallest released entry beside it, or
    the smallest released entry anywhere when nothing beside it is left to hide. `known_before`:
    ranges the attacker knew without this release (from earlier publications), which bound the
    entries too, as does the `movement` since; no interval need be wider than the attacker's
    without this release. With `doubt`, the same holds for the attacker who cannot tell a row
    shown unchanged from a carried one (`Doubt`).

    Returns what hiding cannot fix: narrow entries that `ranges` bounds (rows carried forward,
    which the caller must withhold instead), any entry the doubting attacker finds narrow while
    rows are carried, or any narrow entry once nothing is left to hide."""
    bounds = within_both(ranges or {}, known_before or {})
    before = None
    while True:
        suppress(lattice, k)
        found = attacker_intervals(lattice, k, bounds, protection, movement)
        narrow = excused = narrow_intervals(found, protection)
        if narrow and known_before:
            before = before if before is not None else intervals_before(lattice, k, protection, known_before, movement)
            narrow = narrow_intervals(narrow, protection, before)
        if not narrow and doubt is not None:
            narrow = doubt.narrow(lattice, k, ranges or {}, protection, excused)
            if narrow and ranges:
                return narrow
        if not narrow:
            narrow = shared_outcomes(lattice, k, bounds, movement)
        if not narrow:
            return []
        carried = [i for i in narrow if (i.level, i.entry) in (ranges or {})]
        if carried:
            return carried
        try:
            suppress_beside(lattice, narrow[0].level, narrow[0].entry)
        except RuntimeError:
            if not _hide_smallest_released(lattice):
                return narrow


def _hide_smallest_released(lattice: Lattice) -> bool:
    """Hides the smallest entry still released, whatever its level: an interval can be narrowed
    by equations that do not hold the entry itself (with earlier publications' ranges, a margin
    elsewhere bounds a total). False when every entry is hidden already."""
    candidates = [(int(lattice.values[level][e]), level, int(e)) for level in range(len(lattice.levels)) for e in np.flatnonzero(lattice.hideable(level))]
    if not candidates:
        return False
    _, level, entry = min(candidates)
    lattice.suppressed[level][entry] = True
    return True
