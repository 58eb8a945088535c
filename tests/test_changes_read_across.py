"""Changes read through different rows at two times. A margin shown in one publication, then
carried while the total less the other margin shows what it truly counts, has a change the
attacker reads though the margin itself never showed it twice; so has the part of a total under
columns shown one time and the total less another column the next. The attacker here takes every
group of cells, asks whether each of two publications' rows determine its sum (rows whose figure
is the truth then: an attacker trusting every row reads a group right exactly through these), and
reads its change; nothing of the engine is asked."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scipy.sparse import csr_matrix

from compliance_assets.privacy import republication
from compliance_assets.privacy.cohorts import SMALL_CHANGE, disclosure_audit
from compliance_assets.privacy.ledger import previous_entries
from compliance_assets.privacy.spans import Spans
from compliance_assets.privacy.suppression import build_lattice
from compliance_assets.privacy.window import ledger_publications
from tests.test_measures_over_time import ATOMS, DIMS, K, MARGINS, MEASURES, Publications, _frame, _shown, apply_step

GROUPS = [group for size in range(1, len(ATOMS) + 1) for group in itertools.combinations(range(len(ATOMS)), size)]


def _truthful_rows(table: pd.DataFrame, frame: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per figure (subjects, sum of ages): the shown rows over the cells, and their figures,
    where the figure is the truth of the people the row covers (for the sum of ages, where the
    count is too: a row carried with a sum that happens to be the truth beside a stale count is
    the documented limit of one figure of a carried row)."""
    shown = _shown(table)
    keys = list(shown)
    rows = np.array([[all(v is None or v == atom[i] for i, v in enumerate(key[:2])) for atom in ATOMS] for key in keys], dtype=float).reshape(len(keys), len(ATOMS))
    figures = np.array([shown[key] for key in keys], dtype=float).reshape(len(keys), 2)
    cells = pd.Series(list(zip(frame["d1"], frame["d2"], strict=True)), index=frame.index)
    truth = np.array([[(cells == atom).sum() for atom in ATOMS], [frame.loc[cells == atom, "age"].sum() for atom in ATOMS]], dtype=float)
    right = [np.isclose(figures[:, figure], rows @ truth[figure], atol=1e-6) for figure in range(2)]
    right[1] &= right[0]
    return [(rows[told], figures[told, figure]) for figure, told in enumerate(right)]


def _read(rows: np.ndarray, figures: np.ndarray, group: np.ndarray) -> float | None:
    """The group's sum if the rows determine it (the group lies in their row space)."""
    if not len(rows):
        return None
    weights = np.linalg.lstsq(rows.T, group, rcond=None)[0]
    return float(weights @ figures) if np.abs(rows.T @ weights - group).max() < 1e-7 else None


def _change(rows, frames, first: int, number: int, cells: tuple[int, ...]):
    """(read per figure, truth of (subjects, sum of ages) change, movers) of a group between two
    publications, or None when neither figure is read both times."""
    group = np.zeros(len(ATOMS))
    group[list(cells)] = 1
    read = [_read(*rows[first][f], group) is not None and _read(*rows[number][f], group) is not None for f in range(2)]
    if not any(read):
        return None
    inside = [frame.loc[[(a, b) in {ATOMS[c] for c in cells} for a, b in zip(frame["d1"], frame["d2"], strict=True)]].set_index("subject")["age"] for frame in (frames[first], frames[number])]
    then, later = inside
    stayed = then.index.intersection(later.index)
    movers = len(then.index.symmetric_difference(later.index)) + int((then[stayed] != later[stayed]).sum())
    return read, (len(later) - len(then), float(later.sum() - then.sum())), movers


ENTRIES = [
    *((cell,) for cell in range(len(ATOMS))),
    *(tuple(i for i, atom in enumerate(ATOMS) if atom[axis] == value) for axis, values in ((0, "ab"), (1, "xyz")) for value in values),
    tuple(range(len(ATOMS))),
]  # the table's rows: cells, the margins over d1 and over d2, the total


