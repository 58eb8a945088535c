"""AES-256-GCM sealing of identifiers for the mapping vault. Each value gets its own random nonce,
and the associated data binds a ciphertext to its row, so a ciphertext copied to another
pseudonym's row fails to open."""

from __future__ import annotations

import os
from collections.abc import Iterable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


def seal_all(key: bytes, plaintexts: Iterable[str], associated: Iterable[str]) -> list[tuple[bytes, bytes]]:
    """(nonce, ciphertext) for each plaintext, bound to its associated-data string."""
    aead = AESGCM(key)
    sealed = []
    for plaintext, context in zip(plaintexts, associated, strict=True):
        nonce = os.urandom(NONCE_BYTES)
        sealed.append((nonce, aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))))
    return sealed


def open_one(key: bytes, nonce: bytes, ciphertext: bytes, associated: str) -> str:
    return AESGCM(key).decrypt(nonce, ciphertext, associated.encode("utf-8")).decode("utf-8")


def associated_data(domain: str, key_version: int, pseudonym: str) -> str:
    return f"{domain}|{key_version}|{pseudonym}"
