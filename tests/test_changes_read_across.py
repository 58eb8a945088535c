"""Changes read through different rows at two times. A margin shown in one publication, then
carried while the total less the other margin shows what it truly counts, has a change the
attacker reads though the margin itself never showed it twice; so has the part of a total under
columns shown one time and the total less another column the next. The attacker here takes every
group of cells, asks whether each of two publications' rows determine its sum (rows whose figure
is the truth then: an attacker trusting every row reads a group right exactly through these), and
reads its change; nothing of the engine is asked."""

from __future__ import annotations

import contextlib
import itertools
import math
import sys
from fractions import Fraction

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pytest
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix

from compliance_assets.privacy import republication, spans
from compliance_assets.privacy.cohorts import SMALL_CHANGE, disclosure_audit
from compliance_assets.privacy.ledger import previous_entries
from compliance_assets.privacy.spans import Spans, other_groups
from compliance_assets.privacy.suppression import build_lattice
from compliance_assets.privacy.window import ledger_publications
from tests.test_measures_over_time import ATOMS, DIMS, K, MARGINS, MEASURES, Publications, _frame, _shown, apply_step

GROUPS = [group for size in range(1, len(ATOMS) + 1) for group in itertools.combinations(range(len(ATOMS)), size)]


def _truthful_rows(table: pd.DataFrame, frame: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per figure (subjects, sum of ages): the shown rows over the cells, and their figures,
    where the figure is the truth of the people the row covers, whatever the row's other figure."""
    shown = _shown(table)
    keys = list(shown)
    rows = np.array([[all(v is None or v == atom[i] for i, v in enumerate(key[:2])) for atom in ATOMS] for key in keys], dtype=float).reshape(len(keys), len(ATOMS))
    figures = np.array([shown[key] for key in keys], dtype=float).reshape(len(keys), 2)
    cells = pd.Series(list(zip(frame["d1"], frame["d2"], strict=True)), index=frame.index)
    truth = np.array([[(cells == atom).sum() for atom in ATOMS], [frame.loc[cells == atom, "age"].sum() for atom in ATOMS]], dtype=float)
    right = [np.isclose(figures[:, figure], rows @ truth[figure], atol=1e-6) for figure in range(2)]
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


def _tells(got, figure: int) -> bool:
    """Whether a change read of one figure tells on fewer than k: 1 to k - 1 subjects, or a sum of
    ages moved while fewer than k people came, went or changed age."""
    read, (subjects, ages), movers = got
    if figure == 0:
        return read[0] and 0 < abs(subjects) < K
    return read[1] and movers < K and not np.isclose(ages, 0, atol=1e-6)


def changes_read(tables: list[pd.DataFrame], frames: list[pd.DataFrame]) -> list[tuple]:
    """Every group of cells whose change between two publications the attacker reads, through
    whatever rows, and that tells on fewer than k (`_tells`). The change rule's own limits are not
    findings: a group read at every publication in between (each step's change was held), or a
    group other than an entry whose change is the sum and difference of entries' changes each
    read at both times and each held (0, or k or more): two columns that moved by 9 and -5 make a
    pair that moved by 4."""
    rows = [_truthful_rows(table, frame) for table, frame in zip(tables, frames, strict=True)]
    found = []
    for first, number in itertools.combinations(range(len(tables)), 2):
        held = [[], []]
        for cells in ENTRIES:
            got = _change(rows, frames, first, number, cells)
            for figure in range(2):
                if got is not None and got[0][figure] and not _tells(got, figure):
                    held[figure].append(np.isin(np.arange(len(ATOMS)), cells).astype(float))
        for cells in GROUPS:
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


def _steps(cells: int, most: int):
    """Histories of up to `most` steps over a table of `cells` cells (`apply_step`)."""
    return st.lists(
        st.tuples(
            st.sampled_from(["erase", "join", "swap", "move"]), st.integers(0, cells - 1), st.integers(1, 5), st.integers(18, 90),
            st.integers(0, cells - 1), st.sampled_from([0, K, K + 2, 2 * K]),
        ),
        min_size=1,
        max_size=most,
    )


STEPS = _steps(len(ATOMS), 5)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(1, 30), min_size=len(ATOMS), max_size=len(ATOMS)), STEPS, st.integers(0, 99))
def test_no_group_of_cells_is_read_to_change_by_fewer_than_k(sizes, steps, seed):
    """Erasures, newcomers, swaps and moves beside cells that grow: no group of cells, read
    through whatever rows two publications show, changes by 1 to k - 1 subjects, or in its sum of
    ages while fewer than k people moved, and the audit of each publication passes."""
    publications, audits = _history(sizes, steps, seed)
    assert all(audit.empty for audit in audits), audits
    assert changes_read(publications.tables, publications.frames) == []


