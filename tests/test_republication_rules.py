"""The change rule where k or more subjects move at once, against the independent attacker
(`tests.attacker`): a row whose newcomers break the outcome rule, and a magnitude whose change
one newcomer dominates. The attacker keeps every publication, knows how many joined, left or
flipped between two of them (not where), takes the publisher at its word that a carried row is
stale by fewer than k, and bounds with linear programmes how many subjects moved into a set of
cells and how many of those have the outcome."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance_assets.privacy.cohorts import OVER_TIME, SHARED, SHARED_OVER_TIME, DisclosureRules, MeasureSpec, disclosure_audit, entries_of, outcome_kinds, release_cohorts
from compliance_assets.privacy.ledger import ledger_rows, previous_entries
from compliance_assets.privacy.window import ledger_publications
from tests.attacker import (
    COMPLEMENT,
    COMPLEMENT_CHANGE,
    JOINERS_WITH,
    JOINERS_WITHOUT,
    LEAVERS_WITH,
    LEAVERS_WITHOUT,
    OUTCOME,
    OUTCOME_CHANGE,
    SUBJECTS_CHANGE,
    Moves,
    Release,
    coverage,
    hidden_entries,
    homogeneous_or_small,
    intervals_over_time,
    true_tables,
)

DIMS = ["d1", "d2"]
MARGINS = [("d1",), ("d2",), ()]
DOMAINS = {"d1": ["a", "b", "c"], "d2": ["x", "y", "z", "w"]}
ATOMS = pd.DataFrame(list(itertools.product(*DOMAINS.values())), columns=DIMS)
K = 5
MEASURES = {"subjects": MeasureSpec("count_subjects"), "outcome": MeasureSpec("sum", "outcome")}
RULES = DisclosureRules(outcomes=("outcome",), min_numerator=2)


def _frame(sizes: list[int], outcomes: list[int]) -> pd.DataFrame:
    rows = []
    for values, size, outcome in zip(ATOMS.itertuples(index=False), sizes, outcomes, strict=True):
        rows += [{**dict(zip(DIMS, values, strict=True)), "outcome": int(i < outcome)} for i in range(size)]
    frame = pd.DataFrame(rows, columns=[*DIMS, "outcome"])
    return frame.assign(subject=range(len(frame)))


def _join(frame: pd.DataFrame, atom: int, outcomes: list[int]) -> pd.DataFrame:
    start = int(frame["subject"].max()) + 1 if len(frame) else 0
    new = pd.DataFrame([{**ATOMS.iloc[atom].to_dict(), "outcome": o, "subject": start + i} for i, o in enumerate(outcomes)])
    return pd.concat([frame, new], ignore_index=True)


def _attacker(table: pd.DataFrame) -> Release:
    return Release(table=table, dimensions=DIMS, derive={d: (lambda atoms, d=d: atoms[d]) for d in DIMS}, measures={"outcome": "outcome"})


def _truth(frame: pd.DataFrame) -> pd.DataFrame:
    return true_tables(frame, DIMS, MARGINS)


class History:
    """Every publication of one release as the attacker keeps it, and the judge's truth beside it."""

    def __init__(self, frame: pd.DataFrame, rules: DisclosureRules, k: int = K, window: bool = True):
        """`window`: whether each release reads the ledger's earlier publications, as the engine
        does; without, it sees only the last one, as it did before."""
        self.rules, self.k, self.window = rules, k, window
        self.release = release_cohorts(frame, DIMS, "subject", MEASURES, k, MARGINS, rules=rules)
        self.tables, self.frames, self.moves, self.previous, self.ledger, self.earlier = [self.release.released], [frame], [Moves()], None, [], []

    def republish(self, frame: pd.DataFrame, moves: Moves) -> pd.DataFrame:
        number = len(self.tables)
        ledger = ledger_rows(
            self.release.entries, DIMS, ["outcome"], release="r", publication=str(number),
            published_at=pd.Timestamp("2026-01-01") + pd.Timedelta(days=number), register_version="r", code_version="c",
        )
        self.previous = previous_entries(ledger, DIMS, ["outcome"])
        self.ledger.append(ledger)
        self.earlier = ledger_publications(pd.concat(self.ledger[-self.rules.window :], ignore_index=True), outcome_kinds(MEASURES, self.rules))
        self.release = release_cohorts(
            frame, DIMS, "subject", MEASURES, self.k, MARGINS, rules=self.rules, previous=self.previous, earlier=self.earlier if self.window else ()
        )
        self.tables.append(self.release.released)
        self.frames.append(frame)
        self.moves.append(moves)
        return self.release.released

    def bounds(self, targets: list, trusting: bool = True) -> list[tuple[float, float]]:
        """The attacker's ranges of `targets`, `trusting` that a carried row is stale by fewer
        than the release's k."""
        within = self.k if trusting else None
        return intervals_over_time([_attacker(t) for t in self.tables], self.moves, ATOMS, targets, self.k, outcome="outcome", carried_within=within)

    def pinned_before(self, period: int, mask: np.ndarray) -> bool:
        """Whether the publications before `period` and the moves since already bound the atoms
        of `mask` narrower than k, and the publication itself (with those before it) narrowed
        them no further: no later table can undo what earlier ones told an attacker who counts
        every join and leave (docs/disclosure.md, "Where the promise stops")."""
        if period == 0:
            return False
        tables = [_attacker(t) for t in self.tables[:period]]
        bare = [*tables, _attacker(self.tables[period].iloc[:0])]
        with_it = [*tables, _attacker(self.tables[period])]
        moves = self.moves[: period + 1]
        (low, high), = intervals_over_time(bare, moves, ATOMS, [(period, mask)], self.k, outcome="outcome", carried_within=self.k)
        (low_now, high_now), = intervals_over_time(with_it, moves, ATOMS, [(period, mask)], self.k, outcome="outcome", carried_within=self.k)
        return high - low < self.k and high_now - low_now >= high - low - 1e-6

    def proved_before(self, period: int, mask: np.ndarray, figure: str) -> bool:
        """Whether the publications before `period`, with its moves, already prove that `figure`
        of `mask` at `period` is 0 (no later publication can undo it)."""
        if period == 0:
            return False
        bare = [*[_attacker(t) for t in self.tables[:period]], _attacker(self.tables[period].iloc[:0])]
        (_, high), = intervals_over_time(bare, self.moves[: period + 1], ATOMS, [(period, mask, figure)], self.k, outcome="outcome", carried_within=self.k)
        return high < 1 - 1e-6


