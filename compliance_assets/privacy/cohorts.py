"""Cohort release with k-anonymity counted on distinct subjects, not rows."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from compliance_assets.privacy.ledger import ANCHOR, COUNTED, entry_keys
from compliance_assets.privacy.joint import Neighbour, joint_targets, members, refinement_dims
from compliance_assets.privacy.intervals import Doubt, attacker_intervals, intervals_before, narrow_intervals, protect, shared_outcomes, within_both
from compliance_assets.privacy.republication import (
    KNOWN,
    LARGEST,
    Before,
    PROVEN,
    SECOND,
    History,
    anchor_records,
    boxes,
    carriable,
    carried_ranges,
    change_lattice,
    change_tables,
    changes_to_carry,
    dominated_changes,
    drifted,
    gap_lattice,
    gaps_to_carry,
    groups_read_since_last,
    read_since_older,
    with_gaps,
    held_back,
    magnitude_changes,
    match_history,
    measure_values,
    moved_ranges,
    movement_since,
    other_changes,
    other_sums,
    outcome_boxes,
    outcome_changes,
    outcome_moves_held,
    outcomes_read_through_boxes,
    same_as_shown,
    shown_again_too_soon,
    shown_numerators,
)
from compliance_assets.privacy.suppression import Lattice, build_lattice, exposures, grouped_dominance, mark_sensitive, small
from compliance_assets.privacy.window import WINDOW, Publication, before_of, window_exposures

SUBJECTS = "subjects"


@dataclass(frozen=True)
class MeasureSpec:
    aggregation: str  # count_subjects | sum | mean
    column: str | None = None


GROUPED_BY = "grouped_by"
GRAND_TOTAL = "(total)"
AGGREGATIONS = ("count_subjects", "sum", "mean")


class CohortSource(Protocol):
    """Where a release and its audits count subjects: a frame in memory (`FrameSource`) or a
    warehouse table that groups in SQL (`privacy.sql_source.SqlSource`). Both give each level's
    table (its dimensions, measures and distinct `subjects`, the dimensions it rolls up present
    but empty, a `grouped_by` label) in `groupby(sort=True)` order, and each detailed cell's
    total, largest and second-largest contribution of a subject to a column (the p % rule)."""

    def level_tables(
        self, dims: list[str], levels: Sequence[Sequence[str]], subject: str, measures: Mapping[str, MeasureSpec]
    ) -> list[pd.DataFrame]: ...

    def top_contributions(self, dims: list[str], subject: str, column: str) -> pd.DataFrame: ...


@dataclass(frozen=True)
class FrameSource:
    frame: pd.DataFrame

    def level_tables(self, dims, levels, subject, measures) -> list[pd.DataFrame]:
        return level_tables(self.frame, dims, levels, subject, measures)

    def top_contributions(self, dims: list[str], subject: str, column: str) -> pd.DataFrame:
        """Per detailed cell: the sum of each subject's |contribution| to `column`, and the two largest."""
        per_subject = self.frame.groupby([*dims, subject], dropna=False, observed=True, sort=False)[column].sum().abs().rename(VALUE).reset_index()
        ranked = per_subject.sort_values(VALUE, ascending=False, kind="stable")
        rank = ranked.groupby(dims, dropna=False, observed=True, sort=False).cumcount()
        grouped = ranked.groupby(dims, dropna=False, observed=True, sort=True)
        out = grouped[VALUE].sum().rename(TOTAL).to_frame()
        out[FIRST] = ranked.loc[rank == 0].groupby(dims, dropna=False, observed=True, sort=True)[VALUE].sum()
        out[SECOND] = ranked.loc[rank == 1].groupby(dims, dropna=False, observed=True, sort=True)[VALUE].sum()
        return out.fillna(0.0).reset_index()


VALUE, TOTAL, FIRST, SECOND = "_value", "_total", "_first", "_second"


def as_source(source: pd.DataFrame | CohortSource) -> CohortSource:
    return FrameSource(source) if isinstance(source, pd.DataFrame) else source


def check_measures(measures: Mapping[str, MeasureSpec]) -> None:
    for name, spec in measures.items():
        if spec.aggregation not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation '{spec.aggregation}' for measure '{name}'")


def level_label(level: Sequence[str]) -> str:
    """How a row names the dimensions it is grouped by; margins leave the others empty."""
    return ",".join(level) if level else GRAND_TOTAL


@dataclass(frozen=True)
class CohortRelease:
    released: pd.DataFrame
    suppressed: pd.DataFrame  # dimensions, grouped_by, subjects, suppression (primary | secondary)
    k: int
    detail_level: str
    entries: pd.DataFrame | None = None  # every entry decided on: shown values, shown, carried (the ledger's rows)

    @property
    def stats(self) -> dict[str, int]:
        detail = self.released[self.released[GROUPED_BY] == self.detail_level]
        sizes = self.released[SUBJECTS]
        hidden_detail = self.suppressed[self.suppressed[GROUPED_BY] == self.detail_level]
        kinds = self.suppressed["suppression"].value_counts()
        return {
            "cohorts_total": len(self.released) + len(self.suppressed),
            "cohorts_released": len(detail),
            "margins_released": len(self.released) - len(detail),
            "cohorts_suppressed_primary": int(kinds.get("primary", 0)),
            "cohorts_suppressed_secondary": int(kinds.get("secondary", 0)),
            "subjects_covered": int(detail[SUBJECTS].sum()),
            "subjects_suppressed": int(hidden_detail[SUBJECTS].sum()),
            "min_released_cohort_size": int(sizes.min()) if len(sizes) else 0,
            "rows_carried_forward": int(self.entries["carried"].sum()) if self.entries is not None else 0,
        }


def count_subjects(frame: pd.DataFrame, dimensions: Sequence[str], subject: str) -> pd.DataFrame:
    """Distinct subjects per cohort; missing dimension values form a cohort of their own."""
    grouped = frame.groupby(list(dimensions), dropna=False, observed=True, sort=True)
    return grouped[subject].nunique().rename(SUBJECTS).reset_index()


def release_levels(
    dimensions: Sequence[str], margins: Sequence[Sequence[str]], protected: Sequence[Sequence[str]]
) -> tuple[list[tuple[str, ...]], int]:
    """The lattice's levels (detail first, then published margins, then margins other tables
    reveal) and how many of them this release publishes."""
    levels: list[tuple[str, ...]] = [tuple(dimensions)]
    for group in (margins, protected):
        for level in group:
            if set(level) - set(dimensions):
                raise ValueError(f"margin {list(level)} uses dimensions that are not among {list(dimensions)}")
            ordered = tuple(d for d in dimensions if d in level)
            if ordered not in levels:
                levels.append(ordered)
        if group is margins:
            published = len(levels)
    return levels, published


@dataclass(frozen=True)
class DisclosureRules:
    """What a release may reveal beyond k distinct subjects per shown row.

    `protection`: the narrowest interval an attacker's linear programme may leave around a hidden
    entry under k (default k: the attacker cannot tell the entry is small). `outcomes`: measures
    that count or average a sensitive yes/no outcome (a sum or mean of a 0/1 column); a row whose
    members all share the outcome or all lack it, or whose outcome count or its complement is 1 to
    `min_numerator` - 1, is withheld like a small cohort, and so is such a remainder under a total.
    `magnitudes`: sums or means of a sensitive magnitude; a row (or a remainder) where the total
    less its two largest contributions is under `p_percent` of the largest is withheld (the p %
    rule: the second contributor would estimate the largest within p %). `window`: how many of the
    ledger's earlier publications a release that shows a row again is read together with."""

    protection: int | None = None
    outcomes: tuple[str, ...] = ()
    min_numerator: int = 10
    magnitudes: tuple[str, ...] = ()
    p_percent: float = 10.0
    window: int = WINDOW