def _two_way(rows: int, columns: int):
    """A rows × columns table of one subject per cell with its margins and total, and each
    level's entries as indicators over the cells."""
    cells = pd.DataFrame(list(itertools.product(range(rows), range(columns))), columns=["d1", "d2"]).assign(subjects=1)
    levels = [("d1", "d2"), ("d1",), ("d2",), ()]
    tables = [cells] + [cells.groupby(list(level), sort=True)["subjects"].sum().reset_index() for level in levels[1:3]] + [pd.DataFrame({"subjects": [len(cells)]})]
    lattice = build_lattice(tables, levels)
    return lattice, len(cells)


def _shown_rows(lattice, known) -> np.ndarray:
    rows = [(lattice.cell_entry[level] == entry).astype(float) for level in range(len(known)) for entry in np.flatnonzero(known[level])]
    return np.array(rows).reshape(len(rows), len(lattice.values[0]))


def _draw_known(lattice, data):
    return [np.array(data.draw(st.lists(st.booleans(), min_size=len(v), max_size=len(v))), dtype=bool) for v in lattice.values]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.data())
def test_the_groups_one_publication_determines_are_its_row_space(rows, columns, data):
    """`Spans` says a group of cells is read exactly when the group lies in the row space of the
    entries shown (every level of a two-way table with its margins and total), as a least-squares
    fit over those entries' cells finds."""
    lattice, size = _two_way(rows, columns)
    known = _draw_known(lattice, data)
    groups = np.array(data.draw(st.lists(st.lists(st.booleans(), min_size=size, max_size=size), min_size=1, max_size=8)), dtype=float)
    expected = [not group.any() or _read(_shown_rows(lattice, known), np.zeros(len(_shown_rows(lattice, known))), group) is not None for group in groups]
    assert Spans(lattice, known).reads(csr_matrix(groups)).tolist() == expected


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.data())
def test_the_search_finds_every_smallest_group_two_publications_determine(rows, columns, data):
    """Every group of two or more cells that the rows shown at two times both determine, and that
    holds no smaller such group, is found, and nothing else: least squares over every group of
    cells says which groups both determine."""
    lattice, size = _two_way(rows, columns)
    then, now = _draw_known(lattice, data), _draw_known(lattice, data)
    shown = [_shown_rows(lattice, known) for known in (then, now)]
    both = {
        cells for n in range(1, size + 1) for cells in itertools.combinations(range(size), n)
        if all(_read(rows_shown, np.zeros(len(rows_shown)), np.isin(np.arange(size), cells).astype(float)) is not None for rows_shown in shown)
    }
    smallest = {cells for cells in both if len(cells) > 1 and not any(set(other) < set(cells) for other in both)}
    found = other_groups(lattice, Spans(lattice, then), Spans(lattice, now), set())
    assert {tuple(int(c) for c in group.cells) for group in found} == smallest


def _integer_null_space(rows: np.ndarray, size: int) -> np.ndarray:
    """A basis of whole numbers for the vectors the 0/1 `rows` (over `size` cells) send to 0,
    by exact elimination over the rationals: no rounding for the programme to trip on."""
    reduced = [[Fraction(int(v)) for v in row] for row in rows]
    pivots: list[int] = []
    for column in range(size):
        at = next((r for r in range(len(pivots), len(reduced)) if reduced[r][column] != 0), None)
        if at is None:
            continue
        row = len(pivots)
        reduced[row], reduced[at] = reduced[at], reduced[row]
        reduced[row] = [v / reduced[row][column] for v in reduced[row]]
        for other in range(len(reduced)):
            if other != row and reduced[other][column] != 0:
                factor = reduced[other][column]
                reduced[other] = [a - factor * b for a, b in zip(reduced[other], reduced[row], strict=True)]
        pivots.append(column)
    basis = []
    for free in (c for c in range(size) if c not in pivots):
        vector = [Fraction(0)] * size
        vector[free] = Fraction(1)
        for row, column in enumerate(pivots):
            vector[column] = -reduced[row][free]
        scale = math.lcm(*(v.denominator for v in vector))
        basis.append([int(v * scale) for v in vector])
    return np.array(basis, dtype=float).reshape(len(basis), size)


