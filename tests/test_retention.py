"""Storage limitation on rows: the engine judges each value against its category's period, the
raw tier drops or blocks rows past retention as the register says, and the blocking check stops a
table holding them from being published."""

from __future__ import annotations

import shutil
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance_demo.definitions import build_definitions
from compliance_assets.tiers import Tier
from compliance_assets.privacy.retention import past_retention
from compliance_assets.register import load_register
from tests.conftest import REPO
from tests.helpers import check_evaluation, check_outcomes, kill_while_locked, materialized, published, run_job, warehouse_of

NOW = pd.Timestamp("2026-11-22 12:00:00")


def _sorted(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame.sort_values(key).reset_index(drop=True)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(0, 800)),  # age in days of the row's clock
            st.booleans(),  # contact column holds a value
            st.booleans(),  # behaviour column holds a value
        ),
        max_size=60,
    ),
    contact_days=st.integers(1, 400),
    behaviour_days=st.integers(1, 400),
)
def test_a_row_is_past_retention_exactly_when_one_of_its_values_is(rows, contact_days, behaviour_days):
    frame = pd.DataFrame(
        {
            "at": [NOW - timedelta(days=a) if a is not None else None for a, _, _ in rows],
            "email_hash": ["x" if c else None for _, c, _ in rows],
            "event_type": ["open" if b else None for _, _, b in rows],
        },
        dtype="object",
    )
    frame["at"] = pd.to_datetime(frame["at"])
    periods = {"email_hash": timedelta(days=contact_days), "event_type": timedelta(days=behaviour_days)}
    findings = past_retention(frame, "at", periods, NOW)
    for i, (age, contact, behaviour) in enumerate(rows):
        if age is None:
            assert findings.unclocked.iloc[i] and not findings.expired.iloc[i]
            continue
        expected = (contact and age > contact_days) or (behaviour and age > behaviour_days)
        assert findings.expired.iloc[i] == expected
    kept = [a for a, c, b in rows if a is not None and not ((c and a > contact_days) or (b and a > behaviour_days))]
    assert findings.oldest_kept_days == (float(max(kept)) if kept else None)


def assert_no_event_older_than_a_year_at(started: pd.Timestamp, events: pd.DataFrame) -> None:
    """Judged at the run's start, not after it: an event at the cutoff then is a few seconds older now."""
    assert (started - events["occurred_at"]).max() <= pd.Timedelta(days=365)


def test_the_demo_keeps_twelve_months_of_events_and_says_how_many_it_dropped(local_env):
    started = pd.Timestamp.now(tz="UTC").tz_localize(None)
    result = run_job()
    assert result.success
    (materialization,) = result.asset_materializations_for_node("engagement_events")
    dropped = materialization.metadata["rows_dropped_past_retention"].value
    assert dropped > 0
    events = published(Tier.RAW, "engagement_events")
    assert_no_event_older_than_a_year_at(started, events)
    check = check_evaluation(result, "engagement_events", "retention")
    assert check.passed and check.metadata["rows_past_retention"].value == 0
    assert check.metadata["oldest_row_days"].value <= 365


def test_rows_past_retention_block_the_source_when_the_register_does_not_say_drop(local_env, tmp_path):
    copy = tmp_path / "register"
    shutil.copytree(REPO / "register", copy)
    sources = copy / "sources.yaml"
    sources.write_text(sources.read_text().replace("    past_retention_on_arrival: drop", "    past_retention_on_arrival: block"))
    defs = build_definitions(load_register(copy))
    result = run_job(defs=defs)

    assert not result.success
    outcomes = check_outcomes(result)
    assert outcomes[("engagement_events", "retention")] is False
    assert outcomes[("customers", "retention")] is True
    assert "engagement_events" not in materialized(result)
    assert "customer_features" not in materialized(result)
    assert not warehouse_of(defs).has_table("raw__engagement_events")
    check = check_evaluation(result, "engagement_events", "retention")
    rendered = " ".join(str(v.value) for v in check.metadata.values())
    assert check.metadata["rows_past_retention"].value > 0
    assert "`occurred_at` | 365" in rendered and "`ip_address` | 365" in rendered
    assert "`customer_id` | 365" in rendered
    assert "cus_" not in rendered


