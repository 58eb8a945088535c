"""Keyed pseudonyms (HMAC-SHA256) per pseudonymisation domain.

Each domain's key is derived from one master secret with HKDF, so pseudonyms are stable
inside a domain and unlinkable across domains. The engine keys each distinct value once and
maps the result back, which is what makes it fast on event-shaped data."""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from hashlib import sha256

import numpy as np
import pandas as pd
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pandas.api.types import infer_dtype
from pandas.util import hash_array

from compliance_assets.privacy.normalise import NORMALISATION_VERSION
from compliance_assets.privacy.pandas_internals import IncrementalNumbering

PSEUDONYM_BYTES = 16
PSEUDONYM_PATTERN = r"^[0-9a-f]{32}$"
MIN_MASTER_SECRET_BYTES = 32
DEFAULT_SALT = b"compliance-assets/pseudonymisation/v1"
SUPPRESSION_SALT = b"compliance-assets/erasure-suppression/v1"
SCOPE_SEPARATOR = "\x1f"
STREAM_CHUNK_ROWS = 1_000_000


def derive_domain_key(
    master_secret: bytes, domain: str, key_version: int = 1, salt: bytes = DEFAULT_SALT, normalisation: int = NORMALISATION_VERSION
) -> bytes:
    """A 256-bit key for one domain and key version. The salt is the key version's random value
    from the key ring: deleting it destroys every key of that version, even for someone who
    holds the master secret. The normalisation version is part of what the key is derived
    under, so identifiers normalised two ways are never keyed into one version's pseudonyms
    (version 1's keys were derived before it was, and still are, so they stay reproducible)."""
    if len(master_secret) < MIN_MASTER_SECRET_BYTES:
        raise ValueError(f"the master secret must be at least {MIN_MASTER_SECRET_BYTES} bytes")
    info = f"domain={domain};version={key_version}" + (f";normalisation={normalisation}" if normalisation != 1 else "")
    info = info.encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(master_secret)


def derive_suppression_key(master_secret: bytes, list_scope: str, normalisation: int) -> bytes:
    """One key per list scope, apart from every pseudonymisation key: an entry of one list says
    nothing about a pseudonym, nor about an entry of another list."""
    if len(master_secret) < MIN_MASTER_SECRET_BYTES:
        raise ValueError(f"the master secret must be at least {MIN_MASTER_SECRET_BYTES} bytes")
    info = f"erasure-suppression;list={list_scope};normalisation={normalisation}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=SUPPRESSION_SALT, info=info).derive(master_secret)


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
    non-empty identifiers, in the order and index of `values`. Columns longer than one chunk go
    through the streaming engine, which numbers values on a second core."""
    if len(values) <= STREAM_CHUNK_ROWS:
        return _keyed_exactly(values, domain_key)
    _refuse_missing(values)
    chunks = (values.iloc[start : start + STREAM_CHUNK_ROWS] for start in range(0, len(values), STREAM_CHUNK_ROWS))
    return pd.concat(pseudonymise_stream(chunks, domain_key)).astype("string")


def _refuse_missing(values: pd.Series | np.ndarray) -> None:
    """A missing identifier names no subject: keyed, it would give many people one pseudonym."""
    if pd.isna(values).any():
        raise ValueError("got missing identifiers to pseudonymise; quarantine them first")


def _keyed_exactly(values: pd.Series, domain_key: bytes) -> pd.Series:
    """Factorises the column itself, comparing values exactly: the reference the stream falls back on."""
    _refuse_missing(values)
    codes, uniques = pd.factorize(values, sort=False)
    keyed = np.asarray(_digests(uniques.astype(object), domain_key), dtype=object)
    return pd.Series(keyed[codes], index=values.index, dtype="string", name=values.name)


def _fingerprint_key() -> str:
    """A fresh 112-bit SipHash key for pandas' `hash_array`, which takes 16 ASCII characters."""
    return bytes(byte & 0x7F for byte in os.urandom(16)).decode("ascii")


