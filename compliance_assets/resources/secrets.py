"""Reads a secret from the environment at run time, with an opt-in development key file.

Dagster config only ever holds the variable's name, so neither the UI nor the event log can show
the secret; error messages name where the secret came from, never its value."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from dagster import get_dagster_logger

MIN_SECRET_BYTES = 32


class KeyConfigurationError(RuntimeError):
    """A secret is missing or malformed; the message never contains key material."""


def generate_secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(MIN_SECRET_BYTES)).decode("ascii").rstrip("=")


def decode_secret(encoded: str, origin: str) -> bytes:
    try:
        secret = base64.urlsafe_b64decode(encoded.strip().encode("ascii") + b"==")
    except (ValueError, UnicodeEncodeError):
        raise KeyConfigurationError(f"the secret from {origin} is not URL-safe base64") from None
    if len(secret) < MIN_SECRET_BYTES:
        raise KeyConfigurationError(f"the secret from {origin} has {len(secret)} bytes; at least {MIN_SECRET_BYTES} are needed")
    return secret


def read_secret(env_var: str, dev_key_file: str | None) -> bytes:
    encoded = os.environ.get(env_var)
    if encoded:
        return decode_secret(encoded, f"${env_var}")
    if not dev_key_file:
        raise KeyConfigurationError(f"${env_var} is not set and no development key file is allowed")
    path = Path(dev_key_file).expanduser()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(generate_secret())
        get_dagster_logger().warning(
            f"${env_var} is not set: generated a development key at {path}. "
            "Set the variable from a secret manager in any shared or production deployment."
        )
    return decode_secret(path.read_text(encoding="ascii"), str(path))
