"""Keyed pseudonyms (HMAC-SHA256) per pseudonymisation domain.

Each domain's key is derived from one master secret with HKDF, so pseudonyms are stable
inside a domain and unlinkable across domains. The engine keys each distinct value once and
maps the result back, which is what makes it fast on event-shaped data."""

from __future__ import annotations

import hmac
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


def pseudonymise(values: pd.Series, domain_key: bytes) -> pd.Series:
    """Pseudonyms (32 hex characters, 128 bits of HMAC-SHA256) for already-normalised,
    non-empty identifiers, in the order and index of `values`."""
    if values.isna().any():
        raise ValueError("pseudonymise() got missing identifiers; quarantine them first")
    codes, uniques = pd.factorize(values, sort=False)
    digests = [
        hmac.digest(domain_key, value.encode("utf-8"), sha256)[:PSEUDONYM_BYTES].hex()
        for value in uniques.astype(object)
    ]
    keyed = np.asarray(digests, dtype=object)
    return pd.Series(keyed[codes], index=values.index, dtype="string", name=values.name)


def scoped(identifiers: pd.Series, scope: pd.Series | None) -> pd.Series:
    """Prefix identifiers with their scope (e.g. the client workspace), so one person known to two
    clients is two unlinkable subjects, as two controllers' data must be."""
    if scope is None:
        return identifiers
    return scope.astype("string") + SCOPE_SEPARATOR + identifiers
