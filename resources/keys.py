"""Holds the master secret from which every pseudonymisation domain's key is derived.

The secret is read from an environment variable at run time; Dagster's config only ever holds
the variable's *name*, so neither the UI nor the event log can show it. On a developer's
machine without the variable, a key file is generated outside the repository, with a warning."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from dagster import ConfigurableResource, get_dagster_logger
from pydantic import Field, PrivateAttr

from compliance_assets.privacy.pseudonymise import MIN_MASTER_SECRET_BYTES, derive_domain_key

DEFAULT_SECRET_ENV = "COMPLIANCE_MASTER_KEY"
DEFAULT_DEV_KEY_FILE = "~/.config/compliance-assets/master.key"


class KeyConfigurationError(RuntimeError):
    """The master secret is missing or malformed; the message never contains key material."""


def decode_secret(encoded: str, origin: str) -> bytes:
    try:
        secret = base64.urlsafe_b64decode(encoded.strip().encode("ascii") + b"==")
    except (ValueError, UnicodeEncodeError):
        raise KeyConfigurationError(f"the master secret from {origin} is not URL-safe base64") from None
    if len(secret) < MIN_MASTER_SECRET_BYTES:
        raise KeyConfigurationError(
            f"the master secret from {origin} has {len(secret)} bytes; at least {MIN_MASTER_SECRET_BYTES} are needed"
        )
    return secret


def generate_secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(MIN_MASTER_SECRET_BYTES)).decode("ascii").rstrip("=")


class PseudonymisationKeyResource(ConfigurableResource):
    secret_env_var: str = Field(default=DEFAULT_SECRET_ENV, description="Environment variable holding the master secret (URL-safe base64, >= 32 bytes)")
    dev_key_file: str | None = Field(
        default=None,
        description="Local development only: where to keep a generated secret when the variable is unset",
    )
    key_version: int = Field(default=1, ge=1, description="Current key version; rotation increments it")
    _master: bytes | None = PrivateAttr(default=None)

    def _master_secret(self) -> bytes:
        if self._master is None:
            encoded = os.environ.get(self.secret_env_var)
            if encoded:
                self._master = decode_secret(encoded, f"${self.secret_env_var}")
            elif self.dev_key_file:
                self._master = decode_secret(self._dev_secret(Path(self.dev_key_file).expanduser()), self.dev_key_file)
            else:
                raise KeyConfigurationError(f"${self.secret_env_var} is not set and no development key file is allowed")
        return self._master

    def _dev_secret(self, path: Path) -> str:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(generate_secret())
            get_dagster_logger().warning(
                f"${self.secret_env_var} is not set: generated a development master key at {path}. "
                "Set the variable from a secret manager in any shared or production deployment."
            )
        return path.read_text(encoding="ascii")

    def domain_key(self, domain: str) -> bytes:
        return derive_domain_key(self._master_secret(), domain, self.key_version)
