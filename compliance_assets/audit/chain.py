"""Keyed chaining: each record carries the HMAC-SHA256, under the audit key, of its content and of
the MAC before it. Whoever can write to the warehouse but lacks the key can edit, delete, insert
or reorder records, but cannot compute the MACs that would hide it; a deleted tail or a chain
rebuilt from scratch is caught against the heads checkpointed outside the warehouse.

Records written before the trail was keyed (chain version 1, plain SHA-256) still verify, as
unkeyed: anyone with write access could have rewritten them. The first keyed record's MAC covers
the last unkeyed hash, so from the upgrade on that segment cannot change unnoticed either. An
unkeyed record after a keyed one is a downgrade, never accepted."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

GENESIS = "0" * 64
HASHED_FIELDS = ("seq", "at", "event_type", "actor", "subject", "details")
UNKEYED, KEYED = 1, 2  # chain versions: plain SHA-256, HMAC-SHA256 under the audit key
AUDIT_KEY_SALT = b"compliance-assets/audit-trail"
AUDIT_KEY_INFO = b"audit-trail-mac;version=1"
MIN_SECRET_BYTES = 32


def derive_audit_key(secret: bytes) -> bytes:
    """The audit trail's own key: HKDF under a label no other key is derived with, so it is never
    the key that seals or pseudonymises, and holding it opens nothing else."""
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the secret the audit key is derived from must be at least {MIN_SECRET_BYTES} bytes")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=AUDIT_KEY_SALT, info=AUDIT_KEY_INFO).derive(secret)


def canonical(record: Mapping[str, object]) -> bytes:
    return json.dumps({f: record.get(f) for f in HASHED_FIELDS}, sort_keys=True, separators=(",", ":"), default=str).encode()


def chain_hash(previous_hash: str, record: Mapping[str, object]) -> str:
    """Chain version 1: verifiable by anyone, and so recomputable by anyone."""
    return hashlib.sha256(previous_hash.encode("ascii") + canonical(record)).hexdigest()


def chain_mac(key: bytes, previous: str, record: Mapping[str, object]) -> str:
    """Chain version 2. The version is under the MAC, so no keyed record can pass as another kind."""
    return hmac.new(key, f"v{KEYED};".encode() + previous.encode("ascii") + canonical(record), hashlib.sha256).hexdigest()


def chain_version(record: Mapping[str, object]) -> int:
    """Rows from before the column existed hold NULL: they are version 1."""
    version = record.get("chain_version")
    return UNKEYED if version is None else int(version)


@dataclass(frozen=True)
class Head:
    """The last record of the trail as one writer saw it: what is checkpointed outside the warehouse.
    `keyed_from` is the trail's first keyed record, so a chain rebuilt unkeyed cannot pass for old."""

    seq: int
    mac: str
    keyed_from: int | None = None


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"audit record {self.seq}: {self.reason}"


@dataclass(frozen=True)
class Verification:
    records: int
    unkeyed: int  # records of chain version 1 at the start of the trail
    head: Head | None
    checkpoints: int  # heads recorded outside the warehouse that were compared
    anchored_to: int  # the highest checkpointed record (0: none)
    problem: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        if self.problem is not None:
            return f"broken at {self.problem}"
        parts = [f"{self.records} records, chain verified"]
        if self.unkeyed:
            parts.append(f"records 1-{self.unkeyed} are unkeyed (written before the trail was keyed; anyone with write access could have rewritten them before then)")
        if not self.checkpoints:
            parts.append("no checkpointed head to compare with, so a deleted tail would go unseen")
        else:
            parts.append(f"matches {self.checkpoints} checkpointed head(s), the latest at record {self.anchored_to}")
            if self.head is not None and self.anchored_to < self.head.seq:
                parts.append(f"records after {self.anchored_to} are not checkpointed yet")
        return "; ".join(parts)


def verify_chain(records: Iterable[Mapping[str, object]], key: bytes, checkpoints: Iterable[Head] = ()) -> Verification:
    """Walks the trail in sequence order, then compares it with every checkpointed head. The
    problem reported is the one at the lowest sequence number: the first record not to be trusted."""
    problems: list[ChainBreak] = []
    macs: dict[int, str] = {}
    versions: dict[int, int] = {}
    expected_seq, previous, keyed_from, unkeyed = 1, GENESIS, None, 0
    for record in records:
        seq, version = int(record["seq"]), chain_version(record)
        if seq != expected_seq:
            problems.append(ChainBreak(expected_seq, f"missing (deleted): the next record is {seq}"))
            break
        if version == UNKEYED and keyed_from is not None:
            problems.append(ChainBreak(seq, f"unkeyed, after keyed records from {keyed_from} on (rewritten without the audit key)"))
            break
        if version not in (UNKEYED, KEYED):
            problems.append(ChainBreak(seq, f"unknown chain version {version}"))
            break
        if record["prev_hash"] != previous:
            problems.append(ChainBreak(seq, "does not follow the record before it (deleted, inserted or reordered)"))
            break
        if version == KEYED:
            keyed_from = seq if keyed_from is None else keyed_from
            if not hmac.compare_digest(chain_mac(key, previous, record), str(record["hash"])):
                first = " (or the audit key is not the one the trail was written under)" if seq == keyed_from else ""
                problems.append(ChainBreak(seq, f"content does not match its MAC (edited, inserted or rewritten without the audit key){first}"))
                break
        else:
            unkeyed += 1
            if chain_hash(previous, record) != record["hash"]:
                problems.append(ChainBreak(seq, "content does not match its hash (edited)"))
                break
        macs[seq], versions[seq] = str(record["hash"]), version
        expected_seq, previous = seq + 1, str(record["hash"])
    last = expected_seq - 1
    head = Head(last, macs[last], keyed_from) if last in macs else None
    heads = list(checkpoints)
    problems += [p for h in heads if (p := _against_checkpoint(h, last, macs, versions)) is not None]
    return Verification(
        records=len(macs),
        unkeyed=unkeyed,
        head=head,
        checkpoints=len(heads),
        anchored_to=max((h.seq for h in heads), default=0),
        problem=min(problems, key=lambda p: p.seq, default=None),
    )


def _against_checkpoint(head: Head, last: int, macs: dict[int, str], versions: dict[int, int]) -> ChainBreak | None:
    if head.keyed_from is not None and head.keyed_from <= last and versions.get(head.keyed_from) != KEYED:
        return ChainBreak(head.keyed_from, f"unkeyed, but the head checkpointed at record {head.seq} says the trail is keyed from here (rebuilt without the audit key)")
    if head.seq > last:
        return ChainBreak(last + 1, f"missing (deleted): a head was checkpointed at record {head.seq}, and the trail's last verified record is {last}")
    if not hmac.compare_digest(macs[head.seq], head.mac):
        return ChainBreak(head.seq, "differs from the head checkpointed for it outside the warehouse (rewritten)")
    return None
