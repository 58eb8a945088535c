"""Daily partitions of the event sources: a day's run replaces only that day's rows (again and
again, idempotently), a range of days is one run from the CLI, rows a source hands for other days
are quarantined rather than lost, and the nightly schedule asks for yesterday."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml
from dagster import AssetKey, DagsterInstance, build_schedule_context, materialize

from compliance_demo.definitions import EMAIL_MARKETING_ASSETS, build_definitions
from compliance_demo import synthetic
from compliance_demo.sources import DemoSourceResource
from compliance_assets.tiers import PUBLISHED_ROWS, Tier, table_name
from compliance_assets.factories.partitions import EVENT_DAYS
from compliance_assets.factories.raw import raw_asset
from compliance_assets.register import load_register
from resources.environment import register_dir
from tests.conftest import run_cli, small_run_config
from tests.test_demo_pipeline import EXPECTED_CHECKS
from tests.helpers import check_outcomes, published, run_job, warehouse_of

PARTITIONED = ("engagement_events", "search_logs")


def _day(days_ago: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=days_ago)).isoformat()


def _days_held(name: str, clock: str) -> set[str]:
    return set(published(Tier.RAW, name)[clock].dt.strftime("%Y-%m-%d"))


def test_a_day_replaces_only_its_own_rows_and_again_changes_nothing(local_env):
    defs = build_definitions()
    first, second = _day(2), _day(1)
    assert run_job(defs=defs, partition_key=first).success
    assert _days_held("engagement_events", "occurred_at") == {first}
    on_first = len(published(Tier.RAW, "engagement_events"))

    result = run_job(defs=defs, partition_key=second)
    assert result.success and all(check_outcomes(result).values())
    events = published(Tier.RAW, "engagement_events")
    assert _days_held("engagement_events", "occurred_at") == {first, second}
    (materialization,) = result.asset_materializations_for_node("engagement_events")
    assert materialization.partition == second
    assert materialization.metadata[PUBLISHED_ROWS].value == len(events)
    assert materialization.metadata["dagster/row_count"].value == len(events) - on_first

    assert run_job(defs=defs, partition_key=first).success
    assert published(Tier.RAW, "engagement_events").sort_values("event_id").reset_index(drop=True).equals(events.sort_values("event_id").reset_index(drop=True))
    for name in PARTITIONED:
        assert DagsterInstance.get().get_materialized_partitions(AssetKey(name)) == {first, second}


def test_rows_a_source_hands_for_other_days_are_quarantined_not_lost(local_env):
    """A source that ignores the run's days: its other days' rows are kept in quarantine with the reason."""
    register = load_register(register_dir())
    day = _day(3)

    def everything(context) -> pd.DataFrame:
        source = context.resources.demo_source
        return synthetic.search_logs(source.size(), source.reference_time(), source.people())

    defs = build_definitions()
    logs = raw_asset(register, "search_logs", everything, required_resource_keys={"demo_source"})
    resources = {k: defs.resources[k] for k in ("warehouse", "audit_trail", "pseudonym_keys")}
    demo = DemoSourceResource(**small_run_config()["resources"]["demo_source"]["config"])
    result = materialize([logs], partition_key=day, resources={**resources, "demo_source": demo}, instance=DagsterInstance.get())
    assert result.success
    handed = synthetic.search_logs(demo.size(), demo.reference_time(), demo.people())
    on_the_day = (handed["searched_at"].dt.strftime("%Y-%m-%d") == day).sum()
    assert _days_held("search_logs", "searched_at") == {day} and len(published(Tier.RAW, "search_logs")) == on_the_day
    quarantined = warehouse_of(defs).read_table("quarantine__search_logs")
    assert len(quarantined) == len(handed) - on_the_day
    assert set(quarantined["_quarantine_reason"]) == {f"searched_at: not in the days this run loads ({day} to {day})"}
    assert set(quarantined["_loaded_days"]) == {f"{day} to {day}"}


def test_the_nightly_schedule_asks_for_yesterday():
    defs = build_definitions()
    schedule = defs.resolve_schedule_def("daily_demo_pipeline")
    at = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    with DagsterInstance.ephemeral() as instance:
        context = build_schedule_context(instance=instance, scheduled_execution_time=at)
        (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-11-22"
    assert schedule.cron_schedule == "0 1 * * *"
    assert EVENT_DAYS.get_partition_key_for_timestamp(at.timestamp()) == "2026-11-23"


def test_a_backfill_of_a_range_of_days_is_one_run_from_the_cli(local_env, tmp_path):
    config = tmp_path / "run_config.yaml"
    config.write_text(yaml.safe_dump(small_run_config()))
    first, last = _day(4), _day(1)
    completed = run_cli(
        "dagster", "asset", "materialize", "-m", "compliance_demo.definitions", "--select", ",".join(EMAIL_MARKETING_ASSETS),
        "--partition-range", f"{first}...{last}", "-c", str(config),
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    instance = DagsterInstance.get()
    (run,) = instance.get_runs()
    assert run.tags["dagster/asset_partition_range_start"] == first
    wanted = {(date.fromisoformat(first) + timedelta(days=n)).isoformat() for n in range(4)}
    for name, clock in (("engagement_events", "occurred_at"), ("search_logs", "searched_at")):
        assert instance.get_materialized_partitions(AssetKey(name)) == wanted
        assert _days_held(name, clock) <= wanted
    assert len(published(Tier.AGGREGATE, "engagement_cohorts")) > 0


@pytest.mark.postgres
def test_days_through_the_cli_on_postgres_keep_the_other_days(pg_env, tmp_path):
    """The Dagster CLI against the PostgreSQL instance and warehouse, a day at a time, as the schedule runs it."""
    config = tmp_path / "run_config.yaml"
    config.write_text(yaml.safe_dump(small_run_config()))
    events = table_name(Tier.RAW, "engagement_events")

    def materialize_day(day: str) -> None:
        completed = run_cli(
            "dagster", "asset", "materialize", "-m", "compliance_demo.definitions",
            "--select", ",".join(EMAIL_MARKETING_ASSETS), "--partition", day, "-c", str(config),
        )
        assert completed.returncode == 0, completed.stderr[-3000:]

    def per_day() -> dict[str, int]:
        engine = sa.create_engine(pg_env.warehouse_url)
        with engine.connect() as connection:
            rows = connection.execute(sa.text(f'SELECT occurred_at::date::text, count(*) FROM "{events}" GROUP BY 1')).all()
        engine.dispose()
        return dict(rows)

    materialize_day(_day(2))
    materialize_day(_day(1))
    both = per_day()
    assert set(both) == {_day(2), _day(1)}
    materialize_day(_day(2))
    assert per_day() == both
    engine = sa.create_engine(pg_env.url(pg_env.instance_db))
    with engine.connect() as connection:
        statuses = connection.execute(sa.text("SELECT status FROM runs")).scalars().all()
        # Dagster also plans each check of an unpartitioned asset for the run's day and leaves that row PLANNED
        evaluated = "FROM asset_check_executions WHERE execution_status != 'PLANNED'"
        checks_per_run = connection.execute(sa.text(f"SELECT run_id, count(DISTINCT (asset_key, check_name)) {evaluated} GROUP BY run_id")).all()
        outcomes = set(connection.execute(sa.text(f"SELECT DISTINCT execution_status {evaluated}")).scalars())
    engine.dispose()
    assert statuses == ["SUCCESS"] * 3
    assert [n for _, n in checks_per_run] == [len(EXPECTED_CHECKS)] * 3 and outcomes == {"SUCCEEDED"}
    assert (published(Tier.AGGREGATE, "engagement_cohorts")["subjects"] >= 50).all()
