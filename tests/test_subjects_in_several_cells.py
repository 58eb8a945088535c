"""Subjects with rows in several cells (a feature table of several rows per person): a total
counts each once, so it is at most the sum of its cells, not equal to it. The attacker's
programme loosens exactly the published counts the truth breaks, and keeps every other row (the
moves between publications, their budgets, the anchors a subject does not break): a region
where subjects span cells may not silence the window over another region. Figures that no count
per cell can meet are refused with one readable line."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance_assets.privacy.cohorts import MeasureSpec, release_cohorts
from compliance_assets.privacy.ledger import ledger_rows, previous_entries
from compliance_assets.privacy.window import Publication, ledger_publications, read_together

DIMS = ["region", "cell"]
K = 5
CELLS = [("a", "1"), ("a", "2"), ("b", "3"), ("b", "4")]


def _publication(rows: list[tuple]) -> Publication:
    """Rows (label, key, shown, value, truth, box): a publication as the ledger keeps it, no
    outcome measure."""
    labels = np.array([label for label, *_ in rows], dtype=object)
    keys = np.array([json.dumps(list(key)) for _, key, *_ in rows], dtype=object)
    shown = np.array([row[2] for row in rows], dtype=bool)
    values = np.array([row[3] if row[2] else np.nan for row in rows], dtype=float)
    truths = np.array([row[4] for row in rows], dtype=float)
    boxes = np.array([row[5] if len(row) > 5 and row[5] is not None else (np.nan, np.nan) for row in rows], dtype=float)
    nothing = np.zeros((len(rows), 0))
    return Publication(labels, keys, shown, values, truths, np.zeros(len(rows), dtype=bool), nothing, nothing, boxes, np.zeros((len(rows), 0, 4)))


def _cells(shown: dict[tuple, bool], truths: dict[tuple, int]) -> list[tuple]:
    return [("region,cell", cell, shown[cell], truths[cell], truths[cell]) for cell in CELLS]


def test_a_region_whose_subjects_span_cells_does_not_silence_the_window_over_another():
    """Region a counts a subject in both its cells (five and five, eight in all). Region b: (b, 3)
    of three is withheld twice; the first publication shows b's total (13), the second (b, 4)
    unchanged at ten. Nobody moved, so (b, 4) was ten before too and (b, 3) was three: the second
    publication pins the first's withheld cell. Relaxing every equation of the window (the moves
    and their budgets too) because of region a hid that."""
    truths = {("a", "1"): 5, ("a", "2"): 5, ("b", "3"): 3, ("b", "4"): 10}
    first = _publication(
        _cells({("a", "1"): True, ("a", "2"): True, ("b", "3"): False, ("b", "4"): False}, truths)
        + [("region", ("a", None), True, 8, 8), ("region", ("b", None), True, 13, 13)]
    )
    second = _publication(
        _cells({("a", "1"): True, ("a", "2"): True, ("b", "3"): False, ("b", "4"): True}, truths)
        + [("region", ("a", None), True, 8, 8), ("region", ("b", None), False, 13, 13)]
    )
    found = read_together([first, second], DIMS, K, K)
    pinned = {(e.back, e.key) for e in found if e.high - e.low < K}
    assert (1, json.dumps(["b", "3"])) in pinned, found


def test_an_anchor_a_subject_in_several_cells_breaks_is_loosened_not_refused():
    """The oldest publication of the window withheld region a (eight subjects, the ledger's range
    of it [8, 8]) over cells shown at five and five: one subject is in both. The anchor is a count
    of distinct subjects like any total, so it bounds the cells' sum from below only; read as an
    equation the window had no solution and the release raised."""
    truths = {("a", "1"): 5, ("a", "2"): 5, ("b", "3"): 3, ("b", "4"): 10}
    shown = {("a", "1"): True, ("a", "2"): True, ("b", "3"): False, ("b", "4"): True}
    first = _publication(_cells(shown, truths) + [("region", ("a", None), False, 8, 8, (8, 8)), ("region", ("b", None), False, 13, 13, (3, 30))])
    second = _publication(_cells(shown, truths) + [("region", ("a", None), False, 8, 8), ("region", ("b", None), False, 13, 13)])
    read_together([first, second], DIMS, K, K)


def test_figures_no_count_per_cell_meets_are_refused_in_one_line():
    """A total of 20 over two cells shown at three and four contradicts them whatever subjects
    span cells (a total counts at most the sum of its cells): the programme cannot be solved, and
    the release says so instead of reading a loosened programme as proof of safety."""
    truths = {("a", "1"): 5, ("a", "2"): 5, ("b", "3"): 3, ("b", "4"): 4}
    shown = {("a", "1"): True, ("a", "2"): False, ("b", "3"): True, ("b", "4"): True}
    first = _publication(_cells(shown, truths) + [("region", ("b", None), True, 20, 20), ("region", ("a", None), False, 10, 10)])
    second = _publication(_cells({**shown, ("a", "1"): False}, {**truths, ("a", "2"): 4}) + [("region", ("b", None), True, 20, 20), ("region", ("a", None), True, 9, 9)])
    with pytest.raises(RuntimeError, match="contradict each other") as raised:
        read_together([first, second], DIMS, K, K)
    assert "\n" not in str(raised.value)


ATOMS = list(itertools.product("ab", "xyz"))
MEASURES = {"subjects": MeasureSpec("count_subjects")}
MARGINS = [("d1",), ("d2",), ()]


def _rows(people: list[list[int]]) -> pd.DataFrame:
    """Each person's rows: the atoms (indices into ATOMS) they have a row in."""
    rows = [{"d1": ATOMS[atom][0], "d2": ATOMS[atom][1], "subject": person} for person, atoms in enumerate(people) for atom in sorted(set(atoms))]
    return pd.DataFrame(rows, columns=["d1", "d2", "subject"])


PEOPLE = st.lists(st.lists(st.integers(0, len(ATOMS) - 1), min_size=1, max_size=3), min_size=5, max_size=60)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PEOPLE, min_size=2, max_size=4))
def test_histories_of_people_in_several_cells_publish(history):
    """Random histories of people with rows in one to three cells each: every publication reads
    its window and publishes (no refusal: the truth always meets the loosened programme), and no
    cohort under k is shown."""
    ledgers, previous, earlier = [], None, []
    for number, people in enumerate(history):
        frame = _rows(people)
        release = release_cohorts(frame, ["d1", "d2"], "subject", MEASURES, K, MARGINS, previous=previous, earlier=earlier)
        shown = release.released
        assert not ((shown["subjects"] > 0) & (shown["subjects"] < K)).any(), shown
        ledger = ledger_rows(
            release.entries, ["d1", "d2"], [], release="r", publication=str(number),
            published_at=pd.Timestamp("2026-01-01") + pd.Timedelta(days=number), register_version="r", code_version="c",
        )
        ledgers.append(ledger)
        previous = previous_entries(ledger, ["d1", "d2"], [])
        earlier = ledger_publications(pd.concat(ledgers, ignore_index=True), {})
