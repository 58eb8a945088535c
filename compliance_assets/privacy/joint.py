"""Releases of one population audited together, at their common refinement.

Two releases of the same feature table share their subjects: one grouped by age bands 0-17,
18-39, … and another by 0-16, 17-38, … together publish the 17-year-olds, although each alone is
safe. The common refinement is the grouping by every dimension either release uses (both
bandings at once: its cells are the slices between their bounds), and each shown row of either
release is an equation over those cells. The attacker's linear programme over all of them must
not bound any cell, or any withheld entry of either release, under k narrower than the
protection level. The other releases' rows are what the ledger says they last showed, recounted
on today's data: a row that still holds is an equation, one that moved by fewer than k subjects
(carried forward) a range, one that moved further says nothing about today.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from compliance_assets.privacy.intervals import EquationSystem, unit_rows
from compliance_assets.privacy.suppression import components_of

GROUPED_BY, SUBJECTS, TOTAL_LABEL = "grouped_by", "subjects", "(total)"


@dataclass(frozen=True)
class Neighbour:
    """Another release of the same feature table, as the ledger last recorded it (its entries:
    dimensions, grouped_by, subjects, shown)."""

    name: str
    dims: list[str]
    entries: pd.DataFrame


@dataclass(frozen=True)
class JointTarget:
    release: str
    grouped_by: str
    key: dict[str, object]
    subjects: int
    low: float
    high: float
    cells: np.ndarray


def refinement_dims(dims: Sequence[str], neighbours: Sequence[Neighbour]) -> list[str]:
    return list(dict.fromkeys([*dims, *(d for n in neighbours for d in n.dims)]))


def members(refinement: pd.DataFrame, rows: pd.DataFrame, dims: Sequence[str]) -> list[np.ndarray]:
    """For every row (a cell or margin of a release over `dims`), the refinement cells under it."""
    out: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(rows)
    labels = rows[GROUPED_BY].astype("string")
    for label in labels.dropna().unique():
        level = [] if label == TOTAL_LABEL else [d for d in label.split(",") if d in dims]
        positions = np.flatnonzero((labels == label).to_numpy())
        if not level:
            for position in positions:
                out[position] = np.arange(len(refinement))
            continue
        codes = refinement.groupby(level, dropna=False, sort=False, observed=True).ngroup().to_numpy()
        keys = refinement[level].assign(_code=codes).drop_duplicates("_code")
        wanted = rows.iloc[positions][level].astype({d: refinement[d].dtype for d in level}).reset_index(drop=True)
        found = wanted.merge(keys, how="left", on=level)["_code"].to_numpy(dtype=float, na_value=np.nan)
        order = np.argsort(codes, kind="stable")
        starts = np.searchsorted(codes[order], np.arange(codes.max() + 2 if len(codes) else 1))
        for position, code in zip(positions, found, strict=True):
            out[position] = np.zeros(0, dtype=np.int64) if np.isnan(code) else order[starts[int(code)] : starts[int(code) + 1]]
    return out


def joint_targets(
    refinement: pd.DataFrame,
    own: tuple[str, list[str], pd.DataFrame],
    neighbours: Sequence[Neighbour],
    k: int,
    protection: float,
    ranges: Mapping[int, tuple[float, float]] | None = None,
) -> list[JointTarget]:
    """Cells of the refinement and withheld entries of any release under k that the shown rows of
    all the releases bound narrower than `protection`, and that the other releases alone do not.
    `own` is (name, dims, entries with a `shown` column); `ranges` bounds own rows carried forward."""
    counts = refinement[SUBJECTS].to_numpy(dtype=float)
    own_name, own_dims, own_entries = own
    own_members = members(refinement, own_entries, own_dims)
    equalities, bounded, targets = [], [], []
    for number, (shown, cells) in enumerate(zip(own_entries["shown"].to_numpy(dtype=bool), own_members, strict=True)):
        if shown and (ranges or {}).get(number) is not None:
            low, high = ranges[number]
            bounded.append((cells, low, high))
        elif shown:
            equalities.append((cells, counts[cells].sum()))
        elif 0 < counts[cells].sum() < k:
            targets.append((own_name, own_entries.iloc[number], own_dims, cells))
    others_equalities, others_bounded = [], []
    for neighbour in neighbours:
        for (_, row), cells in zip(neighbour.entries.iterrows(), members(refinement, neighbour.entries, neighbour.dims), strict=True):
            truth = counts[cells].sum()
            if not row["shown"]:
                if 0 < truth < k:
                    targets.append((neighbour.name, row, neighbour.dims, cells))
                continue
            shown = float(row[SUBJECTS])
            if shown == truth:
                others_equalities.append((cells, truth))
            elif abs(shown - truth) < k:
                others_bounded.append((cells, max(shown - (k - 1), 0.0), shown + (k - 1)))
    for level in _crossed_levels(own_entries, own_dims, neighbours, list(refinement.columns.drop(SUBJECTS))):
        codes = refinement.groupby(list(level), dropna=False, sort=False, observed=True).ngroup().to_numpy() if level else np.zeros(len(counts), dtype=np.int64)
        sizes = np.bincount(codes, weights=counts)
        for code in np.flatnonzero((sizes > 0) & (sizes < k)):
            cells = np.flatnonzero(codes == code)
            targets.append((None, _row(refinement, cells[0], level), list(level), cells))
    narrow = _narrow(len(counts), counts, equalities + others_equalities, bounded + others_bounded, targets, protection)
    if not narrow:
        return []
    alone = set(_narrow(len(counts), counts, others_equalities, others_bounded, [targets[i] for i in narrow], protection, positions=narrow))
    out = []
    for index in narrow:
        if index in alone:
            continue
        release, row, dims, cells = targets[index]
        label = str(row[GROUPED_BY]) if GROUPED_BY in row else ",".join(dims)
        low, high = narrow[index]
        key = {d: row[d] for d in dims if d in row and pd.notna(row[d])}
        out.append(JointTarget(release or "(common refinement)", label, key, int(counts[cells].sum()), low, high, cells))
    return out


def _levels_of(entries: pd.DataFrame, dims: Sequence[str]) -> set[tuple[str, ...]]:
    labels = entries[GROUPED_BY].astype("string").dropna().unique()
    return {() if label == TOTAL_LABEL else tuple(d for d in label.split(",") if d in dims) for label in labels}


def _crossed_levels(own_entries, own_dims, neighbours, every) -> list[tuple[str, ...]]:
    """The groupings whose cohorts two releases together can isolate: each level of ours joined
    with each level of a neighbour's (0-17 beside 0-16 isolates a year of age in every group the
    two share), and the refinement's cells."""
    ours = _levels_of(own_entries, own_dims)
    crossed = {tuple(every)}
    for neighbour in neighbours:
        for theirs in _levels_of(neighbour.entries, neighbour.dims):
            for mine in ours:
                crossed.add(tuple(d for d in every if d in set(mine) | set(theirs)))
    return sorted(crossed, key=lambda level: (-len(level), level))


