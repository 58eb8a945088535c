"""One figure of a carried row. A row carried forward because its mean age moved while fewer
than k people did still shows its count and its sum of visits, and where neither moved they are
the truth: an attacker who reads every unchanged row as exact is right about them. Set against
rows shown afresh, such a margin tells the sum of visits of what it holds beside them, and that
sum's change since the last publication can be two people's visits. The attacker here holds
three figures per row (subjects, sum of ages, sum of visits), takes a row's figure where it is
the truth of the people it covers, and reads every group of cells two publications determine
through such rows; nothing of the engine is asked."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compliance_assets.privacy import republication
from compliance_assets.privacy.cohorts import SMALL_CHANGE, DisclosureRules, MeasureSpec, disclosure_audit, entries_of, other_measures, release_cohorts
from compliance_assets.privacy.ledger import ledger_rows, previous_entries
from compliance_assets.privacy.window import WINDOW, ledger_publications
from tests.test_changes_read_across import _read

DIMS = ["d1", "d2"]
MARGINS = [("d1",), ("d2",), ()]
ATOMS = list(itertools.product("ab", "xyz"))
K = 5
MEASURES = {"subjects": MeasureSpec("count_subjects"), "mean_age": MeasureSpec("mean", "age"), "visits": MeasureSpec("sum", "visits")}
OTHERS = other_measures(MEASURES, DisclosureRules())
FIGURES = ("subjects", "age", "visits")
GROUPS = [group for size in range(1, len(ATOMS) + 1) for group in itertools.combinations(range(len(ATOMS)), size)]
ENTRIES = [
    *((cell,) for cell in range(len(ATOMS))),
    *(tuple(i for i, atom in enumerate(ATOMS) if atom[axis] == value) for axis, values in ((0, "ab"), (1, "xyz")) for value in values),
    tuple(range(len(ATOMS))),
]


def test_a_sum_of_visits_is_a_measure_no_rule_judges():
    assert OTHERS == {"mean_age": True, "visits": False}


class Publications:
    """The release published again and again through its ledger, each publication audited."""

    def __init__(self):
        self.tables, self.frames, self.ledgers, self.audits = [], [], [], []
        self.previous, self.earlier = None, []

    def publish(self, frame: pd.DataFrame) -> None:
        release = release_cohorts(frame, DIMS, "subject", MEASURES, K, MARGINS, previous=self.previous, earlier=self.earlier)
        if self.previous is not None:
            self.audits.append(
                disclosure_audit(release.released, frame, DIMS, "subject", K, MARGINS, measures=MEASURES, previous=self.previous, earlier=self.earlier).exposed
            )
        rows = ledger_rows(
            entries_of(release), DIMS, ["mean_age", "visits"], release="r", publication=str(len(self.tables)),
            published_at=pd.Timestamp("2026-01-01") + pd.Timedelta(days=len(self.tables)), register_version="r", code_version="c",
        )
        self.ledgers.append(rows)
        self.previous = previous_entries(rows, DIMS, list(MEASURES))
        self.earlier = ledger_publications(pd.concat(self.ledgers[-WINDOW:], ignore_index=True), {}, OTHERS)
        self.tables.append(release.released)
        self.frames.append(frame)


def _people(cell: int, visits: list[int], first: int, ages: np.random.Generator) -> pd.DataFrame:
    a, b = ATOMS[cell]
    return pd.DataFrame(
        [{"d1": a, "d2": b, "age": int(ages.integers(18, 90)), "visits": v, "subject": first + i} for i, v in enumerate(visits)],
        columns=[*DIMS, "age", "visits", "subject"],
    )


def _frame(sizes: list[int], seed: int, most_visits: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = [_people(cell, rng.integers(0, most_visits + 1, size).tolist(), 1_000 * cell, rng) for cell, size in enumerate(sizes)]
    return pd.concat(parts, ignore_index=True)


def _rows(table: pd.DataFrame, frame: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per figure, the shown rows over the cells and their figures, where the figure is the truth
    of the people the row covers, whatever the row's other figures."""
    keys = table[[*DIMS, "grouped_by"]].astype(object).where(table[[*DIMS, "grouped_by"]].notna(), None)
    shown = table[["subjects", "mean_age", "visits"]].notna().all(axis=1).to_numpy()
    covers = np.array([[all(v is None or v == atom[i] for i, v in enumerate(key[:2])) for atom in ATOMS] for key in keys.itertuples(index=False)], dtype=float)
    covers = covers.reshape(len(table), len(ATOMS))[shown]
    subjects = table["subjects"].to_numpy(dtype=float)[shown]
    figures = np.column_stack([subjects, subjects * table["mean_age"].to_numpy(dtype=float)[shown], table["visits"].to_numpy(dtype=float)[shown]])
    cells = pd.Series(list(zip(frame["d1"], frame["d2"], strict=True)), index=frame.index)
    truth = np.array([[(cells == atom).sum() for atom in ATOMS], *([frame.loc[cells == atom, name].sum() for atom in ATOMS] for name in FIGURES[1:])], dtype=float)
    right = [np.isclose(figures[:, figure], covers @ truth[figure], atol=1e-6) for figure in range(3)]
    return [(covers[right[figure]], figures[right[figure], figure]) for figure in range(3)]