def release_cohorts(
    source: pd.DataFrame | CohortSource,
    dimensions: Sequence[str],
    subject: str,
    measures: Mapping[str, MeasureSpec],
    k: int,
    margins: Sequence[Sequence[str]] = (),
    protected: Sequence[Sequence[str]] = (),
    rules: DisclosureRules = DisclosureRules(),
    previous: pd.DataFrame | None = None,
    neighbours: Sequence[Neighbour] = (),
    earlier: Sequence[Publication] = (),
) -> CohortRelease:
    """Aggregates `source` per cohort and per published margin, and keeps only entries that are
    at least `k` distinct subjects, that no combination of published totals gives away exactly or
    within the protection interval, and whose outcome measures keep their rule.

    `protected` margins are published elsewhere (another table on the same source sums to them):
    they are not in this release but the attacker is assumed to know them. `previous` is the
    ledger's last publication of this release (`ledger.previous_entries`): the release then
    follows the change rule of `republication`, carrying rows forward rather than letting two
    publications differ by fewer than k subjects. `neighbours` are the other releases of the same
    feature table as the ledger last recorded them: the release is protected together with them at
    their common refinement (`joint`), hiding more of its own rows where the two together would
    bound a cohort under k. `earlier` are the ledger's last publications, oldest first
    (`window.ledger_publications`; the last of them is `previous`): read together with this one,
    they may bound no withheld entry under k narrower than they did without it (`window`), and rows
    shown again are withheld until they do not.
    """
    if k < 2:
        raise ValueError(f"k must be at least 2, got {k}")
    dims = list(dimensions)
    levels, published, tables, lattice = _tabulate(source, dims, subject, measures, margins, protected, previous, earlier)
    with_measure_rules(lattice, tables, measures, rules, source, dims, subject)
    others = other_measures(measures, rules)
    lattice.others = [other_sums(table, others) for table in tables]
    history = match_history(previous, tables[:published], dims, outcome_kinds(measures, rules), _magnitude_kinds(measures, rules), others) if previous is not None else None
    carried = [np.zeros(len(v), dtype=bool) for v in lattice.values[:published]]
    ranges: dict[tuple[int, int], tuple[float, float]] = {}
    other_values = [measure_values(tables[level], others) for level in range(published)]
    if history is not None:
        magnitudes = [_magnitude_state(lattice, tables, measures, rules, level) for level in range(published)]
        carried, kept_hidden = held_back(history, lattice.values[:published], k, lattice.outcomes[:published], rules.min_numerator, magnitudes, rules.p_percent, other_values)
        for level in range(published):
            lattice.suppressed[level] |= carried[level] | kept_hidden[level] | (lattice.values[level] == 0)
    refinement = _refinement(source, dims, subject, neighbours)
    moved = moved_ranges(lattice, history) if history is not None else {}
    movement = movement_since(lattice, history) if history is not None else None
    doubt = _doubt(lattice, history)
    befores = [before_of(publication, tables[:published], dims) for publication in earlier[:-1]] if history is not None else []
    as_before = _as_before(lattice, history, other_values) if history is not None else []
    while True:
        ranges = _settle(lattice, history, carried, k, rules.protection or k, moved, movement, doubt, befores, as_before)
        if refinement is not None and _hide_for_neighbours(lattice, tables[:published], carried, ranges, refinement, dims, neighbours, k, rules.protection or k):
            continue
        if history is None or not earlier or not _hide_for_window(lattice, tables[:published], carried, history, earlier, dims, k, rules.protection or k):
            break
    ordered = [*dims, GROUPED_BY, *[m for m in measures if m != SUBJECTS], SUBJECTS]
    known_after = proven_after = {}
    if history is not None:
        known_after = _known_after(lattice, history, ranges, moved, movement, k)
        seen, promise = doubt.view(lattice, k)
        proven_after = _known_after(seen, history.as_proven(), ranges, doubt.known_before, doubt.movement, k, promise)
    outcomes_after = outcome_boxes(lattice, history, within_both(known_after, ranges), carried, k) if history is not None else []
    released, suppressed, entries = [], [], []
    for index in range(published):
        table = tables[index]
        hidden = lattice.suppressed[index]
        carry = carried[index]
        shown_table = _with_carried(table, carry, history, index, ordered) if carry.any() else table
        released.append(shown_table.loc[~hidden | carry, ordered])
        withheld = hidden & ~carry
        listed = withheld & (lattice.values[index] > 0)
        suppressed.append(
            table.loc[listed, [*dims, GROUPED_BY, SUBJECTS]].assign(suppression=np.where(lattice.sensitive[index][listed], "primary", "secondary"))
        )
        entry = shown_table[ordered].copy()
        if history is not None:
            still_hidden = withheld & ~history.shown[index] & (history.rows[index] >= 0) & (np.abs(lattice.values[index] - history.reference[index]) < k)
            entry[SUBJECTS] = np.where(still_hidden, history.reference[index], entry[SUBJECTS].to_numpy(dtype=np.int64))
        truth = {SUBJECTS: table[SUBJECTS].to_numpy(dtype=np.int64), **{name: lattice.outcomes[index][:, i] for i, name in enumerate(rules.outcomes)}}
        for i, name in enumerate(rules.magnitudes):
            truth[name], truth[f"{name}{LARGEST}"], truth[f"{name}{SECOND}"] = (lattice.dominance[index][:, i, part] for part in range(3))
        truth.update({name: lattice.others[index][:, i] for i, name in enumerate(others)})
        counted = [{name: values[row].item() for name, values in truth.items()} for row in range(len(table))]
        if history is not None:
            for row, box in enumerate(boxes(known_after, ranges, index, len(table))):
                if box is not None and (hidden[row] or carry[row]):
                    counted[row][KNOWN] = box
            unchanged = doubt.same[index] & ~hidden
            for row, box in enumerate(boxes(proven_after, ranges, index, len(table))):
                if box is not None and (hidden[row] or carry[row] or unchanged[row]):
                    counted[row][PROVEN] = box
            for row in np.flatnonzero(hidden | carry):
                for i, name in enumerate(rules.outcomes):
                    if np.isfinite(outcomes_after[index][row, i]).all():
                        counted[row][f"{name}{KNOWN}"] = [float(v) for v in outcomes_after[index][row, i]]
        anchors = anchor_records(history, index, withheld, rules.outcomes, rules.magnitudes, others) if history is not None else [None] * len(table)
        entries.append(entry.assign(shown=~withheld, carried=carry, **{COUNTED: counted, ANCHOR: anchors}))
    return CohortRelease(
        released=pd.concat(released, ignore_index=True),
        suppressed=pd.concat(suppressed, ignore_index=True),
        k=k,
        detail_level=level_label(dims),
        entries=pd.concat(entries, ignore_index=True),
    )


