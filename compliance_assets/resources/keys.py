"""Holds the master secret from which every pseudonymisation domain's key is derived (HKDF-SHA256
with the key version's salt from the key ring in the vault), and the audit trail's MAC key.

The secret is read from an environment variable at run time; Dagster's config only ever holds the
variable's *name*, so neither the UI nor the event log can show it. On a developer's machine
without the variable, a key file is generated outside the repository, with a warning."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from compliance_assets.audit.chain import derive_audit_key
from compliance_assets.privacy.normalise import NORMALISATION_VERSION
from compliance_assets.privacy.pseudonymise import derive_domain_key, derive_suppression_key, master_fingerprint
from compliance_assets.resources.secrets import read_secret
from compliance_assets.resources.vault import DEFAULT_VAULT_KEY_ENV, KeyRingError, KeyVersion, PseudonymVaultResource

DEFAULT_SECRET_ENV = "COMPLIANCE_MASTER_KEY"
DEFAULT_DEV_KEY_FILE = "~/.config/compliance-assets/master.key"


class NormalisationChanged(KeyRingError):
    """The active key version was keyed under another normalisation than this code's."""

    def __init__(self, message: str, key_version: int, recorded: int):
        super().__init__(message)
        self.key_version, self.recorded = key_version, recorded


class PseudonymisationKeyResource(ConfigurableResource):
    vault: PseudonymVaultResource
    secret_env_var: str = Field(default=DEFAULT_SECRET_ENV, description="Environment variable holding the master secret (URL-safe base64, >= 32 bytes)")
    dev_key_file: str | None = Field(default=None, description="Local development only: where to keep a generated master secret")
    _master: bytes | None = PrivateAttr(default=None)

    def _master_secret(self) -> bytes:
        if self._master is None:
            self._master = read_secret(self.secret_env_var, self.dev_key_file)
        return self._master

    @property
    def fingerprint(self) -> str:
        return master_fingerprint(self._master_secret())

    def active_version(self) -> KeyVersion:
        active = self.vault.active_version(self.fingerprint)
        if active.master_fingerprint != self.fingerprint:
            raise KeyRingError(
                f"${self.secret_env_var} is not the master secret of active key version {active.version}: "
                "restore it, or run the key rotation job to move every pseudonym to the new secret"
            )
        if active.normalisation != NORMALISATION_VERSION:
            raise NormalisationChanged(
                f"key version {active.version} keyed identifiers under normalisation version {active.normalisation}, and this code "
                f"normalises them under version {NORMALISATION_VERSION}: keying them now would give one subject two pseudonyms. "
                "Run the key rotation job (`python -m compliance_assets rotate-keys --actor <you>`), which re-normalises and "
                "re-keys every pseudonym and the vault under the new version",
                active.version,
                active.normalisation,
            )
        return active

    def key_for(self, domain: str, version: KeyVersion) -> bytes:
        if version.salt is None:
            raise KeyRingError(f"key version {version.version} has been destroyed")
        if version.master_fingerprint != self.fingerprint:
            raise KeyRingError(f"key version {version.version} belongs to another master secret")
        return derive_domain_key(self._master_secret(), domain, version.version, version.salt, version.normalisation)

    def suppression_key(self, list_scope: str) -> bytes:
        """The key of one erasure suppression list: derived from the master secret under its own
        label and this code's normalisation, never from a key version, so rotation leaves it be."""
        return derive_suppression_key(self._master_secret(), list_scope, NORMALISATION_VERSION)

    def domain_key(self, domain: str) -> tuple[int, bytes]:
        """(active key version, that version's key for `domain`)."""
        active = self.active_version()
        return active.version, self.key_for(domain, active)


class AuditKeyResource(ConfigurableResource):
    """The audit trail's MAC key, derived (HKDF, a label of its own) from the vault's secret.

    That secret lives outside the warehouse and never rotates while the vault's mappings are sealed
    under it, so every keyed record stays verifiable; the pseudonymisation master secret would not
    do, since a key rotation may replace it."""

    secret_env_var: str = Field(default=DEFAULT_VAULT_KEY_ENV, description="Environment variable holding the vault's secret (URL-safe base64, >= 32 bytes)")
    dev_key_file: str | None = Field(default=None, description="Local development only: the vault's generated key file")
    _key: bytes | None = PrivateAttr(default=None)

    def key(self) -> bytes:
        if self._key is None:
            self._key = derive_audit_key(read_secret(self.secret_env_var, self.dev_key_file))
        return self._key
