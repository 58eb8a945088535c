"""The disclosure properties at random, many times over: `make hunt` (HUNT_EXAMPLES per test,
default 600; a few minutes). The suite runs them fixed and few (`derandomize`); a search with
fresh seeds finds histories those never draw, as it found each one `test_republication_rules`
now pins. The suite's 30 fresh histories a run of groups read across publications found the
emptied cell `test_changes_read_across` pins; here they are many more. Skipped unless
HUNT_EXAMPLES is set."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import test_carried_figures as carried
from tests import test_changes_read_across as across
from tests import test_republication_rules as rules

EXAMPLES = int(os.environ.get("HUNT_EXAMPLES", "0"))
pytestmark = pytest.mark.skipif(not EXAMPLES, reason="a random search: run it with `make hunt`")
SEARCH = settings(max_examples=max(EXAMPLES, 1), deadline=None, derandomize=False, database=None, print_blob=True, suppress_health_check=list(HealthCheck))
PROMISE = rules.test_k_or_more_newcomers_tell_nothing_of_their_outcome.hypothesis.inner_test
MAGNITUDES = rules.test_no_magnitude_change_lets_one_newcomer_be_read.hypothesis.inner_test
STEPS = st.tuples(st.sampled_from(["batch", "join", "flip", "leave"]), st.integers(0, len(rules.ATOMS) - 1), st.integers(rules.K, rules.K + 2), rules.BATCHES)


def _histories(most_steps: int):
    @SEARCH
    @given(sizes=st.lists(st.integers(rules.K, 25), min_size=len(rules.ATOMS), max_size=len(rules.ATOMS)), steps=st.lists(STEPS, min_size=1, max_size=most_steps), data=st.data())
    def search(sizes, steps, data):
        PROMISE(sizes, steps, data)

    return search


test_short_histories_keep_the_promise = _histories(3)
test_long_histories_keep_the_promise = _histories(5)


SEVERAL = rules.test_several_moves_a_publication_keep_the_promise.hypothesis.inner_test


@SEARCH
@given(k=st.sampled_from([5, 6]), numerator=st.sampled_from([2, 3]), steps=rules.SEVERAL_MOVES, data=st.data())
def test_several_moves_a_publication_keep_the_promise(k, numerator, steps, data):
    SEVERAL(k, numerator, steps, data)


@SEARCH
@given(
    sizes=st.lists(st.integers(1, 30), min_size=len(rules.ATOMS), max_size=len(rules.ATOMS)),
    target=st.integers(0, len(rules.ATOMS) - 1),
    big=st.floats(500.0, 20_000.0),
    small_ones=st.lists(st.floats(1.0, 50.0), min_size=1, max_size=6),
    others=st.lists(st.tuples(st.integers(0, len(rules.ATOMS) - 1), st.integers(1, 8), st.floats(50.0, 400.0)), max_size=4),
)
def test_magnitude_changes_keep_the_p_percent_rule(sizes, target, big, small_ones, others):
    MAGNITUDES(sizes, target, big, small_ones, others)


GROUPS_READ = across.test_no_group_of_cells_is_read_to_change_by_fewer_than_k.hypothesis.inner_test


@SEARCH
@given(sizes=st.lists(st.integers(1, 30), min_size=len(across.ATOMS), max_size=len(across.ATOMS)), steps=across.STEPS, seed=st.integers(0, 99))
def test_no_group_of_cells_is_read_across_publications(sizes, steps, seed):
    GROUPS_READ(sizes, steps, seed)


WIDE_GROUPS_READ = across.test_no_smallest_group_of_a_wide_table_is_read.hypothesis.inner_test


@SEARCH
@given(sizes=st.lists(st.integers(1, 15), min_size=len(across.WIDE_ATOMS), max_size=len(across.WIDE_ATOMS)), steps=across.WIDE_STEPS, seed=st.integers(0, 99))
def test_no_smallest_group_of_a_wide_table_is_read(sizes, steps, seed):
    WIDE_GROUPS_READ(sizes, steps, seed)


CARRIED_FIGURES = carried.test_no_sum_is_read_through_a_carried_rows_true_figures.hypothesis.inner_test


@SEARCH
@given(
    sizes=st.lists(st.integers(1, 30), min_size=len(carried.ATOMS), max_size=len(carried.ATOMS)),
    steps=carried.STEPS,
    seed=st.integers(0, 99),
    most_visits=st.sampled_from([1, 19]),
)
def test_no_sum_is_read_through_a_carried_rows_true_figures(sizes, steps, seed, most_visits):
    CARRIED_FIGURES(sizes, steps, seed, most_visits)