def _settle(
    lattice: Lattice,
    history: History | None,
    carried: list[np.ndarray],
    k: int,
    protection: int,
    moved,
    movement,
    doubt: Doubt | None,
    befores: Sequence[Before] = (),
    as_before: Sequence[np.ndarray] = (),
) -> dict:
    """Protection intervals and the change audit, in turn until both hold (each only hides or
    withholds more, so it ends): rows carried whose ranges give an entry away are withheld, and
    rows whose change must be held back, since the last publication or since an older one
    (`befores`), are carried, or withheld when they moved by k or more. A row carried with
    figures that have not moved (`as_before`) shows the truth: the change audits read it as
    exact, as the attacker does. Updates `lattice` and `carried`; returns the carried rows' ranges."""
    while True:
        ranges = carried_ranges(history, carried, k) if history is not None else {}
        stuck = [(i.level, i.entry) for i in protect(lattice, k, protection, ranges, moved, movement, doubt)]
        if stuck and ranges:
            for level, entry in [key for key in stuck if key in ranges] or list(ranges):
                carried[level][entry] = False
            continue
        if history is None:
            return ranges
        fresh = [~suppressed | (level < len(carried) and carried[level] & as_before[level]) for level, suppressed in enumerate(lattice.suppressed)]
        more = changes_to_carry(lattice, history, fresh, k, carried)
        if befores:
            more = [now | gap for now, gap in zip(more, gaps_to_carry(lattice, befores, history, fresh, k, carried), strict=True)]
        shown_again = [held & carried[level] for level, held in enumerate(more)]  # carried with the truth: only withholding hides them, as below
        more = [held & ~lattice.suppressed[level] for level, held in enumerate(more)]
        if not any(m.any() for m in [*more, *shown_again]):
            return ranges
        for level in range(len(carried)):
            carry = more[level] & carriable(history, level, lattice.values[level], lattice.outcomes[level], k) & ~as_before[level]
            carried[level] = (carried[level] & ~shown_again[level]) | carry
            lattice.suppressed[level] |= more[level]


def _as_before(lattice: Lattice, history: History, others: list[np.ndarray]) -> list[np.ndarray]:
    """Per published level, rows that, carried, would show the truth: their figures now are the
    ones the last publication showed, measures no rule judges included (`others`: their values)."""
    return [same & ~drifted(history.anchors[level].others, others[level]) for level, same in enumerate(same_as_shown(lattice, history))]


def current_publication(
    tables: Sequence[pd.DataFrame],
    shown: Sequence[np.ndarray],
    values: Sequence[np.ndarray],
    truths: Sequence[np.ndarray],
    carried: Sequence[np.ndarray],
    dims: list[str],
    outcomes: Sequence[np.ndarray],
    outcome_truths: Sequence[np.ndarray],
) -> Publication:
    """A publication's entries over its published levels as `window` reads them; `outcomes` and
    `outcome_truths` per level (entries × outcome measures), the counts shown and true."""
    return Publication(
        labels=np.concatenate([table[GROUPED_BY].astype(str).to_numpy(dtype=object) for table in tables]),
        keys=np.concatenate([entry_keys(table, dims).astype(str).to_numpy(dtype=object) for table in tables]),
        shown=np.concatenate(shown),
        values=np.concatenate([np.where(show, value, np.nan) for show, value in zip(shown, values, strict=True)]),
        truths=np.concatenate([np.asarray(t, dtype=float) for t in truths]),
        carried=np.concatenate(carried),
        outcomes=np.concatenate([np.where(show[:, None], np.asarray(o, dtype=float), np.nan) for show, o in zip(shown, outcomes, strict=True)]),
        outcome_truths=np.concatenate([np.asarray(o, dtype=float) for o in outcome_truths]),
    )


def _hide_for_window(lattice: Lattice, tables: Sequence[pd.DataFrame], carried: list[np.ndarray], history: History, earlier: Sequence[Publication], dims: list[str], k: int, protection: int) -> bool:
    """Withholds rows when this publication, read with the earlier ones, bounds a withheld entry
    under k too narrowly: first the rows that show their own figures again (withheld or carried
    last time), else those whose figures changed, else every row shown with its own figures,
    else every row shown. False when nothing is bounded too narrowly."""
    shown = [~lattice.suppressed[level] | carried[level] for level in range(len(tables))]
    values = [np.where(carried[level], history.reference[level], lattice.values[level]).astype(float) for level in range(len(tables))]
    outcomes = [np.where(carried[level][:, None], history.outcomes[level], lattice.outcomes[level]) for level in range(len(tables))]
    current = current_publication(tables, shown, values, lattice.values[: len(tables)], carried, dims, outcomes, lattice.outcomes[: len(tables)])
    if not window_exposures(earlier, current, dims, k, protection, lattice.min_numerator > 0):
        return False
    fresh = [shown[level] & ~carried[level] for level in range(len(tables))]
    again = [fresh[level] & ~history.exact[level] for level in range(len(tables))]
    changed = [fresh[level] & history.exact[level] & (lattice.values[level] != history.reference[level]) for level in range(len(tables))]
    hide = next(choice for choice in (again, changed, fresh, shown) if any(mask.any() for mask in choice))
    for level, mask in enumerate(hide):
        lattice.suppressed[level] |= mask
        carried[level] &= ~mask
    return True


def _known_after(seen: Lattice, history: History, ranges, known_before, movement, k: int, promise=None) -> dict[tuple[int, int], tuple[float, float]]:
    """What the attacker knows after this publication of each entry it does not show with the
    truth, for the ledger to keep (`republication.boxes`): the ranges the joins and leaves leave,
    and for a detailed cell known before, its interval in the attacker's programme over this
    release, the ranges and the moves' one budget, which is narrower when the rows shown say where
    the movers went. For the attacker who cannot tell a row shown unchanged from a carried one,
    `seen` is the lattice as it reads it (`Doubt.view`), `history` what it could prove
    (`History.as_proven`) and `promise` the ranges of the rows shown unchanged, which it bounds
    too (`PROVEN`)."""
    promise = promise or {}
    known = within_both(moved_ranges(seen, history, ~seen.suppressed[0]), promise)
    wanted = {(0, int(cell)) for cell in np.flatnonzero(seen.suppressed[0] & ~np.isnan(history.bounds[0][:, 0]))}
    wanted |= {key for key in promise if key[0] == 0}
    if wanted:
        for interval in attacker_intervals(seen, k, within_both(within_both(ranges, promise), known_before), None, movement, wanted):
            known = within_both(known, {(interval.level, interval.entry): (interval.low, interval.high)})
    return known


def _doubt(lattice: Lattice, history: History | None) -> Doubt | None:
    """The attacker who cannot tell a row shown unchanged from a carried one, with what it could
    prove before this publication (`History.as_proven`)."""
    if history is None:
        return None
    proven = history.as_proven()
    return Doubt(same_as_shown(lattice, history), moved_ranges(lattice, proven), movement_since(lattice, proven))


def _magnitude_kinds(measures: Mapping[str, MeasureSpec], rules: DisclosureRules) -> dict[str, bool]:
    """Each magnitude measure under the p % rule, and whether it is a mean rather than a sum."""
    return {name: measures[name].aggregation == "mean" for name in rules.magnitudes}


def _magnitude_state(lattice: Lattice, tables: Sequence[pd.DataFrame], measures: Mapping[str, MeasureSpec], rules: DisclosureRules, level: int) -> np.ndarray:
    """(entries × magnitude measures × [sum, largest, second]) of a level as it is now: the sum a
    fresh row would show (a mean times its subjects) and its two largest contributions."""
    state = lattice.dominance[level].copy()
    for i, name in enumerate(rules.magnitudes):
        values = tables[level][name].astype("Float64").fillna(0).to_numpy(dtype=float)
        state[:, i, 0] = values * tables[level][SUBJECTS].to_numpy(dtype=float) if measures[name].aggregation == "mean" else values
    return state


