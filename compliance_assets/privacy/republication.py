"""Republication: a release compared with what the ledger says was published last time.

An attacker who keeps both tables subtracts them. If one person was added, erased or withdrew
consent, exactly the rows that contain them move by one, and their attributes can be read off.
The rule here (a change rule, as statistical offices apply to tables refreshed over time):

- a row that was shown changes only when at least k of its subjects changed since the value it
  shows (net); a smaller change carries the shown row forward unchanged;
- a hidden entry is shown again only when its count has moved by at least k since it was hidden,
  so a value that was withheld is never revealed later to within k;
- the changes themselves form a table of the same shape, and the same complementary audit runs on
  it: no change of 1 to k - 1 subjects may be solved for from the changes of published totals,
  and no published total's change may leave a small remainder. Where it would, more rows are
  carried forward.

A carried row is stale by fewer than k subjects, and its outcome counts by fewer than k; the
attacker is assumed to know that, so the static audit bounds it to its shown value ± (k - 1)
rather than to nothing. A row that must be held back but moved by k or more (its newcomers break
the outcome rule, or the audit of the changes hides its change) cannot be carried within that
promise: it is withheld instead, and complementary suppression runs again around it.

Outcome measures (0/1 outcomes under the measure rules) change without any subject arriving or
leaving: one member's diagnosis is enough. Their numerators follow the same rule: a row whose
subjects moved by fewer than k shows a new outcome only when the outcome moved by k or more, a
row whose subjects moved by k or more shows it only when the net newcomers' outcomes keep the
outcome rule (not all or none, not 1 to `min_numerator` - 1), and the outcome changes get the
same complementary audit as the subject changes. The newcomers themselves are a cohort: under a
published total, the withheld part whose subjects moved by k or more must keep the outcome rule
on its net newcomers (`outcome_violations` of the changes), as a withheld remainder must in a
static table, so no set of withheld rows tells that its newcomers all share or lack the outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from compliance_assets.privacy.ledger import ANCHOR, COUNTED, entry_keys
from compliance_assets.privacy.intervals import Movement, within_both
from compliance_assets.privacy.spans import Reading, Spans, Told, blame, read_across, read_over_gaps, spans_among
from compliance_assets.privacy.suppression import Lattice, change_dominance_violations, drifted_sums, moved_quietly, newcomers_break_rule, outcome_violations, small, suppress


@dataclass(frozen=True)
class Anchor:
    """Each entry's figures as it was last shown, in the last publication or, for an entry withheld
    since, as the ledger keeps them beside it: the attacker differences a table with those, however
    many publications ago they were."""

    present: np.ndarray  # shown at some time the ledger remembers
    subjects: np.ndarray
    outcomes: np.ndarray  # (entries × outcome measures) numerators
    magnitudes: np.ndarray  # (entries × magnitude measures × [sum, largest, second])
    others: np.ndarray | None = None  # (entries × other measures) values shown


@dataclass(frozen=True)
class History:
    """Per published level, each entry's state in the last publication (-1: not in it)."""

    previous: pd.DataFrame
    rows: list[np.ndarray]  # the previous row of each entry, or -1
    shown: list[np.ndarray]
    reference: list[np.ndarray]  # the count the previous state refers to; 0 when absent
    outcomes: list[np.ndarray]  # (entries × outcome measures) numerators last shown; 0 when not shown
    counted: list[np.ndarray]  # what each entry truly counted at the last publication; 0 when absent
    outcomes_counted: list[np.ndarray]  # its true outcome numerators then
    exact: list[np.ndarray]  # shown last time with the truth, not carried: a difference with it is exact
    magnitudes: list[np.ndarray] | None = None  # (entries × magnitude measures × [sum shown, largest, second]) last time; 0 when not shown
    anchors: list[Anchor] | None = None  # per level, the figures each entry showed when it was last shown
    magnitudes_counted: list[np.ndarray] | None = None  # (entries × magnitude measures × [true sum, largest, second]) at the last publication; 0 when absent
    bounds: list[np.ndarray] | None = None  # (entries × [low, high]) the attacker's box for each entry's count at the last publication; NaN when none
    outcome_bounds: list[np.ndarray] | None = None  # (entries × outcome measures × [low, high, complement low, complement high]) likewise; NaN when none
    proven: list[np.ndarray] | None = None  # (entries × [low, high]) what the attacker could prove of each entry's count then (`PROVEN`); NaN when nothing
    others_counted: list[np.ndarray] | None = None  # (entries × measures no rule judges) their true sums at the last publication; 0 when absent, NaN when unknown
    others_unseen: np.ndarray | None = None  # per such measure: the last publication neither showed nor recorded it, so nothing to difference
    sums_told: list[np.ndarray] | None = None  # (entries × measures no rule judges) shown last time with that sum true, carried or not
    other_means: np.ndarray | None = None  # per such measure: a mean (the sum it shows is the value times the subjects)
    memo: dict = field(default_factory=dict, compare=False, repr=False)  # what is worked out once from it per release (`spans_of`)

    def as_proven(self) -> History:
        """This history as an attacker who cannot tell a row shown unchanged from one carried
        forward knows it: `proven` in place of `bounds`."""
        return replace(self, bounds=self.proven if self.proven is not None else self.bounds)

    def magnitude_record(self, level: int, count: int) -> np.ndarray:
        return self.magnitudes[level] if self.magnitudes is not None else np.zeros((count, 0, 3))

    def known(self, level: int, fresh: np.ndarray) -> np.ndarray:
        """Entries whose change the attacker reads exactly: shown with the truth both times."""
        return fresh & self.exact[level]