def test_a_blocked_raw_copy_and_the_quarantines_are_kept_under_retention(local_env, tmp_path):
    """A blocked raw publication leaves its staging copy for inspection, and a quarantine keeps
    rows for someone to fix: neither may outlive the raw tier's retention. The retention job
    deletes the copy's rows past their period, and quarantined rows once their source's
    shortest period has passed since they were set aside."""
    copy = tmp_path / "register"
    shutil.copytree(REPO / "register", copy)
    sources = copy / "sources.yaml"
    sources.write_text(sources.read_text().replace("    past_retention_on_arrival: drop", "    past_retention_on_arrival: block"))
    defs = build_definitions(load_register(copy))
    assert not run_job(defs=defs).success
    warehouse = warehouse_of(defs)
    staged = warehouse.read_table("staging__raw__engagement_events")
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    expired = int((staged["occurred_at"] < now - timedelta(days=365)).sum())
    assert expired > 0
    reason = {"_quarantine_reason": ["search_id: not a valid string"]}
    warehouse.quarantine("search_logs", pd.DataFrame({"search_id": ["s-1"], **reason}), now=now - timedelta(days=40))
    warehouse.quarantine("customer_features", pd.DataFrame({"email": ["   "], **reason}), now=now - timedelta(days=1))

    result = defs.resolve_job_def("retention").execute_in_process(instance=DagsterInstance.get())
    assert result.success
    (output,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = {k: v.value for k, v in output.event_specific_data.metadata.items()}
    assert metadata["engagement_events/staged_rows_deleted"] == expired
    assert not (warehouse.read_table("staging__raw__engagement_events")["occurred_at"] < now - timedelta(days=365)).any()
    assert metadata["search_logs/quarantined_rows_deleted"] == 1 and len(warehouse.read_table("quarantine__search_logs")) == 0
    assert metadata["customer_features/quarantined_rows_deleted"] == 0 and len(warehouse.read_table("quarantine__customer_features")) == 1


def test_register_retention_clock_must_be_a_time_column(tmp_path):
    copy = tmp_path / "register"
    shutil.copytree(REPO / "register", copy)
    sources = copy / "sources.yaml"
    sources.write_text(sources.read_text().replace("retention_from: imported_at", "retention_from: email"))
    try:
        load_register(copy)
    except Exception as exc:  # noqa: BLE001 - the message is what matters
        assert "sources.customers.retention_from" in str(exc) and "'email' is not a date or datetime column" in str(exc)
    else:
        raise AssertionError("a text column was accepted as the retention clock")


def test_most_specific_retention_entry_wins():
    register = load_register(REPO / "register")
    periods = register.retention_periods("search_logs")
    assert set(np.unique([p.days for p in periods.values()])) == {30}
    events = register.retention_periods("engagement_events")
    assert events["ip_address"] == timedelta(days=365) and events["occurred_at"] == timedelta(days=365)
    assert register.retention_periods("customers")["email"] == timedelta(days=90)
    assert events["customer_id"] == timedelta(days=365)  # the source's own entry beats the activity's 90 days


def test_the_retention_job_deletes_only_rows_past_retention_and_prunes_old_runs(local_env):
    from dagster import DagsterInstance, Definitions, job, op

    @op
    def count_something():
        return 1

    @job(name="other_teams_job")
    def other_teams_job():
        count_something()

    # Another code location's run on the same (shared) instance: never the retention job's to delete.
    theirs = Definitions(jobs=[other_teams_job]).resolve_job_def("other_teams_job").execute_in_process(instance=DagsterInstance.get())
    defs = build_definitions()
    demo = run_job(defs=defs)
    assert demo.success
    warehouse = warehouse_of(defs)
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    events_table, searches_table = "raw__engagement_events", "raw__search_logs"
    events, searches = warehouse.read_table(events_table), warehouse.read_table(searches_table)

    expired_events = events.head(50).assign(event_id=lambda f: f["event_id"] + "-old", occurred_at=now - pd.Timedelta(days=400))
    kept_events = events.head(30).assign(event_id=lambda f: f["event_id"] + "-aging", occurred_at=now - pd.Timedelta(days=300))
    expired_searches = searches.head(20).assign(search_id=lambda f: f["search_id"] + "-old", searched_at=now - pd.Timedelta(days=31))
    with warehouse.begin() as connection:
        pd.concat([expired_events, kept_events]).to_sql(events_table, connection, if_exists="append", index=False)
        expired_searches.to_sql(searches_table, connection, if_exists="append", index=False)

    result = defs.resolve_job_def("retention").execute_in_process(
        run_config={"ops": {"enforce_retention": {"config": {"batch_rows": 7, "dagster_run_retention_days": 0}}}},
        instance=DagsterInstance.get(),
    )
    assert result.success
    (output,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = {k: v.value for k, v in output.event_specific_data.metadata.items()}
    assert metadata["engagement_events/rows_deleted"] == 50
    assert metadata["search_logs/rows_deleted"] == 20
    assert metadata["customers/rows_deleted"] == 0
    assert 299 < metadata["engagement_events/oldest_row_days"] <= 365

    pd.testing.assert_frame_equal(
        _sorted(warehouse.read_table(events_table), "event_id"),
        _sorted(pd.concat([events, kept_events]), "event_id"), check_dtype=False,
    )
    pd.testing.assert_frame_equal(_sorted(warehouse.read_table(searches_table), "search_id"), _sorted(searches, "search_id"), check_dtype=False)
    assert DagsterInstance.get().get_run_by_id(demo.run_id) is None
    assert metadata["dagster_runs_deleted"] >= 1
    assert DagsterInstance.get().get_run_by_id(theirs.run_id) is not None


def test_a_location_prunes_no_runs_unless_its_host_opts_in(local_env, tmp_path):
    from dagster import DagsterInstance

    from compliance_assets import Folders, build_location, load_register, local_resources

    register = load_register(REPO / "register")
    defs = build_location(register, [], resources=local_resources(tmp_path), folders=Folders.under(tmp_path))
    earlier = defs.resolve_job_def("retention").execute_in_process(instance=DagsterInstance.get())
    result = defs.resolve_job_def("retention").execute_in_process(
        run_config={"ops": {"enforce_retention": {"config": {"dagster_run_retention_days": 0}}}}, instance=DagsterInstance.get()
    )
    assert result.success
    (output,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    assert "dagster_runs_deleted" not in output.event_specific_data.metadata
    assert DagsterInstance.get().get_run_by_id(earlier.run_id) is not None


def test_retention_concurrent_with_a_materialisation_on_postgres(pg_env, tmp_path):
    """The demo materialises in another process while retention passes run here: both finish,
    nothing deadlocks, and the events table holds exactly what the materialisation published.
    The passes judge as of the moment before the materialisation started: its events reach back to
    the 365-day edge of its own clock, so a pass judging by the wall clock after it published would
    rightly delete any event that crossed the edge meanwhile (the small demo: one every ~40 minutes)."""
    import subprocess
    import sys

    import yaml
    from dagster import DagsterInstance

    from tests.conftest import process_group, small_run_config

    defs = build_definitions()
    assert run_job(defs=defs).success
    config = tmp_path / "run_config.yaml"
    config.write_text(yaml.safe_dump(small_run_config()))
    started = pd.Timestamp.now(tz="UTC").tz_localize(None)
    command = [sys.executable, "-m", "compliance_assets", "run", "demo_pipeline", "-c", str(config)]
    errors = tmp_path / "materialising.err"  # a file, not a pipe: Dagster's log helpers would hold a pipe open
    with errors.open("w") as err, process_group(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err, text=True) as materialising:
        passes = []
        while materialising.poll() is None or not passes:
            passes.append(
                defs.resolve_job_def("retention").execute_in_process(
                    run_config={"ops": {"enforce_retention": {"config": {"batch_rows": 500, "as_of": started.isoformat()}}}}, instance=DagsterInstance.get(), raise_on_error=False,
                )
            )
        returncode = materialising.wait(timeout=600)
    assert returncode == 0, errors.read_text()[-2000:]
    assert all(p.success for p in passes)
    (latest,) = DagsterInstance.get().get_runs(filters=RunsFilter(job_name="demo_pipeline"), limit=1)
    assert latest.status == DagsterRunStatus.SUCCESS
    events = published(Tier.RAW, "engagement_events")
    assert_no_event_older_than_a_year_at(started, events)
    materialization = DagsterInstance.get().get_latest_materialization_event(AssetKey("engagement_events"))
    assert len(events) == materialization.asset_materialization.metadata["dagster/row_count"].value


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_staged_table_published_during_a_pass_ends_its_purge(database, tmp_path, request):
    """A retention pass deletes from a staged table in batches while its run publishes it, renaming
    it into place between two batches: the pass counts what it deleted and goes on, where it used
    to fail on the missing table (seen on PostgreSQL beside a concurrent materialisation)."""
    import sqlalchemy as sa

    from compliance_assets.storage.warehouse import Warehouse
    from tests.conftest import postgres_url

    url = f"sqlite:///{tmp_path / 'warehouse.db'}" if database == "sqlite" else postgres_url(request.getfixturevalue("pg_databases").warehouse_db)
    warehouse = Warehouse(url)
    table = "staging__raw__engagement_events"
    with warehouse.begin() as connection:
        pd.DataFrame({"occurred_at": [NOW - pd.Timedelta(days=400 + day) for day in range(10)], "email": ["x"] * 10}).to_sql(table, connection, index=False)
    publisher = sa.create_engine(url)
    deletes = []

    def publish_on_the_second_batch(connection, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("DELETE"):
            deletes.append(statement)
            if len(deletes) == 2:
                with publisher.begin() as other:
                    other.execute(sa.text(f"ALTER TABLE {table} RENAME TO raw__engagement_events"))

    sa.event.listen(warehouse.get_engine(), "before_cursor_execute", publish_on_the_second_batch)
    try:
        gone = warehouse.purge_expired(table, "occurred_at", [(NOW.to_pydatetime(), ["email"])], batch_rows=3)
    finally:
        sa.event.remove(warehouse.get_engine(), "before_cursor_execute", publish_on_the_second_batch)
        publisher.dispose()
        warehouse.get_engine().dispose()
    assert gone == 3
    assert len(deletes) == 2 and not warehouse.has_table(table) and warehouse.row_count("raw__engagement_events") == 7


def test_retention_killed_half_way_completes_on_the_next_pass(pg_env):
    from dagster import DagsterInstance

    defs = build_definitions()
    assert run_job(defs=defs).success
    warehouse = warehouse_of(defs)
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    events, searches = warehouse.read_table("raw__engagement_events"), warehouse.read_table("raw__search_logs")
    with warehouse.begin() as connection:
        events.head(50).assign(event_id=lambda f: f["event_id"] + "-old", occurred_at=now - pd.Timedelta(days=400)).to_sql(
            "raw__engagement_events", connection, if_exists="append", index=False
        )
        searches.head(20).assign(search_id=lambda f: f["search_id"] + "-old", searched_at=now - pd.Timedelta(days=31)).to_sql(
            "raw__search_logs", connection, if_exists="append", index=False
        )

    def expired(table: str, key: str) -> int:
        frame = warehouse.read_table(table, [key])
        return int(frame[key].str.endswith("-old").sum())

    kill_while_locked(
        warehouse.get_engine(), "raw__search_logs", ["compliance_assets", "run", "retention"],
        lambda: expired("raw__engagement_events", "event_id") == 0,
    )
    assert expired("raw__search_logs", "search_id") == 20  # killed before it got there

    again = defs.resolve_job_def("retention").execute_in_process(instance=DagsterInstance.get())
    assert again.success
    assert expired("raw__search_logs", "search_id") == 0
    pd.testing.assert_frame_equal(_sorted(warehouse.read_table("raw__engagement_events"), "event_id"), _sorted(events, "event_id"), check_dtype=False)
    pd.testing.assert_frame_equal(_sorted(warehouse.read_table("raw__search_logs"), "search_id"), _sorted(searches, "search_id"), check_dtype=False)


def test_a_feature_table_not_republished_within_its_period_is_emptied(local_env):
    from dagster import DagsterInstance

    from compliance_assets.jobs.retention import feature_set_period

    defs = build_definitions()
    assert run_job(defs=defs).success
    register = load_register(REPO / "register")
    period = feature_set_period(register, "customer_features")
    assert period == timedelta(days=90)  # age_band is user.demographic: 90 days
    features = len(published(Tier.PSEUDONYMISED, "customer_features"))
    soon = (pd.Timestamp.now(tz="UTC").tz_localize(None) + pd.Timedelta(days=30)).isoformat()
    late = (pd.Timestamp.now(tz="UTC").tz_localize(None) + period + pd.Timedelta(days=1)).isoformat()
    for as_of, expected in ((soon, 0), (late, features)):
        result = defs.resolve_job_def("retention").execute_in_process(
            run_config={"ops": {"enforce_retention": {"config": {"as_of": as_of, "dagster_run_retention_days": 3650}}}},
            instance=DagsterInstance.get(),
        )
        (output,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
        assert output.event_specific_data.metadata["customer_features/rows_deleted"].value == expected
    assert len(published(Tier.PSEUDONYMISED, "customer_features")) == 0
