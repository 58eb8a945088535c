"""Preparing the next item of an iterable while the caller works on this one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
_END = object()


def read_ahead(items: Iterable[T]) -> Iterator[T]:
    """Yields `items` in order, each next one computed on a thread while the caller handles the one
    before: a chunked source is read and conformed while the chunk before is written, which runs
    on another core where the database driver lets go of the GIL. An item's error is raised where
    it would have been; at most one item is computed ahead, so at most two are held."""
    iterator = iter(items)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as pool:
        upcoming = pool.submit(next, iterator, _END)
        while (item := upcoming.result()) is not _END:
            upcoming = pool.submit(next, iterator, _END)
            yield item