def match_history(
    previous: pd.DataFrame,
    tables: list[pd.DataFrame],
    dims: list[str],
    outcomes: dict[str, bool] | None = None,
    magnitudes: dict[str, bool] | None = None,
    others: dict[str, bool] | None = None,
) -> History:
    """Lines each level's entries up with the previous publication. `outcomes` maps each outcome
    measure to whether it is a mean (its numerator is then the rate times the subjects shown);
    `magnitudes` likewise each magnitude measure (its sum shown, and the largest and second
    largest contributions the ledger recorded beside it); `others` likewise the measures no rule
    judges (a mean age), whose values each entry last showed the anchors keep and whose true sums
    the ledger recorded beside them."""
    previous = previous.reset_index(drop=True)
    outcomes = outcomes or {}
    numerators = shown_numerators(previous, outcomes)
    truths = previous[COUNTED].tolist() if COUNTED in previous else [None] * len(previous)
    true_subjects = np.array([t["subjects"] if t else s for t, s in zip(truths, previous["subjects"].to_numpy(dtype=np.int64), strict=True)], dtype=np.int64)
    true_outcomes = np.array(
        [[t[name] if t and name in t else numerators[row, column] for column, name in enumerate(outcomes)] for row, t in enumerate(truths)], dtype=np.int64
    ).reshape(len(previous), len(outcomes))
    labels = previous["grouped_by"].astype("string").to_numpy()
    keys = entry_keys(previous, dims).to_numpy()
    index = {(str(label), str(key)): i for i, (label, key) in enumerate(zip(labels, keys, strict=True))}
    rows, shown, reference, before, counted, outcomes_counted, exact = [], [], [], [], [], [], []
    carried = previous["carried"].to_numpy(dtype=bool) if "carried" in previous else np.zeros(len(previous), dtype=bool)
    carried = carried & ~_carried_with_truth(previous, truths, true_subjects, numerators, true_outcomes, dict(others or {}), dict(magnitudes or {}))
    for table in tables:
        table_keys = entry_keys(table, dims).to_numpy()
        table_labels = table["grouped_by"].astype("string").to_numpy()
        found = np.array([index.get((str(label), str(key)), -1) for label, key in zip(table_labels, table_keys, strict=True)], dtype=np.int64)
        present = found >= 0
        rows.append(found)
        shown.append(np.where(present, previous["shown"].to_numpy(dtype=bool)[np.maximum(found, 0)], False))
        reference.append(np.where(present, previous["subjects"].to_numpy(dtype=np.int64)[np.maximum(found, 0)], 0))
        at = np.maximum(found, 0)
        exact.append(shown[-1] & ~carried[at] if len(previous) else np.zeros(len(table), dtype=bool))
        counted.append(np.where(present, true_subjects[at], 0) if len(previous) else np.zeros(len(table), dtype=np.int64))
        if len(previous):
            before.append(np.where(shown[-1][:, None], numerators[at], 0))
            outcomes_counted.append(np.where(present[:, None], true_outcomes[at], 0))
        else:
            before.append(np.zeros((len(table), len(outcomes)), dtype=np.int64))
            outcomes_counted.append(np.zeros((len(table), len(outcomes)), dtype=np.int64))
    magnitudes = magnitudes or {}
    recorded = None
    if magnitudes:
        sums = shown_numerators(previous, magnitudes, rounded=False)
        tops = np.array(
            [[[(t or {}).get(f"{name}{LARGEST}", 0.0), (t or {}).get(f"{name}{SECOND}", 0.0)] for name in magnitudes] for t in truths], dtype=float
        ).reshape(len(previous), len(magnitudes), 2)
        whole = np.concatenate([sums[:, :, None], tops], axis=2)
        recorded = [
            np.where(shown_level[:, None, None], whole[np.maximum(found, 0)], 0.0) if len(previous) else np.zeros((len(found), len(magnitudes), 3))
            for found, shown_level in zip(rows, shown, strict=True)
        ]
        true_sums = np.array([[(t or {}).get(name, value) for name, value in zip(magnitudes, row, strict=True)] for t, row in zip(truths, sums, strict=True)], dtype=float)
        truly = np.concatenate([true_sums.reshape(len(previous), len(magnitudes), 1), tops], axis=2)
        magnitudes_counted = [
            np.where((found >= 0)[:, None, None], truly[np.maximum(found, 0)], 0.0) if len(previous) else np.zeros((len(found), len(magnitudes), 3)) for found in rows
        ]
    else:
        magnitudes_counted = None
    stored = previous[ANCHOR].tolist() if ANCHOR in previous else [None] * len(previous)
    anchors = []
    for level, found in enumerate(rows):
        remembered = [stored[row] if row >= 0 else None for row in found]
        present = shown[level] | np.array([isinstance(a, dict) for a in remembered], dtype=bool)
        subjects = np.array([int(a["subjects"]) if isinstance(a, dict) else 0 for a in remembered], dtype=np.int64)
        numerators = np.array([[int(a.get(name, 0)) if isinstance(a, dict) else 0 for name in outcomes] for a in remembered], dtype=np.int64).reshape(len(found), len(outcomes))
        sums = np.array(
            [[[float(a.get(f"{name}{part}", 0.0)) if isinstance(a, dict) else 0.0 for part in ("", LARGEST, SECOND)] for name in magnitudes] for a in remembered], dtype=float
        ).reshape(len(found), len(magnitudes), 3)
        record = recorded[level] if recorded is not None else np.zeros((len(found), 0, 3))
        last = measure_values(previous, list(others))[np.maximum(found, 0)] if len(previous) else np.full((len(found), len(others)), np.nan)
        kept = np.array([[_number(a.get(name)) if isinstance(a, dict) else np.nan for name in others] for a in remembered], dtype=float).reshape(len(found), len(others))
        anchors.append(
            Anchor(
                present,
                np.where(shown[level], reference[level], subjects),
                np.where(shown[level][:, None], before[level], numerators),
                np.where(shown[level][:, None, None], record, sums),
                np.where(shown[level][:, None], last, kept),
            )
        )
    kept_boxes = np.array([(t or {}).get(KNOWN, [np.nan, np.nan]) for t in truths], dtype=float).reshape(len(previous), 2)
    kept_outcomes = np.array(
        [[(t or {}).get(f"{name}{KNOWN}", [np.nan] * 4) for name in outcomes] for t in truths], dtype=float
    ).reshape(len(previous), len(outcomes), 4)
    kept_proven = np.array([(t or {}).get(PROVEN, [np.nan, np.nan]) for t in truths], dtype=float).reshape(len(previous), 2)
    bounds, outcome_bounds, proven = [], [], []
    for level, found in enumerate(rows):
        bounds.append(np.where(exact[level][:, None], reference[level][:, None].astype(float), _kept(kept_boxes, found)))
        shown_outcomes = before[level].astype(float)
        complement = reference[level][:, None] - shown_outcomes
        exactly = np.stack([shown_outcomes, shown_outcomes, complement, complement], axis=2)
        outcome_bounds.append(np.where(exact[level][:, None, None], exactly, _kept(kept_outcomes, found)))
        box = _kept(kept_proven, found)
        proven.append(np.where(np.isnan(box), bounds[level], box))
    others = dict(others or {})
    told = _sums_told(previous, truths, others)
    sums_told = [exact[level][:, None] | (shown[level][:, None] & told[np.maximum(found, 0)]) if len(previous) else np.zeros((len(found), len(others)), dtype=bool) for level, found in enumerate(rows)]
    return History(
        previous, rows, shown, reference, before, counted, outcomes_counted, exact, recorded, anchors, magnitudes_counted, bounds, outcome_bounds, proven,
        *_others_counted(previous, rows, exact, truths, others), sums_told=sums_told, other_means=np.array(list(others.values()), dtype=bool),
    )


def _sums_told(previous: pd.DataFrame, truths: list, others: dict[str, bool]) -> np.ndarray:
    """(rows × measures no rule judges) rows of the last publication that showed that measure's
    true sum, as the ledger recorded it: a row carried because its mean age or its count moved
    still tells a sum of visits that did not."""
    if not len(previous):
        return np.zeros((0, len(others)), dtype=bool)
    return np.isclose(other_sums(previous, others), _recorded(truths, list(others)), rtol=1e-9, atol=1e-6)


