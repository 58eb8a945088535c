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
from cryptography.hazmat.primitives.hmac import HMAC
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


def _digests(distinct: np.ndarray, domain_key: bytes) -> list[str]:
    """HMAC-SHA256 of each distinct value, truncated to 128 bits: the only per-value Python work.
    Copying a keyed HMAC context skips re-keying, which costs more than hashing a short value."""
    keyed = HMAC(domain_key, hashes.SHA256())
    out = []
    for value in distinct:
        mac = keyed.copy()
        mac.update(value.encode("utf-8"))
        out.append(mac.finalize()[:PSEUDONYM_BYTES].hex())
    return out


def pseudonymise(values: pd.Series, domain_key: bytes) -> pd.Series:
    """Pseudonyms (32 hex characters, 128 bits of HMAC-SHA256) for already-normalised,
    non-empty identifiers, in the order and index of `values`."""
    if values.isna().any():
        raise ValueError("pseudonymise() got missing identifiers; quarantine them first")
    codes, uniques = pd.factorize(values, sort=False)
    keyed = np.asarray(_digests(uniques.astype(object), domain_key), dtype=object)
    return pd.Series(keyed[codes], index=values.index, dtype="string", name=values.name)


class _SeenValues:
    """Values met in earlier chunks and their pseudonyms, numbered by their (per-process) string
    hash in pandas' incremental C hash table, so a chunk's new values extend the numbering
    instead of rebuilding it."""

    def __init__(self, capacity: int):
        from pandas._libs.hashtable import Int64Factorizer

        self._numbering = Int64Factorizer(max(capacity, 1))
        self.values = np.empty(capacity, dtype=object)
        self.keyed = np.empty(capacity, dtype=object)

    @property
    def size(self) -> int:
        return self._numbering.get_count()

    def number(self, hashes: np.ndarray) -> np.ndarray:
        return self._numbering.factorize(hashes)


def pseudonymise_stream(
    chunks: Iterable[pd.Series], domain_key: bytes, cache_limit: int = 2_000_000
) -> Iterator[pd.Series]:
    """Chunk-by-chunk pseudonymisation with memory bounded by the chunk size and `cache_limit`.

    Event data is rarely sorted by subject, so a value met in an earlier chunk is found again by
    its string hash and confirmed by comparing the strings themselves: a hash collision falls
    back to keying that chunk exactly. The cache starts over when a chunk might not fit in it."""
    seen = _SeenValues(cache_limit)
    for chunk in chunks:
        values = chunk.to_numpy(dtype=object)
        if len(values) > cache_limit:
            yield pseudonymise(chunk, domain_key)
            continue
        if seen.size + len(values) > cache_limit:
            seen = _SeenValues(cache_limit)
        before = seen.size
        positions = seen.number(np.fromiter(map(hash, values), dtype=np.int64, count=len(values)))
        after = seen.size
        new_rows = np.flatnonzero(positions >= before)
        first = np.empty(after - before, dtype=np.int64)
        first[positions[new_rows[::-1]] - before] = new_rows[::-1]
        new_values = values[first]
        if pd.isna(new_values).any():  # a missing value is never cached, so it is always new
            raise ValueError("pseudonymise_stream() got missing identifiers; quarantine them first")
        seen.values[before:after] = new_values
        seen.keyed[before:after] = _digests(new_values, domain_key)
        if not (values == seen.values[positions]).all():
            seen = _SeenValues(cache_limit)
            yield pseudonymise(chunk, domain_key)
            continue
        yield pd.Series(seen.keyed[positions], index=chunk.index, name=chunk.name, dtype=object, copy=False)  # a fresh array: no copy needed


def scoped(identifiers: pd.Series, scope: pd.Series | None) -> pd.Series:
    """Prefix identifiers with their scope (e.g. the client workspace), so one person known to two
    clients is two unlinkable subjects, as two controllers' data must be."""
    if scope is None:
        return identifiers
    return scope.astype("string") + SCOPE_SEPARATOR + identifiers