def other_measures(measures: Mapping[str, MeasureSpec], rules: DisclosureRules) -> dict[str, bool]:
    """The measures no measure rule judges (of columns not sensitive), each with whether it is a
    mean: their changes between publications are held to the change rule all the same, row by row
    (`republication.drifted`) and through the totals above them (`change_lattice`)."""
    return {name: spec.aggregation == "mean" for name, spec in measures.items() if name != SUBJECTS and name not in rules.outcomes and name not in rules.magnitudes}


def outcome_kinds(measures: Mapping[str, MeasureSpec], rules: DisclosureRules) -> dict[str, bool]:
    """Each outcome measure under the rules, and whether it is a mean (a rate) rather than a count."""
    return {name: measures[name].aggregation == "mean" for name in rules.outcomes}


def _refinement(source, dims: list[str], subject: str, neighbours: Sequence[Neighbour]) -> pd.DataFrame | None:
    """The common refinement's cells with their subjects, when other releases share the population."""
    if not neighbours:
        return None
    every = refinement_dims(dims, neighbours)
    return as_source(source).level_tables(every, [every], subject, {})[0].drop(columns=GROUPED_BY)


def own_entries(tables: Sequence[pd.DataFrame], shown: Sequence[np.ndarray], dims: list[str]) -> pd.DataFrame:
    """The release's entries over its published levels, in level order, with whether each is shown."""
    return pd.concat([table[[*dims, GROUPED_BY]].assign(shown=mask) for table, mask in zip(tables, shown, strict=True)], ignore_index=True)


def _hide_for_neighbours(lattice, tables, carried, ranges, refinement, dims, neighbours, k, protection) -> bool:
    """Hides the smallest of our shown entries that overlaps the first cohort this release and its
    neighbours together bound too narrowly, or a shown row of theirs over it (the difference of
    two overlapping rows is what bounds it); False when there is none (or none of ours to hide)."""
    shown = [~lattice.suppressed[level] | carried[level] for level in range(len(tables))]
    entries = own_entries(tables, shown, dims)
    offsets = np.cumsum([0, *[len(t) for t in tables]])
    carried_at = {int(offsets[level] + entry): bounds for (level, entry), bounds in ranges.items() if level < len(tables)}
    targets = joint_targets(refinement, ("this release", dims, entries), neighbours, k, protection, carried_at)
    if not targets:
        return False
    cells_under = members(refinement, entries, dims)
    hit = set(targets[0].cells.tolist())
    for neighbour in neighbours:  # a shown row of theirs over the cohort ties ours that overlap it
        for shown_row, cells in zip(neighbour.entries["shown"].to_numpy(dtype=bool), members(refinement, neighbour.entries, neighbour.dims), strict=True):
            if shown_row and hit.intersection(cells.tolist()):
                hit |= set(cells.tolist())
    candidates = [
        (int(lattice.values[level][entry]), level, entry)
        for level in range(len(tables))
        for entry in np.flatnonzero(shown[level])
        if hit.intersection(cells_under[int(offsets[level] + entry)].tolist())
    ]
    if not candidates:
        return False
    _, level, entry = min(candidates)
    lattice.suppressed[level][entry] = True
    carried[level][entry] = False
    return True


def with_measure_rules(
    lattice: Lattice,
    tables: Sequence[pd.DataFrame],
    measures: Mapping[str, MeasureSpec],
    rules: DisclosureRules,
    source: pd.DataFrame | CohortSource,
    dims: list[str],
    subject: str,
) -> Lattice:
    """What the measure rules judge: the outcome counts behind each entry's outcome measures (a
    mean's numerator is its rate times the entry's subjects), and each entry's total, largest and
    second-largest contribution to its magnitude measures (from the source, not the release)."""
    for name in (*rules.outcomes, *rules.magnitudes):
        if name not in measures or measures[name].aggregation not in ("sum", "mean"):
            raise ValueError(f"measure '{name}' under a measure rule must be a sum or mean among {list(measures)}")
    lattice.min_numerator, lattice.p_percent = rules.min_numerator, rules.p_percent
    lattice.outcomes = [
        np.column_stack([_numerator(table, name, measures[name]) for name in rules.outcomes]) if rules.outcomes else np.zeros((len(table), 0), dtype=np.int64)
        for table in tables
    ]
    if rules.magnitudes:
        cells = np.stack([_cell_contributions(source, tables[0], dims, subject, measures[name].column) for name in rules.magnitudes], axis=1)
        lattice.dominance = [
            cells if level == 0 else grouped_dominance(cells, lattice.cell_entry[level], len(lattice.values[level])) for level in range(len(tables))
        ]
    lattice.sensitive = []
    return lattice


def _cell_contributions(source, cells: pd.DataFrame, dims: list[str], subject: str, column: str) -> np.ndarray:
    """(cells × [total, largest, second]) in the order of the detailed cells' table."""
    found = as_source(source).top_contributions(dims, subject, column)
    found = found.astype({d: cells[d].dtype for d in dims})
    merged = cells[dims].merge(found, how="left", on=dims)
    return merged[[TOTAL, FIRST, SECOND]].astype("Float64").fillna(0.0).to_numpy(dtype=float)


def _numerator(table: pd.DataFrame, name: str, spec: MeasureSpec) -> np.ndarray:
    values = table[name].astype("Float64").fillna(0).to_numpy(dtype=float)
    if spec.aggregation == "mean":
        values = values * table[SUBJECTS].to_numpy(dtype=float)
    return np.rint(values).astype(np.int64)


def _with_carried(table: pd.DataFrame, carry: np.ndarray, history: History, level: int, ordered: list[str]) -> pd.DataFrame:
    """`table` with the carried rows' shown values taken from the previous publication."""
    shown = table.copy()
    rows = history.rows[level][carry]
    earlier = history.previous.iloc[rows]
    for column in ordered[ordered.index(GROUPED_BY) + 1 :]:
        values = pd.array(earlier[column].tolist(), dtype=shown[column].dtype)
        column_values = shown[column].array.copy()
        column_values[np.flatnonzero(carry)] = values
        shown[column] = column_values
    return shown


def _tabulate(source, dims, subject, measures, margins, protected, previous=None, earlier: Sequence[Publication] = ()):
    """(levels, how many are published, each level's table, the lattice over them): what a
    release and its audit both start from. Levels only other tables reveal are fixed. Cells the
    `previous` publication, or any `earlier` one, counted that are empty now stay in, at 0
    (`with_vanished`)."""
    levels, published = release_levels(dims, margins, protected)
    tables = as_source(source).level_tables(dims, levels, subject, measures)
    if previous is not None:
        tables = with_vanished(tables, levels, dims, measures, previous, earlier)
    return levels, published, tables, build_lattice(tables, levels, fixed=range(published, len(levels)))