def _carried_with_truth(
    previous: pd.DataFrame,
    truths: list,
    true_subjects: np.ndarray,
    numerators: np.ndarray,
    true_outcomes: np.ndarray,
    others: dict[str, bool],
    magnitudes: dict[str, bool],
) -> np.ndarray:
    """Rows the last publication carried whose figures had not moved: they showed the truth, and
    an attacker who reads them as exact is right, so they count as shown with the truth. Only
    where the ledger recorded every figure's truth."""
    subjects = previous["subjects"].to_numpy(dtype=np.int64) if len(previous) else np.zeros(0, dtype=np.int64)
    same = (subjects == true_subjects) & (numerators == true_outcomes).all(axis=1) & np.array([isinstance(t, dict) for t in truths], dtype=bool)
    if others:
        same &= np.isclose(other_sums(previous, others), _recorded(truths, others), rtol=1e-9, atol=1e-6).all(axis=1)
    if magnitudes:
        same &= np.isclose(shown_numerators(previous, magnitudes, rounded=False), _recorded(truths, magnitudes), rtol=1e-9, atol=1e-6).all(axis=1)
    return same


def _recorded(truths: list, names: Sequence[str]) -> np.ndarray:
    """(entries × `names`) the true figures the ledger recorded beside each entry (`COUNTED`), NaN where it did not."""
    return np.array([[_number((t or {}).get(name)) for name in names] for t in truths], dtype=float).reshape(len(truths), len(names))


def _others_counted(
    previous: pd.DataFrame, rows: list[np.ndarray], exact: list[np.ndarray], truths: list, others: dict[str, bool]
) -> tuple[list[np.ndarray], np.ndarray]:
    """Per level, each entry's true sums of the measures no rule judges at the last publication:
    as the ledger recorded them; for a ledger that did not, the sums a row shown with the truth
    showed, and unknown (NaN) otherwise. Beside them, per measure, whether that publication
    neither showed nor recorded it (a measure added since)."""
    names = list(others)
    shown_sums = other_sums(previous, others)
    recorded = _recorded(truths, names)
    shown = ~np.isnan(measure_values(previous, names)).all(axis=0) if len(previous) else np.zeros(len(names), dtype=bool)
    unseen = ~shown & np.isnan(recorded).all(axis=0)
    found = []
    for level, at in enumerate(rows):
        if not len(previous):
            found.append(np.zeros((len(at), len(names))))
            continue
        then = recorded[np.maximum(at, 0)]
        then = np.where(np.isnan(then) & exact[level][:, None], shown_sums[np.maximum(at, 0)], then)
        found.append(np.where((at >= 0)[:, None], then, 0.0))
    return found, unseen


def other_sums(table: pd.DataFrame, others: dict[str, bool]) -> np.ndarray:
    """(rows × measures no rule judges) the sums a table's rows show: a mean times the subjects
    beside it (what an attacker adds and subtracts), a sum as it is; missing as none."""
    values = np.nan_to_num(measure_values(table, list(others)), nan=0.0)
    if not len(others):
        return values
    subjects = table["subjects"].to_numpy(dtype=float)[:, None] if "subjects" in table else np.ones((len(table), 1))
    means = np.array(list(others.values()), dtype=bool)[None, :]
    return np.where(means, values * subjects, values)


def _kept(stored: np.ndarray, found: np.ndarray) -> np.ndarray:
    """What the ledger kept beside each entry's previous row (`found`, -1 for none: NaN)."""
    if not len(stored):
        return np.full((len(found), *stored.shape[1:]), np.nan)
    present = (found >= 0).reshape(-1, *[1] * (stored.ndim - 1))
    return np.where(present, stored[np.maximum(found, 0)], np.nan)


def anchor_records(
    history: History, level: int, withheld: np.ndarray, outcomes: Sequence[str], magnitudes: Sequence[str], others: Sequence[str] = ()
) -> list[dict | None]:
    """What the ledger keeps beside each withheld entry of a level: the figures it showed when it
    was last shown (`Anchor`), or None for an entry shown now or never shown."""
    anchor = history.anchors[level]
    records = []
    for entry, keep in enumerate(withheld & anchor.present):
        if not keep:
            records.append(None)
            continue
        record = {"subjects": int(anchor.subjects[entry]), **{name: int(anchor.outcomes[entry, i]) for i, name in enumerate(outcomes)}}
        for i, name in enumerate(magnitudes):
            record[name], record[f"{name}{LARGEST}"], record[f"{name}{SECOND}"] = (float(v) for v in anchor.magnitudes[entry, i])
        for i, name in enumerate(others):
            if anchor.others is not None and not np.isnan(anchor.others[entry, i]):
                record[name] = float(anchor.others[entry, i])
        records.append(record)
    return records


def shown_again_too_soon(
    history: History,
    level: int,
    values: np.ndarray,
    outcomes: np.ndarray | None,
    k: int,
    min_numerator: int,
    magnitudes: np.ndarray | None = None,
    p_percent: float = 10.0,
    others: np.ndarray | None = None,
) -> np.ndarray:
    """Entries withheld in the last publication that were shown before, whose figures now, set
    against the ones they last showed, would tell on fewer than k subjects: the subjects moved by
    1 to k - 1, the outcome moved as `outcome_moves_held` forbids, one contributor could
    dominate the magnitude's change, or another measure changed while the subjects moved by fewer
    than k (`drifted`). Such an entry stays withheld."""
    anchor = history.anchors[level]
    away = values - anchor.subjects
    told = small(np.abs(away), k)
    if others is not None:
        told |= drifted(anchor.others, others) & (np.abs(away) < k)
    if outcomes is not None:
        told |= outcome_moves_held(anchor.outcomes, outcomes, away, k, min_numerator)
    if magnitudes is not None and magnitudes.shape[1]:
        told |= dominated_changes(anchor.magnitudes, magnitudes, p_percent)
    return ~history.shown[level] & anchor.present & told


LARGEST, SECOND = ":largest", ":second"  # beside a magnitude's name in an entry's `COUNTED`: its top two contributions
PROVEN = "_proven"  # in an entry's `COUNTED`: [low, high], what the attacker could prove of its count then, taking a row shown unchanged as possibly carried
KNOWN = "_known"  # in an entry's `COUNTED`: [low, high], what the attacker could know of its count then (`boxes`); beside an outcome measure's name, [low, high, complement low, complement high] of its count (`outcome_boxes`)


