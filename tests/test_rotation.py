"""Key rotation: every pseudonymised table and the vault move to a new key version, the old one is
destroyed, and a rotation killed half-way resumes with every row on exactly one version."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import sqlalchemy as sa
from dagster import DagsterInstance

from compliance_demo.definitions import build_definitions
from compliance_assets.tiers import Tier
from compliance_assets.resources.secrets import generate_secret
from compliance_assets.resources.vault import key_ring
from tests.conftest import REPO, process_group, run_cli
from tests.helpers import published, resource, run_job


def _versions(defs) -> pd.Series:
    return published(Tier.PSEUDONYMISED, "customer_features", defs)["key_version"].value_counts().sort_index()


def _ring(defs) -> list[tuple[int, str, bool]]:
    vault = resource(defs, "pseudonym_vault")
    with vault.get_engine().connect() as connection:
        return [(r.version, r.state, r.salt is None) for r in connection.execute(sa.select(key_ring).order_by(key_ring.c.version))]


def _rotate_in_process(defs, **config):
    return defs.resolve_job_def("key_rotation").execute_in_process(
        run_config={"ops": {"rotate_pseudonym_keys": {"config": {"actor": "ops@example.com", **config}}}},
        instance=DagsterInstance.get(),
        raise_on_error=False,
    )


def test_rotation_job_rekeys_everything_and_destroys_the_old_version(local_env):
    assert run_job().success
    defs = build_definitions()
    before = published(Tier.PSEUDONYMISED, "customer_features", defs)

    result = _rotate_in_process(defs, batch_rows=500)
    assert result.success
    after = published(Tier.PSEUDONYMISED, "customer_features", defs)
    assert len(after) == len(before) and set(after["key_version"]) == {2}
    assert not set(after["subject_pseudonym"]) & set(before["subject_pseudonym"])
    assert _ring(defs) == [(1, "destroyed", True), (2, "active", False)]
    vault = resource(defs, "pseudonym_vault")
    assert vault.count("engagement", 1) == 0 and vault.count("engagement", 2) == len(after)

    # A fresh materialisation with the new version gives exactly the rotated pseudonyms.
    assert run_job().success
    rerun = published(Tier.PSEUDONYMISED, "customer_features", defs)
    assert set(rerun["subject_pseudonym"]) == set(after["subject_pseudonym"])
    columns = [c for c in after.columns if c not in ("days_since_last_engagement", "engagement_segment", "opens_90d", "clicks_90d", "conversions_90d")]
    pd.testing.assert_frame_equal(
        after[columns].sort_values("subject_pseudonym").reset_index(drop=True),
        rerun[columns].sort_values("subject_pseudonym").reset_index(drop=True),
    )
    events = set(resource(defs, "audit_trail").records()["event_type"])
    assert {"key_rotation_started", "key_rotation_completed"} <= events

    # Idempotent: a second rotation moves on to version 3 cleanly.
    assert _rotate_in_process(defs).success
    assert set(_versions(defs).index) == {3}


def test_rotation_to_a_new_master_secret(local_env, monkeypatch):
    assert run_job().success
    monkeypatch.setenv("COMPLIANCE_MASTER_KEY", generate_secret())
    assert not run_job().success  # refused until the pseudonyms have moved
    defs = build_definitions()
    assert _rotate_in_process(defs).success
    rotated = set(published(Tier.PSEUDONYMISED, "customer_features", defs)["subject_pseudonym"])
    assert run_job().success
    assert set(published(Tier.PSEUDONYMISED, "customer_features", defs)["subject_pseudonym"]) == rotated


def test_rotation_killed_half_way_resumes_without_loss(local_env):
    assert run_job().success
    defs = build_definitions()
    original = published(Tier.PSEUDONYMISED, "customer_features", defs)
    total = len(original)
    command = [sys.executable, "-m", "compliance_assets", "rotate-keys", "--actor", "ops@example.com", "--batch-rows", "100", "--pause-seconds", "0.25"]
    with process_group(command, cwd=REPO, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as process:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            moved = int(_versions(defs).get(2, 0)) if resource(defs, "warehouse").has_table("pseudonymised__customer_features") else 0
            if moved >= total // 3:
                break
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()

    half = _versions(defs)
    assert set(half.index) == {1, 2} and half.sum() == total  # every row on exactly one version, none lost
    assert [state for _, state, _ in _ring(defs)] == ["active", "pending"]

    resumed = run_cli(*command[2:-4])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    final = published(Tier.PSEUDONYMISED, "customer_features", defs)
    assert len(final) == total and set(final["key_version"]) == {2}
    assert final["subject_pseudonym"].is_unique
    assert _ring(defs) == [(1, "destroyed", True), (2, "active", False)]
    feature_columns = [c for c in original.columns if c not in ("subject_pseudonym", "key_version")]
    pd.testing.assert_frame_equal(
        original[feature_columns].sort_values(feature_columns).reset_index(drop=True),
        final[feature_columns].sort_values(feature_columns).reset_index(drop=True),
    )
    assert run_job().success
    assert set(published(Tier.PSEUDONYMISED, "customer_features", defs)["subject_pseudonym"]) == set(final["subject_pseudonym"])


@pytest.mark.postgres
def test_rotation_on_postgres(pg_env):
    assert run_job().success
    defs = build_definitions()
    before = published(Tier.PSEUDONYMISED, "customer_features", defs)
    assert _rotate_in_process(defs, batch_rows=700).success
    after = published(Tier.PSEUDONYMISED, "customer_features", defs)
    assert len(after) == len(before) and set(after["key_version"]) == {2}
    assert _ring(defs) == [(1, "destroyed", True), (2, "active", False)]
    assert run_job().success
    assert set(published(Tier.PSEUDONYMISED, "customer_features", defs)["subject_pseudonym"]) == set(after["subject_pseudonym"])


def test_a_new_normalisation_is_reached_through_rotation_not_silently(local_env):
    """A vault keyed before identifiers were NFKC-normalised: the pseudonymised step refuses and
    points to the rotation, which re-keys under the new normalisation and merges the two
    spellings of one contact that the old normalisation had kept apart."""
    assert run_job().success
    defs = build_definitions()
    vault, warehouse = resource(defs, "pseudonym_vault"), resource(defs, "warehouse")
    table = "pseudonymised__customer_features"
    before = published(Tier.PSEUDONYMISED, "customer_features", defs)
    mapping = vault.decrypted("engagement", 1).iloc[0]
    twin = "f" * 32  # the same contact, keyed from a fullwidth spelling under the old normalisation
    fullwidth = str(mapping["identifier"]).translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
    vault.store("engagement", 1, pd.Series([twin]), pd.Series([fullwidth]), pd.Series([mapping["scope"]]))
    before.loc[before["subject_pseudonym"] == mapping["pseudonym"]].assign(subject_pseudonym=twin).to_sql(table, warehouse.get_engine(), if_exists="append", index=False)
    with vault.get_engine().begin() as connection:
        connection.execute(key_ring.update().values(normalisation=None))

    refused = run_job(defs=defs)
    assert not refused.success
    (failure,) = [e for e in refused.all_events if e.event_type_value == "STEP_FAILURE" and e.step_key == "customer_features"]
    assert "normalisation version 1" in failure.event_specific_data.error.message and "rotate-keys" in failure.event_specific_data.error.message
    assert failure.event_specific_data.user_failure_data.metadata["keyed_under_normalisation"].value == 1

    result = _rotate_in_process(defs)
    assert result.success
    metadata = {e.step_key: e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"}["rotate_pseudonym_keys"].event_specific_data.metadata
    assert metadata["subjects_merged"].value == 1 and metadata["new_normalisation"].value == 2
    rotated = published(Tier.PSEUDONYMISED, "customer_features", defs)
    assert len(rotated) == len(before) and rotated["subject_pseudonym"].is_unique
    with vault.get_engine().connect() as connection:
        assert [(r.version, r.state, r.normalisation) for r in connection.execute(sa.select(key_ring).order_by(key_ring.c.version))] == [(1, "destroyed", None), (2, "active", 2)]
    assert vault.count("engagement", 2) == len(rotated)
    assert run_job(defs=defs).success
    assert set(published(Tier.PSEUDONYMISED, "customer_features", defs)["subject_pseudonym"]) == set(rotated["subject_pseudonym"])
