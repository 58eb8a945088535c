"""Where this deployment keeps things, read from the environment once, in one place.

Unset variables give the zero-config local setup: a SQLite warehouse under `.data/` and a
development key file outside the repository. COMPLIANCE_ENV=prod refuses the development key."""

from __future__ import annotations

import os
from pathlib import Path

from dagster import EnvVar

from resources.keys import DEFAULT_DEV_KEY_FILE, DEFAULT_SECRET_ENV, PseudonymisationKeyResource
from resources.warehouse import WarehouseResource

REPO_ROOT = Path(__file__).resolve().parents[1]
WAREHOUSE_URL_ENV = "COMPLIANCE_WAREHOUSE_URL"
CENSUS_CSV_ENV = "COMPLIANCE_CENSUS_CSV"


def deployment() -> str:
    return os.environ.get("COMPLIANCE_ENV", "local").lower()


def register_dir() -> Path:
    return Path(os.environ.get("COMPLIANCE_REGISTER_DIR", REPO_ROOT / "register"))


def data_dir() -> Path:
    return Path(os.environ.get("COMPLIANCE_DATA_DIR", REPO_ROOT / ".data"))


def warehouse() -> WarehouseResource:
    """The URL is passed as an EnvVar when set, so credentials in it never show in the UI."""
    if os.environ.get(WAREHOUSE_URL_ENV):
        return WarehouseResource(url=EnvVar(WAREHOUSE_URL_ENV))
    return WarehouseResource(url=f"sqlite:///{data_dir() / 'warehouse.db'}")


def pseudonym_keys() -> PseudonymisationKeyResource:
    dev_file = None if deployment() == "prod" else os.environ.get("COMPLIANCE_DEV_KEY_FILE", DEFAULT_DEV_KEY_FILE)
    return PseudonymisationKeyResource(secret_env_var=DEFAULT_SECRET_ENV, dev_key_file=dev_file)


def census_path() -> str | EnvVar:
    return EnvVar(CENSUS_CSV_ENV) if os.environ.get(CENSUS_CSV_ENV) else str(REPO_ROOT.parent / "shared" / "data" / "adult.csv")
