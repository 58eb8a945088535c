"""The whole demo, run for real: in-process and through the `dagster` CLI, on the zero-config
SQLite setup and on PostgreSQL for both the warehouse and Dagster's instance storage."""

from __future__ import annotations


import pandas.testing as pdt
import pytest
import sqlalchemy as sa
import yaml
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, FloatMetadataValue

from compliance_demo.definitions import CENSUS_ASSETS, EMAIL_MARKETING_ASSETS, build_definitions
from resources.environment import register_dir
from compliance_assets.tiers import CHECKS_SECONDS, Tier, table_name
from compliance_assets.privacy.pseudonymise import PSEUDONYM_PATTERN
from compliance_assets.register import load_register
from tests.conftest import run_cli, small_run_config
from tests.helpers import check_outcomes, indexed_columns, materialized, published, run_job, warehouse_of

EXPECTED_CHECKS = {
    *((source, check) for source in ("customers", "engagement_events", "consent_records", "search_logs") for check in ("retention", "contract", "quarantine")),
    ("customer_features", "contract"),
    ("customer_features", "quarantine"),
    ("customer_features", "minimisation"),
    ("customer_features", "no_direct_identifiers"),
    ("customer_features", "consent"),
    ("customer_features", "dpia_approved"),
    *(
        (name, check)
        for name in ("engagement_cohorts", "region_cohorts")
        for check in ("minimisation", "no_direct_identifiers", "k_anonymity", "no_differencing", "contract", "client_isolation", "dpia_approved")
    ),
}


def _assert_published_demo(defs=None) -> None:
    features = published(Tier.PSEUDONYMISED, "customer_features", defs)
    assert features["subject_pseudonym"].str.fullmatch(PSEUDONYM_PATTERN).all()
    assert features["subject_pseudonym"].is_unique
    assert "email" not in features.columns and "customer_id" not in features.columns
    for name in ("engagement_cohorts", "region_cohorts"):
        cohorts = published(Tier.AGGREGATE, name, defs)
        assert len(cohorts) > 0
        assert (cohorts["subjects"] >= 50).all()
    _assert_indexed_for_lookups(defs)


def _assert_indexed_for_lookups(defs=None) -> None:
    """Erasure and retention find rows by the register's lookup columns, so every published raw and
    feature table has an index on each (built beside its checks, swapped in with it); a feature
    table's pseudonym index is unique, so the database holds it to a row per subject."""
    register = load_register(register_dir())
    warehouse = warehouse_of(defs)
    for tier, names in ((Tier.RAW, register.sources), (Tier.PSEUDONYMISED, register.feature_sets)):
        for name in set(names) & set(EMAIL_MARKETING_ASSETS):
            indexed = set(indexed_columns(warehouse, table_name(tier, name)))
            assert {(column,) for column in register.lookup_columns(name)} <= indexed, name
    for name in set(register.feature_sets) & set(EMAIL_MARKETING_ASSETS):
        unique = indexed_columns(warehouse, table_name(Tier.PSEUDONYMISED, name), unique=True)
        assert unique == [(register.feature_sets[name].subject_key,)], name


def test_demo_materialises_in_process_on_sqlite(local_env):
    result = run_job()
    assert result.success
    assert materialized(result) == set(EMAIL_MARKETING_ASSETS)
    outcomes = check_outcomes(result)
    assert set(outcomes) == EXPECTED_CHECKS and all(outcomes.values())
    for name in EMAIL_MARKETING_ASSETS:  # what its checks cost, for the UI to plot per asset
        (materialization,) = result.asset_materializations_for_node(name)
        assert isinstance(materialization.metadata[CHECKS_SECONDS], FloatMetadataValue) and materialization.metadata[CHECKS_SECONDS].value > 0
    _assert_published_demo()
    quarantined = warehouse_of().read_table("quarantine__customer_features")
    assert len(quarantined) == 3  # 3000 // 1000 contacts imported without an email
    assert set(quarantined["_quarantine_reason"]) == {"email: missing or empty identifier"}


def test_normalisation_variants_merge_into_one_subject(local_env):
    result = run_job()
    assert result.success
    (materialization,) = result.asset_materializations_for_node("customer_features")
    without_consent = materialization.metadata["subjects_without_consent"].value
    raw = published(Tier.RAW, "customers")
    features = published(Tier.PSEUDONYMISED, "customer_features")
    with_email = raw["email"].fillna("").str.strip() != ""
    distinct = raw.loc[with_email].assign(norm=raw["email"].str.strip().str.casefold()).drop_duplicates(["workspace_id", "norm"])
    assert 0 < without_consent < len(distinct) // 5
    assert len(features) + without_consent == len(distinct) < with_email.sum()


def _write_config(tmp_path) -> str:
    path = tmp_path / "run_config.yaml"
    path.write_text(yaml.safe_dump(small_run_config()))
    return str(path)


def _latest_run_status(instance: DagsterInstance) -> DagsterRunStatus:
    (run,) = instance.get_runs(limit=1)
    return run.status


@pytest.mark.postgres
def test_demo_materialises_in_process_on_postgres(pg_env):
    instance = DagsterInstance.get()
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    defs = build_definitions()
    assert warehouse_of(defs).dialect == "postgresql"
    result = run_job(defs=defs)
    assert result.success
    assert all(check_outcomes(result).values())
    _assert_published_demo(defs)
    engine = sa.create_engine(pg_env.warehouse_url)
    tables = set(sa.inspect(engine).get_table_names())
    assert {table_name(Tier.RAW, "customers"), table_name(Tier.PSEUDONYMISED, "customer_features"), "audit__trail"} <= tables
    engine.dispose()
    vault = sa.create_engine(pg_env.url(pg_env.vault_db))
    with vault.connect() as connection:
        mapped = connection.execute(sa.text("SELECT count(*) FROM pseudonym_mappings")).scalar_one()
    vault.dispose()
    assert mapped == len(published(Tier.PSEUDONYMISED, "customer_features", defs))