def _change(rows, frames, first: int, number: int, cells: tuple[int, ...]):
    """(read per figure, true change per figure, movers per figure) of a group between two
    publications: movers are those who came or went, and for a sum those who stayed with another
    value."""
    group = np.isin(np.arange(len(ATOMS)), cells).astype(float)
    read = [_read(*rows[first][f], group) is not None and _read(*rows[number][f], group) is not None for f in range(3)]
    inside = [frame.loc[[(a, b) in {ATOMS[c] for c in cells} for a, b in zip(frame["d1"], frame["d2"], strict=True)]].set_index("subject") for frame in (frames[first], frames[number])]
    then, later = inside
    stayed = then.index.intersection(later.index)
    came_or_went = len(then.index.symmetric_difference(later.index))
    movers = [came_or_went, *(came_or_went + int((then.loc[stayed, name] != later.loc[stayed, name]).sum()) for name in FIGURES[1:])]
    change = [len(later) - len(then), *(float(later[name].sum() - then[name].sum()) for name in FIGURES[1:])]
    return read, change, movers


def _tells(got, figure: int) -> bool:
    read, change, movers = got
    if not read[figure]:
        return False
    if figure == 0:
        return 0 < abs(change[0]) < K
    return movers[figure] < K and not np.isclose(change[figure], 0, atol=1e-6)


def changes_read(publications: Publications) -> list[tuple]:
    """Every group of cells whose change of a figure between two publications the attacker reads
    and that tells on fewer than k; less the change rule's own limits, as in
    `test_changes_read_across.changes_read`: a group read at every step in between, or the sum
    and difference of entries each read both times and each held."""
    frames = publications.frames
    rows = [_rows(table, frame) for table, frame in zip(publications.tables, frames, strict=True)]
    found = []
    for first, number in itertools.combinations(range(len(frames)), 2):
        held = [[], [], []]
        for cells in ENTRIES:
            got = _change(rows, frames, first, number, cells)
            held = [h + [np.isin(np.arange(len(ATOMS)), cells).astype(float)] if got[0][f] and not _tells(got, f) else h for f, h in enumerate(held)]
        for cells in GROUPS:
            got = _change(rows, frames, first, number, cells)
            group = np.isin(np.arange(len(ATOMS)), cells).astype(float)
            for figure in range(3):
                if not _tells(got, figure):
                    continue
                steps = [_change(rows, frames, t, t + 1, cells)[0][figure] for t in range(first, number)] if number - first > 1 else [False]
                pieced = cells not in ENTRIES and held[figure] and _read(np.array(held[figure]), np.zeros(len(held[figure])), group) is not None
                if not all(steps) and not pieced:
                    found.append((first, number, FIGURES[figure], tuple(ATOMS[c] for c in cells), got[1][figure], got[2][figure]))
    return found


