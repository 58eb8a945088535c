"""Keyed pseudonyms (HMAC-SHA256) per pseudonymisation domain.

Each domain's key is derived from one master secret with HKDF, so pseudonyms are stable
inside a domain and unlinkable across domains. The engine keys each distinct value once and
maps the result back, which is what makes it fast on event-shaped data."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator
from hashlib import sha256

import numpy as np
import pandas as pd
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PSEUDONYM_BYTES = 16
PSEUDONYM_PATTERN = r"^[0-9a-f]{32}$"
MIN_MASTER_SECRET_BYTES = 32
DEFAULT_SALT = b"compliance-assets/pseudonymisation/v1"
SCOPE_SEPARATOR = "\x1f"


def derive_domain_key(master_secret: bytes, domain: str, key_version: int = 1, salt: bytes = DEFAULT_SALT) -> bytes:
    """A 256-bit key for one domain and key version. The salt is the key version's random value
    from the key ring: deleting it destroys every key of that version, even for someone who
    holds the master secret."""
    if len(master_secret) < MIN_MASTER_SECRET_BYTES:
        raise ValueError(f"the master secret must be at least {MIN_MASTER_SECRET_BYTES} bytes")
    info = f"domain={domain};version={key_version}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(master_secret)


def master_fingerprint(master_secret: bytes) -> str:
    """Names a master secret without revealing it, so the key ring can tell when it changed."""
    return hmac.digest(master_secret, b"compliance-assets/master-fingerprint", sha256)[:8].hex()


def _hmac_pads(domain_key: bytes) -> tuple:
    """SHA-256 states after the HMAC inner and outer key blocks (RFC 2104). Copying them per value
    skips re-keying, which costs more than the hashing itself for short identifiers."""
    block = sha256(domain_key).digest() if len(domain_key) > 64 else domain_key
    block = block.ljust(64, b"\0")
    return sha256(bytes(b ^ 0x36 for b in block)), sha256(bytes(b ^ 0x5C for b in block))


def _digests(distinct: np.ndarray, domain_key: bytes) -> list[str]:
    """HMAC-SHA256 of each distinct value, truncated to 128 bits: the only per-value Python work."""
    inner, outer = _hmac_pads(domain_key)
    out = []
    for value in distinct:
        i = inner.copy()
        i.update(value.encode("utf-8"))
        o = outer.copy()
        o.update(i.digest())
        out.append(o.hexdigest()[: 2 * PSEUDONYM_BYTES])
    return out


def pseudonymise(values: pd.Series, domain_key: bytes) -> pd.Series:
    """Pseudonyms (32 hex characters, 128 bits of HMAC-SHA256) for already-normalised,
    non-empty identifiers, in the order and index of `values`."""
    if values.isna().any():
        raise ValueError("pseudonymise() got missing identifiers; quarantine them first")
    codes, uniques = pd.factorize(values, sort=False)
    keyed = np.asarray(_digests(uniques.astype(object), domain_key), dtype=object)
    return pd.Series(keyed[codes], index=values.index, dtype="string", name=values.name)


class _SeenHashes:
    """64-bit hash → position of values seen so far, in pandas' incremental C hash table, so adding
    a chunk's new values does not rebuild the index of all earlier ones."""

    def __init__(self, capacity: int):
        from pandas._libs.hashtable import Int64HashTable

        self._table = Int64HashTable(max(capacity, 1))
        self.size = 0

    def lookup(self, hashes: np.ndarray) -> np.ndarray:
        return self._table.lookup(hashes)

    def add(self, hashes: np.ndarray) -> None:
        self._table.map_keys_to_values(hashes, np.arange(self.size, self.size + len(hashes), dtype=np.int64))
        self.size += len(hashes)


def pseudonymise_stream(
    chunks: Iterable[pd.Series], domain_key: bytes, cache_limit: int = 2_000_000
) -> Iterator[pd.Series]:
    """Chunk-by-chunk pseudonymisation with memory bounded by the chunk size and `cache_limit`.

    Event data is rarely sorted by subject, so values seen in earlier chunks are found again by
    their (per-process) string hash in an integer hash table and confirmed by comparing the strings
    themselves: a hash collision falls back to keying that chunk exactly."""
    seen = _SeenHashes(cache_limit)
    seen_values = np.empty(cache_limit, dtype=object)
    seen_keyed = np.empty(cache_limit, dtype=object)
    for chunk in chunks:
        values = chunk.to_numpy(dtype=object)
        hashes = np.fromiter(map(hash, values), dtype=np.int64, count=len(values))
        positions = seen.lookup(hashes)
        found = np.flatnonzero(positions >= 0)
        unseen = np.flatnonzero(positions < 0)
        codes, new_hashes = pd.factorize(hashes[unseen], sort=False)
        first = np.empty(len(new_hashes), dtype=np.int64)
        first[codes[::-1]] = np.arange(len(codes))[::-1]
        unseen_values = values[unseen]
        new_values = unseen_values[first]
        if pd.isna(new_values).any():  # a missing value is never cached, so it is always "new"
            raise ValueError("pseudonymise_stream() got missing identifiers; quarantine them first")
        found_positions = positions[found]
        exact = (values[found] == seen_values[found_positions]).all() and (unseen_values == new_values[codes]).all()
        if not exact:
            yield pseudonymise(chunk, domain_key)
            continue
        fresh = np.asarray(_digests(new_values, domain_key), dtype=object)
        if seen.size + len(new_hashes) <= cache_limit:
            start, end = seen.size, seen.size + len(new_hashes)
            seen_values[start:end], seen_keyed[start:end] = new_values, fresh
            seen.add(new_hashes)
            positions[unseen] = start + codes
            keyed = seen_keyed[positions]
        else:
            keyed = np.empty(len(values), dtype=object)
            keyed[found] = seen_keyed[found_positions]
            keyed[unseen] = fresh[codes]
        yield pd.Series(keyed, index=chunk.index, name=chunk.name, dtype=object)


def scoped(identifiers: pd.Series, scope: pd.Series | None) -> pd.Series:
    """Prefix identifiers with their scope (e.g. the client workspace), so one person known to two
    clients is two unlinkable subjects, as two controllers' data must be."""
    if scope is None:
        return identifiers
    return scope.astype("string") + SCOPE_SEPARATOR + identifiers
