"""An independent attacker on published cohort tables.

The tests use it to check what the project publishes against what an adversary can infer from it, so
it deliberately imports nothing from `compliance_assets`, `resources` or `sensors`: a bug shared by the
publisher and its own checks would go unnoticed. It only needs numpy, pandas and HiGHS (through scipy,
and through highspy where one model answers many targets).

Model: the attacker knows the universe of *atoms* (finest combinations of underlying attributes, not
their counts) and, for each release, how every dimension is derived from an atom. Each published row is
a linear equation over the unknown atom counts x >= 0; bounds on sums of x over any set of atoms are
linear (or integer) programs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csr_array

TOTAL = "(total)"


@dataclass
class Release:
    """One publication: the table as published, its dimensions in order, and how each dimension's
    value is derived from an atom (`derive[d](atoms) -> Series`, one value per atom). `measures` maps
    a measure column to the atom-level unknown it sums (e.g. {"outcome": "outcome"}); measures the
    attacker is not told about are ignored."""

    table: pd.DataFrame
    dimensions: list[str]
    derive: dict[str, Callable[[pd.DataFrame], pd.Series]]
    measures: dict[str, str] = field(default_factory=dict)


def grouped_dims(row: pd.Series, release: Release) -> list[str]:
    """The dimensions a row is grouped by: from `grouped_by`, else its non-missing dimension values."""
    if "grouped_by" in row.index:
        return [] if row["grouped_by"] == TOTAL else str(row["grouped_by"]).split(",")
    return [d for d in release.dimensions if not pd.isna(row[d])]


def coverage(release: Release, atoms: pd.DataFrame) -> list[tuple[pd.Series, np.ndarray]]:
    """Each published row with the boolean mask of the atoms it counts. Derived values are compared
    as plain objects, so categorical or interval labels match the labels written in the table."""
    derived = {d: release.derive[d](atoms).astype(object).to_numpy() for d in release.dimensions}
    out = []
    for _, row in release.table.iterrows():
        mask = np.ones(len(atoms), dtype=bool)
        for d in grouped_dims(row, release):
            mask &= derived[d] == row[d]
        out.append((row, mask))
    return out


def _system(releases: list[Release], atoms: pd.DataFrame, bounded_by_subjects: bool):
    """Equations A v = b over v = [x, y_1, ..., y_m] (one block of atom unknowns per measure), plus the
    inequalities y <= x that hold when a measure counts subjects (e.g. those with an outcome)."""
    n = len(atoms)
    names = sorted({u for r in releases for u in r.measures.values()})
    block = {None: 0, **{u: (i + 1) * n for i, u in enumerate(names)}}
    rows, rhs = [], []
    for release in releases:
        for row, mask in coverage(release, atoms):
            for col, unknown in [("subjects", None), *release.measures.items()]:
                if col in row.index and not pd.isna(row[col]):
                    a = np.zeros(n * (len(names) + 1))
                    a[block[unknown] : block[unknown] + n] = mask
                    rows.append(a)
                    rhs.append(float(row[col]))
    width = n * (len(names) + 1)
    a_eq = np.array(rows).reshape(len(rows), width)
    a_ub = np.zeros((0, width))
    if bounded_by_subjects and names:
        eye = np.eye(n)
        a_ub = np.vstack([np.hstack([-eye] + [eye if u == v else 0 * eye for v in names]) for u in names])
    return a_eq, np.array(rhs), a_ub, block, width


def intervals(
    releases: list[Release],
    atoms: pd.DataFrame,
    targets: list[np.ndarray | tuple[str, np.ndarray]],
    integer: bool = False,
    bounded_by_subjects: bool = True,
) -> list[tuple[float, float]]:
    """[min, max] of each target's sum subject to every published equation and unknowns >= 0.

    A target is a boolean atom mask (sums subjects) or `(unknown, mask)` (sums a measure's unknown).
    LP bounds are what the attacker can prove about the real numbers; `integer=True` tightens them with
    integrality (MILP), which only ever narrows the interval. An unbounded maximum is `math.inf`."""
    a_eq, b_eq, a_ub, block, width = _system(releases, atoms, bounded_by_subjects)
    eq = {"A_eq": csr_array(a_eq), "b_eq": b_eq} if len(b_eq) else {}
    constraints = [LinearConstraint(csr_array(a_eq), b_eq, b_eq)] if len(b_eq) else []
    ub = {}
    if a_ub.shape[0]:
        constraints.append(LinearConstraint(csr_array(a_ub), -np.inf, 0))
        ub = {"A_ub": csr_array(a_ub), "b_ub": np.zeros(a_ub.shape[0])}
    out = []
    for target in targets:
        unknown, mask = target if isinstance(target, tuple) else (None, target)
        c = np.zeros(width)
        c[block[unknown] : block[unknown] + len(atoms)] = np.asarray(mask, dtype=float)
        bound = []
        for sign in (1, -1):
            res = linprog(sign * c, **ub, **eq, bounds=(0, None), method="highs")
            if res.status == 3:  # unbounded: only possible when maximising
                bound.append(math.inf)
                continue
            if res.status != 0:
                raise ValueError(f"published tables are inconsistent with the model: {res.message}")
            if integer:
                res = milp(sign * c, constraints=constraints, integrality=np.ones(width), bounds=Bounds(0, np.inf))
                if res.status != 0:
                    raise ValueError(f"no integer solution: {res.message}")
            bound.append(round(sign * res.fun, 6))
        out.append((bound[0], bound[1]))
    return out


@dataclass
class Moves:
    """What the attacker knows happened between a publication and the one before it: how many
    subjects joined and left, and how many members' outcomes changed (not where any of them fall)."""

    joined: int = 0
    left: int = 0
    flipped: int = 0


SUBJECTS, OUTCOME, SUBJECTS_CHANGE, OUTCOME_CHANGE, COMPLEMENT_CHANGE = "subjects", "outcome", "subjects change", "outcome change", "complement change"
COMPLEMENT = "complement"  # members lacking the outcome
JOINERS_WITH, JOINERS_WITHOUT, LEAVERS_WITH, LEAVERS_WITHOUT = "joiners with", "joiners without", "leavers with", "leavers without"


def intervals_over_time(
    history: list[Release],
    moves: list[Moves],
    atoms: pd.DataFrame,
    targets: list[tuple],
    k: int,
    outcome: str | None = None,
    carried_within: int | None = None,
) -> list[tuple[float, float]]:
    """[min, max] of each target `(publication, atom mask)` over every publication an attacker
    kept, in the order they were made, each with its own unknown atom counts x_t >= 0 (and the
    outcome's y_t, 0 <= y_t <= x_t, when `outcome` names the measure column counting it). A
    target `(publication, mask, figure)` asks for another figure of the atoms: `OUTCOME` (y_t),
    `COMPLEMENT` (x_t - y_t), the step's joiners or leavers with or without the outcome
    (`JOINERS_WITH`, ...), `SUBJECTS_CHANGE` (x_t - x_{t-1}), `OUTCOME_CHANGE` (y_t - y_{t-1}) or `COMPLEMENT_CHANGE`
    (how many more lack the outcome: the subjects' change less the outcome's). A fourth element,
    an earlier publication, makes a change target the net change since that publication.

    A row shown in a publication is exact when it is new there or shows other figures than in the
    publication before. A row shown unchanged may be carried forward by a change rule: by default
    it says nothing the previous publication did not, and the ties between publications bound how
    far it moved. With `carried_within` (the publisher's documented promise that a carried row is
    stale by fewer than k subjects and outcomes), an unchanged row bounds each figure it shows to
    within `carried_within` - 1 of the truth. `k` is the protection the caller judges by, not an
    assumption. Consecutive publications are tied by `moves[t]`: x_t -
    x_{t-1} = added - removed, with as many added and removed as joined and left, none removed
    from an atom it was not in nor added to one it is not in; the outcome counts move by the
    joiners and leavers with the outcome (of those joined and left, having it after or before)
    and by the flips, at most `flipped` in all."""
    n, periods = len(atoms), len(history)
    blocks = 8 if outcome else 3  # per period: x, added, removed (and y, joiners and leavers with the outcome, flips on and off)
    width = n * blocks * periods

    def at(period: int, block: int) -> int:
        return (period * blocks + block) * n

    eq_rows, eq_rhs, ub_rows, ub_rhs = [], [], [], []

    def add(coefficients: dict[int, np.ndarray], low: float, high: float) -> None:
        row = np.zeros(width)
        for start, values in coefficients.items():
            row[start : start + n] += values
        if low == high:
            eq_rows.append(row)
            eq_rhs.append(low)
        else:
            if np.isfinite(high):
                ub_rows.append(row)
                ub_rhs.append(high)
            if np.isfinite(low):
                ub_rows.append(-row)
                ub_rhs.append(-low)

    before: dict[tuple, pd.Series] = {}
    for period, release in enumerate(history):
        figures = [("subjects", 0)] + ([(outcome, 3)] if outcome else [])
        for row, mask in coverage(release, atoms):
            earlier = before.get(_key(row, release.dimensions))
            unchanged = earlier is not None and all(
                pd.isna(row[c]) == pd.isna(earlier[c]) and (pd.isna(row[c]) or float(row[c]) == float(earlier[c])) for c, _ in figures if c in row.index
            )
            if unchanged:
                if carried_within is not None:
                    for column, block in figures:
                        if column in row.index and not pd.isna(row[column]):
                            value = float(row[column])
                            add({at(period, block): mask.astype(float)}, value - (carried_within - 1), value + (carried_within - 1))
                continue
            for column, block in figures:
                if column in row.index and not pd.isna(row[column]):
                    add({at(period, block): mask.astype(float)}, float(row[column]), float(row[column]))
        before = _by_key(release.table, release.dimensions)
        if outcome:
            for atom in range(n):  # y_t <= x_t, atom by atom
                row = np.zeros(width)
                row[at(period, 3) + atom], row[at(period, 0) + atom] = 1, -1
                ub_rows.append(row)
                ub_rhs.append(0.0)
        if period == 0:
            continue
        move = moves[period]
        ones = np.ones(n)
        add({at(period, 0): ones, at(period - 1, 0): -ones, at(period, 1): -ones, at(period, 2): ones}, 0, 0)
        for atom in range(n):  # the atom-level version of the line above
            row = np.zeros(width)
            row[at(period, 0) + atom], row[at(period - 1, 0) + atom] = 1, -1
            row[at(period, 1) + atom], row[at(period, 2) + atom] = -1, 1
            eq_rows.append(row)
            eq_rhs.append(0.0)
            for moved, member in ((2, period - 1), (1, period)):  # leavers were in the atom, joiners are
                row = np.zeros(width)
                row[at(period, moved) + atom], row[at(member, 0) + atom] = 1, -1
                ub_rows.append(row)
                ub_rhs.append(0.0)
        add({at(period, 1): ones}, move.joined, move.joined)
        add({at(period, 2): ones}, move.left, move.left)
        if outcome:
            for atom in range(n):
                row = np.zeros(width)
                row[at(period, 3) + atom], row[at(period - 1, 3) + atom] = 1, -1
                row[at(period, 4) + atom], row[at(period, 5) + atom] = -1, 1
                row[at(period, 6) + atom], row[at(period, 7) + atom] = -1, 1
                eq_rows.append(row)
                eq_rhs.append(0.0)
                # joiners with the outcome are joiners who have it now, the others lack it now;
                # leavers with it are leavers who had it, the others lacked it
                for terms in (
                    [(4, period, 1), (1, period, -1)],
                    [(5, period, 1), (2, period, -1)],
                    [(4, period, 1), (3, period, -1)],
                    [(5, period, 1), (3, period - 1, -1)],
                    [(1, period, 1), (4, period, -1), (0, period, -1), (3, period, 1)],
                    [(2, period, 1), (5, period, -1), (0, period - 1, -1), (3, period - 1, 1)],
                ):
                    row = np.zeros(width)
                    for block, when, sign in terms:
                        row[at(when, block) + atom] += sign
                    ub_rows.append(row)
                    ub_rhs.append(0.0)
            add({at(period, 6): ones, at(period, 7): ones}, -np.inf, move.flipped)
    matrix = csr_array(np.vstack([np.array(eq_rows).reshape(len(eq_rows), width), np.array(ub_rows).reshape(len(ub_rows), width)]))
    lower = np.concatenate([eq_rhs, np.full(len(ub_rows), -np.inf)])
    upper = np.concatenate([eq_rhs, ub_rhs])
    costs = []
    for target in targets:
        period, mask, figure, since = (*target, SUBJECTS, None)[:4] if len(target) == 2 else (*target, None)[:4]
        weights = np.asarray(mask, dtype=float)
        cost = np.zeros(width)
        if since is None:
            terms = {
                SUBJECTS: [(at(period, 0), 1)],
                OUTCOME: [(at(period, 3), 1)],
                COMPLEMENT: [(at(period, 0), 1), (at(period, 3), -1)],
                JOINERS_WITH: [(at(period, 4), 1)],
                JOINERS_WITHOUT: [(at(period, 1), 1), (at(period, 4), -1)],
                LEAVERS_WITH: [(at(period, 5), 1)],
                LEAVERS_WITHOUT: [(at(period, 2), 1), (at(period, 5), -1)],
                SUBJECTS_CHANGE: [(at(period, 1), 1), (at(period, 2), -1)],
                OUTCOME_CHANGE: [(at(period, 3), 1), (at(period - 1, 3), -1)],
                COMPLEMENT_CHANGE: [(at(period, 1), 1), (at(period, 2), -1), (at(period, 3), -1), (at(period - 1, 3), 1)],
            }[figure]
        else:  # net changes since an earlier publication
            terms = {
                SUBJECTS_CHANGE: [(at(period, 0), 1), (at(since, 0), -1)],
                OUTCOME_CHANGE: [(at(period, 3), 1), (at(since, 3), -1)],
                COMPLEMENT_CHANGE: [(at(period, 0), 1), (at(since, 0), -1), (at(period, 3), -1), (at(since, 3), 1)],
            }[figure]
        for start, sign in terms:
            cost[start : start + n] += sign * weights
        costs.append(cost)
    return _bounds_of(matrix, lower, upper, costs)


def _bounds_of(matrix: csr_array, lower: np.ndarray, upper: np.ndarray, costs: list[np.ndarray]) -> list[tuple[float, float]]:
    """min and max of each target (a cost vector over the unknowns) over
    lower <= matrix x <= upper, x >= 0: one HiGHS model, only the objective changed per target."""
    import highspy

    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    rows, width = matrix.shape
    infinity = highs.getInfinity()
    model = highspy.HighsLp()
    model.num_col_, model.num_row_ = width, rows
    model.col_cost_ = np.zeros(width)
    model.col_lower_, model.col_upper_ = np.zeros(width), np.full(width, infinity)
    model.row_lower_ = np.where(np.isfinite(lower), lower, -infinity)
    model.row_upper_ = np.where(np.isfinite(upper), upper, infinity)
    columns = matrix.tocsc()
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.start_, model.a_matrix_.index_, model.a_matrix_.value_ = columns.indptr, columns.indices, columns.data
    highs.passModel(model)
    everything = np.arange(width, dtype=np.int32)
    out = []
    for cost in costs:
        highs.changeColsCost(width, everything, cost)
        bound = []
        for sense in (highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize):
            highs.changeObjectiveSense(sense)
            highs.run()
            status = highs.getModelStatus()
            if status == highspy.HighsModelStatus.kUnbounded:
                bound.append(math.inf)
                continue
            if status != highspy.HighsModelStatus.kOptimal:
                raise ValueError(f"the publications are inconsistent with the model: {highs.modelStatusToString(status)}")
            bound.append(round(highs.getInfo().objective_function_value, 6))
        out.append((bound[0], bound[1]))
    return out


def _key(row: pd.Series, dimensions: list[str]) -> tuple:
    """A row's identity: its grouping and its dimension values, with every kind of missing as None."""
    return (row.get("grouped_by"), *(None if pd.isna(row[d]) else row[d] for d in dimensions))


def _by_key(table: pd.DataFrame, dimensions: list[str]) -> dict[tuple, pd.Series]:
    return {_key(row, dimensions): row for _, row in table.iterrows()}


def true_tables(frame: pd.DataFrame, dimensions: list[str], margins: list[tuple[str, ...]]) -> pd.DataFrame:
    """Every entry of a release (its cells, then each margin; () is the grand total) with its true
    count, as the attacker's judge (not the attacker) knows it: what `hidden_entries` compares with."""
    tables = []
    for level in [tuple(dimensions), *margins]:
        label = ",".join(level) if level else "(total)"
        if level:
            counted = frame.groupby(list(level), dropna=False).size().rename("subjects").reset_index()
        else:
            counted = pd.DataFrame({"subjects": [len(frame)]})
        tables.append(counted.assign(grouped_by=label))
    return pd.concat(tables, ignore_index=True)


def hidden_entries(
    truth_tables: pd.DataFrame | list[pd.DataFrame], release: Release, atoms: pd.DataFrame
) -> list[dict]:
    """The entries of the true full table that the publication left out: what suppression must
    protect. Each is {"key", "row", "mask", "true"}; `mask` is the atoms the entry counts."""
    truth = pd.concat(truth_tables, ignore_index=True) if isinstance(truth_tables, list) else truth_tables
    published = _by_key(release.table, release.dimensions)
    hidden = Release(truth, release.dimensions, release.derive)
    return [
        {"key": _key(row, release.dimensions), "row": row, "mask": mask, "true": row["subjects"]}
        for row, mask in coverage(hidden, atoms)
        if _key(row, release.dimensions) not in published
    ]


def narrowest_hidden_interval(
    releases: list[Release], truths: list, atoms: pd.DataFrame, k: int, integer: bool = False
) -> list[dict]:
    """Every hidden entry whose true value is below k (a small cohort the publisher had to protect)
    with the attacker's [lo, hi] from all releases together, narrowest first. `truths[i]` is the true
    full table of `releases[i]`."""
    entries = [
        {"release": i, **e}
        for i, (release, truth) in enumerate(zip(releases, truths))
        for e in hidden_entries(truth, release, atoms)
        if e["true"] < k
    ]
    bounds = intervals(releases, atoms, [e["mask"] for e in entries], integer=integer)
    found = [
        {"release": e["release"], "key": e["key"], "true": e["true"], "lo": lo, "hi": hi}
        for e, (lo, hi) in zip(entries, bounds)
    ]
    return sorted(found, key=lambda f: f["hi"] - f["lo"])


def pinned(found: list[dict], protection: float) -> list[dict]:
    """The hidden entries the attacker narrows to an interval narrower than `protection`."""
    return [f for f in found if f["hi"] - f["lo"] < protection]


def who_moved(
    before: list[Release],
    after: list[Release],
    atoms: pd.DataFrame,
    change: int = +1,
    k: int = 50,
    carried_forward_possible: bool = True,
) -> set[int]:
    """Atom positions where the |change| subject(s) added (change > 0) or removed (change < 0)
    between two publications of the same releases can be, d_atom in {0, 1} with sum |change|.

    A row published in both with a different count gives the exact equation sum(d) = sign*(new - old).
    An unchanged row means sum(d) = 0 unless the publisher may carry a row forward while its true
    change is below k (`carried_forward_possible`), in which case it only says |sum(d)| <= k - 1."""
    if change == 0:
        raise ValueError("nobody moved: change must be non-zero")
    sign, n = (1 if change > 0 else -1), len(atoms)
    rows, lo, hi = [], [], []
    for old, new in zip(before, after):
        published = _by_key(new.table, new.dimensions)
        for row, mask in coverage(old, atoms):
            now = published.get(_key(row, old.dimensions))
            if now is None:
                continue
            delta = sign * (float(now["subjects"]) - float(row["subjects"]))
            rows.append(mask)
            lo.append(delta)
            hi.append(k - 1 if delta == 0 and carried_forward_possible else delta)
    a = np.vstack([*rows, np.ones(n)]).astype(float)
    lo, hi = np.array([*lo, abs(change)], dtype=float), np.array([*hi, abs(change)], dtype=float)
    keep = (lo > 0) | (hi < abs(change))  # 0 <= sum(d) <= |change| holds anyway: drop what says no more
    keep[-1] = True
    a, lo, hi = a[keep], lo[keep], hi[keep]
    if abs(change) == 1:  # d is a unit vector e_j: check every j at once, exactly
        return set(np.flatnonzero(((a >= lo[:, None]) & (a <= hi[:, None])).all(axis=0)).tolist())
    # Atoms covered by the same rows are interchangeable: solve for z_class = how many of the moved
    # subjects are in each class, repeatedly maximising those in classes not yet seen to be feasible.
    classes, which = np.unique(a.T, axis=0, return_inverse=True)
    which = which.ravel()
    constraint = LinearConstraint(csr_array(classes.T), lo, hi)
    sizes, seen = np.bincount(which).astype(float), np.zeros(len(classes), dtype=bool)
    while True:
        res = milp(-(~seen).astype(float), constraints=constraint, integrality=np.ones(len(classes)),
                   bounds=Bounds(0, np.minimum(sizes, abs(change))))
        if res.status != 0 or res.fun > -0.5:
            return set(np.flatnonzero(seen[which]).tolist())
        seen |= res.x > 0.5


def revealed_attributes(atoms: pd.DataFrame, feasible: set[int]) -> dict[str, object]:
    """The attributes shared by every atom the moved subject can be in: read off by the attacker."""
    if not feasible:
        return {}
    where = atoms.iloc[sorted(feasible)]
    return {col: where[col].iloc[0] for col in atoms.columns if where[col].nunique(dropna=False) == 1}


def outcome_from_rate(rate, subjects):
    """A published rate (mean of a binary outcome) times its cohort size gives back the outcome count."""
    out = np.rint(np.asarray(rate, dtype=float) * np.asarray(subjects, dtype=float))
    return int(out) if np.ndim(out) == 0 else pd.Series(out.astype(int), index=getattr(subjects, "index", None))


def homogeneous_or_small(
    table: pd.DataFrame, count_col: str = "subjects", *, outcome_col: str = "outcome", min_numerator: int = 10
) -> pd.DataFrame:
    """Published rows whose outcome count discloses something about individuals: nobody or everybody
    in the cohort has the outcome (attribute disclosure), or the outcome count or its complement is a
    small numerator (1..min_numerator-1)."""
    rows = table[table[outcome_col].notna()]
    o, n = rows[outcome_col].astype(float), rows[count_col].astype(float)

    def small(v: pd.Series) -> pd.Series:
        return (v >= 1) & (v <= min_numerator - 1)

    return rows[(o == 0) | (o == n) | small(o) | small(n - o)]


__all__ = [
    "Release", "Moves", "SUBJECTS_CHANGE", "OUTCOME_CHANGE", "COMPLEMENT_CHANGE", "COMPLEMENT", "JOINERS_WITH", "JOINERS_WITHOUT", "LEAVERS_WITH", "LEAVERS_WITHOUT", "coverage", "intervals", "intervals_over_time", "hidden_entries", "narrowest_hidden_interval", "pinned",
    "who_moved", "revealed_attributes", "homogeneous_or_small", "outcome_from_rate",
]
