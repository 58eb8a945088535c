"""The reference code location's wiring: where this deployment keeps things, read from the
environment once, in one place. The plugin reads no environment; this is how one host chooses.

Unset variables give the zero-config local setup: a SQLite warehouse under `.data/` and a
development key file outside the repository. COMPLIANCE_ENV=prod refuses the development key.
Every variable is listed in docs/operations.md."""

from __future__ import annotations

import os
from pathlib import Path

from dagster import EnvVar

from compliance_assets.location import Folders
from compliance_assets.resources.audit import AuditTrailResource
from compliance_assets.resources.dpia_reviews import DpiaReviewsResource
from compliance_assets.resources.keys import DEFAULT_DEV_KEY_FILE, DEFAULT_SECRET_ENV, AuditKeyResource, PseudonymisationKeyResource
from compliance_assets.resources.vault import DEFAULT_VAULT_KEY_ENV, PseudonymVaultResource
from compliance_assets.resources.warehouse import WarehouseResource

REPO_ROOT = Path(__file__).resolve().parents[1]
WAREHOUSE_URL_ENV = "COMPLIANCE_WAREHOUSE_URL"
VAULT_URL_ENV = "COMPLIANCE_VAULT_URL"
CENSUS_CSV_ENV = "COMPLIANCE_CENSUS_CSV"
PUSH_DOWN_ENV = "COMPLIANCE_PUSH_DOWN_AGGREGATIONS"


def deployment() -> str:
    return os.environ.get("COMPLIANCE_ENV", "local").lower()


def register_dir() -> Path:
    return Path(os.environ.get("COMPLIANCE_REGISTER_DIR", REPO_ROOT / "register"))


def data_dir() -> Path:
    return Path(os.environ.get("COMPLIANCE_DATA_DIR", REPO_ROOT / ".data"))


def _url(env_var: str, sqlite_file: str) -> str | EnvVar:
    """An EnvVar when set, so credentials in the URL never show in the UI; else a local SQLite file."""
    return EnvVar(env_var) if os.environ.get(env_var) else f"sqlite:///{data_dir() / sqlite_file}"


def _dev_key_file(name: str) -> str | None:
    if deployment() == "prod":
        return None
    folder = os.environ.get("COMPLIANCE_DEV_KEY_DIR", str(Path(DEFAULT_DEV_KEY_FILE).parent))
    return str(Path(folder) / name)


def warehouse() -> WarehouseResource:
    """Cohort releases and feature summaries group in the warehouse unless COMPLIANCE_PUSH_DOWN_AGGREGATIONS=false."""
    push_down = os.environ.get(PUSH_DOWN_ENV, "true").strip().lower()
    if push_down not in ("true", "false", "1", "0"):
        raise ValueError(f"{PUSH_DOWN_ENV} must be true or false, got '{push_down}'")
    return WarehouseResource(url=_url(WAREHOUSE_URL_ENV, "warehouse.db"), push_down_aggregations=push_down in ("true", "1"))


def audit_trail() -> AuditTrailResource:
    """The audit trail lives in the warehouse; its MAC key comes from the vault's secret, which does not."""
    key = AuditKeyResource(secret_env_var=DEFAULT_VAULT_KEY_ENV, dev_key_file=_dev_key_file("vault.key"))
    return AuditTrailResource(url=_url(WAREHOUSE_URL_ENV, "warehouse.db"), audit_key=key)


def dpia_reviews() -> DpiaReviewsResource:
    """DPIA decisions and reviews live in the warehouse, beside the audit trail."""
    return DpiaReviewsResource(url=_url(WAREHOUSE_URL_ENV, "warehouse.db"))


def sensor_interval_seconds() -> int:
    """How often the DPIA sensor recomputes fingerprints (short in tests that run the daemon)."""
    return int(os.environ.get("COMPLIANCE_SENSOR_INTERVAL_SECONDS", "60"))


def reports_dir() -> Path:
    return Path(os.environ.get("COMPLIANCE_REPORTS_DIR", data_dir() / "reports"))


def folders() -> Folders:
    return Folders(reports=reports_dir(), exports=data_dir() / "exports")


def resources() -> dict[str, object]:
    """The five resources the plugin needs, on SQLite files by default or the URLs given."""
    vault = pseudonym_vault()
    return {
        "warehouse": warehouse(),
        "pseudonym_vault": vault,
        "pseudonym_keys": pseudonym_keys(vault),
        "audit_trail": audit_trail(),
        "dpia_reviews": dpia_reviews(),
    }


def pseudonym_vault() -> PseudonymVaultResource:
    return PseudonymVaultResource(url=_url(VAULT_URL_ENV, "vault.db"), vault_key_env=DEFAULT_VAULT_KEY_ENV, dev_key_file=_dev_key_file("vault.key"))


def pseudonym_keys(vault: PseudonymVaultResource) -> PseudonymisationKeyResource:
    return PseudonymisationKeyResource(vault=vault, secret_env_var=DEFAULT_SECRET_ENV, dev_key_file=_dev_key_file("master.key"))


def census_path() -> str | EnvVar:
    return EnvVar(CENSUS_CSV_ENV) if os.environ.get(CENSUS_CSV_ENV) else str(REPO_ROOT.parent / "shared" / "data" / "adult.csv")
