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

A carried row is stale by fewer than k subjects; the attacker is assumed to know that, so the
static audit bounds it to its shown value ± (k - 1) rather than to nothing.

Outcome measures (0/1 outcomes under the measure rules) change without any subject arriving or
leaving: one member's diagnosis is enough. Their numerators follow the same rule: a row whose
subjects moved by fewer than k shows a new outcome only when the outcome moved by k or more, a
row whose subjects moved by k or more shows it only when the net newcomers' outcomes keep the
outcome rule (not all or none, not 1 to `min_numerator` - 1), and the outcome changes get the
same complementary audit as the subject changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from compliance_assets.privacy.ledger import COUNTED, entry_keys
from compliance_assets.privacy.suppression import Lattice, outcome_violations, small, suppress


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

    def known(self, level: int, fresh: np.ndarray) -> np.ndarray:
        """Entries whose change the attacker reads exactly: shown with the truth both times."""
        return fresh & self.exact[level]


def match_history(previous: pd.DataFrame, tables: list[pd.DataFrame], dims: list[str], outcomes: dict[str, bool] | None = None) -> History:
    """Lines each level's entries up with the previous publication. `outcomes` maps each outcome
    measure to whether it is a mean (its numerator is then the rate times the subjects shown)."""
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
    return History(previous, rows, shown, reference, before, counted, outcomes_counted, exact)


def shown_numerators(table: pd.DataFrame, outcomes: dict[str, bool]) -> np.ndarray:
    """(rows × outcomes) outcome counts a published table shows: a sum as shown, a mean times the
    subjects shown beside it."""
    columns = []
    for name, is_mean in outcomes.items():
        shown = table[name] if name in table else pd.Series(0, index=table.index)  # a measure added since
        values = pd.to_numeric(shown, errors="coerce").astype("Float64").fillna(0).to_numpy(dtype=float)
        if is_mean:
            values = values * table["subjects"].to_numpy(dtype=float)
        columns.append(np.rint(values).astype(np.int64))
    return np.column_stack(columns) if columns else np.zeros((len(table), 0), dtype=np.int64)


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


def held_back(history: History, values: list[np.ndarray], k: int, outcomes: list[np.ndarray] | None = None, min_numerator: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(carried, kept hidden) per level: shown rows that changed by 1 to k - 1 subjects or whose
    outcome change is held (`outcome_moves_held`), and hidden entries that moved by fewer than k
    since they were hidden (unmoved ones included)."""
    carried, hidden = [], []
    for level, (shown, reference, current) in enumerate(zip(history.shown, history.reference, values, strict=True)):
        change = np.abs(current - reference)
        held = small(change, k)
        if outcomes is not None:
            held |= outcome_moves_held(history.outcomes[level], outcomes[level], current - reference, k, min_numerator)
        carried.append(shown & held)
        hidden.append(~shown & (change < k))
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


def carried_ranges(history: History, carried: list[np.ndarray], k: int) -> dict[tuple[int, int], tuple[float, float]]:
    """What the attacker knows of a carried row: within k - 1 of the count it shows."""
    ranges = {}
    for level, rows in enumerate(carried):
        for entry in np.flatnonzero(rows):
            shown = float(history.reference[level][entry])
            ranges[(level, int(entry))] = (max(shown - (k - 1), 0.0), shown + (k - 1))
    return ranges


def change_lattice(lattice: Lattice, changes: list[np.ndarray], known: list[np.ndarray], k: int) -> Lattice:
    """The table of one kind of change, with what the attacker can difference (rows shown both
    times) known and every change of 1 to k - 1 sensitive."""
    return Lattice(
        lattice.levels,
        changes,
        lattice.cell_entry,
        fixed=lattice.fixed,
        suppressed=[~known_level for known_level in known],
        sensitive=[small(np.abs(change), k) for change in changes],
        signed=True,
    )


def changes_to_carry(lattice: Lattice, history: History, fresh: list[np.ndarray], k: int) -> list[np.ndarray]:
    """Rows shown afresh whose change must also be held back, so no small change (of subjects, or
    of an outcome) can be solved for from the changes of published rows: the complementary audit
    of each change table."""
    published = len(history.rows)
    known = [history.known(level, fresh[level]) if level < published else np.zeros(len(lattice.values[level]), dtype=bool) for level in range(len(lattice.levels))]
    carry = [np.zeros(len(lattice.values[level]), dtype=bool) for level in range(published)]
    for changes in change_tables(lattice, history):
        delta = change_lattice(lattice, changes, known, k)
        try:
            suppress(delta, k)
        except RuntimeError:
            return known[:published]  # nothing left to hide beside a small change: carry every row forward
        for level in range(published):
            carry[level] |= known[level] & delta.suppressed[level]
    return carry
