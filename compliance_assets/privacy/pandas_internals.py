"""The one place the plugin uses pandas internals, because no public API does the job: numbering
values incrementally across chunks in pandas' C hash table, with the GIL released, so a stream of
identifiers is keyed once per distinct value without holding them all (`pseudonymise_stream`).
`tests/test_pandas_internals.py` fails loudly if an upgrade moves or changes it."""

from __future__ import annotations

import numpy as np
from pandas._libs.hashtable import Int64Factorizer


class IncrementalNumbering:
    """Numbers 64-bit values in order of first sight, across calls: a value seen before keeps
    its number."""

    def __init__(self, capacity: int):
        self._table = Int64Factorizer(max(capacity, 1))

    @property
    def size(self) -> int:
        return self._table.get_count()

    def number(self, values: np.ndarray) -> np.ndarray:
        return self._table.factorize(values)