def with_vanished(
    tables: list[pd.DataFrame],
    levels: Sequence[Sequence[str]],
    dims: list[str],
    measures: Mapping[str, MeasureSpec],
    previous: pd.DataFrame,
    earlier: Sequence[Publication] = (),
) -> list[pd.DataFrame]:
    """The level tables with every detailed cell the previous publication, or an `earlier` one
    of the window, truly counted but nobody is in now, at 0 subjects, and the margins they fall
    in. An attacker differencing two publications sees that cell's members leave: without it, a
    margin's change would seem to be the sum of its remaining cells' changes, and the change
    audit would solve what it hides; a group read through different rows at an older
    publication and now would seem to have lost no one. A cell empty since stays while what the
    attacker can prove of it (`PROVEN`) still allows members: it does not know the cell is empty,
    and what it knew before must not be taken as more."""
    cells = tables[0]
    label = level_label(levels[0])
    before = previous.loc[previous[GROUPED_BY].astype("string") == label]
    records = before.get(COUNTED, [None] * len(before))
    truths = [t["subjects"] if isinstance(t, dict) else s for t, s in zip(records, before[SUBJECTS], strict=True)]
    doubted = [isinstance(t, dict) and float(t.get(PROVEN, t.get(KNOWN, [0.0, 0.0]))[1]) > 0 for t in records]
    before = before.loc[(np.asarray(truths, dtype=np.int64) > 0) | np.asarray(doubted, dtype=bool), dims]
    counted_then = [publication.keys[(publication.labels == label) & (np.nan_to_num(publication.truths) > 0)] for publication in earlier]
    emptied = np.setdiff1d(np.concatenate([*counted_then, np.zeros(0, dtype=object)]).astype(str), entry_keys(cells, dims).to_numpy(dtype=str))
    if len(emptied):
        before = pd.concat([before, pd.DataFrame([json.loads(key) for key in emptied], columns=dims)], ignore_index=True).drop_duplicates()
    before = before.astype({d: cells[d].dtype for d in dims})
    gone = before.merge(cells[dims].drop_duplicates(), how="left", on=dims, indicator=True)
    gone = gone.loc[gone["_merge"] == "left_only", dims]
    if not len(gone):
        return tables
    widened = []
    for table, level in zip(tables, levels, strict=True):
        keys = gone[list(level)].drop_duplicates() if level else gone.iloc[:0]
        if level:
            keys = keys.merge(table[list(level)], how="left", on=list(level), indicator=True)
            keys = keys.loc[keys["_merge"] == "left_only", list(level)]
        elif not len(table):
            keys = pd.DataFrame(index=[0])
        if not len(keys):
            widened.append(table)
            continue
        empty = pd.DataFrame({column: keys[column].to_numpy() for column in level}, index=range(len(keys)))
        empty[GROUPED_BY] = level_label(level)
        zero = [SUBJECTS, *(name for name, spec in measures.items() if spec.aggregation in ("sum", "count_subjects") and name in table)]
        for column in zero:
            empty[column] = 0
        joined = pd.concat([table, empty], ignore_index=True).astype({column: table[column].dtype for column in [*level, *zero]})
        widened.append(joined.sort_values(list(level), na_position="last", kind="stable").reset_index(drop=True) if level else joined)
    return widened


def level_tables(
    frame: pd.DataFrame, dims: list[str], levels: Sequence[Sequence[str]], subject: str, measures: Mapping[str, MeasureSpec]
) -> list[pd.DataFrame]:
    """Every level's table (dimensions, measures, subjects) in `groupby(sort=True)` order, the
    lattice's entry order. When every row is its own subject (a feature table), the rows are
    aggregated once into cells and every level is summed from those; otherwise each level
    counts the distinct subjects of its rows."""
    check_measures(measures)
    dtypes = {d: frame[d].dtype for d in dims}
    if one_row_per_subject(frame[subject]):
        return tables_from_cells(_partials(frame, dims, subject, measures), dtypes, dims, levels, measures)
    named = _named_aggregations(measures, subject)
    return [with_empty_dims(_flat(_grouped(frame, level).agg(**named), level), dtypes, dims, level) for level in levels]


def one_row_per_subject(keys: pd.Series) -> bool:
    """Every row its own subject, none missing. Sorting the keys' 64-bit hashes (the integers
    themselves, or Python's cached string hash) beats a hash table of 10 M pseudonyms tenfold;
    only equal hashes, a duplicate or a collision, are settled by comparing the values. Integers
    in a dense range (serial ids, row numbers) are ticked off in a bitmap instead, without sorting."""
    if keys.isna().any():
        return False
    integral = pd.api.types.is_integer_dtype(keys.dtype)
    if integral:
        hashes = keys.to_numpy(dtype="int64")
        if len(hashes) and (distinct := _distinct_if_dense(hashes)) is not None:
            return distinct
    else:
        hashes = np.fromiter(map(hash, keys.to_numpy(dtype=object)), dtype=np.int64, count=len(keys))
    ordered = np.sort(hashes)
    if not (ordered[1:] == ordered[:-1]).any():
        return True
    return False if integral else bool(keys.is_unique)


DENSE_SPAN = 8  # a bitmap of up to 8 bytes a key: no more memory than the keys themselves


def _distinct_if_dense(integers: np.ndarray) -> bool | None:
    """Whether `integers` are all distinct, when they span at most `DENSE_SPAN` × their count;
    else None. On AMD Zen 4, NumPy's AVX-512 sort of 10 M int64 takes 0.65 s (microcoded
    compress-stores; the AVX2 path takes 0.12 s), a bitmap of a dense range 0.03 s."""
    low, high = int(integers.min()), int(integers.max())
    if high - low >= DENSE_SPAN * len(integers):
        return None
    seen = np.zeros(high - low + 1, dtype=bool)
    seen[integers - low] = True
    return int(np.count_nonzero(seen)) == len(integers)


def _grouped(frame: pd.DataFrame, level: Sequence[str]):
    if level:
        return frame.groupby(list(level), dropna=False, observed=True, sort=True)
    return frame.groupby(lambda _: 0)


def _partials(frame: pd.DataFrame, dims: list[str], subject: str, measures: Mapping[str, MeasureSpec]) -> pd.DataFrame:
    """Per cell: rows (= subjects), and the sums and counts that sums and means add up from."""
    named = {ROWS: pd.NamedAgg(column=subject, aggfunc="size")}
    for name, spec in measures.items():
        if spec.aggregation in ("sum", "mean"):
            named[partial_sum(name)] = pd.NamedAgg(column=spec.column, aggfunc="sum")
            named[partial_count(name)] = pd.NamedAgg(column=spec.column, aggfunc="count")
    return _grouped(frame, dims).agg(**named).reset_index()


ROWS = "_rows"


def partial_sum(measure: str) -> str:
    return f"_sum_{measure}"


def partial_count(measure: str) -> str:
    return f"_count_{measure}"


def tables_from_cells(
    cells: pd.DataFrame, dtypes: Mapping[str, object], dims: list[str], levels: Sequence[Sequence[str]], measures: Mapping[str, MeasureSpec]
) -> list[pd.DataFrame]:
    """Every level summed from the detailed cells' partials (rows, and each sum and mean's sum
    and count): exact when every row is its own subject, and one pass over the source."""
    return [with_empty_dims(_summed(cells, level, measures), dtypes, dims, level) for level in levels]


