"""Reading ahead changes when an item is computed, never what the caller gets: the same items in
the same order, an item's error where it would have been, and at most one item computed early."""

from __future__ import annotations

import threading

from hypothesis import given
from hypothesis import strategies as st

from resources.read_ahead import read_ahead


class Unreadable(Exception):
    pass


def _source(items: list[int], failing_at: int | None, computed: list[int]):
    for position, item in enumerate(items):
        if position == failing_at:
            raise Unreadable(f"item {position}")
        computed.append(item)
        yield item


@given(items=st.lists(st.integers(), max_size=20), failing_at=st.none() | st.integers(0, 20))
def test_the_caller_gets_what_the_items_give_in_order_and_their_error_where_it_was(items, failing_at):
    got, computed = [], []
    failure = failing_at is not None and failing_at < len(items)
    try:
        for item in read_ahead(_source(items, failing_at, computed)):
            assert len(computed) <= len(got) + 2  # this item and at most one more
            got.append(item)
    except Unreadable as error:
        assert failure and str(error) == f"item {failing_at}"
    else:
        assert not failure
    assert got == items[: failing_at if failure else len(items)]


def test_a_caller_that_stops_early_leaves_no_thread_reading():
    computed: list[int] = []
    ahead = read_ahead(_source(list(range(100)), None, computed))
    assert next(ahead) == 0
    ahead.close()
    assert computed == [0, 1]
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("read-ahead")]


def test_the_items_are_computed_off_the_callers_thread():
    threads = []

    def recorded():
        threads.append(threading.current_thread())
        yield 1

    assert list(read_ahead(recorded())) == [1]
    assert threads and threads[0] is not threading.current_thread()