def _parts_left(rows, when: int) -> set[tuple[int, ...]]:
    """The parts a total shown with its true count leaves under its rows of one finer grouping
    shown with theirs, at one publication."""
    shown = {tuple(np.flatnonzero(row)) for row in rows[when][0][0]}
    found = set()
    for total in ENTRIES:
        if total not in shown:
            continue
        for finer in ((0,), (1,), (0, 1)):
            under = [e for e in ENTRIES if set(e) < set(total) and len({tuple(ATOMS[c][a] for a in finer) for c in e}) == 1 and len(e) == _size_of(finer)]
            left = set(total) - {c for e in under if e in shown for c in e}
            if left:
                found.add(tuple(sorted(left)))
    return found


def _size_of(grouping: tuple[int, ...]) -> int:
    """How many cells one row of a grouping (by d1, by d2, or both) holds."""
    return {(0,): 3, (1,): 2, (0, 1): 1}[grouping]


def _tells(got, figure: int) -> bool:
    """Whether a change read of one figure tells on fewer than k: 1 to k - 1 subjects, or a sum of
    ages moved while fewer than k people came, went or changed age."""
    read, (subjects, ages), movers = got
    if figure == 0:
        return read[0] and 0 < abs(subjects) < K
    return read[1] and movers < K and not np.isclose(ages, 0, atol=1e-6)


def changes_read(tables: list[pd.DataFrame], frames: list[pd.DataFrame], every_group: bool = False) -> list[tuple]:
    """Every entry, and every part a total shown at either time leaves under its shown rows of one
    finer grouping, whose change between two publications the attacker reads, through whatever
    rows, and that tells on fewer than k (`_tells`). (Groups of other shapes, such as one cell of
    each of two rows, are the documented limit; `every_group=True` judges them too, as the
    searches behind the documented figure do.) The change rule's own limits are not findings: a group read
    at every publication in between (each step's change was held), or a group other than an entry
    whose change is the sum and difference of entries' changes each read at both times and each
    held (0, or k or more): two columns that moved by 9 and -5 make a pair that moved by 4."""
    rows = [_truthful_rows(table, frame) for table, frame in zip(tables, frames, strict=True)]
    found = []
    for first, number in itertools.combinations(range(len(tables)), 2):
        held = [[], []]
        for cells in ENTRIES:
            got = _change(rows, frames, first, number, cells)
            for figure in range(2):
                if got is not None and got[0][figure] and not _tells(got, figure):
                    held[figure].append(np.isin(np.arange(len(ATOMS)), cells).astype(float))
        judged = GROUPS if every_group else {*ENTRIES, *_parts_left(rows, first), *_parts_left(rows, number)}
        for cells in judged:
            got = _change(rows, frames, first, number, cells)
            if got is None or not (_tells(got, 0) or _tells(got, 1)):
                continue
            steps = [_change(rows, frames, t, t + 1, cells) for t in range(first, number)] if number - first > 1 else [None]
            group = np.isin(np.arange(len(ATOMS)), cells).astype(float)
            telling = [
                _tells(got, figure)
                and not all(step is not None and step[0][figure] for step in steps)
                and (cells in ENTRIES or not (held[figure] and _read(np.array(held[figure]), np.zeros(len(held[figure])), group) is not None))
                for figure in range(2)
            ]
            if any(telling):
                found.append((first, number, tuple(ATOMS[c] for c in cells), *got[1], got[2]))
    return found


def _history(sizes: list[int], steps: list[tuple], seed: int = 0) -> tuple[Publications, list]:
    """Publishes `sizes` per cell, then each step (`apply_step`), auditing each publication."""
    frame = _frame(sizes, seed)
    publications = Publications()
    publications.publish(frame)
    audits, next_subject = [], 100_000
    for step in steps:
        frame, next_subject = apply_step(frame, step, next_subject)
        previous, earlier = publications.previous, publications.earlier
        released = publications.publish(frame)
        audits.append(disclosure_audit(released, frame, DIMS, "subject", K, MARGINS, measures=MEASURES, previous=previous, earlier=earlier).exposed)
    return publications, audits