def _row_masks() -> list[np.ndarray]:
    """The atoms of every entry of the release: its cells and its margins."""
    every = _truth(_frame([1] * len(ATOMS), [0] * len(ATOMS)))
    return [mask for _, mask in coverage(_attacker(every), ATOMS)]


def newcomers_read(history: History, period: int, masks: list[np.ndarray], min_numerator: int, trusting: bool = True) -> list[tuple]:
    """Sets of cells (the release's entries) where the attacker proves that someone joined and
    that fewer than `min_numerator` of those it is sure of have the outcome, or lack it: the
    newcomers' outcome read off the two publications."""
    targets = [(period, mask, figure) for mask in masks for figure in (SUBJECTS_CHANGE, OUTCOME_CHANGE, COMPLEMENT_CHANGE)]
    bounds = history.bounds(targets, trusting)
    read = []
    for number, mask in enumerate(masks):
        (joined, _), (_, outcome_high), (_, complement_high) = bounds[3 * number : 3 * number + 3]
        sure = min(min_numerator, joined)
        if joined >= 1 and (outcome_high < sure or complement_high < sure):
            read.append((ATOMS[mask].to_dict("records"), joined, outcome_high, complement_high))
    return read


def test_a_row_k_or_more_joined_is_not_carried_when_its_newcomers_all_lack_the_outcome():
    """Six newcomers, none with the outcome, join (a, x); six, half with it, join (a, y). The
    margin of a keeps the outcome rule and moves. Carrying (a, x) unchanged let the attacker take
    the margin less its other cells: six newcomers in (a, x), none with the outcome."""
    frame = _frame([20] * len(ATOMS), [8] * len(ATOMS))
    history = History(frame, RULES)
    frame = _join(_join(frame, 0, [0] * 6), 1, [1, 1, 1, 0, 0, 0])
    history.republish(frame, Moves(joined=12))
    cell = (ATOMS["d1"] == "a").to_numpy() & (ATOMS["d2"] == "x").to_numpy()

    assert newcomers_read(history, 1, [cell], RULES.min_numerator, trusting=False) == []
    assert newcomers_read(history, 1, _row_masks(), RULES.min_numerator) == []
    audit = disclosure_audit(history.release.released, frame, DIMS, "subject", K, MARGINS, measures=MEASURES, rules=RULES, previous=history.previous)
    assert audit.exposed.empty, audit.exposed
    assert homogeneous_or_small(history.release.released, outcome_col="outcome", min_numerator=RULES.min_numerator).empty


def _stale_carried_rows(history: History, frame: pd.DataFrame) -> list[tuple]:
    """Carried rows (shown unchanged from the last publication) that are stale by k or more in
    subjects or outcome: the publisher's promise is fewer than k."""
    entries = history.release.entries
    carried = entries.loc[entries["carried"]]
    stale = []
    for _, row in carried.iterrows():
        truth = row["_counted"]
        if abs(int(row["subjects"]) - truth["subjects"]) >= history.k or abs(int(row["outcome"]) - truth["outcome"]) >= history.k:
            stale.append((row["grouped_by"], *(row[d] for d in DIMS), int(row["subjects"]), truth))
    return stale


