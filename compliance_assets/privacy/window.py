"""The attacker who reads every publication at once.

The change rule and the protection intervals judge a release against the ledger's last
publication and the ranges it keeps of each withheld entry, one box per entry. An attacker keeps
every table and counts the joins and leaves between any two, and reads them together: a row
shown again, shown for the first time or changed, set against every move since an older
publication, says where the movers were, and bounds a cohort under k in this publication or,
after the fact, in an earlier one. This is that attacker's linear programme over the last
publications the ledger keeps (the window) and the one being made: per publication an unknown
count per detailed cell, and per step each cell's joins and leaves, as many in all as the fewest
the truths allow, none leaving a cell it was not in or joining one it is not in; a row shown
with new figures is an equation, a row shown unchanged lies within k - 1 of them (it may be
carried forward), and outcome counts the same way, with the joiners, leavers and flips they
move by. An entry withheld with fewer than k subjects in any of those publications may not be
bounded narrower than the protection level, unless the window without the new publication's rows
already bound it as narrowly: a release answers for what it adds. Nor may the members of an
entry, or those who joined or left it in a step, be proven to share one outcome value. The
publications before the window enter it as the ranges the ledger recorded, with the oldest
publication in it, of what the attacker could know of each of its withheld entries (anchors).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import highspy
import numpy as np
import pandas as pd

from compliance_assets.privacy.intervals import EquationSystem, highs_model, highs_solver, lacking, matrix_of
from compliance_assets.privacy.ledger import COUNTED, entry_keys
from compliance_assets.privacy.republication import KNOWN, Before

WINDOW = 10  # earlier publications read together with a new one, by default


@dataclass(frozen=True)
class Publication:
    """One publication's entries as the attacker keeps them, with the publisher's truth beside:
    `values` the subjects shown (NaN where withheld), `truths` what each entry counted (NaN where
    the ledger does not say), `carried` rows shown with an earlier count; `outcomes` and
    `outcome_truths` the same of each outcome measure's count (entries × outcomes). `boxes`
    (entries × [low, high]) and `outcome_boxes` (entries × outcomes × [low, high, complement low,
    complement high]) are what the ledger recorded the attacker could know of each withheld or
    carried entry then, from every publication before it (NaN where it recorded nothing)."""

    labels: np.ndarray
    keys: np.ndarray
    shown: np.ndarray
    values: np.ndarray
    truths: np.ndarray
    carried: np.ndarray
    outcomes: np.ndarray
    outcome_truths: np.ndarray
    boxes: np.ndarray | None = None
    outcome_boxes: np.ndarray | None = None
    other_truths: np.ndarray | None = None  # (entries × measures no rule judges) their true sums (NaN: unknown)
    other_values: np.ndarray | None = None  # the same sums as shown (NaN where withheld)
    other_shown: np.ndarray | None = None  # per such measure, whether the publication showed or recorded it anywhere


@dataclass(frozen=True)
class WindowExposure:
    """A withheld entry under k that the window, with the new publication, bounds narrower than
    the protection level and than it did without it; `back` counts publications before the new
    one (0: the new one itself). Or, with `who` ("members", "joiners" or "leavers" since the
    publication before), an entry whose members or movers the window proves to share one value
    of the outcome measure numbered `outcome` (`having` it or not), where it did not without the
    new publication; `truth` then counts them (movers: the fewest each cell's counts allow)."""

    back: int
    label: str
    key: str
    truth: float
    low: float
    high: float
    who: str = ""
    outcome: int = -1
    having: bool = False


def ledger_publications(ledger: pd.DataFrame | None, outcomes: Mapping[str, bool], others: Mapping[str, bool] | None = None) -> list[Publication]:
    """The ledger's publications of one release, oldest first. `outcomes` maps each outcome
    measure under the release's rules to whether it is a mean (a rate, its count the rate times
    the subjects shown): `cohorts.outcome_kinds`; `others` likewise the measures no rule judges
    (`cohorts.other_measures`), whose true sums the ledger records."""
    if ledger is None or not len(ledger):
        return []
    outcomes, others = dict(outcomes), dict(others or {})
    order = ledger.groupby("publication", sort=False)["published_at"].max().sort_values(kind="stable").index
    found = []
    for publication in order:
        rows = ledger.loc[ledger["publication"] == publication]
        records = [json.loads(text) if isinstance(text, str) else {} for text in rows["measures"]]
        counted = np.array([float(r[COUNTED]["subjects"]) if isinstance(r.get(COUNTED), dict) and "subjects" in r[COUNTED] else np.nan for r in records])
        shown = rows["shown"].to_numpy(dtype=bool)
        carried = rows["carried"].to_numpy(dtype=bool)
        values = np.where(shown, rows["subjects"].to_numpy(dtype=float), np.nan)
        truths = np.where(np.isnan(counted) & shown & ~carried, values, counted)
        shown_counts, true_counts = _outcome_records(records, values, shown, carried, outcomes)
        found.append(
            Publication(
                rows["grouped_by"].astype(str).to_numpy(dtype=object), rows["entry"].astype(str).to_numpy(dtype=object), shown, values, truths, carried, shown_counts, true_counts,
                *_boxes(records, outcomes),
                *_other_records(records, values, shown, carried, others),
            )
        )
    return found


def _other_records(
    records: list[dict], values: np.ndarray, shown: np.ndarray, carried: np.ndarray, others: Mapping[str, bool]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each entry's true sums of the measures no rule judges (as recorded; for a row shown with
    the truth and no record, as shown; NaN otherwise), the sums as shown (a mean times the
    subjects beside it; NaN where withheld), and whether each measure was shown or recorded at all."""
    truths, sums = np.full((len(records), len(others)), np.nan), np.full((len(records), len(others)), np.nan)
    anywhere = np.zeros(len(others), dtype=bool)
    for column, (name, is_mean) in enumerate(others.items()):
        for row, record in enumerate(records):
            counted = record.get(COUNTED)
            value = record.get(name)
            anywhere[column] |= bool(shown[row] and value is not None)
            if shown[row]:
                sums[row, column] = 0.0 if value is None else float(value) * values[row] if is_mean else float(value)
            if isinstance(counted, dict) and counted.get(name) is not None:
                truths[row, column] = float(counted[name])
                anywhere[column] = True
            elif shown[row] and not carried[row]:
                truths[row, column] = sums[row, column]
    return truths, sums, anywhere


def _boxes(records: list[dict], outcomes: Mapping[str, bool]) -> tuple[np.ndarray, np.ndarray]:
    """Each entry's recorded ranges: of its subjects, and of each outcome count and complement."""
    counted = [r.get(COUNTED) if isinstance(r.get(COUNTED), dict) else {} for r in records]
    boxes = np.array([c.get(KNOWN) or [np.nan, np.nan] for c in counted], dtype=float).reshape(len(records), 2)
    outcome_boxes = np.array([[c.get(f"{name}{KNOWN}") or [np.nan] * 4 for name in outcomes] for c in counted], dtype=float).reshape(len(records), len(outcomes), 4)
    return boxes, outcome_boxes


def _outcome_records(records: list[dict], values: np.ndarray, shown: np.ndarray, carried: np.ndarray, outcomes: Mapping[str, bool]) -> tuple[np.ndarray, np.ndarray]:
    """Each entry's outcome counts as shown (a mean's rate times the subjects shown beside it;
    NaN where withheld) and as counted (NaN where the ledger does not say)."""
    shown_counts, true_counts = np.full((len(records), len(outcomes)), np.nan), np.full((len(records), len(outcomes)), np.nan)
    for column, (name, is_mean) in enumerate(outcomes.items()):
        for row, record in enumerate(records):
            value = record.get(name)
            if shown[row] and value is not None:
                shown_counts[row, column] = float(np.rint(float(value) * values[row])) if is_mean else float(value)
            counted = record.get(COUNTED)
            if isinstance(counted, dict) and counted.get(name) is not None:
                true_counts[row, column] = float(counted[name])
            elif shown[row] and not carried[row]:
                true_counts[row, column] = shown_counts[row, column]
    return shown_counts, true_counts


def _read_exactly(publication: Publication) -> np.ndarray:
    """Entries the publication showed with the truth: fresh, or carried with figures that had
    not moved (the attacker cannot tell the two apart, and reading either as exact is right)."""
    exact = publication.shown & (publication.values == publication.truths)
    if publication.outcomes.shape[1]:
        exact &= (np.nan_to_num(publication.outcomes, nan=-1.0) == publication.outcome_truths).all(axis=1)
    if publication.other_values is not None and publication.other_values.shape[1]:
        exact &= np.isclose(publication.other_values, publication.other_truths, rtol=1e-9, atol=1e-6).all(axis=1)
    return exact


def before_of(publication: Publication, tables: Sequence[pd.DataFrame], dims: Sequence[str]) -> Before:
    """An earlier publication's entries lined up with each published level's entries now."""
    index = {(str(label), str(key)): i for i, (label, key) in enumerate(zip(publication.labels, publication.keys, strict=True))}
    names = 0 if publication.other_truths is None else publication.other_truths.shape[1]
    truths = publication.other_truths if publication.other_truths is not None else np.zeros((len(publication.labels), 0))
    exact, counts, counted, sums, sums_told = [], [], [], [], []
    told = publication.shown & (publication.values == publication.truths)  # its count the truth, whatever its other figures
    values = publication.other_values if publication.other_values is not None else np.full(truths.shape, np.nan)
    told_sums = publication.shown[:, None] & np.isclose(values, truths, rtol=1e-9, atol=1e-6)  # a sum the truth, whatever its other figures
    for table in tables:
        labels = table["grouped_by"].astype(str).to_numpy(dtype=object)
        keys = entry_keys(table, dims).astype(str).to_numpy(dtype=object)
        found = np.array([index.get((label, key), -1) for label, key in zip(labels, keys, strict=True)], dtype=np.int64)
        present, at = found >= 0, np.maximum(found, 0)
        if not len(publication.labels):
            present = np.zeros(len(found), dtype=bool)
            exact.append(present)
            counts.append(present)
            counted.append(np.zeros(len(found)))
            sums.append(np.zeros((len(found), names)))
            sums_told.append(np.zeros((len(found), names), dtype=bool))
            continue
        exact.append(present & _read_exactly(publication)[at])
        counts.append(present & told[at])
        counted.append(np.where(present, np.nan_to_num(publication.truths[at]), 0.0))
        sums.append(np.where(present[:, None], truths[at], 0.0))
        sums_told.append(exact[-1][:, None] | (present[:, None] & told_sums[at]))
    unseen = ~publication.other_shown if publication.other_shown is not None else np.ones(names, dtype=bool)
    return Before(exact, counted, sums, unseen, sums_told, counts)


def window_exposures(
    earlier: Sequence[Publication], current: Publication, dims: Sequence[str], k: int, protection: float, diversity: bool = True
) -> list[WindowExposure]:
    """What `current` (the publication being made) exposes read together with the `earlier`
    ones (oldest first): every release, whether it shows a row for the first time, again, changed
    or not at all, since each of these met an attacker who sets it against older publications.
    `diversity`: whether the outcome rule holds (a minimum numerator above 0), and with it
    l-diversity of withheld cohorts and movers; without, outcome counts only bound subjects."""
    measured = current.outcomes.shape[1]
    if any(publication.outcomes.shape[1] < measured for publication in earlier):
        raise ValueError(
            f"the earlier publications were read without the release's {measured} outcome measure(s): pass them to ledger_publications (cohorts.outcome_kinds)"
        )
    return read_together([*earlier, current], dims, k, protection, diversity) if earlier else []


def read_together(window: Sequence[Publication], dims: Sequence[str], k: int, protection: float, diversity: bool = True) -> list[WindowExposure]:
    """The exposures of the last publication of `window` read together with the earlier ones.
    A release and its audit, in one step, read the same publications: the answer depends on
    nothing else, so the second reading is the first one's."""
    if len(window) < 2:
        return []
    key = _digest(window, dims, k, protection, diversity)
    if key not in _READINGS:
        if len(_READINGS) >= READINGS_KEPT:
            del _READINGS[next(iter(_READINGS))]
        _READINGS[key] = _read_together(window, list(dims), k, protection, diversity)
    return list(_READINGS[key])


READINGS_KEPT = 4
_READINGS: dict[bytes, list[WindowExposure]] = {}


def _digest(window: Sequence[Publication], dims: Sequence[str], k: int, protection: float, diversity: bool) -> bytes:
    digest = hashlib.blake2b(json.dumps([list(dims), k, protection, diversity]).encode(), digest_size=32)
    for publication in window:
        for text in (publication.labels, publication.keys):
            digest.update("\x1f".join(map(str, text)).encode() + b"\x1e")
        for numbers in (publication.shown, publication.values, publication.truths, publication.carried, publication.outcomes, publication.outcome_truths, publication.boxes, publication.outcome_boxes):
            digest.update(np.asarray(numbers if numbers is not None else [], dtype=float).tobytes() + b"\x1e")
    return digest.digest()


def _read_together(window: Sequence[Publication], dims: list[str], k: int, protection: float, diversity: bool) -> list[WindowExposure]:
    programme = _Programme(window, dims, k)
    if not programme.targets and not programme.m:
        return []
    point = programme.truth()
    now = programme.system(with_last=True)
    shared = programme.shared_targets(point if now.feasible(point) else None) if diversity else []
    members = [columns for _, _, columns in programme.targets]
    asked = np.flatnonzero(programme.shift_spans(now, point, protection) < protection - 1e-6) if members else np.zeros(0, dtype=np.int64)
    bounds = dict(zip(asked.tolist(), now.ranges([members[n] for n in asked], point, protection), strict=True)) if len(asked) else {}
    narrow = [number for number, (low, high) in bounds.items() if high - low < protection - 1e-6]
    proven = [target for target, reached in zip(shared, now.reaches([t.objective for t in shared], 1.0, point), strict=True) if not reached] if shared else []
    if not narrow and not proven:
        return []
    without = programme.system(with_last=False)
    found = []
    before = without.ranges([members[n] for n in narrow], point, protection) if narrow else []
    for number, (low_before, high_before) in zip(narrow, before, strict=True):
        low, high = bounds[number]
        if high - low < high_before - low_before - 1e-6:
            period, entry, _ = programme.targets[number]
            publication = window[period]
            found.append(WindowExposure(len(window) - 1 - period, str(publication.labels[entry]), str(publication.keys[entry]), float(publication.truths[entry]), low, high))
    reached_before = without.reaches([t.objective for t in proven], 1.0, point) if proven else []
    for target, reached in zip(proven, reached_before, strict=True):
        if reached:
            publication = window[target.period]
            found.append(
                WindowExposure(
                    len(window) - 1 - target.period, str(publication.labels[target.entry]), str(publication.keys[target.entry]), target.count, 0.0, 0.0,
                    target.who, target.outcome, target.having,
                )
            )
    return found


@dataclass(frozen=True)
class _Shared:
    """A set of people whose outcome the attacker may prove they share: an entry's members in a
    publication, or those who joined or left it in the step before; `objective` counts those of
    them with the outcome (`having` false) or without it (`having` true), 0 when proven."""

    period: int
    entry: int
    who: str
    outcome: int
    having: bool
    count: float
    objective: tuple[np.ndarray, np.ndarray]


class _Programme:
    """The window's unknowns: each publication's detailed cells, then each step's joins and
    leaves per cell; with outcome measures, each publication's outcome count per cell, then per
    step and cell the joiners and leavers with the outcome and the members whose outcome turned
    on or off, as many flips in all as the fewest the truths allow. Primal simplex crawls through
    the outcome flows' degenerate vertices; interior point solves those programmes (the census's
    eleven publications: 104 s against 11.5 s)."""

    def __init__(self, window: Sequence[Publication], dims: list[str], k: int):
        self.window, self.dims, self.k = window, dims, k
        detail = ",".join(dims)
        cells: dict[str, int] = {}
        for publication in window:
            for key in publication.keys[publication.labels == detail]:
                cells.setdefault(key, len(cells))
        self.cells = cells
        self.values = [json.loads(key) for key in cells]
        n, periods = len(cells), len(window)
        self.m = min(publication.outcomes.shape[1] for publication in window)
        self.n, self.periods = n, periods
        self.outcomes_at = periods * n + (periods - 1) * 2 * n
        self.outcome_moves_at = self.outcomes_at + self.m * periods * n
        self.width = self.outcome_moves_at + self.m * (periods - 1) * 4 * n
        self.truths, self.outcome_truths = np.zeros((periods, n)), np.zeros((self.m, periods, n))
        for period, publication in enumerate(window):
            mine = publication.labels == detail
            at = np.array([cells[key] for key in publication.keys[mine]], dtype=np.int64)
            if len(at):
                self.truths[period, at] = np.nan_to_num(publication.truths[mine])
                self.outcome_truths[:, period, at] = np.nan_to_num(publication.outcome_truths[mine][:, : self.m]).T
        self.outcome_truths = np.minimum(self.outcome_truths, self.truths[None])
        change = np.diff(self.truths, axis=0)
        self.joined, self.left = np.maximum(change, 0), np.maximum(-change, 0)  # per step and cell, the fewest
        self.outcome_points = [self._outcome_moves(i) for i in range(self.m)]
        self._members: dict[str, tuple[list[int], dict[tuple, np.ndarray]]] = {}
        self._anchors: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
        self._shown: list[tuple[int, int, np.ndarray]] | None = None
        self.targets = [
            (period, int(entry), self.at(period) + cells_of)
            for period, publication in enumerate(window)
            for entry in np.flatnonzero(~publication.shown & (publication.truths >= 1) & (publication.truths < k))
            if len(cells_of := self.members(publication.labels[entry], publication.keys[entry]))
        ]

    def at(self, period: int) -> int:
        return period * self.n

    def moves(self, period: int) -> tuple[int, int]:
        """Where step `period`'s joins and leaves start among the unknowns."""
        joins = len(self.window) * self.n + (period - 1) * 2 * self.n
        return joins, joins + self.n

    def outcome_at(self, outcome: int, period: int) -> int:
        return self.outcomes_at + (outcome * self.periods + period) * self.n

    def outcome_moves(self, outcome: int, period: int) -> list[int]:
        """Where step `period`'s joiners and leavers with the outcome, and its flips on and off,
        start among the unknowns."""
        start = self.outcome_moves_at + (outcome * (self.periods - 1) + period - 1) * 4 * self.n
        return [start + part * self.n for part in range(4)]

    def _outcome_moves(self, outcome: int) -> np.ndarray:
        """Per step: the true joiners and leavers with the outcome, and flips on and off, at the
        fewest flips the subjects' fewest moves allow ((steps × 4 × cells))."""
        y, x = self.outcome_truths[outcome], self.truths
        found = np.zeros((self.periods - 1, 4, self.n))
        for step in range(1, self.periods):
            joined, left = self.joined[step - 1], self.left[step - 1]
            join_low, join_high = np.maximum(joined - (x[step] - y[step]), 0), np.minimum(joined, y[step])
            leave_low, leave_high = np.maximum(left - (x[step - 1] - y[step - 1]), 0), np.minimum(left, y[step - 1])
            change = y[step] - y[step - 1]
            leaving = np.clip(join_low - change, leave_low, leave_high)
            joining = np.clip(change + leaving, join_low, join_high)
            rest = change - (joining - leaving)
            found[step - 1] = [joining, leaving, np.maximum(rest, 0), np.maximum(-rest, 0)]
        return found

    def members(self, label: str, key: str) -> np.ndarray:
        """The cells under an entry: those that agree with it on the dimensions it is grouped by."""
        if label not in self._members:
            positions = [] if label == "(total)" else [self.dims.index(d) for d in label.split(",") if d in self.dims]
            grouped: dict[tuple, list[int]] = {}
            for cell, values in enumerate(self.values):
                grouped.setdefault(tuple(values[p] for p in positions), []).append(cell)
            self._members[label] = (positions, {group: np.array(found, dtype=np.int64) for group, found in grouped.items()})
        positions, groups = self._members[label]
        values = json.loads(key)
        return groups.get(tuple(values[p] for p in positions), np.zeros(0, dtype=np.int64))

    def shown_entries(self, period: int | None = None) -> list:
        """The shown entries with cells under them: (period, entry, cells), or of one period
        (entry, cells)."""
        if self._shown is None:
            self._shown = [
                (period, int(entry), cells)
                for period, publication in enumerate(self.window)
                for entry in np.flatnonzero(publication.shown)
                if len(cells := self.members(publication.labels[entry], publication.keys[entry]))
            ]
        if period is None:
            return self._shown
        return [(entry, cells) for at, entry, cells in self._shown if at == period]

    def shared_targets(self, point: np.ndarray | None) -> list[_Shared]:
        """The entries' members, joiners and leavers (in each publication of the window) that
        `point` (a feasible point; None when the truth is not one) has all with an outcome or all
        without it, or every such group without a point: l-diversity over time. An entry shown
        with its own figures keeps the outcome rule, so only withheld and carried entries'
        members are asked for; movers are asked for wherever the fewest moves put any."""
        found, seen = [], set()
        for period, publication in enumerate(self.window):
            for entry in range(len(publication.keys)):
                cells = self.members(publication.labels[entry], publication.keys[entry])
                if not len(cells):
                    continue
                groups = []
                if (not publication.shown[entry] or publication.carried[entry]) and publication.truths[entry] >= 1:
                    groups.append(("members", self.at(period), None, publication.truths[entry]))
                if period:
                    joins, leaves = self.moves(period)
                    groups += [
                        (who, start, part, moved)
                        for who, start, part, moved in (("joiners", joins, 0, self.joined[period - 1][cells].sum()), ("leavers", leaves, 1, self.left[period - 1][cells].sum()))
                        if moved >= 1
                    ]
                for who, start, part, count in groups:
                    for outcome in range(self.m):
                        having_at = (self.outcome_at(outcome, period) if part is None else self.outcome_moves(outcome, period)[part]) + cells
                        everyone = start + cells
                        for having in (False, True):
                            identity = (period, who, outcome, having, cells.tobytes())
                            if identity in seen:
                                continue
                            seen.add(identity)
                            if having:
                                objective = lacking(everyone, having_at)
                            else:
                                objective = (having_at, np.ones(len(cells)))
                            if point is None or float(point[objective[0]] @ objective[1]) < 1 - 1e-6:
                                found.append(_Shared(period, entry, who, outcome, having, float(count), objective))
        return found

    def shift_spans(self, system: EquationSystem, point: np.ndarray, protection: float | None = None) -> np.ndarray:
        """Per target, a width it spans at least, without a programme (0 where none is known).
        Cells that every row shown in the window, and every anchor, holds together or not at all
        (twins over the window) can trade members in every publication at once: the joins and
        leaves stay, every shown row keeps its figure, and a cell can give up to the fewest
        members it holds beyond its movers. So a
        target holding some cells of such a class and not others ranges at least from its truth
        less what its cells there can give to its truth plus what the others can give it: its
        span is at least all the class can give, for each class it splits. The outcome counts stay
        where they are, so a cell gives only members without the outcome beyond those that moved
        without it. Only where the truth is a feasible point of `system`.

        Targets the twins leave under `protection` (all, without) are asked of a small programme
        over the same shifts: one change per cell, the same in every publication, each shown row's
        and anchor's cells changing by 0 in all, no cell giving more than it can: its maximum
        less its minimum over the target's cells is a span the window's programme has too (the
        truth plus any such change is one of its points). Cells shown alone stay. One model over
        the window's cells, whatever its length, and one answer per set of cells."""
        spans = np.zeros(len(self.targets))
        if not system.feasible(point):
            return spans
        signature = np.zeros(self.n, dtype=np.uint64)
        draw = np.random.default_rng(0)
        for period, entry, cells in self.shown_entries():
            if not np.isnan(self.window[period].values[entry]):
                signature[cells] += draw.integers(1, 2**62, dtype=np.uint64)
        for cells, _, _ in self.anchors():
            signature[cells] += draw.integers(1, 2**62, dtype=np.uint64)
        _, classes = np.unique(signature, return_inverse=True)
        slack = self._spare(self.truths, self.joined, self.left)
        for outcome in range(self.m):
            moves = self.outcome_points[outcome]
            lacking = self.truths - self.outcome_truths[outcome]
            slack = np.minimum(slack, self._spare(lacking, self.joined - moves[:, 0], self.left - moves[:, 1]))
        class_slack, class_size = np.bincount(classes, weights=slack), np.bincount(classes)
        for number, (period, _, columns) in enumerate(self.targets):
            mine, inside = np.unique(classes[columns - self.at(period)], return_counts=True)
            spans[number] = class_slack[mine[inside < class_size[mine]]].sum()
        short = np.flatnonzero(spans < (protection if protection is not None else np.inf) - 1e-6)
        if len(short):
            spans[short] = np.maximum(spans[short], self._uniform_spans([self.targets[n][2] - self.at(self.targets[n][0]) for n in short], slack))
        return spans

    def _uniform_spans(self, targets: list[np.ndarray], slack: np.ndarray) -> np.ndarray:
        """Each target's (cells) span over the shifts `shift_spans` describes: a programme over
        one change per cell, lowest -`slack`."""
        held = {}
        for period, entry, cells in self.shown_entries():
            if not np.isnan(self.window[period].values[entry]):
                held[cells.tobytes()] = cells
        for cells, _, _ in self.anchors():
            held[cells.tobytes()] = cells
        rows = list(held.values())
        alone = np.zeros(self.n, dtype=bool)
        alone[[cells[0] for cells in rows if len(cells) == 1]] = True
        rows = [cells for cells in rows if len(cells) > 1]
        solver = highs_solver("shifts")
        solver.setOptionValue("solver", "simplex")
        matrix = matrix_of([(cells, np.ones(len(cells))) for cells in rows], self.n)
        solver.passModel(highs_model(matrix, np.zeros(len(rows)), np.zeros(len(rows)), column_lower=np.where(alone, 0.0, -slack), column_upper=np.where(alone, 0.0, np.inf)))
        answers: dict[bytes, float] = {}
        spans = np.zeros(len(targets))
        for number, cells in enumerate(targets):
            key = np.sort(cells).tobytes()
            if key not in answers:
                answers[key] = self._shift_range(solver, cells)
            spans[number] = answers[key]
        return spans

    def _shift_range(self, solver: highspy.Highs, cells: np.ndarray) -> float:
        """The target's largest change less its smallest over the shifts (0 if the solver fails:
        no claim)."""
        cost = np.zeros(self.n)
        cost[cells] = 1.0
        solver.changeColsCost(self.n, np.arange(self.n, dtype=np.int32), cost)
        found = []
        for sense in (highspy.ObjSense.kMaximize, highspy.ObjSense.kMinimize):
            solver.changeObjectiveSense(sense)
            solver.run()
            status = solver.getModelStatus()
            if status == highspy.HighsModelStatus.kUnbounded:
                return np.inf
            if status != highspy.HighsModelStatus.kOptimal:
                return 0.0
            found.append(solver.getInfo().objective_function_value)
        return max(found[0] - found[1], 0.0)

    @staticmethod
    def _spare(held: np.ndarray, joined: np.ndarray, left: np.ndarray) -> np.ndarray:
        """Per cell, the fewest members (of some kind) it holds in any publication beyond those
        of them that joined it in the step before or leave it in the step after."""
        spare = held.copy()
        spare[1:] -= joined
        spare[:-1] = np.minimum(spare[:-1], held[:-1] - left)
        return np.maximum(spare.min(axis=0), 0.0)

    def truth(self) -> np.ndarray:
        """The true counts, each step's moves at their fewest: a feasible point."""
        point = np.zeros(self.width)
        for period in range(self.periods):
            point[self.at(period) : self.at(period) + self.n] = self.truths[period]
            for outcome in range(self.m):
                point[self.outcome_at(outcome, period) : self.outcome_at(outcome, period) + self.n] = self.outcome_truths[outcome, period]
            if period:
                joins, leaves = self.moves(period)
                point[joins : joins + self.n] = self.joined[period - 1]
                point[leaves : leaves + self.n] = self.left[period - 1]
                for outcome in range(self.m):
                    for start, values in zip(self.outcome_moves(outcome, period), self.outcome_points[outcome][period - 1], strict=True):
                        point[start : start + self.n] = values
        return point

    def anchors(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The oldest publication's withheld and carried entries with the ranges the ledger
        recorded of them (cells, [low, high], outcomes × [low, high, complement low, high]; NaN
        where it recorded none): what the publications before the window told the attacker,
        carried into it. A range that does not hold the entry's own count (a record made another
        way) is left out rather than trusted."""
        if self._anchors is not None:
            return self._anchors
        self._anchors = []
        first = self.window[0]
        if first.boxes is None:
            return self._anchors
        outcome_boxes = first.outcome_boxes if first.outcome_boxes is not None else np.full((len(first.keys), 0, 4), np.nan)
        for entry in np.flatnonzero((~first.shown | first.carried) & ~np.isnan(first.boxes).any(axis=1)):
            cells = self.members(first.labels[entry], first.keys[entry])
            subjects = first.truths[entry]
            if not len(cells) or not first.boxes[entry, 0] - 1e-6 <= subjects <= first.boxes[entry, 1] + 1e-6:
                continue
            ranges = np.full((self.m, 4), np.nan)
            for outcome, (low, high, lacking_low, lacking_high) in enumerate(outcome_boxes[entry, : self.m]):
                having = first.outcome_truths[entry, outcome]
                if low - 1e-6 <= having <= high + 1e-6 and lacking_low - 1e-6 <= subjects - having <= lacking_high + 1e-6:
                    ranges[outcome] = (low, high, lacking_low, lacking_high)
            self._anchors.append((cells, first.boxes[entry], ranges))
        return self._anchors

    def system(self, with_last: bool) -> EquationSystem:
        """The programme over every publication, or without the last one's rows (its moves kept),
        with the anchors of the oldest. The rows shown and the anchors are published counts of
        distinct subjects; the rest (moves, flows, budgets) hold per cell whatever subjects do."""
        (shown, shown_several), (shown_ranges, ranges_several) = self._shown_rows(with_last)
        equations, ranges = [], []
        cells = np.arange(self.n)
        for period in range(self.periods):
            for outcome in range(self.m):
                for cell in cells:
                    ranges.append((np.array([self.outcome_at(outcome, period) + cell, self.at(period) + cell]), np.array([1.0, -1.0]), -np.inf, 0.0))
        for period in range(1, self.periods):
            joins, leaves = self.moves(period)
            for cell in cells:
                columns = np.array([self.at(period) + cell, self.at(period - 1) + cell, joins + cell, leaves + cell])
                equations.append((columns, np.array([1.0, -1.0, -1.0, 1.0]), 0.0, 0.0))
                ranges.append((np.array([leaves + cell, self.at(period - 1) + cell]), np.array([1.0, -1.0]), -np.inf, 0.0))
                ranges.append((np.array([joins + cell, self.at(period) + cell]), np.array([1.0, -1.0]), -np.inf, 0.0))
            joined, left = float(self.joined[period - 1].sum()), float(self.left[period - 1].sum())
            equations.append((joins + cells, np.ones(self.n), joined, joined))
            equations.append((leaves + cells, np.ones(self.n), left, left))
            for outcome in range(self.m):
                equations += self._outcome_flow(outcome, period)
                ranges += self._outcome_bounds(outcome, period)
        rows = shown + equations + shown_ranges + ranges
        counted = np.concatenate([shown_several, np.zeros(len(equations), dtype=bool), ranges_several, np.zeros(len(ranges), dtype=bool)])
        return EquationSystem(
            np.zeros(self.width, dtype=np.int64), frozenset({0}), rows, len(shown) + len(equations), interior=self.m > 0, counted=counted, truth=self.truth()
        )

    def _shown_rows(self, with_last: bool) -> tuple[tuple[list, np.ndarray], tuple[list, np.ndarray]]:
        """The rows shown in the window (equations where new, ranges of k - 1 where shown
        unchanged, as they may be carried) and the anchors' ranges; each with whether it counts
        subjects over several cells."""
        equations, ranges = [], []
        last = self.periods - 1
        for period, publication in enumerate(self.window):
            if period == last and not with_last:
                continue
            shown_outcomes = publication.outcomes[:, : self.m]
            earlier = self.window[period - 1] if period else None
            before = {}
            if earlier is not None:
                figures = np.column_stack([earlier.values, earlier.outcomes[:, : self.m]])
                before = {(l, key): tuple(f) for l, key, f in zip(earlier.labels[earlier.shown], earlier.keys[earlier.shown], figures[earlier.shown], strict=True)}
            for entry, cells in self.shown_entries(period):
                figures = (float(publication.values[entry]), *shown_outcomes[entry])
                same = _same(before.get((publication.labels[entry], publication.keys[entry])), figures) if earlier else bool(publication.carried[entry])
                blocks = [self.at(period), *(self.outcome_at(outcome, period) for outcome in range(self.m))]
                for start, value in zip(blocks, figures, strict=True):
                    if np.isnan(value):
                        continue
                    if same:
                        ranges.append((start + cells, np.ones(len(cells)), max(value - (self.k - 1), 0.0), value + (self.k - 1)))
                    else:
                        equations.append((start + cells, np.ones(len(cells)), value, value))
        for cells, box, outcome_box in self.anchors():
            ranges.append((self.at(0) + cells, np.ones(len(cells)), *box))
            for outcome, (low, high, lacking_low, lacking_high) in enumerate(outcome_box):
                if not np.isnan([low, high, lacking_low, lacking_high]).any():
                    ranges.append((self.outcome_at(outcome, 0) + cells, np.ones(len(cells)), low, high))
                    ranges.append((*lacking(self.at(0) + cells, self.outcome_at(outcome, 0) + cells), lacking_low, lacking_high))
        several = [np.array([len(np.unique(columns % self.n)) > 1 for columns, _, _, _ in rows], dtype=bool) for rows in (equations, ranges)]
        return (equations, several[0]), (ranges, several[1])

    def _outcome_flow(self, outcome: int, period: int) -> list:
        """Each cell's outcome count moves by its joiners and leavers with the outcome and its
        flips; the flips in all are the fewest the truths allow."""
        now, then = self.outcome_at(outcome, period), self.outcome_at(outcome, period - 1)
        joining, leaving, on, off = self.outcome_moves(outcome, period)
        rows = [
            (np.array([now + cell, then + cell, joining + cell, leaving + cell, on + cell, off + cell]), np.array([1.0, -1.0, -1.0, 1.0, -1.0, 1.0]), 0.0, 0.0)
            for cell in range(self.n)
        ]
        flips = float(self.outcome_points[outcome][period - 1][2:].sum())
        rows.append((np.concatenate([on + np.arange(self.n), off + np.arange(self.n)]), np.ones(2 * self.n), flips, flips))
        return rows

    def _outcome_bounds(self, outcome: int, period: int) -> list:
        """Joiners with the outcome are among the joiners and have it after; leavers with it are
        among the leavers and had it before; the others lack it, before or after."""
        joins, leaves = self.moves(period)
        now, then = self.outcome_at(outcome, period), self.outcome_at(outcome, period - 1)
        x_now, x_then = self.at(period), self.at(period - 1)
        joining, leaving, _, _ = self.outcome_moves(outcome, period)
        rows = []
        for cell in range(self.n):
            for columns, coefficients in (
                ([joining, joins], [1.0, -1.0]),
                ([leaving, leaves], [1.0, -1.0]),
                ([joining, now], [1.0, -1.0]),
                ([leaving, then], [1.0, -1.0]),
                ([joins, joining, x_now, now], [1.0, -1.0, -1.0, 1.0]),
                ([leaves, leaving, x_then, then], [1.0, -1.0, -1.0, 1.0]),
            ):
                rows.append((np.array(columns) + cell, np.array(coefficients), -np.inf, 0.0))
        return rows


def _same(before: tuple | None, figures: tuple) -> bool:
    """Whether a row shows every figure it showed in the publication before (it may be carried)."""
    return before is not None and len(before) == len(figures) and all((np.isnan(a) and np.isnan(b)) or a == b for a, b in zip(before, figures, strict=True))
