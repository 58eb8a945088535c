"""Measures no rule judges (a mean age: the column is not sensitive) keep the change rule over
time. Erase a person, let the cohort refresh, and when one newcomer brings a row back to the
count it showed, the row's mean age has moved by the newcomer's age less the erased person's: an
attacker who knew the one reads the other. A row may change such a measure only when k or more
subjects moved; otherwise it is carried with what it last showed. The same holds of what a
shown total hides (the total less its shown rows), against the last publication and against
older ones a total carried in between lets the attacker reach."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance_assets.privacy.cohorts import CHANGE_SINCE, DRIFTED, SMALL_CHANGE, MeasureSpec, disclosure_audit, entries_of, release_cohorts
from compliance_assets.privacy.ledger import ledger_rows, previous_entries
from compliance_assets.privacy.window import WINDOW, ledger_publications

DIMS = ["d1", "d2"]
MARGINS = [("d1",), ("d2",), ()]
ATOMS = list(itertools.product("ab", "xyz"))
K = 5
MEASURES = {"subjects": MeasureSpec("count_subjects"), "mean_age": MeasureSpec("mean", "age")}


def _frame(sizes: list[int], seed: int = 0) -> pd.DataFrame:
    ages = np.random.default_rng(seed)
    rows = [{"d1": a, "d2": b, "age": int(ages.integers(18, 90))} for (a, b), size in zip(ATOMS, sizes, strict=True) for _ in range(size)]
    return pd.DataFrame(rows, columns=[*DIMS, "age"]).assign(subject=lambda f: np.arange(len(f)))


class Publications:
    """A release published again and again through its ledger, as the cohort asset does."""

    def __init__(self):
        self.tables: list[pd.DataFrame] = []
        self.frames: list[pd.DataFrame] = []
        self.ledgers: list[pd.DataFrame] = []
        self.earlier = []
        self.previous = None
        self.release = None

    def publish(self, frame: pd.DataFrame) -> pd.DataFrame:
        self.release = release_cohorts(frame, DIMS, "subject", MEASURES, K, MARGINS, previous=self.previous, earlier=self.earlier)
        rows = ledger_rows(
            entries_of(self.release), DIMS, ["mean_age"], release="r", publication=str(len(self.tables)),
            published_at=pd.Timestamp("2026-01-01") + pd.Timedelta(days=len(self.tables)), register_version="r", code_version="c",
        )
        self.ledgers.append(rows)
        self.previous = previous_entries(rows, DIMS, list(MEASURES))
        self.earlier = ledger_publications(pd.concat(self.ledgers[-WINDOW:], ignore_index=True), {}, {"mean_age": True})
        self.tables.append(self.release.released)
        self.frames.append(frame)
        return self.release.released


def _shown(table: pd.DataFrame) -> dict[tuple, tuple[float, float]]:
    """Each shown row's (subjects, sum of ages): what an attacker reads off a table."""
    keys = table[[*DIMS, "grouped_by"]].astype(object).where(table[[*DIMS, "grouped_by"]].notna(), None)
    return {
        tuple(key): (float(row["subjects"]), float(row["subjects"]) * float(row["mean_age"]))
        for key, (_, row) in zip(keys.itertuples(index=False), table.iterrows(), strict=True)
        if pd.notna(row["subjects"]) and pd.notna(row["mean_age"])
    }


def ages_read(tables: list[pd.DataFrame]) -> list[tuple]:
    """Rows whose sum of ages changed between a publication and the last one before it that
    showed them, while their subjects moved by fewer than k: the change is the ages of fewer than
    k people. The attacker holds every table; nothing of the engine is asked."""
    last: dict[tuple, tuple[float, float]] = {}
    read = []
    for number, table in enumerate(tables):
        for key, (subjects, total) in _shown(table).items():
            if key in last:
                before_subjects, before_total = last[key]
                if abs(subjects - before_subjects) < K and not np.isclose(total, before_total, rtol=1e-9, atol=1e-6):
                    read.append((number, key, subjects - before_subjects, total - before_total))
            last[key] = (subjects, total)
    return read


def _members(frame: pd.DataFrame, key: dict) -> pd.DataFrame:
    """The people a row with these dimension values (None: rolled up) counts."""
    chosen = np.ones(len(frame), dtype=bool)
    for dim, value in key.items():
        if value is not None:
            chosen &= (frame[dim] == value).to_numpy()
    return frame.loc[chosen]