def _summed(cells: pd.DataFrame, level: Sequence[str], measures: Mapping[str, MeasureSpec]) -> pd.DataFrame:
    totals = _grouped(cells, level)[[c for c in cells.columns if c.startswith("_")]].sum()
    table = pd.DataFrame(index=totals.index)
    for name, spec in measures.items():
        if spec.aggregation == "count_subjects":
            table[name] = totals[ROWS].astype("int64")
        elif spec.aggregation == "sum":
            table[name] = totals[partial_sum(name)]
        else:
            counted = totals[partial_count(name)]
            table[name] = (totals[partial_sum(name)].astype("Float64") / counted.astype("Float64")).where(counted > 0)  # as .mean() gives
    table[SUBJECTS] = totals[ROWS].astype("int64")
    return _flat(table, level)


def _flat(table: pd.DataFrame, level: Sequence[str]) -> pd.DataFrame:
    """The level's dimensions as columns (the grand total has none)."""
    return table.reset_index() if level else table.reset_index(drop=True)


def _named_aggregations(measures: Mapping[str, MeasureSpec], subject: str) -> dict[str, pd.NamedAgg]:
    named: dict[str, pd.NamedAgg] = {}
    for name, spec in measures.items():
        if spec.aggregation == "count_subjects":
            named[name] = pd.NamedAgg(column=subject, aggfunc="nunique")
        else:
            named[name] = pd.NamedAgg(column=spec.column, aggfunc=spec.aggregation)
    named[SUBJECTS] = pd.NamedAgg(column=subject, aggfunc="nunique")
    return named


def with_empty_dims(table: pd.DataFrame, dtypes: Mapping[str, object], dims: list[str], level: Sequence[str]) -> pd.DataFrame:
    """A level's table with the dimensions it rolls up present but empty (of the dimension's
    `dtypes`, made nullable), and its label."""
    table = _with_nullable(table, list(level))
    for dimension in dims:
        if dimension not in level:
            empty = pd.Series(pd.NA, index=table.index, dtype="object").astype(_nullable(dtypes[dimension]))
            table.insert(dims.index(dimension), dimension, empty)
    table[GROUPED_BY] = level_label(level)
    return table


