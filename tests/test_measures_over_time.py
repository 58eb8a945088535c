"""Measures no rule judges (a mean age: the column is not sensitive) keep the change rule over
time. Erase a person, let the cohort refresh, and when one newcomer brings a row back to the
count it showed, the row's mean age has moved by the newcomer's age less the erased person's: an
attacker who knew the one reads the other. A row may change such a measure only when k or more
subjects moved; otherwise it is carried with what it last showed."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance_assets.privacy.cohorts import DRIFTED, MeasureSpec, disclosure_audit, entries_of, release_cohorts
from compliance_assets.privacy.ledger import ledger_rows, previous_entries

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
        self.previous = None
        self.release = None

    def publish(self, frame: pd.DataFrame) -> pd.DataFrame:
        self.release = release_cohorts(frame, DIMS, "subject", MEASURES, K, MARGINS, previous=self.previous)
        rows = ledger_rows(
            entries_of(self.release), DIMS, ["mean_age"], release="r", publication=str(len(self.tables)),
            published_at=pd.Timestamp("2026-01-01") + pd.Timedelta(days=len(self.tables)), register_version="r", code_version="c",
        )
        self.previous = previous_entries(rows, DIMS, list(MEASURES))
        self.tables.append(self.release.released)
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
        previous = publications.previous
        released = publications.publish(frame)
        audit = disclosure_audit(released, frame, DIMS, "subject", K, MARGINS, measures=MEASURES, previous=previous)
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