@pytest.mark.parametrize("push_down", ["true", "false"], ids=["grouped_in_sql", "grouped_in_pandas"])
def test_census_release_on_adult_csv(local_env, census_csv, monkeypatch, push_down):
    """The same figures whether the warehouse groups (the default) or the step does."""
    monkeypatch.setenv("COMPLIANCE_PUSH_DOWN_AGGREGATIONS", push_down)
    result = run_job("census_release")
    assert result.success
    assert materialized(result) == set(CENSUS_ASSETS)
    published_rows = published(Tier.AGGREGATE, "census_cohorts")
    assert published_rows["subjects"].min() >= 50
    cells = published_rows[published_rows["grouped_by"] == "sex,race,education"]
    assert published_rows.loc[published_rows["grouped_by"] == "(total)", "subjects"].tolist() == [32561]
    (materialization,) = result.asset_materializations_for_node("census_cohorts")
    stats = {label: value.value for label, value in materialization.metadata.items()}
    assert stats["cohorts_released"] == len(cells) and stats["margins_released"] == len(published_rows) - len(cells)
    # 101 cohorts under 50, and 21 more whose share of higher incomes is all, none, or 1 to 9 either way
    assert stats["cohorts_suppressed_primary"] == 122 and stats["cohorts_suppressed_secondary"] > 0
    assert stats["subjects_covered"] + stats["subjects_suppressed"] == 32561 == cells["subjects"].sum() + stats["subjects_suppressed"]


def test_features_summarised_in_the_warehouse_are_those_summarised_in_pandas(local_env, monkeypatch):
    """The 90-day counts are one GROUP BY on the events table by default; the step groups the
    events itself when aggregations are not pushed down. Either way, the same features."""
    assert run_job().success
    in_sql = published(Tier.PSEUDONYMISED, "customer_features").sort_values("subject_pseudonym").reset_index(drop=True)
    monkeypatch.setenv("COMPLIANCE_PUSH_DOWN_AGGREGATIONS", "false")
    defs = build_definitions()
    result = defs.resolve_job_def("demo_pipeline").execute_in_process(
        run_config=small_run_config(), instance=DagsterInstance.get(), asset_selection=[AssetKey("customer_features")]
    )
    assert materialized(result) == {"customer_features"}
    in_pandas = published(Tier.PSEUDONYMISED, "customer_features", defs).sort_values("subject_pseudonym").reset_index(drop=True)
    pdt.assert_frame_equal(in_sql, in_pandas)
    assert in_sql["opens_90d"].sum() > 0 and in_sql["days_since_last_engagement"].notna().any()


def test_demo_cli_shows_progress_and_summary(local_env):
    completed = run_cli("compliance_assets", "run", "demo_pipeline", "-c", _write_config(local_env), env_overrides={"COLUMNS": "160"})
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Published assets and their blocking checks" in completed.stdout
    assert "customer_features" in completed.stdout and "succeeded" in completed.stdout


def test_same_key_same_pseudonyms_across_runs_and_another_key_none(local_env, monkeypatch, tmp_path):
    from compliance_assets.resources.secrets import generate_secret

    assert run_job().success
    first = set(published(Tier.PSEUDONYMISED, "customer_features")["subject_pseudonym"])
    assert run_job().success
    assert set(published(Tier.PSEUDONYMISED, "customer_features")["subject_pseudonym"]) == first

    # A changed master secret is refused until the rotation job has moved every pseudonym.
    monkeypatch.setenv("COMPLIANCE_MASTER_KEY", generate_secret())
    refused = run_job()
    assert not refused.success
    (failure,) = [e for e in refused.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "key rotation job" in failure.event_specific_data.error.to_string()

    # Another deployment with another key: unlinkable pseudonyms for the same people.
    monkeypatch.setenv("COMPLIANCE_DATA_DIR", str(tmp_path / "other_deployment"))
    assert run_job().success
    other = set(published(Tier.PSEUDONYMISED, "customer_features")["subject_pseudonym"])
    assert len(other) == len(first) and not other & first


@pytest.mark.postgres
def test_a_plain_postgresql_url_runs_the_demo_and_retention(pg_env, monkeypatch):
    """`postgresql://` is what a team writes first; SQLAlchemy gives it psycopg 3, whose COPY and
    server-side cursors the warehouse and the vault must drive as they drive psycopg2's."""
    plain = {name: sa.engine.make_url(pg_env.url(database)).set(drivername="postgresql").render_as_string(hide_password=False) for name, database in (("warehouse", pg_env.warehouse_db), ("vault", pg_env.vault_db))}
    assert all(url.startswith("postgresql://") for url in plain.values())
    monkeypatch.setenv("COMPLIANCE_WAREHOUSE_URL", plain["warehouse"])
    monkeypatch.setenv("COMPLIANCE_VAULT_URL", plain["vault"])
    defs = build_definitions()
    assert warehouse_of(defs).get_engine().dialect.driver == "psycopg"
    result = run_job(defs=defs)
    assert result.success
    assert all(check_outcomes(result).values())
    _assert_published_demo(defs)
    events = published(Tier.RAW, "engagement_events", defs)
    (materialization,) = result.asset_materializations_for_node("engagement_events")
    assert len(events) == materialization.metadata["dagster/row_count"].value
    retention = defs.resolve_job_def("retention").execute_in_process(
        instance=DagsterInstance.get(), run_config={"ops": {"enforce_retention": {"config": {"batch_rows": 500}}}}
    )
    assert retention.success