def _margin_holds_its_visits(frame: pd.DataFrame) -> pd.DataFrame:
    """k people leave (a, y) and k join (a, x) with as many visits between them, and one person of
    (a, z) is swapped for one with 3 visits more, less 3 visits among the newcomers: the margin
    over a keeps its count and its sum of visits while its mean age moves, so it is carried with
    both true, and set against the columns shown afresh it tells (a, z)'s visits moved by 3."""
    ages = np.random.default_rng(1)
    in_a = [frame.index[(frame["d1"] == "a") & (frame["d2"] == column)] for column in "xyz"]
    leaving_y, leaving_z = in_a[1][:K], in_a[2][:1]
    visits = int(frame.loc[leaving_y, "visits"].sum()) - 3
    newcomers = [visits // K + (i < visits % K) for i in range(K)]
    joined = [_people(0, newcomers, 200_000, ages), _people(2, [int(frame.loc[leaving_z[0], "visits"]) + 3], 300_000, ages)]
    return pd.concat([frame.drop(index=[*leaving_y, *leaving_z]), *joined], ignore_index=True)


def _publish(frames: list[pd.DataFrame]) -> Publications:
    publications = Publications()
    for frame in frames:
        publications.publish(frame)
    return publications


def test_a_carried_margin_that_keeps_its_visits_does_not_tell_a_cells_visits():
    frame = _frame([5] * len(ATOMS), seed=0, most_visits=19)
    publications = _publish([frame, _margin_holds_its_visits(frame)])
    assert changes_read(publications) == []
    assert all(audit.empty for audit in publications.audits), publications.audits


def test_the_audit_names_a_sum_read_through_a_carried_margin(monkeypatch):
    """The same history released without the groups rule: the attacker reads a sum of visits
    moved by 3 while two people moved, and the audit of that publication names it."""
    frame = _frame([5] * len(ATOMS), seed=0, most_visits=19)
    monkeypatch.setattr(republication, "_and_read_across", lambda lattice, fresh, carried, carry, read: carry)
    publications = _publish([frame, _margin_holds_its_visits(frame)])
    read = changes_read(publications)
    assert any(figure == "visits" for _, _, figure, *_ in read), read
    assert (publications.audits[0]["exposure"] == SMALL_CHANGE).any(), publications.audits[0]


def _step(frame: pd.DataFrame, step: tuple, first: int, most_visits: int) -> pd.DataFrame:
    """One change: `shift` moves k people of a cell out and as many newcomers into another cell
    of its row (its margin keeps its count); `swap` replaces `many` people of a cell by newcomers,
    with the same visits (`same`) or any; `erase` takes `many` people out, those without visits
    first when `same` (the row's count moves, its visits do not)."""
    kind, cell, many, same, seed = step
    rng = np.random.default_rng(seed)
    members = frame.index[(frame["d1"] == ATOMS[cell][0]) & (frame["d2"] == ATOMS[cell][1])]
    if kind == "erase":
        gone = frame.loc[members].sort_values("visits").index[:many] if same else members[:many]
        return frame.drop(index=gone).reset_index(drop=True)
    if kind == "shift":
        gone = members[:K]
        beside = [c for c in range(len(ATOMS)) if ATOMS[c][0] == ATOMS[cell][0] and c != cell][seed % 2]
        new = _people(beside, rng.integers(0, most_visits + 1, len(gone)).tolist(), first, rng)
    else:
        gone = members[:many]
        visits = frame.loc[gone, "visits"].tolist() if same else rng.integers(0, most_visits + 1, len(gone)).tolist()
        new = _people(cell, visits, first, rng)
    return pd.concat([frame.drop(index=gone), new], ignore_index=True)


STEPS = st.lists(
    st.lists(st.tuples(st.sampled_from(["shift", "swap", "erase"]), st.integers(0, len(ATOMS) - 1), st.integers(1, 5), st.booleans(), st.integers(0, 999)), min_size=1, max_size=3),
    min_size=1,
    max_size=4,
)


STALE_COUNT_TRUE_VISITS = ([29, 1, 17, 12, 2, 1], [[("erase", 0, 1, False, 0), ("shift", 0, 1, False, 0)], [("swap", 0, 1, True, 0)], [("erase", 0, 4, False, 0)]], 0, 1)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(1, 30), min_size=len(ATOMS), max_size=len(ATOMS)), STEPS, st.integers(0, 99), st.sampled_from([1, 19]))
@example(*STALE_COUNT_TRUE_VISITS)
def test_no_sum_is_read_through_a_carried_rows_true_figures(sizes, publications_steps, seed, most_visits):
    """People shifted between the cells of a row, swapped for newcomers with the same visits or
    others, and erased, those without visits first, so rows keep their counts or their visits
    while their mean ages move: no group of cells, read through whatever rows show a true
    figure, changes by 1 to k - 1 subjects, or in a sum while fewer than k people moved, and
    every audit passes. The example: the margin over a, carried one person stale with its true
    visits, then shown after four people left: its visits moved by 2 with four people, though
    its count seemed to move by k."""
    frames = [_frame(sizes, seed, most_visits)]
    for number, steps in enumerate(publications_steps):
        frame = frames[-1]
        for at, step in enumerate(steps):
            frame = _step(frame, step, 100_000 * (number + 1) + 1_000 * at, most_visits)
        frames.append(frame)
    publications = _publish(frames)
    assert changes_read(publications) == []
    assert all(audit.empty for audit in publications.audits), publications.audits