def _smallest_groups_by_programme(shown: list[np.ndarray], size: int) -> set[tuple[int, ...]]:
    """The attacker's own list of the groups of two or more cells that every publication's rows
    (`shown`, rows over the cells) determine and that hold no smaller such group: the fewest cells
    x, 0/1, orthogonal to every vector each publication's rows send to 0, again and again, each
    time holding none found before."""
    nulls = np.vstack([_integer_null_space(rows, size) for rows in shown])
    found: list[tuple[int, ...]] = []
    while True:
        constraints = [LinearConstraint(np.ones((1, size)), 1, np.inf)]
        if len(nulls):
            constraints.append(LinearConstraint(nulls, 0, 0))
        for group in found:
            constraints.append(LinearConstraint(np.isin(np.arange(size), group).astype(float)[None, :], -np.inf, len(group) - 1))
        result = milp(np.ones(size), constraints=constraints, integrality=np.ones(size), bounds=Bounds(0, 1))
        if result.status == 2:
            return {group for group in found if len(group) > 1}
        assert result.status == 0, result.message
        found.append(tuple(int(c) for c in np.flatnonzero(result.x > 0.5)))


@settings(max_examples=100, deadline=None)
@given(st.integers(3, 5), st.integers(3, 6), st.booleans(), st.data())
def test_the_search_finds_every_smallest_group_in_large_sets_of_cells(rows, columns, by_search, data):
    """In tables of up to 30 cells, with two rows in three withheld at each time, the search
    finds the groups an integer programme of the attacker's own lists, both by trying every
    choice of weights at once and by searching weight by weight (`SEARCHED_DIMENSION` 0)."""
    lattice, size = _two_way(rows, columns)
    draw = lambda: [np.array(data.draw(st.lists(st.sampled_from([True, False, False]), min_size=len(v), max_size=len(v))), dtype=bool) for v in lattice.values]
    then, now = draw(), draw()
    expected = _smallest_groups_by_programme([_shown_rows(lattice, known) for known in (then, now)], size)
    with pytest.MonkeyPatch.context() as patch:
        if by_search:
            patch.setattr(spans, "SEARCHED_DIMENSION", 0)
        found = other_groups(lattice, Spans(lattice, then), Spans(lattice, now), set())
    assert {tuple(int(c) for c in group.cells) for group in found} == expected


def test_the_search_leaves_totals_other_tables_show_to_them():
    """A total the attacker knows anyway (another table shows it) less a cell both publications
    show is read at both times; its change is that table's to hold, and hiding our rows cannot
    hide it, so the search does not return it. Without the other table the same cells are a
    group our rows alone do not determine."""
    cells = pd.DataFrame(list(itertools.product(range(2), range(2))), columns=["d1", "d2"]).assign(subjects=1)
    levels = [("d1", "d2"), ()]
    tables = [cells, pd.DataFrame({"subjects": [len(cells)]})]
    shown = [np.array([True, False, False, False]), np.array([False])]
    fixed = build_lattice(tables, levels, fixed=[1])
    assert other_groups(fixed, Spans(fixed, shown), Spans(fixed, shown), set()) == []
    published = build_lattice(tables, levels)
    with_total = [shown[0], np.array([True])]
    assert [tuple(g.cells) for g in other_groups(published, Spans(published, with_total), Spans(published, with_total), set())] == [(1, 2, 3)]


CROSS_SHAPED = (
    [20, 18, 26, 21, 20, 17],
    [("join", 3, 2, 40, 1, 5), ("join", 2, 2, 24, 3, 5), ("erase", 0, 2, 40, 4, 7), ("join", 1, 4, 50, 3, 10), ("move", 3, 1, 52, 4, 7)],
    32,
)


def test_a_group_of_cells_no_row_holds_is_not_read_across_a_gap():
    """The cells (a, x), (a, z) and (b, z) are neither an entry nor a part a total leaves, yet the
    second publication's rows and the fourth's both determine them, and their sum of ages moved
    while four people came, went or aged. The search finds the group, and a row beside it is
    withheld."""
    publications, audits = _history(*CROSS_SHAPED)
    assert changes_read(publications.tables, publications.frames) == []
    assert all(audit.empty for audit in audits), audits


