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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from compliance_assets.privacy.ledger import entry_keys
from compliance_assets.privacy.suppression import Lattice, small, suppress


@dataclass(frozen=True)
class History:
    """Per published level, each entry's state in the last publication (-1: not in it)."""

    previous: pd.DataFrame
    rows: list[np.ndarray]  # the previous row of each entry, or -1
    shown: list[np.ndarray]
    reference: list[np.ndarray]  # the count the previous state refers to; 0 when absent


def match_history(previous: pd.DataFrame, tables: list[pd.DataFrame], dims: list[str]) -> History:
    previous = previous.reset_index(drop=True)
    labels = previous["grouped_by"].astype("string").to_numpy()
    keys = entry_keys(previous, dims).to_numpy()
    index = {(str(label), str(key)): i for i, (label, key) in enumerate(zip(labels, keys, strict=True))}
    rows, shown, reference = [], [], []
    for table in tables:
        table_keys = entry_keys(table, dims).to_numpy()
        table_labels = table["grouped_by"].astype("string").to_numpy()
        found = np.array([index.get((str(label), str(key)), -1) for label, key in zip(table_labels, table_keys, strict=True)], dtype=np.int64)
        present = found >= 0
        rows.append(found)
        shown.append(np.where(present, previous["shown"].to_numpy(dtype=bool)[np.maximum(found, 0)], False))
        reference.append(np.where(present, previous["subjects"].to_numpy(dtype=np.int64)[np.maximum(found, 0)], 0))
    return History(previous, rows, shown, reference)


def held_back(history: History, values: list[np.ndarray], k: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(carried, kept hidden) per level: shown rows that changed by 1 to k - 1 subjects, and hidden
    entries that moved by fewer than k since they were hidden (unmoved ones included)."""
    carried, hidden = [], []
    for shown, reference, current in zip(history.shown, history.reference, values, strict=True):
        change = np.abs(current - reference)
        carried.append(shown & small(change, k))
        hidden.append(~shown & (change < k))
    return carried, hidden


def carried_ranges(history: History, carried: list[np.ndarray], k: int) -> dict[tuple[int, int], tuple[float, float]]:
    """What the attacker knows of a carried row: within k - 1 of the count it shows."""
    ranges = {}
    for level, rows in enumerate(carried):
        for entry in np.flatnonzero(rows):
            shown = float(history.reference[level][entry])
            ranges[(level, int(entry))] = (max(shown - (k - 1), 0.0), shown + (k - 1))
    return ranges


def changes_to_carry(lattice: Lattice, history: History, fresh: list[np.ndarray], k: int) -> list[np.ndarray]:
    """Rows shown afresh whose change must also be held back, so no small change can be solved for
    from the changes of published rows: the complementary audit of the change table."""
    published = len(history.rows)
    changes = [lattice.values[level] - history.reference[level] if level < published else np.zeros_like(lattice.values[level]) for level in range(len(lattice.levels))]
    known = [fresh[level] & history.shown[level] if level < published else np.zeros(len(lattice.values[level]), dtype=bool) for level in range(len(lattice.levels))]
    delta = Lattice(
        lattice.levels,
        changes,
        lattice.cell_entry,
        fixed=frozenset(range(published, len(lattice.levels))),
        suppressed=[~known_level for known_level in known],
        sensitive=[small(np.abs(change), k) for change in changes],
        signed=True,
    )
    try:
        suppress(delta, k)
    except RuntimeError:
        return known  # nothing left to hide beside a small change: carry every row forward
    return [known[level] & delta.suppressed[level] for level in range(published)]
