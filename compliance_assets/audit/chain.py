"""Hash chaining: each record carries the hash of the one before, so an edited, deleted or
reordered record breaks the chain at the first place it was touched."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

GENESIS = "0" * 64
HASHED_FIELDS = ("seq", "at", "event_type", "actor", "subject", "details")


def canonical(record: Mapping[str, object]) -> bytes:
    return json.dumps({f: record.get(f) for f in HASHED_FIELDS}, sort_keys=True, separators=(",", ":"), default=str).encode()


def chain_hash(previous_hash: str, record: Mapping[str, object]) -> str:
    return hashlib.sha256(previous_hash.encode("ascii") + canonical(record)).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"audit record {self.seq}: {self.reason}"


def first_break(records: Iterable[Mapping[str, object]]) -> ChainBreak | None:
    """The first record (in stored order) at which the chain no longer holds, or None."""
    expected_seq, previous = 1, GENESIS
    for record in records:
        seq = int(record["seq"])
        if seq != expected_seq:
            return ChainBreak(expected_seq, f"missing or reordered (found record {seq} where {expected_seq} belongs)")
        if record["prev_hash"] != previous:
            return ChainBreak(seq, "does not follow the record before it (deleted or reordered)")
        if chain_hash(previous, record) != record["hash"]:
            return ChainBreak(seq, "content does not match its hash (edited)")
        expected_seq, previous = seq + 1, str(record["hash"])
    return None