EMPTIED_IN_A_GAP = ([1, 22, 12, 18, 20, 15], [("erase", 2, 1, 18, 0, 0), ("erase", 0, 1, 18, 2, 5), ("erase", 4, 5, 18, 2, 7)], 0)


def test_a_cell_emptied_within_the_window_stays_in_the_groups_read_across_a_gap():
    """(a, x) loses its only member between the second and the third publication. The second's
    rows determine (a, x), (a, y) and (b, x) together, through column x, and so do the fourth's,
    through both rows less (b, y) and column z: one person left that group. The cell, empty
    since the third publication, stays in the table at 0 while a publication of the window
    counted anyone in it, so the search sees the group and its change."""
    publications, audits = _history(*EMPTIED_IN_A_GAP)
    assert changes_read(publications.tables, publications.frames) == []
    assert all(audit.empty for audit in audits), audits


WIDE_ATOMS = list(itertools.product("abcd", "vwxyz"))
LARGE_SET = (
    [12, 5, 6, 14, 2, 13, 13, 5, 8, 13, 3, 14, 13, 5, 13, 14, 7, 6, 2, 9],
    [("erase", 8, 3, 64, 17, 0), ("join", 9, 2, 82, 4, 5)],
    91,
)


def _smallest_groups_read(publications: Publications) -> list[tuple]:
    """Over a table of `WIDE_ATOMS`, per pair of publications and per figure, every smallest group
    both publications' truthful rows determine (cells determined alone, and the integer
    programme's list), whose change tells on fewer than k and was not read at every step."""
    rows = [_truthful_rows(table, frame) for table, frame in zip(publications.tables, publications.frames, strict=True)]
    size, found = len(WIDE_ATOMS), []
    for first, number in itertools.combinations(range(len(publications.tables)), 2):
        for figure in range(2):
            shown = [rows[first][figure][0], rows[number][figure][0]]
            if not all(len(s) for s in shown):
                continue
            alone = {(c,) for c in range(size) if all(_read(s, np.zeros(len(s)), np.eye(size)[c]) is not None for s in shown)}
            for cells in alone | _smallest_groups_by_programme(shown, size):
                got = _change(rows, publications.frames, first, number, cells)
                if got is None or not _tells(got, figure):
                    continue
                steps = [_change(rows, publications.frames, t, t + 1, cells) for t in range(first, number)] if number - first > 1 else [None]
                if not all(step is not None and step[0][figure] for step in steps):
                    found.append((first, number, figure, cells, *got[1:]))
    return found


@contextlib.contextmanager
def _wide_table():
    """The helpers here and in `test_measures_over_time` over `WIDE_ATOMS` for the duration."""
    from tests import test_measures_over_time

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(test_measures_over_time, "ATOMS", WIDE_ATOMS)
        patch.setattr(sys.modules[__name__], "ATOMS", WIDE_ATOMS)
        yield


def test_a_group_of_six_cells_among_twenty_is_not_read():
    """A 4 × 5 table whose withheld cells form sets of more than 12: an erasure of three, then two
    newcomers and five in another cell. The second and third publications' rows both determine
    six cells together, which gained two people; the search finds the group in the large set and
    a row beside it is withheld. Before the search covered such sets, the attacker read it."""
    with _wide_table():
        publications, audits = _history(*LARGE_SET)
        assert _smallest_groups_read(publications) == []
    assert all(audit.empty for audit in audits), audits


WIDE_STEPS = _steps(len(WIDE_ATOMS), 4)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(1, 15), min_size=len(WIDE_ATOMS), max_size=len(WIDE_ATOMS)), WIDE_STEPS, st.integers(0, 99))
def test_no_smallest_group_of_a_wide_table_is_read(sizes, steps, seed):
    """Histories of a 4 × 5 table with many cells under k, so withheld sets of cells grow past
    the sizes the search enumerates: the attacker's integer programme lists every smallest group
    two publications' rows determine, and none changed by 1 to k - 1 subjects, or in its sum of
    ages while fewer than k people moved."""
    with _wide_table():
        publications, audits = _history(sizes, steps, seed)
        assert _smallest_groups_read(publications) == []
    assert all(audit.empty for audit in audits), audits