class _SeenValues:
    """Values met in earlier chunks and their pseudonyms. Each value is numbered by Python's
    string hash in pandas' incremental C hash table, and confirmed by a second fingerprint under
    a key of our own, so a value is taken for another only if both keyed 64-bit hashes collide:
    about 2**-128 per pair, the odds of two identifiers sharing a 128-bit pseudonym."""

    def __init__(self, capacity: int):
        self._numbering = IncrementalNumbering(capacity)
        self.fingerprint_key = _fingerprint_key()
        self.fingerprints = np.empty(capacity, dtype=np.uint64)
        self.keyed = np.empty(capacity, dtype=object)

    @property
    def size(self) -> int:
        return self._numbering.size

    def fingerprint(self, values: np.ndarray) -> np.ndarray:
        return hash_array(values, hash_key=self.fingerprint_key, categorize=False)

    def number(self, hashes: np.ndarray, fingerprints: np.ndarray) -> _Numbered:
        """Runs on the numbering thread: pandas and NumPy release the GIL for all of it."""
        before = self.size
        positions = self._numbering.number(hashes)
        after = self.size
        new_rows = np.flatnonzero(positions >= before)
        first_rows = np.empty(after - before, dtype=np.int64)
        first_rows[positions[new_rows[::-1]] - before] = new_rows[::-1]
        self.fingerprints[before:after] = fingerprints[first_rows]
        confirmed = bool((self.fingerprints[positions] == fingerprints).all())
        return _Numbered(before, positions, first_rows, confirmed)


@dataclass(frozen=True)
class _Numbered:
    """A chunk's rows numbered: `positions[i]` is row i's entry in the seen values; the entries
    from `before` on are new, first met at `first_rows`. `confirmed` is false when two values
    shared a hash, and the chunk must be keyed exactly."""

    before: int
    positions: np.ndarray
    first_rows: np.ndarray
    confirmed: bool


@dataclass(frozen=True)
class _InFlight:
    """A chunk whose numbering may still be running."""

    chunk: pd.Series
    values: np.ndarray
    seen: _SeenValues
    numbering: Future

    def settle(self) -> None:
        self.numbering.result()

    def mapped_back(self, domain_key: bytes) -> pd.Series:
        """Keys the chunk's new values and maps the pseudonyms back to its rows."""
        numbered: _Numbered = self.numbering.result()
        new_values = self.values[numbered.first_rows]
        if len(new_values) and infer_dtype(new_values, skipna=False) != "string":
            _refuse_missing(new_values)  # a missing value is never cached, so it is always new
            raise TypeError("pseudonymise_stream() keys text identifiers only; normalise them first")
        self.seen.keyed[numbered.before : numbered.before + len(new_values)] = _digests(new_values, domain_key)
        if not numbered.confirmed:
            return _keyed_exactly(self.chunk, domain_key)
        chunk = self.chunk
        return pd.Series(self.seen.keyed[numbered.positions], index=chunk.index, name=chunk.name, dtype=object, copy=False)  # a fresh array: no copy needed


def pseudonymise_stream(
    chunks: Iterable[pd.Series], domain_key: bytes, cache_limit: int = 2_000_000
) -> Iterator[pd.Series]:
    """Chunk-by-chunk pseudonymisation with memory bounded by the chunk size and `cache_limit`.

    Event data is rarely sorted by subject, so a value met in an earlier chunk is found again by
    its hash and confirmed by its fingerprint (see `_SeenValues`); a collision falls back to
    keying that chunk exactly. One worker thread numbers and confirms each chunk while the
    previous one is keyed and mapped back, which hides the hash table's memory latency on a
    second core. The cache starts over when a chunk might not fit in it."""
    seen = _SeenValues(cache_limit)
    previous: _InFlight | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pseudonym-numbering") as worker:
        for chunk in chunks:
            values = chunk.to_numpy(dtype=object)
            if len(values) > cache_limit:
                if previous is not None:
                    yield previous.mapped_back(domain_key)
                    previous = None
                yield _keyed_exactly(chunk, domain_key)
                continue
            hashes = np.fromiter(map(hash, values), dtype=np.int64, count=len(values))
            if previous is not None:
                previous.settle()  # the cache's size is final only once its numbering has ended
            if seen.size + len(values) > cache_limit:
                seen = _SeenValues(cache_limit)
            numbering = worker.submit(seen.number, hashes, seen.fingerprint(values))
            current = _InFlight(chunk, values, seen, numbering)
            if previous is not None:
                yield previous.mapped_back(domain_key)
            previous = current
        if previous is not None:
            yield previous.mapped_back(domain_key)


def scoped(identifiers: pd.Series, scope: pd.Series | None) -> pd.Series:
    """Prefix identifiers with their scope (e.g. the client workspace), so one person known to two
    clients is two unlinkable subjects, as two controllers' data must be."""
    if scope is None:
        return identifiers
    return scope.astype("string") + SCOPE_SEPARATOR + identifiers