MARGIN_CARRIED = ([18, 11, 5, 18, 23, 18], [("join", 5, 4, 39, 1, 0), ("erase", 3, 2, 45, 4, 10), ("join", 3, 2, 21, 0, 5)])


def test_a_margin_carried_while_the_total_less_the_other_tells_its_count_is_not_read():
    """The margin over b is shown; a publication later it has moved by two, and is carried,
    while the total less the margin over a (through the column x less its carried cell, which
    shows its true count) tells it: its change of two would be read. One more row is withheld
    beside it."""
    publications, audits = _history(*MARGIN_CARRIED)
    assert changes_read(publications.tables, publications.frames) == []
    assert all(audit.empty for audit in audits), audits


def test_the_audit_names_a_change_read_through_different_rows(monkeypatch):
    """The same history released without the rule: the attacker reads the margin's change of
    two, and the audit of that publication names it."""
    monkeypatch.setattr(republication, "_and_read_across", lambda lattice, fresh, carried, carry, read: carry)
    publications, _ = _history(*MARGIN_CARRIED)
    read = changes_read(publications.tables, publications.frames)
    assert read, "the scenario no longer reads a change through different rows"
    monkeypatch.undo()
    number = read[0][1]
    previous = publications.ledgers[number - 1]
    earlier = ledger_publications(pd.concat(publications.ledgers[:number], ignore_index=True), {}, {"mean_age": True})
    audit = disclosure_audit(
        publications.tables[number], publications.frames[number], DIMS, "subject", K, MARGINS, measures=MEASURES,
        previous=previous_entries(previous, DIMS, list(MEASURES)), earlier=earlier,
    ).exposed
    assert (audit["exposure"] == SMALL_CHANGE).any(), audit


STEPS = st.lists(
    st.tuples(
        st.sampled_from(["erase", "join", "swap", "move"]), st.integers(0, len(ATOMS) - 1), st.integers(1, 5), st.integers(18, 90),
        st.integers(0, len(ATOMS) - 1), st.sampled_from([0, K, K + 2, 2 * K]),
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(1, 30), min_size=len(ATOMS), max_size=len(ATOMS)), STEPS, st.integers(0, 99))
def test_no_group_of_cells_is_read_to_change_by_fewer_than_k(sizes, steps, seed):
    """Erasures, newcomers, swaps and moves beside cells that grow: no group of cells, read
    through whatever rows two publications show, changes by 1 to k - 1 subjects, or in its sum of
    ages while fewer than k people moved, and the audit of each publication passes."""
    publications, audits = _history(sizes, steps, seed)
    assert all(audit.empty for audit in audits), audits
    assert changes_read(publications.tables, publications.frames) == []


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.data())
def test_the_groups_one_publication_determines_are_its_row_space(rows, columns, data):
    """`Spans` says a group of cells is read exactly when the group lies in the row space of the
    entries shown (every level of a two-way table with its margins and total), as a least-squares
    fit over those entries' cells finds."""
    cells = pd.DataFrame(list(itertools.product(range(rows), range(columns))), columns=["d1", "d2"]).assign(subjects=1)
    levels = [("d1", "d2"), ("d1",), ("d2",), ()]
    tables = [cells] + [cells.groupby(list(level), sort=True)["subjects"].sum().reset_index() for level in levels[1:3]] + [pd.DataFrame({"subjects": [len(cells)]})]
    lattice = build_lattice(tables, levels)
    known = [np.array(data.draw(st.lists(st.booleans(), min_size=len(v), max_size=len(v))), dtype=bool) for v in lattice.values]
    indicators = [(lattice.cell_entry[level] == entry).astype(float) for level in range(len(levels)) for entry in np.flatnonzero(known[level])]
    groups = np.array(data.draw(st.lists(st.lists(st.booleans(), min_size=len(cells), max_size=len(cells)), min_size=1, max_size=8)), dtype=float)
    expected = [not group.any() or _read(np.array(indicators).reshape(len(indicators), len(cells)), np.zeros(len(indicators)), group) is not None for group in groups]
    assert Spans(lattice, known).reads(csr_matrix(groups)).tolist() == expected