def _hidden_change(tables, frames, first: int, number: int, parent: tuple, rows: list[tuple]):
    """The attacker's reading of a shown total less some of its rows between two publications,
    beside the truth of the people it covers: (reading, truth, movers), or None where the total
    or a row is missing from either table."""
    before, now = _shown(tables[first]), _shown(tables[number])
    if any(key not in before or key not in now for key in (parent, *rows)):
        return None
    fixed = {dim: value for dim, value in zip(DIMS, parent, strict=False) if value is not None}
    change = np.subtract(now[parent], before[parent]) - np.sum([np.subtract(now[key], before[key]) for key in rows], axis=0) if rows else np.subtract(now[parent], before[parent])
    hidden = []
    for frame in (frames[first], frames[number]):
        under = _members(frame, fixed)
        for key in rows:
            under = under.loc[~under.index.isin(_members(under, dict(zip(DIMS, key[:-1], strict=True))).index)]
        hidden.append(under.set_index("subject")["age"])
    then, later = hidden
    stayed = then.index.intersection(later.index)
    movers = len(then.index.symmetric_difference(later.index)) + int((then[stayed] != later[stayed]).sum())
    truth = (len(later) - len(then), float(later.sum() - then.sum()))
    right = bool(np.isclose(change[0], truth[0]) and np.isclose(change[1], truth[1], atol=1e-6))
    return right, truth, movers


def ages_read_through_totals(tables: list[pd.DataFrame], frames: list[pd.DataFrame]) -> list[tuple]:
    """A shown total less its rows of one finer grouping shown both times, set against the same
    in any earlier publication: the withheld rows' change of subjects and of their sum of ages.
    A finding is a change the attacker reads right (the truth of the people under the total and
    under none of those rows agrees): of 1 to k - 1 subjects, or a sum of ages that moved while
    fewer than k people came, went or changed age. A change the attacker reads as the sum of
    the same reading's right changes at every step in between is the change rule's own limit
    (each step moved k or more) and no finding: what a gap in between lets through is."""
    read = []
    for first, number in itertools.combinations(range(len(tables)), 2):
        before, now = _shown(tables[first]), _shown(tables[number])
        both = [key for key in now if key in before]
        for parent in both:
            fixed = {dim: value for dim, value in zip(DIMS, parent, strict=False) if value is not None}
            for label in {key[-1] for key in both}:
                grouped = set(label.split(",")) if label != "(total)" else set()
                if not set(fixed) < grouped:
                    continue
                rows = [key for key in both if key[-1] == label and all(key[DIMS.index(d)] == v for d, v in fixed.items())]
                right, truth, movers = _hidden_change(tables, frames, first, number, parent, rows)
                if not right or not (0 < abs(truth[0]) < K or (movers < K and not np.isclose(truth[1], 0, atol=1e-6))):
                    continue
                steps = [_hidden_change(tables, frames, t, t + 1, parent, rows) for t in range(first, number)] if number - first > 1 else [None]
                if all(step is not None and step[0] for step in steps):
                    continue
                read.append((first, number, parent, label, truth))
    return read


def test_erasure_then_refresh_tells_nothing_of_the_newcomer_through_a_mean():
    """(a, x) shows 20 people and their mean age. One is erased: the row is carried (a change of
    one). A newcomer brings it back to 20: set against the first table, its mean age moved by the
    newcomer's age less the erased person's, and whoever knew the erased person's age read the
    newcomer's. The row is carried with what it showed until k or more move."""
    frame = _frame([20, 30, 25, 40, 35, 45])
    publications = Publications()
    publications.publish(frame)
    erased = frame.index[(frame["d1"] == "a") & (frame["d2"] == "x")][0]
    frame = frame.drop(index=erased)
    publications.publish(frame)
    newcomer = pd.DataFrame([{"d1": "a", "d2": "x", "age": int(frame.loc[erased - 1 if erased else erased + 1, "age"]) + 37, "subject": 10_000}])
    frame = pd.concat([frame, newcomer], ignore_index=True)
    publications.publish(frame)
    assert ages_read(publications.tables) == []


def test_the_audit_names_a_mean_that_moved_with_fewer_than_k():
    """The same history published as before the rule: the third table shows (a, x) at its
    first count with its new mean. The audit, given the ledger's last publication, names it."""
    frame = _frame([20, 30, 25, 40, 35, 45])
    publications = Publications()
    publications.publish(frame)
    frame = frame.drop(index=frame.index[(frame["d1"] == "a") & (frame["d2"] == "x")][0])
    frame = pd.concat([frame, pd.DataFrame([{"d1": "a", "d2": "x", "age": 89, "subject": 10_000}])], ignore_index=True)
    first = publications.tables[0]
    truth = release_cohorts(frame, DIMS, "subject", MEASURES, K, MARGINS).released
    audit = disclosure_audit(truth, frame, DIMS, "subject", K, MARGINS, measures=MEASURES, previous=publications.previous)
    named = audit.exposed.loc[audit.exposed["exposure"] == DRIFTED]
    assert ("a", "x") in set(zip(named["d1"], named["d2"], strict=True)), audit.exposed
    assert not first.empty


