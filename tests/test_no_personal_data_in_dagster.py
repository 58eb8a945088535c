"""Dagster shows run config, tags, logs, compute logs and metadata to everyone who can open the UI.
After a full demo run and a run whose check fails on injected emails, none of the PostgreSQL
instance's tables nor the compute logs hold a secret or a raw identifier."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from compliance_assets.tiers import Tier
from tests.conftest import PG_ADMIN_URL, run_cli, small_run_config
from tests.helpers import published

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
CUSTOMER_ID = re.compile(r"cus_\d{7}")
IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")


def _instance_dump(database: str) -> str:
    url = PG_ADMIN_URL.rsplit("/", 1)[0]
    host = url.split("@")[1].split(":")[0]
    completed = subprocess.run(
        ["pg_dump", "-h", host, "-U", "postgres", "-d", database, "--data-only", "--no-owner"],
        capture_output=True, text=True, check=True, timeout=120,
    )
    return completed.stdout


def _compute_logs(home: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in (home / "storage").rglob("*") if p.is_file())


def leaks(text: str, raw_customers, raw_events, secrets: dict[str, str]) -> dict[str, list[str]]:
    emails = {e.strip().casefold() for e in raw_customers["email"].dropna() if e.strip()}
    names = set(raw_customers["full_name"].dropna())
    found = {
        "emails": sorted({m.casefold() for m in EMAIL.findall(text)} & emails)[:5],
        "customer_ids": sorted(set(CUSTOMER_ID.findall(text)) & set(raw_customers["customer_id"]))[:5],
        "ip_addresses": sorted(set(IPV4.findall(text)) & set(raw_events["ip_address"]))[:5],
        "names": sorted(n for n in names if n in text)[:5],
        "secrets": sorted(label for label, value in secrets.items() if value in text),
    }
    return {kind: hits for kind, hits in found.items() if hits}


@pytest.mark.postgres
def test_no_secret_or_identifier_in_instance_tables_or_compute_logs(pg_env, tmp_path):
    config = tmp_path / "run_config.yaml"
    config.write_text(yaml.safe_dump(small_run_config()))
    good = run_cli("dagster", "job", "execute", "-m", "compliance_demo.definitions", "-j", "demo_pipeline", "-c", str(config))
    assert good.returncode == 0, good.stderr[-3000:]
    leaky = run_cli("dagster", "job", "execute", "-m", "tests.leaky_definitions", "-j", "demo_pipeline", "-c", str(config))
    assert leaky.returncode != 0
    assert "no_direct_identifiers" in leaky.stdout + leaky.stderr

    raw_customers = published(Tier.RAW, "customers")
    raw_events = published(Tier.RAW, "engagement_events")
    secrets = {"master key": os.environ["COMPLIANCE_MASTER_KEY"], "vault key": os.environ["COMPLIANCE_VAULT_KEY"]}
    dump = _instance_dump(pg_env.instance_db)
    assert "ASSET_CHECK_EVALUATION" in dump and "no_direct_identifiers" in dump  # the scan sees the failing run
    logs = _compute_logs(Path(os.environ["DAGSTER_HOME"]))
    assert logs, "no compute logs were captured"
    assert leaks(dump, raw_customers, raw_events, secrets) == {}
    assert leaks(logs, raw_customers, raw_events, secrets) == {}
    assert leaks(good.stdout + good.stderr + leaky.stdout + leaky.stderr, raw_customers, raw_events, secrets) == {}
    warehouse = _instance_dump(pg_env.warehouse_db)
    assert "pseudonymised__customer_features" in warehouse
    assert leaks(warehouse, raw_customers.head(0), raw_events.head(0), secrets) == {}  # no secret in the warehouse


def test_the_scan_finds_what_it_looks_for(local_env):
    import pandas as pd

    customers = pd.DataFrame({"email": [" Ann@Example.com"], "full_name": ["Ann Weber"], "customer_id": ["cus_0000001"]})
    events = pd.DataFrame({"ip_address": ["10.1.2.3"]})
    text = "x ann@example.com y cus_0000001 10.1.2.3 Ann Weber SECRET"
    assert set(leaks(text, customers, events, {"k": "SECRET"})) == {"emails", "customer_ids", "ip_addresses", "names", "secrets"}
