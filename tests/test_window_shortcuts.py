"""The window's shortcuts claim nothing its own programme denies: no target spans less, when the
programme solves its minimum and maximum, than `shift_spans` says it spans at least (the twins,
and the small programme over one change per cell for the rest). Histories of three dimensions
whose margins leave cells interchangeable (twins; the margin of d1 by d2 leaves no other freedom,
so the shifts are all there is), with and without an outcome measure, released as the engine
releases them, each reading its window. Letting a cell give one member more than it can, or
dropping the shown rows of two cells, makes it fail."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance_assets.privacy.cohorts import DisclosureRules, MeasureSpec, outcome_kinds, release_cohorts
from compliance_assets.privacy.ledger import ledger_rows, previous_entries
from compliance_assets.privacy.window import _Programme, ledger_publications

DIMS = ["d1", "d2", "d3"]
MARGIN_SETS = {"margins of d1 and d2": [("d1",), ("d2",), ()], "margin of d1 by d2": [("d1", "d2"), ()]}
ATOMS = list(itertools.product("ab", "xyz", "pqr"))
K = 5


def _frame(sizes: list[int], outcomes: list[int]) -> pd.DataFrame:
    rows = [{"d1": a, "d2": b, "d3": c, "outcome": int(i < outcome)} for (a, b, c), size, outcome in zip(ATOMS, sizes, outcomes, strict=True) for i in range(size)]
    frame = pd.DataFrame(rows, columns=[*DIMS, "outcome"])
    return frame.assign(subject=range(len(frame)))


def _windows(frame: pd.DataFrame, steps: list[list[tuple[int, int]]], margins: list, measures: dict, rules: DisclosureRules, names: list[str]):
    """Each publication's window (the ledger's earlier publications and the new one), as the
    release read it: publishes the history step by step, a step's moves (atom, change) at once."""
    ledgers, previous, earlier = [], None, []
    next_subject = len(frame)
    for number in range(len(steps) + 1):
        if number:
            for atom, change in steps[number - 1]:
                a, b, c = ATOMS[atom]
                members = frame.index[(frame["d1"] == a) & (frame["d2"] == b) & (frame["d3"] == c)]
                if change < 0:
                    frame = frame.drop(index=members[: -change])
                else:
                    new = pd.DataFrame([{**dict(zip(DIMS, ATOMS[atom], strict=True)), "outcome": i % 2, "subject": next_subject + i} for i in range(change)])
                    frame, next_subject = pd.concat([frame, new], ignore_index=True), next_subject + change
        release = release_cohorts(frame, DIMS, "subject", measures, K, margins, rules=rules, previous=previous, earlier=earlier)
        ledger = ledger_rows(
            release.entries, DIMS, names, release="r", publication=str(number),
            published_at=pd.Timestamp("2026-01-01") + pd.Timedelta(days=number), register_version="r", code_version="c",
        )
        ledgers.append(ledger)
        previous = previous_entries(ledger, DIMS, names)
        earlier = ledger_publications(pd.concat(ledgers, ignore_index=True), outcome_kinds(measures, rules))
        yield earlier


SIZES = st.lists(st.integers(0, 9), min_size=len(ATOMS), max_size=len(ATOMS))
STEPS = st.lists(st.lists(st.tuples(st.integers(0, len(ATOMS) - 1), st.integers(-3, 6)), min_size=1, max_size=3), min_size=1, max_size=3)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SIZES, STEPS, st.booleans(), st.sampled_from(list(MARGIN_SETS.values())))
def test_targets_span_at_least_what_the_shifts_say(sizes, steps, with_outcome, margins):
    _claims(sizes, steps, with_outcome, margins)


def test_cells_under_shown_margins_alone_are_answered_by_shifts():
    """Every cell at three, under k: only the margins of d1 and d2 and the total are shown, so
    the cells sharing d1 and d2 are twins, and the shortcut answers for them."""
    for with_outcome in (False, True):
        for margins in MARGIN_SETS.values():
            assert _claims([3] * len(ATOMS), [[(0, 2), (4, -1)], [(7, 3)]], with_outcome, margins) > 0


def _claims(sizes: list[int], steps, with_outcome: bool, margins: list) -> int:
    """How many targets the shortcut gave a span over the history's windows, each checked
    against the programme's own minimum and maximum."""
    measures = {"subjects": MeasureSpec("count_subjects")}
    rules, names = DisclosureRules(), []
    if with_outcome:
        measures["outcome"] = MeasureSpec("sum", "outcome")
        rules, names = DisclosureRules(outcomes=("outcome",), min_numerator=1), ["outcome"]
    claimed = 0
    for window in _windows(_frame(sizes, [size // 2 for size in sizes]), steps, margins, measures, rules, names):
        if len(window) < 2:
            continue
        programme = _Programme(window, DIMS, K)
        point = programme.truth()
        system = programme.system(with_last=True)
        spans = programme.shift_spans(system, point)
        given = np.flatnonzero(spans > 0)
        if not len(given):
            continue
        claimed += len(given)
        exact = system.ranges([programme.targets[n][2] for n in given], point, None)
        wrong = [(programme.targets[n][:2], spans[n], (low, high)) for n, (low, high) in zip(given, exact, strict=True) if high - low < spans[n] - 1e-6]
        assert not wrong, wrong
    return claimed
