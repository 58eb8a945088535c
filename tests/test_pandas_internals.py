"""The pandas internals the plugin relies on still behave as it needs: if an upgrade moves or
changes them, this fails first and names them, rather than a pseudonymisation run failing later."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from compliance_assets.privacy.pandas_internals import IncrementalNumbering


@given(st.lists(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=50), max_size=6))
def test_numbering_is_by_first_sight_across_chunks(chunks):
    numbering = IncrementalNumbering(4)
    first_seen: dict[int, int] = {}
    for chunk in chunks:
        numbers = numbering.number(np.array(chunk, dtype=np.int64))
        for value, number in zip(chunk, numbers.tolist(), strict=True):
            assert first_seen.setdefault(value, len(first_seen)) == number
        assert numbering.size == len(first_seen)