STEPS = st.lists(
    st.tuples(st.sampled_from(["erase", "join", "swap"]), st.integers(0, len(ATOMS) - 1), st.integers(1, 3), st.integers(18, 90)), min_size=1, max_size=5
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(5, 30), min_size=len(ATOMS), max_size=len(ATOMS)), STEPS, st.integers(0, 99))
def test_no_history_lets_a_mean_tell_on_fewer_than_k(sizes, steps, seed):
    """Erasures, newcomers and swaps (as many leave as join) of one to three people: no row's
    sum of ages moves while fewer than k subjects moved, against the last table that showed it,
    and the audit of each publication passes."""
    frame = _frame(sizes, seed)
    publications = Publications()
    publications.publish(frame)
    next_subject = 100_000
    for kind, atom, many, age in steps:
        a, b = ATOMS[atom]
        members = frame.index[(frame["d1"] == a) & (frame["d2"] == b)]
        if kind in ("erase", "swap"):
            frame = frame.drop(index=members[:many])
        if kind in ("join", "swap"):
            new = pd.DataFrame([{"d1": a, "d2": b, "age": age + i, "subject": next_subject + i} for i in range(many)])
            frame, next_subject = pd.concat([frame, new], ignore_index=True), next_subject + many
        previous, earlier = publications.previous, publications.earlier
        released = publications.publish(frame)
        audit = disclosure_audit(released, frame, DIMS, "subject", K, MARGINS, measures=MEASURES, previous=previous, earlier=earlier)
        assert audit.exposed.empty, audit.exposed
    assert ages_read(publications.tables) == []


def test_a_measure_added_since_the_last_publication_is_shown():
    """The ledger's last publication had no mean age: nothing to set the new one against, so the
    rows show it rather than being carried, publication after publication, without it."""
    frame = _frame([20, 30, 25, 40, 35, 45])
    first = release_cohorts(frame, DIMS, "subject", {"subjects": MeasureSpec("count_subjects")}, K, MARGINS)
    rows = ledger_rows(
        entries_of(first), DIMS, [], release="r", publication="0", published_at=pd.Timestamp("2026-01-01"), register_version="r", code_version="c"
    )
    previous = previous_entries(rows, DIMS, list(MEASURES))
    again = release_cohorts(frame, DIMS, "subject", MEASURES, K, MARGINS, previous=previous)
    assert not entries_of(again)["carried"].any()
    assert again.released["mean_age"].notna().all()


def _swap_beside_growth(frame: pd.DataFrame) -> pd.DataFrame:
    """(a, x), withheld at 3, swaps one person for another 19 years older while (a, y), shown,
    gains ten: the total over a and the row (a, y) each move by ten, so each may show a new mean
    age, and the total less (a, y) and (a, z) is (a, x) alone, whose subjects did not move."""
    members = frame.index[(frame["d1"] == "a") & (frame["d2"] == "x")]
    newcomers = [{"d1": "a", "d2": "x", "age": int(frame.loc[members[0], "age"]) + 19, "subject": 9_000}]
    newcomers += [{"d1": "a", "d2": "y", "age": 40, "subject": 9_001 + i} for i in range(10)]
    return pd.concat([frame.drop(index=members[0]), pd.DataFrame(newcomers)], ignore_index=True)


def test_a_total_less_its_shown_rows_tells_nothing_of_a_swap():
    """The withheld rows under a shown total change their sum of ages by one person's swap while
    the shown rows around them move by ten: the total is carried or the rows beside the swap are
    withheld, so no total less its rows shown both times reads the swap."""
    frame = _frame([3, 30, 25, 40, 35, 45])
    publications = Publications()
    publications.publish(frame)
    publications.publish(_swap_beside_growth(frame))
    assert ages_read_through_totals(publications.tables, publications.frames) == []
    assert ages_read(publications.tables) == []


def test_the_audit_names_a_total_that_reads_a_swap():
    """The same history published without the change rule (every row as it is now): the audit,
    given the ledger's last publication, names the totals whose change gives the swap away, and
    the attacker confirms that it is read."""
    frame = _frame([3, 30, 25, 40, 35, 45])
    publications = Publications()
    publications.publish(frame)
    later = _swap_beside_growth(frame)
    fresh = release_cohorts(later, DIMS, "subject", MEASURES, K, MARGINS).released
    assert ages_read_through_totals([publications.tables[0], fresh], [frame, later]), "the scenario no longer reads the swap"
    audit = disclosure_audit(fresh, later, DIMS, "subject", K, MARGINS, measures=MEASURES, previous=publications.previous)
    named = audit.exposed.loc[audit.exposed["exposure"].isin([SMALL_CHANGE, DRIFTED])]
    assert "d1" in set(named["grouped_by"]), audit.exposed