def undersized_cohorts(
    released: pd.DataFrame,
    source: pd.DataFrame | CohortSource,
    dimensions: Sequence[str],
    subject: str,
    k: int,
    previous: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Released rows (cohorts and margins) whose subjects, recounted from the source rather than
    trusted from the release, number fewer than k. A row carried forward unchanged from the
    ledger's last publication, where it was shown with at least k, shows that earlier count and is
    not undersized."""
    counted = recount(released, source, dimensions, subject)
    short = counted.loc[counted["recounted"] < k].reset_index(drop=True)
    if previous is None or not len(short):
        return short
    dims = list(dimensions)
    earlier = previous.loc[previous["shown"] & (previous[SUBJECTS] >= k)]
    carried = set(zip(earlier[GROUPED_BY].astype("string"), entry_keys(earlier, dims), earlier[SUBJECTS].astype("int64"), strict=True))
    shown = released.assign(**{GROUPED_BY: released[GROUPED_BY].astype("string")}) if GROUPED_BY in released else released.assign(**{GROUPED_BY: level_label(dims)})
    shown_keys = dict(zip(zip(shown[GROUPED_BY], entry_keys(shown, dims), strict=True), shown[SUBJECTS].astype("int64"), strict=True))
    keep = [
        (label, key, shown_keys.get((label, key))) not in carried
        for label, key in zip(short[GROUPED_BY].astype("string"), entry_keys(short, dims), strict=True)
    ]
    return short.loc[keep].reset_index(drop=True)


def entries_of(release: CohortRelease) -> pd.DataFrame:
    """The ledger's entries of a release: its own, or (a replaced release that keeps none) its
    shown rows and its suppressed ones."""
    if release.entries is not None:
        return release.entries
    shown = release.released.assign(shown=True, carried=False)
    hidden = release.suppressed.drop(columns="suppression", errors="ignore").assign(shown=False, carried=False)
    return pd.concat([shown, hidden], ignore_index=True)


def recount(released: pd.DataFrame, source: pd.DataFrame | CohortSource, dimensions: Sequence[str], column: str) -> pd.DataFrame:
    """Distinct values of `column` behind each released row, counted from the source at the row's
    own level. Rows absent from the source, or grouped by something other than the dimensions,
    count zero."""
    dims = list(dimensions)
    labels = released[GROUPED_BY] if GROUPED_BY in released else pd.Series(level_label(dims), index=released.index)
    groups = [(str(label), rows) for label, rows in released.groupby(labels.astype("string"), sort=True)]
    levels = {label: _level_of(label, dims) for label, _ in groups}
    counted_levels = list(dict.fromkeys(level for level in levels.values() if level is not None))
    tables = as_source(source).level_tables(dims, counted_levels, column, {}) if counted_levels else []
    counts = {level: table[[*level, SUBJECTS]].rename(columns={SUBJECTS: "recounted"}) for level, table in zip(counted_levels, tables, strict=True)}
    found = []
    for label, rows in groups:
        level = levels[label]
        keys = rows[dims].drop_duplicates().assign(**{GROUPED_BY: label})
        if level is None:
            joined = keys.assign(recounted=0)
        elif level:
            joined = keys.merge(_with_nullable(counts[level], level), on=list(level), how="left")
        else:
            joined = keys.assign(recounted=int(counts[level]["recounted"].sum()))
        found.append(joined)
    if not found:
        return pd.DataFrame(columns=[*dims, GROUPED_BY, "recounted"])
    joined = pd.concat(found, ignore_index=True)
    joined["recounted"] = joined["recounted"].fillna(0).astype("int64")
    return joined


def _level_of(label: str, dims: list[str]) -> tuple[str, ...] | None:
    if label == GRAND_TOTAL:
        return ()
    level = tuple(label.split(","))
    return level if set(level) <= set(dims) else None


def _nullable(dtype) -> object:
    """A dtype that can hold the empty dimensions of a margin row."""
    return {"i": "Int64", "u": "Int64", "f": "Float64", "b": "boolean"}.get(getattr(dtype, "kind", ""), dtype)


def _with_nullable(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    return table.astype({c: _nullable(table[c].dtype) for c in columns})


DISCLOSURE_MECHANISM = "change rule: a shown row changes only with k or more subjects; smaller changes carry it forward"
UNDER_K = "shown with fewer than k subjects"
OUTCOME_RULE = "a measure rule: an outcome all or none of its subjects share or counted under the minimum numerator, or one contributor dominating a magnitude (p % rule)"
NARROW = "bounded by the published totals to an interval narrower than the protection level"
SHARED = "withheld, its members proven by the published outcome counts to share one outcome value"
STALE = "shows a count that is neither the current one nor the one the ledger last published"
REVEALED_LATER = "shows an entry withheld in the last publication, moved by fewer than k subjects since"
SHOWN_AGAIN = "shows an entry withheld since it was last shown, whose change since then tells on fewer than k subjects or breaks a measure rule"
SMALL_CHANGE = "a change of fewer than k subjects, or newcomers breaking the outcome rule, can be read from this and the last publication"
DOMINATED_CHANGE = "the change of a magnitude since the last publication could be dominated by one contributor (p % rule)"
DRIFTED = "a measure changed since the last publication while fewer than k subjects moved: the difference is a few people's values"
CARRIED_TOO_FAR = "carried forward although its subjects or an outcome moved by k or more since the value it shows"
CHANGE_SINCE = "a change of fewer than k subjects, or of a measure while fewer than k moved, can be read from this and an older publication"
SMALL_OUTCOME_CHANGE = "an outcome change of fewer than k subjects can be read from this and the last publication"
OUTCOME_CHANGE = "its outcome moved by fewer than k while its subjects barely moved, or the newcomers' outcomes break the outcome rule"
OVER_TIME = "bounded narrower than the protection level by this and the ledger's earlier publications read together, and narrower than they bound it alone"
SHARED_OVER_TIME = "proven to share one outcome value by this and the ledger's earlier publications read together, and not by them alone"
TOGETHER = "bounded narrower than the protection level by this and the other releases of the population together"


@dataclass(frozen=True)
class DisclosureAudit:
    """What an attacker holding this release and the ledger's last publication can learn."""

    exposed: pd.DataFrame  # dimensions, grouped_by, subjects, exposure
    narrowest: dict[str, object] | None  # the narrowest interval left around a withheld entry under k
    measure_violations: int
    carried: int


def disclosure_audit(
    released: pd.DataFrame,
    source: pd.DataFrame | CohortSource,
    dimensions: Sequence[str],
    subject: str,
    k: int,
    margins: Sequence[Sequence[str]] = (),
    protected: Sequence[Sequence[str]] = (),
    measures: Mapping[str, MeasureSpec] | None = None,
    rules: DisclosureRules = DisclosureRules(),
    previous: pd.DataFrame | None = None,
    neighbours: Sequence[Neighbour] = (),
    earlier: Sequence[Publication] = (),
) -> DisclosureAudit:
    """Audits a release as the attacker sees it, recounting every entry from the source rather
    than trusting the release: what the release does not show is unknown, a row that differs from
    the truth must be the ledger's last published row (carried forward: the attacker bounds it
    within k - 1), and then (1) nothing shown is under k or breaks a measure rule, (2) no
    withheld entry under k is solved for exactly or bounded narrower than the protection level by
    the shown rows and the margins other tables reveal, and (3) against the last publication, no
    change of fewer than k subjects can be read and no withheld entry is revealed to within k;
    (4) together with the other releases of the population as the ledger last recorded them, no
    cell of their common refinement and no withheld entry under k is bounded narrower either; (5)
    read together with the `earlier` publications the ledger keeps, no entry withheld under k in
    any of them is bounded narrower than the protection level and than those alone bound it."""
    dims = list(dimensions)
    others = other_measures(measures or {}, rules) if previous is not None else {}
    tabulated = {name: spec for name, spec in (measures or {}).items() if name in (*rules.outcomes, *rules.magnitudes, *others)}
    measures = {name: spec for name, spec in tabulated.items() if name not in others}
    levels, published, tables, lattice = _tabulate(source, dims, subject, tabulated, margins, protected, previous, earlier)
    with_measure_rules(lattice, tables, measures, rules, source, dims, subject)
    lattice.others = [other_sums(table, others) for table in tables]
    mark_sensitive(lattice, k)
    kinds = outcome_kinds(measures, rules)
    history = match_history(previous, tables[:published], dims, kinds, _magnitude_kinds(measures, rules), others) if previous is not None else None
    labels = released[GROUPED_BY].astype("string") if GROUPED_BY in released else pd.Series(level_label(dims), index=released.index)
    found: list[tuple[int, int, str]] = []
    ranges: dict[tuple[int, int], tuple[float, float]] = {}
    fresh_levels, seen_levels, from_ledger_levels, seen_outcomes = [], [], [], []
    carried = violations = 0
    for index, level in enumerate(levels):
        if index >= published:
            fresh_levels.append(np.zeros(len(lattice.values[index]), dtype=bool))
            continue
        shown_rows = released.loc[labels == level_label(level)]
        shown_subjects = _shown_counts(shown_rows, tables[index], level)
        shown_outcomes = _shown_outcomes(shown_rows, tables[index], level, kinds)
        present = ~np.isnan(shown_subjects)
        fresh = present & (shown_subjects == lattice.values[index]) & (shown_outcomes == lattice.outcomes[index]).all(axis=1)
        state = _magnitude_state(lattice, tables, measures, rules, index)
        if rules.magnitudes:
            shown_sums = _shown_outcomes(shown_rows, tables[index], level, _magnitude_kinds(measures, rules), rounded=False)
            fresh &= np.isclose(shown_sums, state[..., 0]).all(axis=1)
        shown_others = _shown_others(shown_rows, tables[index], level, others)
        fresh &= ~drifted(measure_values(tables[index], others), shown_others)
        stale = present & ~fresh
        if history is not None:
            from_ledger = stale & history.shown[index] & (shown_subjects == history.reference[index]) & (shown_outcomes == history.outcomes[index]).all(axis=1)
            from_ledger &= ~drifted(history.anchors[index].others, shown_others)
        else:
            from_ledger = np.zeros_like(stale)
        if history is not None:
            too_far = from_ledger & ~carriable(history, index, lattice.values[index], lattice.outcomes[index], k)
            found += [(index, int(entry), CARRIED_TOO_FAR) for entry in np.flatnonzero(too_far)]
        for entry in np.flatnonzero(stale):
            if from_ledger[entry]:
                ranges[(index, int(entry))] = (max(shown_subjects[entry] - (k - 1), 0.0), shown_subjects[entry] + (k - 1))
            else:
                found.append((index, int(entry), STALE))
        carried += int(from_ledger.sum())
        seen_levels.append(shown_subjects)
        seen_outcomes.append(shown_outcomes)
        from_ledger_levels.append(from_ledger)
        for entry in np.flatnonzero(fresh & lattice.sensitive[index]):
            found.append((index, int(entry), UNDER_K if lattice.values[index][entry] < k else OUTCOME_RULE))
            violations += int(lattice.values[index][entry] >= k)
        lattice.suppressed[index] = ~fresh
        fresh_levels.append(fresh)
        if history is not None:
            moved = np.abs(lattice.values[index] - history.reference[index])
            found += [(index, int(e), REVEALED_LATER) for e in np.flatnonzero(fresh & ~history.shown[index] & (history.rows[index] >= 0) & (moved < k))]
            told = outcome_moves_held(history.outcomes[index], lattice.outcomes[index], lattice.values[index] - history.reference[index], k, rules.min_numerator)
            found += [(index, int(e), OUTCOME_CHANGE) for e in np.flatnonzero(fresh & history.shown[index] & told & ~small(moved, k))]
            boxed = outcomes_read_through_boxes(history, index, lattice.values[index], lattice.outcomes[index], rules.min_numerator)
            found += [(index, int(e), OUTCOME_CHANGE) for e in np.flatnonzero(fresh & boxed & ~(history.shown[index] & told))]
            dominated = dominated_changes(history.magnitude_record(index, len(state)), state, rules.p_percent)
            found += [(index, int(e), DOMINATED_CHANGE) for e in np.flatnonzero(fresh & history.shown[index] & dominated)]
            again = shown_again_too_soon(history, index, lattice.values[index], lattice.outcomes[index], k, rules.min_numerator, state, rules.p_percent, shown_others)
            found += [(index, int(e), SHOWN_AGAIN) for e in np.flatnonzero(fresh & again)]
            drift = drifted(history.anchors[index].others, shown_others) & (moved < k)
            found += [(index, int(e), DRIFTED) for e in np.flatnonzero(fresh & history.shown[index] & drift)]
    found += exposures(lattice, k)
    moved = moved_ranges(lattice, history) if history is not None else {}
    movement = movement_since(lattice, history) if history is not None else None
    intervals = attacker_intervals(lattice, k, within_both(ranges, moved), rules.protection or k, movement)
    protection = rules.protection or k
    narrow = excused = narrow_intervals(intervals, protection)
    if narrow and history is not None:
        narrow = narrow_intervals(narrow, protection, intervals_before(lattice, k, protection, moved, movement))
        excused = [i for i in excused if i not in narrow]
        narrow += _doubt(lattice, history).narrow(lattice, k, ranges, protection, excused)
    found += [(i.level, i.entry, NARROW) for i in narrow]
    found += [(i.level, i.entry, SHARED) for i in shared_outcomes(lattice, k, within_both(ranges, moved), movement)]
    if history is not None:
        known = [history.known(level, fresh_levels[level]) if level < published else np.zeros(len(v), dtype=bool) for level, v in enumerate(lattice.values)]
        kinds = change_tables(lattice, history)
        for kind, changes in enumerate(kinds):
            reason = SMALL_CHANGE if kind == 0 else SMALL_OUTCOME_CHANGE
            delta = change_lattice(
                lattice, changes, known, k, *((outcome_changes(kinds), magnitude_changes(lattice, history), other_changes(lattice.others, history)) if kind == 0 else ())
            )
            found += [(level, entry, reason) for level, entry, _ in exposures(delta, k)]
        read = [key for key in groups_read_since_last(lattice, history, fresh_levels, k, from_ledger_levels) if (*key, SMALL_CHANGE) not in found]
        found += [(level, entry, SMALL_CHANGE) for level, entry in dict.fromkeys(read)]
        befores = [before_of(publication, tables[:published], dims) for publication in earlier[:-1]]
        for before, steady in with_gaps(befores, history.exact, fresh_levels):
            found += [(level, entry, CHANGE_SINCE) for level, entry, _ in exposures(gap_lattice(lattice, before, fresh_levels, k, steady), k)]
        older = read_since_older(lattice, befores, history, fresh_levels, k, from_ledger_levels)
        found += [(level, entry, CHANGE_SINCE) for level, entry in dict.fromkeys((group.level, group.entry) for group in older)]
    if history is not None and earlier:
        shown = [fresh | stale for fresh, stale in zip(fresh_levels, from_ledger_levels, strict=False)]
        current = current_publication(tables[:published], shown, seen_levels, lattice.values[:published], from_ledger_levels, dims, seen_outcomes, lattice.outcomes[:published])
        over_time = window_exposures(earlier, current, dims, k, protection, lattice.min_numerator > 0)
    else:
        over_time = []
    keys_per_level = [table[[*dims, GROUPED_BY]] for table in tables]
    rows = [
        {**keys_per_level[level].iloc[entry].to_dict(), SUBJECTS: int(lattice.values[level][entry]), "exposure": reason}
        for level, entry, reason in found
    ]
    names = list(outcome_kinds(measures, rules))
    for exposure in over_time:
        key = json.loads(exposure.key)
        when = "this publication" if exposure.back == 0 else f"the publication {exposure.back} before this one"
        if exposure.who:
            movers = "" if exposure.who == "members" else " since the publication before"
            reason = f"{SHARED_OVER_TIME} (in {when}: its {exposure.who}{movers} all {'have' if exposure.having else 'lack'} {names[exposure.outcome]})"
        else:
            reason = f"{OVER_TIME} (in {when})"
        rows.append({**dict(zip(dims, key, strict=True)), GROUPED_BY: exposure.label, SUBJECTS: int(exposure.truth), "exposure": reason})
    refinement = _refinement(source, dims, subject, neighbours)
    if refinement is not None:
        shown = [fresh_levels[level] | np.isin(np.arange(len(lattice.values[level])), [e for (lv, e) in ranges if lv == level]) for level in range(published)]
        entries = own_entries(tables[:published], shown, dims)
        offsets = np.cumsum([0, *[len(t) for t in tables[:published]]])
        carried_at = {int(offsets[level] + entry): bounds for (level, entry), bounds in ranges.items()}
        for target in joint_targets(refinement, ("this release", dims, entries), neighbours, k, protection, carried_at):
            rows.append({**{d: target.key.get(d) for d in dims}, GROUPED_BY: target.grouped_by, SUBJECTS: target.subjects, "exposure": f"{TOGETHER} ({target.release})"})
    narrowest = min(intervals, key=lambda i: i.width, default=None)
    return DisclosureAudit(
        exposed=pd.DataFrame(rows, columns=[*dims, GROUPED_BY, SUBJECTS, "exposure"]),
        narrowest=None
        if narrowest is None
        else {"low": narrowest.low, "high": narrowest.high, "width": narrowest.width, GROUPED_BY: level_label(levels[narrowest.level])},
        measure_violations=violations,
        carried=carried,
    )


def _shown_counts(shown: pd.DataFrame, table: pd.DataFrame, level: Sequence[str]) -> np.ndarray:
    """For each of the level's entries, the subjects the release shows for it (NaN: not shown)."""
    if not len(shown):
        return np.full(len(table), np.nan)
    if not level:
        return np.full(len(table), float(shown[SUBJECTS].iloc[0]))
    rows = _with_nullable(shown[[*level, SUBJECTS]].drop_duplicates(list(level)), level)
    merged = table[list(level)].merge(rows, how="left", on=list(level))
    return merged[SUBJECTS].astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def _shown_others(shown: pd.DataFrame, table: pd.DataFrame, level: Sequence[str], names: Sequence[str]) -> np.ndarray:
    """For each of the level's entries, the values the release shows of the named measures
    (NaN where not shown)."""
    if not names or not len(shown):
        return np.full((len(table), len(names)), np.nan)
    values = measure_values(shown, names)
    if not level:
        return np.repeat(values[:1], len(table), axis=0)
    rows = shown[list(level)].assign(**{f"__m{i}": values[:, i] for i in range(len(names))}).drop_duplicates(list(level))
    merged = table[list(level)].merge(_with_nullable(rows, level), how="left", on=list(level))
    return merged[[f"__m{i}" for i in range(len(names))]].astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def _shown_outcomes(shown: pd.DataFrame, table: pd.DataFrame, level: Sequence[str], kinds: Mapping[str, bool], rounded: bool = True) -> np.ndarray:
    """For each of the level's entries, the outcome counts the release shows (0 where not shown);
    not `rounded`, a magnitude's sums."""
    if not kinds or not len(shown):
        return np.zeros((len(table), len(kinds)), dtype=np.int64 if rounded else float)
    counted = shown_numerators(shown, dict(kinds), rounded=rounded)
    if not level:
        return np.repeat(counted[:1], len(table), axis=0)
    rows = shown[list(level)].assign(**{f"__o{i}": counted[:, i] for i in range(counted.shape[1])}).drop_duplicates(list(level))
    merged = table[list(level)].merge(_with_nullable(rows, level), how="left", on=list(level))
    values = merged[[f"__o{i}" for i in range(counted.shape[1])]].astype("Float64").fillna(0).to_numpy(dtype=float)
    return values.astype(np.int64) if rounded else values


def differencing_exposures(
    released: pd.DataFrame,
    source: pd.DataFrame | CohortSource,
    dimensions: Sequence[str],
    subject: str,
    k: int,
    margins: Sequence[Sequence[str]] = (),
    protected: Sequence[Sequence[str]] = (),
) -> pd.DataFrame:
    """The exposures of `disclosure_audit` for a release without history or measure rules."""
    return disclosure_audit(released, source, dimensions, subject, k, margins, protected).exposed
