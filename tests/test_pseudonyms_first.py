"""Pseudonyms come first: a feature transform that prints every input it is handed, run for real
through Dagster, leaves no raw identifier of the sources in the compute logs, the event log or any
warehouse table outside the raw tier."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml
from dagster import DagsterInstance
from dagster._core.storage.compute_log_manager import ComputeIOType
from dagster._serdes import serialize_value

from compliance_assets.tiers import Tier, table_name
from compliance_assets.privacy.normalise import normalise_email
from compliance_assets.register import load_register
from tests.conftest import REPO, run_cli, small_run_config
from tests.helpers import published, warehouse_of
from tests.printing_definitions import PRINTED
from tests.test_no_personal_data_in_dagster import leaks

RAW_SOURCES = list(load_register(REPO / "register").sources)
# The rows the pseudonymised tier set aside for having no identifier are raw rows, kept as they arrived.
RAW_COPIES = {"quarantine__customer_features"}


def _raw_tier(table: str) -> bool:
    return table.startswith(("raw__", "staging__raw__")) or table in {f"quarantine__{s}" for s in RAW_SOURCES} | RAW_COPIES


def _identifiers() -> tuple[set[str], pd.DataFrame, pd.DataFrame]:
    """Every value of a direct identifier column in the raw tier, as stored and as normalised."""
    register = load_register(REPO / "register")
    values: set[str] = set()
    frames = {}
    for name, source in register.sources.items():
        if not warehouse_of().has_table(table_name(Tier.RAW, name)):
            continue
        frame = frames[name] = published(Tier.RAW, name)
        for column, spec in source.columns.items():
            if spec.identifier.value == "direct":
                values |= set(frame[column].dropna().astype(str))
    values |= set(normalise_email(frames["customers"]["email"]).dropna())
    return {v for v in values if v.strip()}, frames["customers"], frames["engagement_events"]


def _compute_logs(instance: DagsterInstance, run_id: str) -> str:
    manager = instance.compute_log_manager
    text = []
    for io_type in (ComputeIOType.STDOUT, ComputeIOType.STDERR):
        for key in manager.get_log_keys_for_log_key_prefix([run_id, "compute_logs"], io_type):
            data = manager.get_log_data(key)
            text += [(data.stdout or b"").decode(errors="replace"), (data.stderr or b"").decode(errors="replace")]
    return "\n".join(text)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_transform_printing_every_input_leaks_no_identifier(backend, local_env, request, tmp_path):
    if backend == "postgresql":
        request.getfixturevalue("pg_env")
    config = tmp_path / "run_config.yaml"
    config.write_text(yaml.safe_dump(small_run_config()))
    run = run_cli("dagster", "job", "execute", "-m", "tests.printing_definitions", "-j", "demo_pipeline", "-c", str(config))
    assert run.returncode == 0, run.stderr[-3000:]

    identifiers, customers, events = _identifiers()
    assert len(identifiers) > 3000
    instance = DagsterInstance.get()
    (record,) = instance.get_runs(limit=1)
    logs = _compute_logs(instance, record.run_id)
    assert f"{PRINTED} subjects" in logs and f"{PRINTED} engagement_events" in logs and "subject_pseudonym" in logs, "the transform's prints were not captured"
    events_text = "\n".join(serialize_value(entry) for entry in instance.all_logs(record.run_id))
    assert "customer_features" in events_text
    for where, text in {"compute logs": logs, "event log": events_text, "command output": run.stdout + run.stderr}.items():
        assert leaks(text, customers, events, {}) == {}, where
        words = set(text.replace("'", " ").replace('"', " ").replace(",", " ").split())
        assert not (words & identifiers), f"{where}: {sorted(words & identifiers)[:5]}"

    engine = warehouse_of().get_engine()
    scanned = []
    with engine.connect() as connection:
        for table in sa.inspect(engine).get_table_names():
            if _raw_tier(table):
                continue
            frame = pd.read_sql(sa.text(f'SELECT * FROM "{table}"'), connection)
            text = frame.select_dtypes(include=["object", "string"]).astype("string")
            cells = {v for column in text for v in text[column].dropna().tolist()}
            assert not (cells & identifiers), f"{table}: {sorted(cells & identifiers)[:5]}"
            assert leaks(" ".join(cells), customers, events, {}) == {}, table
            scanned.append(table)
    assert {"pseudonymised__customer_features", "aggregate__engagement_cohorts", "audit__trail"} <= set(scanned)