BATCHES = st.sampled_from(["none", "all", "one", "half"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(
    sizes=st.lists(st.integers(K, 25), min_size=len(ATOMS), max_size=len(ATOMS)),
    steps=st.lists(st.tuples(st.sampled_from(["batch", "join", "flip", "leave"]), st.integers(0, len(ATOMS) - 1), st.integers(K, K + 2), BATCHES), min_size=1, max_size=3),
    data=st.data(),
)
def test_k_or_more_newcomers_tell_nothing_of_their_outcome(sizes, steps, data):
    """Histories where k or more join one cell at once, all with the outcome, none, one or half,
    beside single joins, erasures of one member or of k or more, and outcome flips, every cell
    starting with k or more and within the outcome rule (a cell shown under k's reach of the
    joins and leaves an attacker counts is pinned by history: see "Where the promise stops").
    After every publication: no carried row is stale by k or more; the attacker, trusting that
    promise, is consistent, cannot prove of any set of cells that its newcomers (nor those it is
    sure of) mostly have or lack the outcome, and bounds no withheld cohort under k narrower than
    k; the audit agrees."""
    rules = DisclosureRules(outcomes=("outcome",), min_numerator=RULES.min_numerator)
    _keeps_the_promise(sizes, steps, [data.draw(st.integers(rules.min_numerator, size - rules.min_numerator)) for size in sizes])



MOVE = st.one_of(
    st.tuples(st.just("leave"), st.integers(0, len(ATOMS) - 1), st.integers(1, 6), st.sampled_from(["with", "without"])),
    st.tuples(st.just("join"), st.integers(0, len(ATOMS) - 1), st.just(0), st.lists(st.integers(0, 1), min_size=1, max_size=6)),
)
SEVERAL_MOVES = st.lists(st.lists(MOVE, min_size=1, max_size=3), min_size=1, max_size=3)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(k=st.sampled_from([5, 6]), numerator=st.sampled_from([2, 3]), steps=SEVERAL_MOVES, data=st.data())
def test_several_moves_a_publication_keep_the_promise(k, numerator, steps, data):
    """Histories where several joins and leaves land in one publication, cells of k to k + 3
    within the outcome rule: the shape in which rows shown again once told where the movers were.
    The same promise as above, with the audit reading the ledger's earlier publications."""
    sizes = data.draw(st.lists(st.integers(max(k, 2 * numerator), k + 3), min_size=len(ATOMS), max_size=len(ATOMS)))
    outcomes = [data.draw(st.integers(numerator, size - numerator)) for size in sizes]
    _keeps_the_promise(sizes, steps, outcomes, k=k, rules=DisclosureRules(outcomes=("outcome",), min_numerator=numerator))


def test_a_flip_then_k_newcomers_into_cells_of_exactly_k():
    """Every cell at k, one member's outcome flips (the rows over it are carried), then k join
    that cell without the outcome. The grand total's outcome moved by -1 since it was last shown
    exactly: with one flip counted and newcomers' outcomes at least 0, the attacker proved that
    the newcomers all lack it. A net outcome change under `min_numerator` (or within as many of
    the newcomers' number) now breaks the rule on the newcomers, negative ones included."""
    _keeps_the_promise([K] * len(ATOMS), [("flip", 0, K, "none"), ("batch", 0, K, "none")], [2] * len(ATOMS))


def test_leavers_counted_into_one_cell_do_not_pin_it():
    """Five leave (c, z) of 11, five join (a, x), five more leave (c, z). With exactly five
    leavers and the row and column of (c, z) each shown five down, the attacker put them all in
    (c, z) and pinned it at 1. The release's programme now shares the moves' budget across the
    cells, and the ledger keeps what the attacker learnt of each withheld cell from it."""
    _keeps_the_promise([K] * 10 + [11, K], [("leave", 10, K, "all"), ("batch", 0, K, "all"), ("leave", 10, K, "all")], [2] * len(ATOMS))


def test_newcomers_after_leavers_who_all_had_the_outcome():
    """Five of the seven in (b, y), all five with the outcome, leave; five join (a, x) without
    it. The grand total, withheld after the leavers, is known exactly (they were counted) and its
    outcome to within those five; shown again with the newcomers, its outcome had not moved, and
    an attacker who counted both proved the newcomers lack it. The ledger now keeps the range of
    each withheld entry's outcome and complement, and a row whose figures set against those
    ranges tell the newcomers' outcomes is held."""
    _keeps_the_promise([K] * 5 + [7] + [K] * 6, [("leave", 5, K, "all"), ("batch", 0, K, "none")], [2] * 5 + [5] + [2] * 6)


def test_one_leaver_after_a_cell_empties():
    """Every cell at k; (b, y) empties, then one member of (a, x) leaves. Carrying the margins of
    a and x let the attacker bound (a, x) to 1-5, narrower than k, where the publications before
    left it 0-5. The release judged that against a baseline an attacker cannot prove: rows shown
    unchanged taken as exact (they may be carried), and (b, y) known empty. It now also protects
    against the attacker who doubts both (`intervals.Doubt`, the ledger's `PROVEN` ranges)."""
    _keeps_the_promise([K] * len(ATOMS), [("leave", 5, K, "all"), ("leave", 0, K, "none")], [2] * len(ATOMS))


def _as_published(history: History, rows: dict[tuple, tuple[int, int]]) -> pd.DataFrame:
    """A table shaped as the release publishes it, with the rows of the first publication keyed
    (grouped_by, d1, d2) by `rows` and showing the (subjects, outcome) given: what an earlier
    engine published, for the audit to judge."""
    first = history.tables[0]
    keys = list(zip(first["grouped_by"], *(first[d].astype(object).where(first[d].notna(), None) for d in DIMS), strict=True))
    table = first.loc[[key in rows for key in keys]].copy()
    for position, key in zip(table.index, [key for key in keys if key in rows], strict=True):
        table.loc[position, ["subjects", "outcome"]] = rows[key]
    return table.reset_index(drop=True)


def test_the_audit_reads_what_earlier_engines_let_through():
    """The two histories above, with what the engine published before it kept outcome ranges and
    the doubting attacker's baseline: the audit now reports both. After five leavers who all had
    the outcome and five newcomers without it, the grand total shown with its outcome unmoved
    tells the newcomers'; after a cell emptied and one member of (a, x) left, carrying the margins
    of a and x bounds (a, x) narrower than anyone could prove before."""
    frame = _frame([K] * 5 + [7] + [K] * 6, [2] * 5 + [5] + [2] * 6)
    history = History(frame, RULES)
    frame = frame.drop(index=frame.index[(frame["d1"] == "b") & (frame["d2"] == "y")][:5])
    history.republish(frame, Moves(left=5))
    frame = _join(frame, 0, [0] * K)
    history.republish(frame, Moves(joined=K))
    earlier = _as_published(history, {("d1", "c", None): (20, 8), ("d2", None, "z"): (15, 6), ("(total)", None, None): (62, 22)})
    audit = disclosure_audit(earlier, frame, DIMS, "subject", K, MARGINS, measures=MEASURES, rules=RULES, previous=history.previous)
    assert (audit.exposed["grouped_by"] == "(total)").any(), audit.exposed

    frame = _frame([K] * len(ATOMS), [2] * len(ATOMS))
    history = History(frame, RULES)
    frame = frame.drop(index=frame.index[(frame["d1"] == "b") & (frame["d2"] == "y")])
    history.republish(frame, Moves(left=K))
    frame = frame.drop(index=frame.index[(frame["d1"] == "a") & (frame["d2"] == "x")][:1])
    history.republish(frame, Moves(left=1))
    earlier = _as_published(history, {("d1", "a", None): (20, 8), ("d1", "c", None): (20, 8), ("d2", None, "x"): (15, 6), ("d2", None, "z"): (15, 6)})
    audit = disclosure_audit(earlier, frame, DIMS, "subject", K, MARGINS, measures=MEASURES, rules=RULES, previous=history.previous)
    narrow = audit.exposed.loc[audit.exposed["exposure"].str.startswith("bounded by the published totals")]
    assert ((narrow["d1"] == "a") & (narrow["d2"] == "x")).any(), audit.exposed


# Histories where moves spread over several publications meet a row shown again: (cell sizes,
# each publication's moves, outcome counts per cell, k, rules).
MARGIN_SHOWN_AGAIN = ([K] * len(ATOMS), [[("leave", 11, 1, "with")], [("join", 5, 1, [0]), ("leave", 3, 1, "without")], [("leave", 3, 4, "with")]], [2] * len(ATOMS), K, RULES)
COLUMN_SHOWN_AGAIN = (
    [K] * len(ATOMS), [[("leave", 9, 4, "with"), ("leave", 4, 1, "with")], [("join", 8, 3, [1, 1, 1])], [("join", 4, 3, [0, 1, 0])]], [2] * len(ATOMS), K, RULES
)
NUMERATOR_OF_THREE = (
    [6] * len(ATOMS),
    [
        [("join", 2, 3, [0, 0, 0]), ("leave", 6, 2, "with"), ("join", 11, 3, [1, 1, 1])],
        [("join", 7, 3, [0, 0, 0])],
        [("join", 2, 3, [1, 1, 1]), ("leave", 7, 3, "with")],
    ],
    [3] * len(ATOMS),
    K,
    DisclosureRules(outcomes=("outcome",), min_numerator=3),
)
K_SIX = ([6] * len(ATOMS), [[("leave", 5, 6, "with"), ("join", 8, 3, [1, 0, 0])], [("leave", 10, 1, "with")], [("join", 4, 3, [0, 1, 0])]], [2] * len(ATOMS), 6, RULES)
# Histories an independent search found against the release that read the earlier publications
# only when it showed a row's own figures again: a row shown for the first time, a release showing
# no row again, and a column changed by k or more.
FIRST_SHOWN = (
    [11, 6, 5, 14, 9, 7, 3, 9, 10, 6, 7, 7], [[("leave", 3, 5, "with"), ("leave", 1, 5, "with"), ("join", 5, 5, [0] * 5)]], [8, 2, 2, 10, 7, 3, 2, 7, 7, 2, 5, 4], K, RULES
)
NO_ROW_AGAIN = (
    [8, 7, 5, 6, 5, 5, 5, 8, 6, 7, 5, 7], [[("leave", 9, 4, "with"), ("leave", 1, 2, "with")]], [5, 4, 3, 3, 1, 5, 4, 4, 3, 4, 3, 4], K,
    DisclosureRules(outcomes=("outcome",), min_numerator=3),
)
# Histories where the outcome counts a row shows for the first time, set against the moves and the
# outcome counts of the publication before, bound a cell of that publication (cell sizes, moves,
# outcome counts, k, rules).
OUTCOME_FIRST_SHOWN = (
    [8, 9, 5, 13, 20, 7, 7, 1, 9, 8, 6, 8], [[("join", 7, 1, [0]), ("join", 1, 5, [0, 1, 1, 1, 1]), ("join", 9, 5, [0] * 5)]], [5, 5, 4, 5, 4, 4, 4, 0, 5, 3, 3, 5], K,
    DisclosureRules(outcomes=("outcome",), min_numerator=3),
)
OUTCOME_NEWCOMERS_SPLIT = (
    [4, 1, 9, 18, 24, 7, 21, 8, 2, 5, 12, 7], [[("join", 8, 6, [0] * 6), ("join", 0, 6, [1, 1, 1, 1, 1, 0])]], [2, 0, 5, 4, 12, 4, 5, 3, 2, 2, 6, 2], K,
    DisclosureRules(outcomes=("outcome",), min_numerator=2),
)
OUTCOME_AT_K_SIX = (
    [9, 16, 20, 14, 15, 8, 5, 17, 3, 10, 6, 9], [[("join", 3, 8, [0] * 8), ("join", 7, 1, [0])]], [5, 6, 16, 11, 12, 3, 5, 9, 1, 5, 3, 4], 6,
    DisclosureRules(outcomes=("outcome",), min_numerator=3),
)
COLUMN_CHANGED = (
    [5, 6, 3, 5, 5, 6, 3, 4, 21, 6, 5, 8],
    [[("leave", 4, 2, "with")], [("leave", 9, 2, "without"), ("join", 3, 5, [0, 1, 1, 0, 1]), ("join", 7, 7, [1, 0, 1, 0, 1, 0, 1])]],
    [3, 4, 3, 2, 3, 4, 2, 2, 15, 3, 2, 2],
    K,
    RULES,
)


# Histories an independent search found where the attacker proves a cohort's members share one
# outcome value: withheld cells of a first publication, the leavers of one step, the joiners of
# another (cell sizes, moves, outcome counts, k, rules).
RULES_OF_TWO = DisclosureRules(outcomes=("outcome",), min_numerator=2)
SHARED_WITHHELD = (
    [4, 19, 11, 5, 17, 19, 5, 12, 9, 19, 13, 18], [], [4, 1, 11, 4, 17, 19, 5, 8, 2, 12, 7, 7], K, RULES_OF_TWO
)
SHARED_LEAVERS = (
    [14, 17, 14, 14, 16, 18, 6, 5, 16, 15, 20, 19],
    [[("join", 9, 2, [0, 0])], [("leave", 3, 5, "with")], [("join", 5, 4, [0, 1, 1, 0]), ("join", 10, 5, [1, 1, 1, 1, 1])]],
    [12, 5, 1, 7, 9, 4, 0, 4, 1, 12, 14, 19],
    K,
    RULES_OF_TWO,
)
SHARED_JOINERS = (
    [2, 19, 5, 11, 17, 19, 11, 9, 19, 4, 10, 7],
    [[("leave", 6, 3, "without")], [("join", 3, 8, [0, 1, 1, 0, 1, 1, 1, 0]), ("leave", 7, 2, "with")], [("join", 5, 7, [0] * 7)]],
    [1, 4, 5, 0, 7, 14, 0, 7, 2, 2, 1, 5],
    K,
    RULES_OF_TWO,
)


# A history longer than a window of three (cell sizes, moves, outcome counts, k, rules).
BEFORE_THE_WINDOW = (
    [15, 8, 16, 11, 4, 12, 0, 11, 15, 8, 20, 14],
    [
        [("leave", 1, 3, "without")], [("leave", 0, 6, "with")], [("leave", 6, 1, "without")], [("join", 8, 3, [0, 0, 0])],
        [("join", 9, 8, [1] * 8), ("join", 9, 1, [0])], [("join", 10, 6, [1, 1, 0, 1, 0, 1])],
    ],
    [7, 8, 0, 10, 4, 2, 0, 5, 5, 5, 6, 0],
    K,
    DisclosureRules(outcomes=("outcome",), min_numerator=3, window=3),
)


def test_what_the_ledger_recorded_before_the_window_is_read_with_it():
    """Windows of three publications over seven. (c, w), fourteen members none with the outcome,
    was proven so in the first two publications once the last ones were shown, which no window
    held together. The oldest publication of each window now brings the ranges the ledger
    recorded of its withheld entries (anchors), so the window sees what came before it."""
    _keeps_the_promise(*BEFORE_THE_WINDOW)


@pytest.mark.parametrize("history", [SHARED_WITHHELD, SHARED_LEAVERS, SHARED_JOINERS], ids=["withheld", "leavers", "joiners"])
def test_no_cohort_is_proven_to_share_an_outcome(history):
    """(b, x), 17 members all with the outcome, is withheld for the outcome rule; the rows shown
    around it, their outcome counts and complements, proved all of it with the outcome (and (a, x),
    (a, z) the same). Five leave (a, w), all with the outcome: (a, w) shown again five down with
    its outcome five down, then eleven joiners of whom the columns and c show seven with it,
    proved all five leavers had it. Seven join (b, y), none with it: the rows shown a step later
    proved that. l-diversity holds for withheld cohorts and for those who joined or left them."""
    _keeps_the_promise(*history)


def test_the_audit_names_a_withheld_cohort_proven_to_share_an_outcome():
    """What the engine published before it read l-diversity off withheld rows: (a, w) shown at
    eleven with nine, beside the rows it still shows, proved (b, y), one member, and (c, x), four,
    to lack the outcome."""
    sizes, outcome_counts = [14, 10, 0, 11, 15, 1, 19, 11, 4, 13, 0, 5], [3, 4, 0, 9, 13, 0, 9, 3, 0, 8, 0, 2]
    frame = _frame(sizes, outcome_counts)
    release = release_cohorts(frame, DIMS, "subject", MEASURES, K, MARGINS, rules=RULES_OF_TWO)
    shown = release.released
    assert not ((shown["grouped_by"] == "d1,d2") & (shown["d1"] == "a") & (shown["d2"] == "w")).any()
    earlier = pd.concat([shown, pd.DataFrame([{"d1": "a", "d2": "w", "grouped_by": "d1,d2", "subjects": 11, "outcome": 9}])], ignore_index=True)
    history = History(frame, RULES_OF_TWO)
    history.tables = [earlier]
    assert outcomes_read(history), "the earlier engine's table lets the attacker read an outcome"
    audit = disclosure_audit(earlier, frame, DIMS, "subject", K, MARGINS, measures=MEASURES, rules=RULES_OF_TWO)
    named = audit.exposed.loc[audit.exposed["exposure"] == SHARED]
    assert {("b", "y"), ("c", "x")} <= set(zip(named["d1"], named["d2"], strict=True)), audit.exposed


@pytest.mark.parametrize("history", [SHARED_LEAVERS, SHARED_JOINERS], ids=["leavers", "joiners"])
def test_the_audit_names_movers_proven_to_share_an_outcome_over_time(history):
    """The two histories released without reading the ledger's earlier publications: the attacker
    reads the leavers' or joiners' outcome, and the audit, given those publications, names it."""
    blind, reported = _released_blind(history)
    assert outcomes_read(blind), "the release without the window lets the attacker read an outcome"
    assert any(reason.startswith(SHARED_OVER_TIME) for reason in reported), reported


@pytest.mark.parametrize("history", [SHARED_LEAVERS, SHARED_JOINERS], ids=["leavers", "joiners"])
def test_without_the_outcome_rule_movers_may_share_an_outcome(history):
    """A minimum numerator of 0 turns the outcome rule off, l-diversity with it: the register
    asked for none, so the audit over time names no movers for sharing an outcome, as the
    single publication names no cohort."""
    sizes, steps, outcome_counts, k, _ = history
    _, reported = _released_blind((sizes, steps, outcome_counts, k, DisclosureRules(outcomes=("outcome",), min_numerator=0)))
    assert not [reason for reason in reported if reason.startswith((SHARED, SHARED_OVER_TIME))], reported


def _released_blind(history) -> tuple[History, list[str]]:
    """A history released without reading the ledger's earlier publications, and every exposure
    the audit, given those publications, named along it."""
    sizes, steps, outcome_counts, k, rules = history
    frame = _frame(sizes, outcome_counts)
    blind = History(frame, rules, k, window=False)
    reported = []
    for step in steps:
        frame, moves = _step(frame, step)
        blind.republish(frame, moves)
        audit = disclosure_audit(
            blind.release.released, frame, DIMS, "subject", k, MARGINS, measures=MEASURES, rules=rules, previous=blind.previous, earlier=blind.earlier
        )
        reported += audit.exposed["exposure"].tolist()
    return blind, reported


def test_a_margin_shown_again_after_moves_in_one_publication():
    """Every cell at k. One leaves (c, w); one joins (b, y) while one leaves (a, w); four leave
    (a, w). The margin of a, shown again five down from the first publication beside the exact
    total, proved that five of the six leavers since were in a: (c, w) lost at most one and was
    bounded to 4-6, where the publications before left it 0-6, while the release's programme knew
    only the last publication's ranges and the moves since. Read with the ledger's earlier
    publications (`window`), the margin stays withheld."""
    _keeps_the_promise(*MARGIN_SHOWN_AGAIN)


def test_a_column_shown_again_tells_where_the_leavers_were():
    """Every cell at k. Four leave (c, y) and one (b, x); three join (c, x); three join (b, x). The
    column x, withheld since the first publication and shown again twenty against fifteen, moved
    up by five with six joiners in all: at most one leaver was in x, and (b, x) of the second
    publication, 4, was bounded to 4-5 after the fact."""
    _keeps_the_promise(*COLUMN_SHOWN_AGAIN)


def test_moves_shared_across_publications_at_a_numerator_of_three():
    """Cells of six, half with the outcome, minimum numerator 3. Three join (a, z) and three
    (c, w) while two leave (b, z); three join (b, w); three more join (a, z) while three leave
    (b, w). (b, z) of the second publication, 4, was bounded to 4-6 after the fact."""
    _keeps_the_promise(*NUMERATOR_OF_THREE)


def test_moves_shared_across_publications_at_k_six():
    """Cells of six, k = 6. Six leave (b, y) while three join (c, x); one leaves (c, z); three
    join (b, x). (c, z), 5, was bounded to 1-6 in the last two publications."""
    _keeps_the_promise(*K_SIX)


def test_a_row_shown_for_the_first_time_pins_no_cell_of_the_publication_before():
    """Five leave (a, w) and five (a, y) while five join (b, y). The row a, shown ten down, and
    (b, y), shown for the first time at twelve, bounded (b, z) of the first publication, 3, to
    0-3 after the fact, where it alone left 0-8."""
    _keeps_the_promise(*FIRST_SHOWN)


def test_a_release_showing_no_row_again_keeps_what_the_one_before_summed():
    """Four leave (c, y) and two (a, y); the second publication only carries rows or shows them
    unchanged. The row c carried at 25 holds at least 21, and the first publication fixed (c, x),
    (c, z) and (c, w) together at 18: (c, y), 3, lost at most four, 3-7, where the moves left 1-7.
    The ledger's ranges, one box per entry, had lost that sum."""
    _keeps_the_promise(*NO_ROW_AGAIN)


def test_a_column_changed_by_k_or_more_tells_where_no_joiner_went():
    """Two leave (b, x); then two leave (c, y) while five join (a, w) and seven (b, w). The column
    w, shown twelve up with twelve joiners, put none in (b, x), 3, of the last publication, and
    only four left in all: 1-5, where the publications before left it 1-17. No row was shown again,
    so the earlier publications were not read."""
    _keeps_the_promise(*COLUMN_CHANGED)


def test_earlier_publications_read_without_the_outcome_measures_are_refused():
    """The window reads outcome counts only where the ledger's publications were read with the
    release's outcome measures: read without them, the release would be judged as if none had
    been shown, so it refuses instead."""
    frame = _frame([K] * len(ATOMS), [2] * len(ATOMS))
    history = History(frame, RULES)
    frame, moves = _step(frame, [("leave", 3, 1, "with")])
    history.republish(frame, moves)
    bare = ledger_publications(pd.concat(history.ledger, ignore_index=True), {})
    with pytest.raises(ValueError, match="without the release's 1 outcome measure"):
        release_cohorts(frame, DIMS, "subject", MEASURES, K, MARGINS, rules=RULES, previous=history.previous, earlier=bare)


@pytest.mark.parametrize("history", [OUTCOME_FIRST_SHOWN, OUTCOME_NEWCOMERS_SPLIT, OUTCOME_AT_K_SIX], ids=["first-shown", "newcomers-split", "k6"])
def test_outcome_counts_over_the_window_pin_no_earlier_cell(history):
    """k = 5, minimum numerator 3: eleven join, none of the five to (c, y) with the outcome; (c, y),
    shown for the first time at thirteen with three, had at most three with it before, which puts
    at least four in (b, y), and (b, y) and (b, w) were eight together: (b, w) of the first
    publication, 1, was bounded to 0-4, where it alone left 0-8. The others: six join (c, x)
    without the outcome and six (a, x), five with it; at k = 6, eight join (a, w) and one (b, w),
    none with it."""
    _keeps_the_promise(*history)


@pytest.mark.parametrize(
    "history",
    [MARGIN_SHOWN_AGAIN, COLUMN_SHOWN_AGAIN, NUMERATOR_OF_THREE, K_SIX, FIRST_SHOWN, NO_ROW_AGAIN, COLUMN_CHANGED, OUTCOME_FIRST_SHOWN, OUTCOME_NEWCOMERS_SPLIT, OUTCOME_AT_K_SIX],
    ids=["margin", "column", "numerator", "k6", "first-shown", "no-row-again", "column-changed", "outcome-first-shown", "outcome-newcomers-split", "outcome-k6"],
)
def test_the_audit_reads_the_earlier_publications_a_release_did_not(history):
    """The same histories released as the engine did before it read the ledger's earlier
    publications: the independent attacker bounds a withheld cohort under k narrower than k, and
    the audit, given those publications, names an entry bounded too narrowly over time in one of
    them."""
    blind, reported = _released_blind(history)
    assert _narrowed(blind), "the release without the window leaks in this history"
    assert any(reason.startswith(OVER_TIME) for reason in reported), reported


def test_members_leaving_a_cell_empty_do_not_make_its_margins_changes_readable():
    """Every cell at k; all five members of (a, x) are erased, so the cell is no longer in the
    table. The change tables used to leave it out: the margin of a seemed to change as its other
    cells did, and a small outcome change of the total was published. The vanished cell now stays
    in the change tables at 0, withheld."""
    _keeps_the_promise([K] * len(ATOMS), [("leave", 0, K, "all")], [2] * len(ATOMS))


def test_an_entry_shown_again_is_judged_against_the_figures_it_last_showed():
    """Five newcomers without the outcome join (a, y): it is withheld. Five more without it join:
    it has moved by k since it was withheld, but against the figures it last showed, ten
    newcomers all lack the outcome. It stays withheld until its newcomers keep the rule."""
    frame = _frame([20] * len(ATOMS), [8] * len(ATOMS))
    history = History(frame, RULES)
    cell = (ATOMS["d1"] == "a").to_numpy() & (ATOMS["d2"] == "y").to_numpy()
    for _ in range(2):
        frame = _join(frame, 1, [0] * K)
        history.republish(frame, Moves(joined=K))
    (joined, _), (_, outcome_high), (_, complement_high) = history.bounds([(2, cell, figure, 0) for figure in (SUBJECTS_CHANGE, OUTCOME_CHANGE, COMPLEMENT_CHANGE)])
    assert not (joined >= 1 and min(outcome_high, complement_high) < min(RULES.min_numerator, joined)), (joined, outcome_high, complement_high)
    audit = disclosure_audit(history.release.released, frame, DIMS, "subject", K, MARGINS, measures=MEASURES, rules=RULES, previous=history.previous)
    assert audit.exposed.empty, audit.exposed
    frame = _join(frame, 1, [1] * K)
    history.republish(frame, Moves(joined=K))
    shown = history.release.released
    assert ((shown["grouped_by"] == "d1,d2") & (shown["d1"] == "a") & (shown["d2"] == "y")).any(), "shown again once its newcomers keep the rule"


def _step(frame: pd.DataFrame, step) -> tuple[pd.DataFrame, Moves] | None:
    """One publication's moves: a property step (kind, atom, many, batch), or a list of moves made
    together, ("leave", atom, how many, "with" or "without": who leaves first) and ("join", atom,
    the newcomers' outcomes). None when nothing moved."""
    if isinstance(step, list):
        moves = Moves()
        for kind, atom, many, which in step:
            members = _members_of(frame, atom)
            if kind == "join":
                frame, moves = _join(frame, atom, list(which)), Moves(moves.joined + len(which), moves.left, moves.flipped)
            else:
                gone = frame.loc[members, "outcome"].sort_values(ascending=which == "without", kind="stable").index[:many]
                frame, moves = frame.drop(index=gone), Moves(moves.joined, moves.left + len(gone), moves.flipped)
        return frame, moves
    kind, atom, many, batch = step
    members = _members_of(frame, atom)
    if kind == "batch":
        outcomes = {"none": [0] * many, "all": [1] * many, "one": [1] + [0] * (many - 1), "half": [i % 2 for i in range(many)]}[batch]
        return _join(frame, atom, outcomes), Moves(joined=many)
    if kind == "join":
        return _join(frame, atom, [int(batch == "all")]), Moves(joined=1)
    if not len(members):
        return None
    if kind == "leave":
        gone = members[: many if batch == "all" else 1]
        return frame.drop(index=gone), Moves(left=len(gone))
    return frame.assign(outcome=frame["outcome"].where(frame.index != members[0], 1 - frame.loc[members[0], "outcome"])), Moves(flipped=1)


def _members_of(frame: pd.DataFrame, atom: int) -> pd.Index:
    """The rows of `frame` in the atom numbered `atom`."""
    inside = np.ones(len(frame), dtype=bool)
    for dimension in DIMS:
        inside &= (frame[dimension] == ATOMS.iloc[atom][dimension]).to_numpy()
    return frame.index[inside]


def _keeps_the_promise(sizes, steps, outcome_counts, k: int = K, rules: DisclosureRules | None = None) -> None:
    rules = rules or RULES
    frame = _frame(sizes, outcome_counts)
    history = History(frame, rules, k)
    for step in steps:
        moved = _step(frame, step)
        if moved is None:
            continue
        frame, moves = moved
        history.republish(frame, moves)
        assert _stale_carried_rows(history, frame) == []
        assert newcomers_read(history, len(history.tables) - 1, _row_masks(), rules.min_numerator) == []
        audit = disclosure_audit(
            history.release.released, frame, DIMS, "subject", k, MARGINS, measures=MEASURES, rules=rules, previous=history.previous, earlier=history.earlier
        )
        assert audit.exposed.empty, audit.exposed
    assert not (narrow := _narrowed(history)), narrow[:3]
    assert not (shared := outcomes_read(history)), shared[:3]


def outcomes_read(history: History) -> list[tuple]:
    """Cohorts whose members the attacker, holding every publication, proves to share one outcome
    value (l-diversity read off over time): an entry of a publication (withheld, carried or any
    other), or the members who joined or left it since the publication before. Judged by the
    truth of each publication's frame; what the publications up to one had already proved of it
    is excused (`pinned_before`)."""
    masks = _row_masks()
    atom_of = {tuple(a): i for i, a in enumerate(ATOMS.itertuples(index=False))}
    targets, truths = [], []
    for period, frame in enumerate(history.frames):
        groups = [("members", frame, OUTCOME, COMPLEMENT)]
        if period:
            before = history.frames[period - 1]
            groups += [
                ("joiners", frame[~frame["subject"].isin(before["subject"])], JOINERS_WITH, JOINERS_WITHOUT),
                ("leavers", before[~before["subject"].isin(frame["subject"])], LEAVERS_WITH, LEAVERS_WITHOUT),
            ]
        for who, members, with_it, without_it in groups:
            atoms = np.array([atom_of[values] for values in zip(*(members[d] for d in DIMS), strict=True)], dtype=np.int64)
            for mask in masks:
                inside = mask[atoms] if len(atoms) else np.zeros(0, dtype=bool)
                size, having = int(inside.sum()), int(members["outcome"].to_numpy()[inside].sum()) if inside.any() else 0
                if size == 0 or 0 < having < size:
                    continue
                figure = with_it if having == 0 else without_it
                targets.append((period, mask, figure))
                truths.append((period, who, ATOMS[mask].to_dict("records"), size, having))
    if not targets:
        return []
    bounds = history.bounds(targets)
    return [
        (truth, high)
        for (period, mask, figure), truth, (_, high) in zip(targets, truths, bounds, strict=True)
        if high < 1 - 1e-6 and not history.proved_before(period, mask, figure)
    ]


def _narrowed(history: History) -> list[tuple]:
    """Withheld cohorts under k that the attacker, holding every publication, bounds narrower than
    k, beyond what the publications up to theirs had already bound."""
    targets, truths = [], []
    for period, (table, seen) in enumerate(zip(history.tables, history.frames, strict=True)):
        for entry in hidden_entries(_truth(seen), _attacker(table), ATOMS):
            if entry["true"] < history.k:
                targets.append((period, entry["mask"]))
                truths.append((period, entry["key"], entry["true"]))
    return [
        (who, low, high)
        for (period, mask), who, (low, high) in zip(targets, truths, history.bounds(targets), strict=True)
        if high - low < history.k and not history.pinned_before(period, mask)
    ]


AMOUNT = {"subjects": MeasureSpec("count_subjects"), "amount": MeasureSpec("sum", "amount")}
P_PERCENT = 10.0


def test_a_change_one_newcomer_dominates_is_not_published():
    """Five join (a, x), one of them with an amount a hundred times a member's. The cell still
    keeps the p % rule (its old members outweigh the newcomer), but the difference of its two
    sums is the newcomers' alone: the second largest newcomer, less her own amount, would read
    the largest within p %."""
    frame = _frame([30] * len(ATOMS), [0] * len(ATOMS)).assign(amount=100.0)
    rules = DisclosureRules(magnitudes=("amount",), p_percent=P_PERCENT)
    first = release_cohorts(frame, DIMS, "subject", AMOUNT, K, MARGINS, rules=rules)
    amounts = [10_000.0, 1.0, 1.0, 1.0, 1.0]
    later_frame = _join(frame, 0, [0] * len(amounts))
    later_frame.loc[later_frame.index[-len(amounts):], "amount"] = amounts
    ledger = ledger_rows(first.entries, DIMS, ["amount"], release="r", publication="1", published_at=pd.Timestamp("2026-01-01"), register_version="r", code_version="c")
    previous = previous_entries(ledger, DIMS, ["amount"])
    later = release_cohorts(later_frame, DIMS, "subject", AMOUNT, K, MARGINS, rules=rules, previous=previous)

    cell = ATOMS.iloc[0].to_dict()
    assert _remainder_estimates(first.released, later.released, cell, own=1.0, largest=10_000.0) == []
    audit = disclosure_audit(later.released, later_frame, DIMS, "subject", K, MARGINS, measures=AMOUNT, rules=rules, previous=previous)
    assert audit.exposed.empty, audit.exposed
    assert _stale_amounts(later) == []

    # Newcomers like the members move the rows as usual.
    alike = _join(frame, 0, [0] * 5)
    alike.loc[alike.index[-5:], "amount"] = [100.0, 90.0, 110.0, 100.0, 95.0]
    moved = release_cohorts(alike, DIMS, "subject", AMOUNT, K, MARGINS, rules=rules, previous=previous)
    assert not moved.entries["carried"].any() and moved.entries["shown"].all()


def _stale_amounts(release) -> list:
    """Carried rows stale by k or more subjects: a row held for its magnitude is withheld instead."""
    entries = release.entries.loc[release.entries["carried"]]
    return [row["grouped_by"] for _, row in entries.iterrows() if abs(int(row["subjects"]) - row["_counted"]["subjects"]) >= K]


def _remainder_estimates(before: pd.DataFrame, after: pd.DataFrame, cell: dict, own: float, largest: float) -> list[tuple]:
    """The second largest newcomer's estimates of the largest, who joined `cell` with her, from
    every row over that cell shown in both publications: its change, and its change less the
    change of the finer rows under it that both show and that miss the cell (an unchanged row
    taken as exact), which is the change of a withheld part holding the cell; each less her own
    amount. Those within p % of the truth."""
    def keyed(table):
        return {(row["grouped_by"], *(None if pd.isna(row[d]) else row[d] for d in DIMS)): float(row["amount"]) for _, row in table.iterrows()}

    def covers(label, values) -> bool:
        return all(values[DIMS.index(d)] == cell[d] for d in ([] if label == "(total)" else label.split(",")))

    earlier, later = keyed(before), keyed(after)
    both = {key: later[key] - earlier[key] for key in later if key in earlier}
    found = []
    for (label, *values), change in both.items():
        if not covers(label, values):
            continue
        grouped = [] if label == "(total)" else label.split(",")
        for finer in (None, "d1,d2", "d1", "d2"):
            if finer is not None and not set(grouped) < set(finer.split(",")):
                continue
            under = [
                c for (other, *v), c in both.items()
                if other == finer and all(v[DIMS.index(d)] == values[DIMS.index(d)] for d in grouped) and not covers(other, v)
            ]
            estimate = change - sum(under) - own
            if change - sum(under) and abs(estimate - largest) < P_PERCENT / 100 * largest:
                found.append((label, values, finer, estimate))
    return found


def test_the_withheld_part_of_a_total_keeps_the_p_percent_rule_on_its_change():
    """(a, x) holds one member and is withheld, with (a, w) beside it. Three newcomers join (a, x),
    one with 2,000 against members' 100, and three small ones join (a, w): the withheld part of
    the margin of a moves by 2,050. Five members' worth joins (a, y), so the margin's own change
    keeps the p % rule. Showing (a, y) and (a, z) both times let the second largest newcomer take
    the margin's change less theirs, less her own 10, and read the largest within p %."""
    sizes = [30] * len(ATOMS)
    sizes[0] = 1
    frame = _frame(sizes, [0] * len(ATOMS)).assign(amount=100.0)
    rules = DisclosureRules(magnitudes=("amount",), p_percent=P_PERCENT)
    first = release_cohorts(frame, DIMS, "subject", AMOUNT, K, MARGINS, rules=rules)

    def join(frame: pd.DataFrame, atom: int, amounts: list[float]) -> pd.DataFrame:
        frame = _join(frame, atom, [0] * len(amounts))
        frame.loc[frame.index[-len(amounts) :], "amount"] = amounts
        return frame

    later_frame = join(join(join(frame, 0, [2_000.0, 10.0, 10.0]), 3, [10.0] * 3), 1, [300.0] * 5)
    ledger = ledger_rows(first.entries, DIMS, ["amount"], release="r", publication="1", published_at=pd.Timestamp("2026-01-01"), register_version="r", code_version="c")
    previous = previous_entries(ledger, DIMS, ["amount"])
    later = release_cohorts(later_frame, DIMS, "subject", AMOUNT, K, MARGINS, rules=rules, previous=previous)

    assert _remainder_estimates(first.released, later.released, ATOMS.iloc[0].to_dict(), own=10.0, largest=2_000.0) == []
    audit = disclosure_audit(later.released, later_frame, DIMS, "subject", K, MARGINS, measures=AMOUNT, rules=rules, previous=previous)
    assert audit.exposed.empty, audit.exposed
    assert _stale_amounts(later) == []


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(
    sizes=st.lists(st.integers(1, 30), min_size=len(ATOMS), max_size=len(ATOMS)),
    target=st.integers(0, len(ATOMS) - 1),
    big=st.floats(500.0, 20_000.0),
    small_ones=st.lists(st.floats(1.0, 50.0), min_size=1, max_size=6),
    others=st.lists(st.tuples(st.integers(0, len(ATOMS) - 1), st.integers(1, 8), st.floats(50.0, 400.0)), max_size=4),
)
def test_no_magnitude_change_lets_one_newcomer_be_read(sizes, target, big, small_ones, others):
    """Members of 100 in cells of 1 to 30; newcomers join one cell, the largest of them far above
    the rest, while batches of ordinary newcomers join others. No row shown in both publications,
    and no withheld part under such a row, lets the second largest of those newcomers read the
    largest within p % from the change, and the audit agrees."""
    frame = _frame(sizes, [0] * len(ATOMS)).assign(amount=100.0)
    rules = DisclosureRules(magnitudes=("amount",), p_percent=P_PERCENT)
    first = release_cohorts(frame, DIMS, "subject", AMOUNT, K, MARGINS, rules=rules)
    later_frame = frame
    for atom, many, amount in [(target, 0, 0.0), *others]:
        amounts = [big, *small_ones] if many == 0 else [amount] * many
        later_frame = _join(later_frame, atom, [0] * len(amounts))
        later_frame.loc[later_frame.index[-len(amounts) :], "amount"] = amounts
    ledger = ledger_rows(first.entries, DIMS, ["amount"], release="r", publication="1", published_at=pd.Timestamp("2026-01-01"), register_version="r", code_version="c")
    previous = previous_entries(ledger, DIMS, ["amount"])
    later = release_cohorts(later_frame, DIMS, "subject", AMOUNT, K, MARGINS, rules=rules, previous=previous)

    assert _remainder_estimates(first.released, later.released, ATOMS.iloc[target].to_dict(), own=max(small_ones), largest=big) == []
    audit = disclosure_audit(later.released, later_frame, DIMS, "subject", K, MARGINS, measures=AMOUNT, rules=rules, previous=previous)
    assert audit.exposed.empty, audit.exposed
    assert _stale_amounts(later) == []


@pytest.mark.parametrize("codes", [[0, 1], [1.5, 2.5], ["a", "b"]], ids=["whole numbers", "fractions", "names"])
def test_dimensions_keep_their_history_whatever_their_values(codes):
    """The ledger spells an entry's dimension values as JSON, a rolled-up one null. Read back
    beside the margins' nulls, a column of whole-number codes once came back as fractions (3
    became 3.0), so no cell matched its last publication and one newcomer moved every row holding
    him by one, as if nothing had been published before. Every row shown twice here moves by 0
    or k or more."""
    sizes = [20, 30, 25, 40, 35, 45]
    frame = pd.DataFrame(
        [{"d1": codes[a], "d2": b, "subject": f"{a}{b}-{i}"} for (a, b), size in zip(itertools.product(range(2), range(3)), sizes, strict=True) for i in range(size)]
    )
    measures = {"subjects": MeasureSpec("count_subjects")}
    first = release_cohorts(frame, DIMS, "subject", measures, K, [("d1",), ("d2",), ()])
    rows = ledger_rows(
        entries_of(first), DIMS, [], release="r", publication="0", published_at=pd.Timestamp("2026-01-01"), register_version="r", code_version="c"
    )
    later = pd.concat([frame, pd.DataFrame([{"d1": codes[0], "d2": 0, "subject": "newcomer"}])], ignore_index=True)
    second = release_cohorts(later, DIMS, "subject", measures, K, [("d1",), ("d2",), ()], previous=previous_entries(rows, DIMS, list(measures)))

    def shown(release) -> dict:
        table = release.released
        keys = table[[*DIMS, "grouped_by"]].astype(object).where(table[[*DIMS, "grouped_by"]].notna(), None)
        return {tuple(key): int(count) for key, count in zip(keys.itertuples(index=False), table["subjects"], strict=True)}

    before, after = shown(first), shown(second)
    moved = {key: after[key] - before[key] for key in before.keys() & after.keys() if 0 < abs(after[key] - before[key]) < K}
    assert moved == {}, moved
    assert len(before.keys() & after.keys()) == len(before)