def apply_step(frame: pd.DataFrame, step: tuple, next_subject: int) -> tuple[pd.DataFrame, int]:
    """One step of a history: `kind` of `many` people at one cell (erase, join, swap, or move to
    the growing cell), and `growth` newcomers at the growing cell; the next free subject number."""
    kind, atom, many, age, grown, growth = step
    (a, b), (c, d) = ATOMS[atom], ATOMS[grown]
    members = frame.index[(frame["d1"] == a) & (frame["d2"] == b)]
    if kind in ("erase", "swap"):
        frame = frame.drop(index=members[:many])
    if kind == "move":
        frame = frame.copy()
        frame.loc[members[:many], ["d1", "d2"]] = [c, d]
    new = [{"d1": a, "d2": b, "age": age + i, "subject": next_subject + i} for i in range(many if kind in ("join", "swap") else 0)]
    new += [{"d1": c, "d2": d, "age": 30 + i, "subject": next_subject + 10 + i} for i in range(growth)]
    return pd.concat([frame, pd.DataFrame(new, columns=frame.columns)], ignore_index=True), next_subject + 100


MOVING = st.lists(
    st.tuples(st.sampled_from(["erase", "join", "swap", "move"]), st.integers(0, len(ATOMS) - 1), st.integers(1, 5), st.integers(18, 90)), min_size=1, max_size=5
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(1, 30), min_size=len(ATOMS), max_size=len(ATOMS)), MOVING, st.lists(st.integers(0, len(ATOMS) - 1), min_size=1, max_size=5), st.integers(0, 99))
def test_no_total_less_its_rows_lets_a_mean_tell_on_fewer_than_k(sizes, steps, growing, seed):
    """Cells withheld under k beside cells that grow by k or more, with erasures, newcomers,
    swaps and people moving to the growing cell: no shown total less its shown rows, against
    any earlier publication, reads a change of 1 to k - 1 subjects or the sum of ages of fewer
    than k people who came or went, and the audit of each publication passes."""
    frame = _frame(sizes, seed)
    publications = Publications()
    publications.publish(frame)
    next_subject = 100_000
    for (kind, atom, many, age), grown in zip(steps, itertools.cycle(growing), strict=False):
        frame, next_subject = apply_step(frame, (kind, atom, many, age, grown, K + 2), next_subject)
        previous, earlier = publications.previous, publications.earlier
        released = publications.publish(frame)
        audit = disclosure_audit(released, frame, DIMS, "subject", K, MARGINS, measures=MEASURES, previous=previous, earlier=earlier)
        assert audit.exposed.empty, audit.exposed
    assert ages_read_through_totals(publications.tables, publications.frames) == []
    assert ages_read(publications.tables) == []


def test_a_total_carried_in_between_tells_nothing_of_a_swap_across_the_gap():
    """(a, x) loses one person: the total over a is carried. Then (a, x) gains one 19 years older
    and (a, y) gains ten, and the total shows again: set against the first table rather than the
    last, the total less (a, y) reads the swap, which no step between consecutive tables held."""
    frame = _frame([3, 30, 25, 40, 35, 45])
    publications = Publications()
    publications.publish(frame)
    members = frame.index[(frame["d1"] == "a") & (frame["d2"] == "x")]
    erased = frame.drop(index=members[0])
    publications.publish(erased)
    newcomers = [{"d1": "a", "d2": "x", "age": int(frame.loc[members[0], "age"]) + 19, "subject": 9_000}]
    newcomers += [{"d1": "a", "d2": "y", "age": 40, "subject": 9_001 + i} for i in range(10)]
    previous, earlier = publications.previous, publications.earlier
    later = pd.concat([erased, pd.DataFrame(newcomers)], ignore_index=True)
    released = publications.publish(later)
    assert ages_read_through_totals(publications.tables, publications.frames) == []
    audit = disclosure_audit(released, later, DIMS, "subject", K, MARGINS, measures=MEASURES, previous=previous, earlier=earlier)
    assert audit.exposed.empty, audit.exposed
    stepwise = release_cohorts(later, DIMS, "subject", MEASURES, K, MARGINS, previous=previous).released
    assert ages_read_through_totals([*publications.tables[:2], stepwise], publications.frames), "the scenario no longer reads the swap step by step"
    audit = disclosure_audit(stepwise, later, DIMS, "subject", K, MARGINS, measures=MEASURES, previous=previous, earlier=earlier)
    assert (audit.exposed["exposure"] == CHANGE_SINCE).any(), audit.exposed