def drifted(before: np.ndarray | None, now: np.ndarray) -> np.ndarray:
    """Rows whose measures no rule judges (a mean age, a sum of visits) differ from the values
    they last showed. With fewer than k subjects moved, even none net (as many came as went), the
    difference is a few people's values: someone erased and someone new, read off one row. A
    value missing either time (a measure added since, a row not showing it) differences nothing."""
    if before is None or now.shape[1] == 0:
        return np.zeros(len(now), dtype=bool)
    moved = np.isfinite(before) & np.isfinite(now) & ~np.isclose(before, now, rtol=1e-9, atol=1e-12)
    return moved.any(axis=1)


def measure_values(table: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """(rows × measures) the named measures as numbers, NaN where missing."""
    columns = [pd.to_numeric(table[name], errors="coerce").astype("Float64").to_numpy(dtype=float, na_value=np.nan) if name in table else np.full(len(table), np.nan) for name in names]
    return np.column_stack(columns) if columns else np.zeros((len(table), 0))


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def dominated_changes(before: np.ndarray, now: np.ndarray, p_percent: float) -> np.ndarray:
    """Rows whose magnitude change (the difference of the two sums shown) could be dominated by
    one contributor under the p % rule. The publisher does not know who joined or left, so the
    largest and second largest contribution that moved are bounded by the two largest of the
    row's members now and at the last publication: the change less those two must be at least
    p % of the largest, else the second could estimate the largest within p %. `before` and
    `now`: (entries × measures × [sum, largest, second])."""
    if before.shape[1] == 0:
        return np.zeros(len(before), dtype=bool)
    return change_dominance_violations(moved_dominance(before, now), p_percent)


def moved_dominance(before: np.ndarray, now: np.ndarray) -> np.ndarray:
    """(entries × measures × [change of the sum, largest, second]) between two (entries × measures
    × [sum, largest, second]): the two largest contributions that moved bounded by the two
    largest of the members then and now."""
    tops = np.sort(np.stack([before[..., 1], before[..., 2], now[..., 1], now[..., 2]], axis=-1), axis=-1)
    return np.stack([now[..., 0] - before[..., 0], tops[..., -1], tops[..., -2]], axis=-1)


def shown_numerators(table: pd.DataFrame, outcomes: dict[str, bool], rounded: bool = True) -> np.ndarray:
    """(rows × outcomes) outcome counts a published table shows: a sum as shown, a mean times the
    subjects shown beside it (a magnitude's sums, not `rounded`)."""
    columns = []
    for name, is_mean in outcomes.items():
        shown = table[name] if name in table else pd.Series(0, index=table.index)  # a measure added since
        values = pd.to_numeric(shown, errors="coerce").astype("Float64").fillna(0).to_numpy(dtype=float)
        if is_mean:
            values = values * table["subjects"].to_numpy(dtype=float)
        columns.append(np.rint(values).astype(np.int64) if rounded else values)
    return np.column_stack(columns) if columns else np.zeros((len(table), 0), dtype=np.int64 if rounded else float)


def outcome_moves_held(before: np.ndarray, after: np.ndarray, subjects_change: np.ndarray, k: int, min_numerator: int) -> np.ndarray:
    """Shown rows whose outcome change would tell on fewer than k subjects: the subjects moved by
    fewer than k and some outcome by 1 to k - 1, or the subjects moved by k or more and the net
    newcomers' outcomes break the outcome rule (all or none of them, or a few)."""
    if after.shape[1] == 0:
        return np.zeros(len(subjects_change), dtype=bool)
    moved = after - before
    quiet = np.abs(subjects_change) < k
    small_move = ((moved != 0) & (np.abs(moved) < k)).any(axis=1)
    newcomers = np.where((subjects_change >= 0)[:, None], moved, -moved)
    return (quiet & small_move) | (~quiet & outcome_violations(newcomers, np.abs(subjects_change), min_numerator))


def outcomes_read_through_boxes(history: History, level: int, values: np.ndarray, outcomes: np.ndarray, min_numerator: int) -> np.ndarray:
    """Entries whose figures now, set against the ranges the attacker knew their subjects,
    outcomes and complements in at the last publication (`History.bounds`, `History.outcome_bounds`:
    exact for a row shown with the truth, boxes for the rest), prove that someone joined (or left)
    and that fewer than `min_numerator` of those it is sure of have the outcome, or lack it. A
    withheld total whose count the moves pin exactly while its outcome lies in a narrow range is
    the case the exact rules miss."""
    if history.outcome_bounds is None or outcomes.shape[1] == 0 or min_numerator <= 0:
        return np.zeros(len(values), dtype=bool)
    box, subjects = _whole(history.outcome_bounds[level]), _whole(history.bounds[level])
    floor = float(max(min_numerator, 1))
    complement = values[:, None] - outcomes
    joined, left = (values - subjects[:, 1])[:, None], (subjects[:, 0] - values)[:, None]
    with np.errstate(invalid="ignore"):
        sure_in, sure_out = np.minimum(floor, joined), np.minimum(floor, left)
        read_in = (joined >= 1) & ((outcomes - box[..., 0] < sure_in) | (complement - box[..., 2] < sure_in))
        read_out = (left >= 1) & ((box[..., 1] - outcomes < sure_out) | (box[..., 3] - complement < sure_out))
    return (read_in | read_out).any(axis=1)


def _whole(ranges: np.ndarray) -> np.ndarray:
    """Ranges of counts ([low, high, ...] along the last axis) rounded inwards to whole numbers,
    as an attacker who knows counts are whole reads the bounds of a linear programme."""
    whole = ranges.astype(float, copy=True)
    whole[..., 0::2] = np.ceil(whole[..., 0::2] - 1e-6)
    whole[..., 1::2] = np.floor(whole[..., 1::2] + 1e-6)
    return whole


def outcome_boxes(
    lattice: Lattice, history: History, known: dict[tuple[int, int], tuple[float, float]], carried: list[np.ndarray], k: int
) -> list[np.ndarray]:
    """What the attacker can know, after this publication, of each entry's outcome counts and
    their complements (per level: entries × outcome measures × [low, high, complement low,
    complement high]; NaN where nothing): the ranges at the last publication moved by as many as
    joined (upwards) and left (downwards), and by the outcomes that flipped either way, the
    fewest consistent with every cell's change; within a carried row's promise (k - 1 from the
    subjects and the outcome it shows, so twice that from the complement) and within the
    subjects' range `known`. Kept in the ledger for the next
    publication's `outcomes_read_through_boxes`."""
    published = len(history.rows)
    joined, left = _joins_and_leaves(lattice, history)
    flips = _fewest_flips(lattice, history)
    up, down = joined + flips, left + flips
    found = []
    for level in range(published):
        before = history.outcome_bounds[level]
        box = np.stack([before[..., 0] - down, before[..., 1] + up, before[..., 2] - down, before[..., 3] + up], axis=-1)
        with np.errstate(invalid="ignore"):
            box = np.maximum(box, 0.0)
        shown_outcomes = history.outcomes[level].astype(float)
        shown_complement = history.reference[level][:, None] - shown_outcomes
        promise = np.stack([shown_outcomes - (k - 1), shown_outcomes + (k - 1), shown_complement - 2 * (k - 1), shown_complement + 2 * (k - 1)], axis=-1)
        box = np.where(carried[level][:, None, None], _within(box, promise), box)
        subjects = np.array([known.get((level, entry), (np.nan, np.nan)) for entry in range(len(box))], dtype=float).reshape(len(box), 2)
        low, high = subjects[:, None, 0], subjects[:, None, 1]
        by_subjects = np.stack([low - box[..., 3], np.broadcast_to(high, box[..., 0].shape), low - box[..., 1], np.broadcast_to(high, box[..., 0].shape)], axis=-1)
        box = _within(box, np.maximum(by_subjects, 0.0))
        found.append(np.where(np.isnan(box) & (np.arange(4) % 2 == 0), 0.0, box))
    return found


def _within(box: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Two [low, high, low, high] boxes intersected, NaN in either meaning no bound from it."""
    lows, highs = box[..., 0::2], box[..., 1::2]
    other_lows, other_highs = other[..., 0::2], other[..., 1::2]
    lows = np.where(np.isnan(lows), other_lows, np.where(np.isnan(other_lows), lows, np.maximum(lows, other_lows)))
    highs = np.where(np.isnan(highs), other_highs, np.where(np.isnan(other_highs), highs, np.minimum(highs, other_highs)))
    return np.stack([lows[..., 0], highs[..., 0], lows[..., 1], highs[..., 1]], axis=-1)


def _fewest_flips(lattice: Lattice, history: History) -> np.ndarray:
    """Per outcome measure, the fewest members whose outcome changed in place consistent with
    every detailed cell's change: a cell that grew by j moved its outcome count by 0 to j with
    joiners alone, one that shrank by l by 0 to -l with leavers; the rest is flips."""
    if not lattice.outcomes or lattice.outcomes[0].shape[1] == 0:
        return np.zeros(0)
    change = (lattice.values[0] - history.counted[0])[:, None]
    moved = lattice.outcomes[0] - history.outcomes_counted[0]
    beyond = np.maximum(moved - np.maximum(change, 0), 0) + np.maximum(np.minimum(change, 0) - moved, 0)
    return beyond.sum(axis=0).astype(float)


def carriable(history: History, level: int, values: np.ndarray, outcomes: np.ndarray | None, k: int) -> np.ndarray:
    """Shown rows that may be carried forward: their subjects and every outcome count moved by
    fewer than k since the values they show, so the carried row stays within k - 1 of the truth."""
    near = np.abs(values - history.reference[level]) < k
    if outcomes is not None and outcomes.shape[1]:
        near &= (np.abs(outcomes - history.outcomes[level]) < k).all(axis=1)
    return history.shown[level] & near


def held_back(
    history: History,
    values: list[np.ndarray],
    k: int,
    outcomes: list[np.ndarray] | None = None,
    min_numerator: int = 0,
    magnitudes: list[np.ndarray] | None = None,
    p_percent: float = 10.0,
    others: list[np.ndarray] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(carried, withheld) per level. Carried: shown rows that changed by 1 to k - 1 subjects or
    whose outcome change is held (`outcome_moves_held`) or whose magnitude change one contributor
    could dominate (`dominated_changes`, with `magnitudes` as (entries × measures × [sum, largest,
    second]) per level), or whose other measures (`others`, entries × measures per level) changed
    while fewer than k subjects moved (`drifted`), when they can be carried (`carriable`).
    Withheld: hidden entries that moved by fewer than k since they were hidden (unmoved ones
    included), that may not be shown again yet against the figures they last showed
    (`shown_again_too_soon`) or against what the attacker knew of them
    (`outcomes_read_through_boxes`), and held rows that moved by k or more: carried, they would
    be stale by k or more."""
    carried, hidden = [], []
    for level, (shown, reference, current) in enumerate(zip(history.shown, history.reference, values, strict=True)):
        change = np.abs(current - reference)
        held = small(change, k)
        boxed = np.zeros(len(current), dtype=bool)
        if outcomes is not None:
            held |= outcome_moves_held(history.outcomes[level], outcomes[level], current - reference, k, min_numerator)
            boxed = outcomes_read_through_boxes(history, level, current, outcomes[level], min_numerator)
            held |= boxed
        if magnitudes is not None:
            held |= dominated_changes(history.magnitude_record(level, len(current)), magnitudes[level], p_percent)
        if others is not None:
            held |= drifted(history.anchors[level].others, others[level]) & (change < k)
        keep = carriable(history, level, current, outcomes[level] if outcomes is not None else None, k)
        carried.append(shown & held & keep)
        again = shown_again_too_soon(
            history, level, current, outcomes[level] if outcomes is not None else None, k, min_numerator, magnitudes[level] if magnitudes is not None else None, p_percent,
            others[level] if others is not None else None,
        )
        hidden.append((~shown & ((change < k) | boxed)) | again | (shown & held & ~keep))
    return carried, hidden


def change_tables(lattice: Lattice, history: History) -> list[list[np.ndarray]]:
    """Per kind of change (subjects, then each outcome), each level's true change since the last
    publication; levels not published themselves do not change in the attacker's eyes. A row
    carried last time gives no exact difference, so only rows shown with the truth both times are
    known (`History.known`) and the equations between them hold exactly."""
    published = len(history.rows)
    sizes = [len(v) for v in lattice.values]
    subjects = [lattice.values[level] - history.counted[level] if level < published else np.zeros(sizes[level], dtype=np.int64) for level in range(len(sizes))]
    kinds = [subjects]
    outcomes = lattice.outcomes or []
    for measure in range(outcomes[0].shape[1] if outcomes else 0):
        kinds.append([
            outcomes[level][:, measure] - history.outcomes_counted[level][:, measure] if level < published else np.zeros(sizes[level], dtype=np.int64)
            for level in range(len(sizes))
        ])
    return kinds


def other_changes(now: list[np.ndarray], history: History) -> list[np.ndarray] | None:
    """Each level's (entries × measures no rule judges) change of the true sums since the last
    publication (`now`: per level, the sums as `other_sums` reads them), NaN where the ledger
    cannot tell; a measure the last publication showed nowhere has nothing to be set against and
    changes by none. None without such measures."""
    if history.others_counted is None or not now or now[0].shape[1] == 0:
        return None
    unseen = history.others_unseen
    found = []
    for level, sums in enumerate(now):
        if level >= len(history.rows):
            found.append(np.zeros_like(sums))
            continue
        found.append(np.where(unseen[None, :], 0.0, sums - history.others_counted[level]))
    return found


def carried_ranges(history: History, carried: list[np.ndarray], k: int) -> dict[tuple[int, int], tuple[float, float]]:
    """What the attacker knows of a carried row: within k - 1 of the count it shows."""
    ranges = {}
    for level, rows in enumerate(carried):
        for entry in np.flatnonzero(rows):
            shown = float(history.reference[level][entry])
            ranges[(level, int(entry))] = (max(shown - (k - 1), 0.0), shown + (k - 1))
    return ranges


def magnitude_changes(lattice: Lattice, history: History) -> list[np.ndarray] | None:
    """Each level's (entries × magnitude measures × [change of the true sum, largest, second])
    since the last publication, the two largest bounded as in `dominated_changes`: by the two
    largest contributions of the entry's members now and then. None without magnitude measures."""
    if history.magnitudes_counted is None or not lattice.dominance or lattice.dominance[0].shape[1] == 0:
        return None
    published = len(history.rows)
    found = []
    for level, now in enumerate(lattice.dominance):
        if level >= published:
            found.append(np.zeros_like(now))
            continue
        found.append(moved_dominance(history.magnitudes_counted[level], now))
    return found


def moved_ranges(lattice: Lattice, history: History, shown_cells: np.ndarray | None = None) -> dict[tuple[int, int], tuple[float, float]]:
    """What the attacker knows of an entry's count from the last publication and how many joined
    and left since: at least the lowest it could be then less those who left, at most the highest
    plus those who joined (`History.bounds`: exact for a row shown with the truth, a carried row's
    range, and so on back through earlier publications). The attacker may know both numbers; the
    publisher, who sees counts rather than people, takes the fewest consistent with each cell's
    true change (every cell that grew gained only joiners, every cell that shrank lost only
    leavers), which leaves the attacker the narrowest ranges; the grand total moves by exactly
    their difference, however many more came and went. Ranges that bound nothing the counts ≥ 0
    and the entry's own size do not are left out.

    With `shown_cells` (the detailed cells this publication shows with the truth), the joins and
    leaves those cells must have taken are not counted against the entries outside them: what
    the attacker knows after this publication, which the ledger keeps for the next (every range
    then, informative or not)."""
    published = len(history.rows)
    joined, left = _joins_and_leaves(lattice, history)
    gains = losses = np.zeros(len(lattice.values[0]))
    if shown_cells is not None:
        before, now = history.bounds[0], lattice.values[0].astype(float)
        known = shown_cells & ~np.isnan(before[:, 0])
        gains = np.where(known, np.maximum(now - before[:, 1], 0), 0.0)
        losses = np.where(known, np.maximum(before[:, 0] - now, 0), 0.0)
    ranges = {}
    for level in range(published):
        size = len(lattice.values[level])
        entries = lattice.cell_entry[level] if level else np.arange(len(lattice.values[0]))
        free_joined = joined - (gains.sum() - np.bincount(entries, weights=gains, minlength=size))
        free_left = left - (losses.sum() - np.bincount(entries, weights=losses, minlength=size))
        if not lattice.levels[level]:  # the grand total moves by exactly the joiners less the leavers
            low, high = history.bounds[level][:, 0] + joined - left, history.bounds[level][:, 1] + joined - left
            informative = ~np.isnan(low)
        else:
            low, high = history.bounds[level][:, 0] - free_left, history.bounds[level][:, 1] + free_joined
            informative = ~np.isnan(low) & ((shown_cells is not None) | (low > 0) | (free_joined < history.bounds[level][:, 1]))
        for entry in np.flatnonzero(informative):
            ranges[(level, int(entry))] = (max(float(low[entry]), 0.0), float(high[entry]))
    return ranges


def movement_since(lattice: Lattice, history: History) -> Movement:
    """Each detailed cell's range at the last publication and the joins and leaves since, the
    fewest consistent with every cell's true change (`moved_ranges`), for the attacker's
    programme to share as one budget across the cells."""
    return Movement(history.bounds[0][:, 0], history.bounds[0][:, 1], *_joins_and_leaves(lattice, history))


def _joins_and_leaves(lattice: Lattice, history: History) -> tuple[float, float]:
    """The fewest joins and leaves consistent with each detailed cell's true change since the
    last publication: every cell that grew gained only joiners, every one that shrank lost only
    leavers."""
    change = lattice.values[0] - history.counted[0]
    return float(change[change > 0].sum()), float(-change[change < 0].sum())


def same_as_shown(lattice: Lattice, history: History) -> list[np.ndarray]:
    """Per published level, rows whose figures now are the ones the last publication showed:
    shown now, an attacker cannot tell them from rows carried forward, so it can prove only that
    they are within k - 1 of the truth."""
    found = []
    for level in range(len(history.rows)):
        same = history.shown[level] & (lattice.values[level] == history.reference[level])
        if lattice.outcomes and lattice.outcomes[level].shape[1]:
            same &= (lattice.outcomes[level] == history.outcomes[level]).all(axis=1)
        if history.magnitudes is not None and lattice.dominance and lattice.dominance[level].shape[1]:
            same &= np.isclose(lattice.dominance[level][..., 0], history.magnitudes[level][..., 0]).all(axis=1)
        found.append(same)
    return found


def boxes(moved: dict[tuple[int, int], tuple[float, float]], carried: dict[tuple[int, int], tuple[float, float]], level: int, size: int) -> list[list[float] | None]:
    """What the ledger keeps of the attacker's knowledge of a level's entries not shown with the
    truth: the range the joins and leaves leave them (`moved_ranges` after this publication),
    within a carried row's range too. Read back as `History.bounds`, so the next publication
    starts from it."""
    known = within_both(moved, carried)
    return [[float(v) for v in known[(level, entry)]] if (level, entry) in known else None for entry in range(size)]


def change_lattice(
    lattice: Lattice,
    changes: list[np.ndarray],
    known: list[np.ndarray],
    k: int,
    outcome_changes: list[np.ndarray] | None = None,
    magnitude_changes: list[np.ndarray] | None = None,
    other_changes: list[np.ndarray] | None = None,
) -> Lattice:
    """The table of one kind of change, with what the attacker can difference (rows shown both
    times) known and every change of 1 to k - 1 sensitive. With `outcome_changes` (beside the
    subjects' changes), the net newcomers' outcomes of a row or a withheld remainder that moved by
    k or more are under the outcome rule too: a row whose newcomers break it is sensitive. With
    `magnitude_changes`, a row or withheld remainder whose magnitude change one contributor could
    dominate (`change_dominance_violations`) is sensitive too. With `other_changes` (the sums of
    measures no rule judges), so is a row or withheld remainder whose sums moved while fewer than
    k of its subjects did (`moved_quietly`): a shown total less its shown rows, set against the
    same a publication before, gives the withheld rows' change of a mean age."""
    sensitive = [small(np.abs(change), k) for change in changes]
    if outcome_changes is not None:
        sensitive = [s | newcomers_break_rule(change, moved, k, lattice.min_numerator) for s, change, moved in zip(sensitive, changes, outcome_changes, strict=True)]
    if magnitude_changes is not None:
        sensitive = [s | change_dominance_violations(moved, lattice.p_percent) for s, moved in zip(sensitive, magnitude_changes, strict=True)]
    if other_changes is not None:
        sensitive = [s | moved_quietly(change, moved, k) for s, change, moved in zip(sensitive, changes, other_changes, strict=True)]
    return Lattice(
        lattice.levels,
        changes,
        lattice.cell_entry,
        fixed=lattice.fixed,
        suppressed=[~known_level for known_level in known],
        sensitive=sensitive,
        outcomes=outcome_changes or [],
        min_numerator=lattice.min_numerator if outcome_changes is not None else 0,
        signed=True,
        dominance=magnitude_changes or [],
        p_percent=lattice.p_percent,
        others=other_changes or [],
    )


def changes_to_carry(lattice: Lattice, history: History, fresh: list[np.ndarray], k: int, carried: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """Rows shown afresh whose change must also be held back, so no small change (of subjects, or
    of an outcome) can be solved for from the changes of published rows: the complementary audit
    of each change table. A row that did not change is never chosen: carried, it would show what
    it truly counts, and an attacker reading it as exact would be right. Then the groups read
    through different rows at the two times (`spans.read_across`, `carried` the rows carried
    now): each hides one more row beside it."""
    published = len(history.rows)
    known = [history.known(level, fresh[level]) if level < published else np.zeros(len(lattice.values[level]), dtype=bool) for level in range(len(lattice.levels))]
    carry = [np.zeros(len(lattice.values[level]), dtype=bool) for level in range(published)]
    kinds = change_tables(lattice, history)
    magnitudes = magnitude_changes(lattice, history)
    others = other_changes(lattice.others, history)
    unchanged = [
        known[level]
        & np.logical_and.reduce([kind[level] == 0 for kind in kinds])
        & (magnitudes is None or (magnitudes[level][..., 0] == 0).all(axis=1))
        & (others is None or ~drifted_sums(others[level]))
        for level in range(len(lattice.levels))
    ]
    for kind, changes in enumerate(kinds):
        delta = change_lattice(lattice, changes, known, k, outcome_changes(kinds) if kind == 0 else None, magnitudes if kind == 0 else None, others if kind == 0 else None)
        delta.kept = unchanged
        try:
            suppress(delta, k)
        except RuntimeError:
            return [known[level] & ~unchanged[level] for level in range(published)]  # nothing left to hide beside a small change: carry every row that moved
        for level in range(published):
            carry[level] |= known[level] & delta.suppressed[level]
    return _and_read_across(lattice, fresh, carried, carry, lambda now, kept: _across(lattice, history, now, k, kept))


def _and_read_across(lattice: Lattice, fresh: list[np.ndarray], carried: list[np.ndarray] | None, carry: list[np.ndarray], read) -> list[np.ndarray]:
    """`carry` and the rows to hide beside it so that no group is read through different rows:
    with `carry` carried, one row beside each group `read` finds (of the rows shown now and those
    carried; it returns the groups and per level the rows that tell their count now), again until
    it finds none or none can be hidden, as hiding one row can leave another group read."""
    fresh = [shown & ~carry[level] if level < len(carry) else shown.copy() for level, shown in enumerate(fresh)]
    carried = [rows | carry[level] for level, rows in enumerate(carried)] if carried is not None else [rows.copy() for rows in carry]
    while True:
        groups, counted_now = read(fresh, carried)
        hideable = [counted_now[level] & (level not in lattice.fixed) if level < len(counted_now) else np.zeros(len(v), dtype=bool) for level, v in enumerate(lattice.values)]
        rows = sorted({row for group in groups if (row := blame(lattice, group, hideable)) is not None})
        if not rows:
            return carry
        for level, row in rows:
            carry[level][row] = True
            fresh[level][row] = carried[level][row] = False


def counts_read(history: History, level: int, values: np.ndarray, carried: np.ndarray | None) -> np.ndarray:
    """Rows carried now whose count is the one they truly have: read as exact, as to the count."""
    return carried & (history.reference[level] == values) if carried is not None else np.zeros(len(values), dtype=bool)


def spans_of(state: History | Before, lattice: Lattice, known: list[np.ndarray], name: str) -> Spans:
    """The groups a past publication's rows determine, worked out once per release: the
    lattice's shape and the publication do not change while the release settles."""
    if name not in state.memo:
        state.memo[name] = spans_among(list(state.memo.values()), lattice, known)
    return state.memo[name]


def _now(lattice: Lattice, history: History, fresh: list[np.ndarray], carried: list[np.ndarray] | None) -> Told:
    """Per published level, the rows now shown with a true count, and per measure no rule judges
    those shown with that sum true: fresh, or carried with figures that are still the truth."""
    published = len(history.rows)
    counted = [fresh[level] | counts_read(history, level, lattice.values[level], carried[level] if carried else None) for level in range(published)]
    means = history.other_means
    sums = []
    for level in range(published):
        rows = len(fresh[level])
        shown = history.anchors[level].others
        truth = lattice.others[level] if lattice.others else np.zeros((rows, 0))
        told = np.isclose(np.where(means[None, :], shown * history.reference[level][:, None], shown), truth, rtol=1e-9, atol=1e-6)
        sums.append(fresh[level][:, None] | ((carried[level] if carried else np.zeros(rows, dtype=bool))[:, None] & told))
    return Told(counted, per_measure(sums, len(means)))


def per_measure(sums: list[np.ndarray], measures: int) -> list[list[np.ndarray]]:
    """Per level (entries × measures) masks as one list of per-level masks per measure."""
    return [[mask[:, measure] for mask in sums] for measure in range(measures)]


def _last_spans(lattice: Lattice, history: History) -> Reading:
    """What the last publication's rows determine: those shown with a true count, and per measure
    no rule judges those shown with that sum true."""
    counted = [history.exact[level] | (history.shown[level] & (history.reference[level] == history.counted[level])) for level in range(len(history.rows))]
    told = per_measure(history.sums_told, len(history.other_means))
    return Reading(spans_of(history, lattice, counted, "counts"), [spans_of(history, lattice, known, f"sum {m}") for m, known in enumerate(told)])


def _across(lattice: Lattice, history: History, fresh: list[np.ndarray], k: int, carried: list[np.ndarray] | None) -> tuple[list, list[np.ndarray]]:
    """The groups read through different rows in the last publication and now, and per level the
    rows that tell their count now."""
    published = len(history.rows)
    now = _now(lattice, history, fresh, carried)
    then = _last_spans(lattice, history)
    changes = [lattice.values[level] - history.counted[level] for level in range(published)]
    others = other_changes(lattice.others, history)
    return read_across(lattice, published, then, now, changes, others[:published] if others is not None else None, k), now.counted


def groups_read_since_last(lattice: Lattice, history: History, fresh: list[np.ndarray], k: int, carried: list[np.ndarray]) -> list[tuple[int, int]]:
    """For the audit: the (level, entry) of each group read through different rows in the last
    publication and this one (`carried`: rows carried forward, showing what they last showed)."""
    return [(group.level, group.entry) for group in _across(lattice, history, fresh, k, carried)[0]]


@dataclass(frozen=True)
class Before:
    """A publication older than the last, as this one is set against it (`window.before_of`): per
    published level, each entry's state then. An attacker differences any two tables, not only
    consecutive ones: a total carried or withheld in between is checked by no step, and shown
    again, less its rows, it reads what the rows it hides did over the whole gap."""

    exact: list[np.ndarray]  # shown then with the truth
    counted: list[np.ndarray]  # its subjects then; 0 when absent
    sums: list[np.ndarray]  # (entries × measures no rule judges) true sums then; 0 when absent, NaN when unknown
    unseen: np.ndarray  # per such measure: neither shown nor recorded then, so nothing to difference
    sums_told: list[np.ndarray]  # (entries × measures no rule judges) shown then with that sum true, whatever its other figures
    counts: list[np.ndarray] | None = None  # shown then with its true count, whatever its other figures
    memo: dict = field(default_factory=dict, compare=False, repr=False)  # what is worked out once from it per release (`spans_of`)

    def told(self) -> list[list[np.ndarray]]:
        """Per measure no rule judges, per level, the rows shown then with that sum true."""
        return per_measure(self.sums_told, self.unseen.shape[0])


def gap_lattice(lattice: Lattice, before: Before, fresh: list[np.ndarray], k: int, steady: list[np.ndarray] | None = None) -> Lattice:
    """The table of changes since an earlier publication: rows shown with the truth then and now
    known, the rest unknown. Only what was withheld then or now may not be read: a change of 1 to
    k - 1 subjects, or a sum no rule judges that moved while fewer than k subjects did, of a
    withheld row or of what a total hides. (Rows shown both times are held by the step-by-step
    rule against the figures they last showed.) `steady`: per level, rows shown with the truth at
    every publication since as well: a total and rows all steady tell only the sum of what each
    step's table let through, so only totals that are, or hold, a row with a gap are judged."""
    published = len(before.exact)
    sizes = [len(values) for values in lattice.values]
    known = [fresh[level] & before.exact[level] if level < published else np.zeros(sizes[level], dtype=bool) for level in range(len(sizes))]
    changes = [
        np.nan_to_num(lattice.values[level] - before.counted[level]).astype(np.int64) if level < published else np.zeros(sizes[level], dtype=np.int64)
        for level in range(len(sizes))
    ]
    sums = [
        np.where(before.unseen[None, :], 0.0, lattice.others[level] - before.sums[level]) if level < published else np.zeros_like(lattice.others[level])
        for level in range(len(sizes))
    ]
    sensitive = [~seen & (small(np.abs(change), k) | moved_quietly(change, moved, k)) for seen, change, moved in zip(known, changes, sums, strict=True)]
    news = [seen & ~kept for seen, kept in zip(known, steady, strict=False)] + [np.zeros(size, dtype=bool) for size in sizes[len(steady):]] if steady is not None else []
    delta = Lattice(lattice.levels, changes, lattice.cell_entry, fixed=lattice.fixed, suppressed=[~seen for seen in known], sensitive=sensitive, signed=True, others=sums, news=news)
    delta.kept = [seen & (change == 0) & ~drifted_sums(moved) for seen, change, moved in zip(known, changes, sums, strict=True)]
    return delta


def with_gaps(befores: Sequence[Before], last: list[np.ndarray], fresh: list[np.ndarray]) -> list[tuple[Before, list[np.ndarray]]]:
    """The older publications (oldest first) some row shown with the truth then and now was not
    shown so at some publication since (`last`: per level, the last one's): only across such a
    gap can a table of changes read what no step's table did. Each with its rows shown with the
    truth at every publication since (steady)."""
    found, steady = [], [now & then for now, then in zip(fresh, last, strict=False)]
    for before in reversed(befores):
        if any((now & then & ~kept).any() for now, then, kept in zip(fresh, before.exact, steady, strict=False)):
            found.append((before, steady))
        steady = [kept & then for kept, then in zip(steady, before.exact, strict=True)]
    return found[::-1]


def gaps_to_carry(lattice: Lattice, befores: Sequence[Before], history: History, fresh: list[np.ndarray], k: int, carried: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """Rows shown afresh that must be held back so that no change since an earlier publication
    across a gap (`with_gaps`, `gap_lattice`) can be read: the complementary audit of each such
    table of changes; then one row beside each group read through different rows then and now
    (`read_since_older`)."""
    published = len(history.rows)
    carry = [np.zeros(len(lattice.values[level]), dtype=bool) for level in range(published)]
    for before, steady in with_gaps(befores, history.exact, fresh):
        delta = gap_lattice(lattice, before, fresh, k, steady)
        try:
            suppress(delta, k)
        except RuntimeError:
            return [(fresh[level] & before.exact[level] & ~delta.kept[level]) | carry[level] for level in range(published)]  # nothing left to hide: carry every row that moved
        for level in range(published):
            carry[level] |= fresh[level] & before.exact[level] & delta.suppressed[level]
    return _and_read_across(lattice, fresh, carried, carry, lambda now, kept: (read_since_older(lattice, befores, history, now, k, kept), _now(lattice, history, now, kept).counted))


def read_since_older(lattice: Lattice, befores: Sequence[Before], history: History, fresh: list[np.ndarray], k: int, carried: list[np.ndarray] | None = None) -> list:
    """The groups read through different rows in an older publication and now, and not at every
    publication in between (then each step's change was read, and held)."""
    published = len(history.rows)
    older = [
        (
            Reading(spans_of(before, lattice, before.counts or before.exact, "counts"), [spans_of(before, lattice, known, f"sum {m}") for m, known in enumerate(before.told())]),
            [lattice.values[level] - before.counted[level] for level in range(published)],
            _sums_since(lattice, before, published),
        )
        for before in befores
    ]
    return read_over_gaps(lattice, published, older, _last_spans(lattice, history), _now(lattice, history, fresh, carried), k)


def _sums_since(lattice: Lattice, before: Before, published: int) -> list[np.ndarray] | None:
    """Per published level, each entry's change of the sums no rule judges since `before`."""
    if not lattice.others or lattice.others[0].shape[1] == 0:
        return None
    return [np.where(before.unseen[None, :], 0.0, lattice.others[level] - before.sums[level]) for level in range(published)]


def outcome_changes(kinds: list[list[np.ndarray]]) -> list[np.ndarray] | None:
    """Each level's (entries × outcome measures) outcome changes, from `change_tables`; None
    without outcome measures."""
    if len(kinds) < 2:
        return None
    return [np.column_stack([kind[level] for kind in kinds[1:]]) for level in range(len(kinds[0]))]