def _row(refinement: pd.DataFrame, cell: int, level: Sequence[str]) -> pd.Series:
    row = refinement.iloc[cell][list(level)].copy()
    row[GROUPED_BY] = ",".join(level) if level else TOTAL_LABEL
    return row


def _narrow(size, counts, equalities, bounded, targets, protection, positions=None) -> dict[int, tuple[float, float]]:
    """{target index: (low, high)} for targets whose feasible interval is narrower than `protection`."""
    positions = list(range(len(targets))) if positions is None else list(positions)
    if not targets:
        return {}
    constraints = [cells for cells, _ in equalities if len(cells)] + [cells for cells, _, _ in bounded if len(cells)]
    components = components_of(size, constraints)
    constrained = set(components[np.concatenate(constraints)].tolist()) if constraints else set()
    groups: dict[frozenset, list[int]] = {}
    for position, (_, _, _, cells) in zip(positions, targets, strict=True):
        if len(cells) and constrained.intersection(components[cells].tolist()):
            groups.setdefault(frozenset(components[cells].tolist()), []).append(position)
    lookup = dict(zip(positions, targets, strict=True))
    found = {}
    for wanted, numbers in groups.items():
        rows, equal = unit_rows([e for e in equalities if len(e[0])], [b for b in bounded if len(b[0])])
        system = EquationSystem(components, wanted, rows, equal, counted=np.array([len(columns) > 1 for columns, _, _, _ in rows], dtype=bool), truth=counts)
        cell_sets = [system.index[lookup[n][3]] for n in numbers]
        for number, (low, high) in zip(numbers, system.ranges(cell_sets, counts[system.variables], protection, integer=True), strict=True):
            if high - low < protection:
                found[number] = (low, high)
    return found
