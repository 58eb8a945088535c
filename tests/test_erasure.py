"""Erasure on the real PostgreSQL: after a request is served, no table holds a row derived from the
subject (found by scanning every table for its identifiers and every pseudonym of it), every other
row is unchanged, the consent proof the register keeps is kept with its reason, and the sensor
both launches the request and refreshes the cohorts."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from dagster import DagsterInstance, build_sensor_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance_demo.definitions import build_definitions
from compliance_assets.tiers import Tier, table_name
from compliance_assets.privacy.normalise import normalise_email
from compliance_assets.resources.requests import PrivacyRequests
from tests.conftest import run_cli, small_run_config
from tests.helpers import attributes_read_off, kill_while_locked, published, resource, run_job

COHORT_DIMS = {"engagement_cohorts": ["workspace_id", "age_band", "engagement_segment"], "region_cohorts": ["workspace_id", "region"]}

DERIVED_TABLES_EXEMPT = {"audit__trail", table_name(Tier.RAW, "consent_records")}  # by pseudonym / Art. 17(3)


def _tables(engine: sa.Engine) -> dict[str, pd.DataFrame]:
    with engine.connect() as connection:
        return {
            name: pd.read_sql(sa.text(f'SELECT * FROM "{name}"'), connection)
            for name in sa.inspect(engine).get_table_names()
        }


def _cells(frame: pd.DataFrame) -> set[str]:
    text = frame.select_dtypes(include=["object", "string"]).astype("string")
    return {v for column in text for v in text[column].dropna().tolist()}


def _subject(warehouse, index: int) -> tuple[str, str, list[str]]:
    customers = warehouse.read_table(table_name(Tier.RAW, "customers"))
    customers = customers.assign(normalised=normalise_email(customers["email"])).dropna(subset=["normalised"])
    keys = customers[["normalised", "workspace_id"]].drop_duplicates().reset_index(drop=True)
    email, scope = keys.iloc[index % len(keys)]
    ids = customers.loc[(customers["normalised"] == email) & (customers["workspace_id"] == scope), "customer_id"].tolist()
    return email, scope, ids


def _serve(defs, request_id: str):
    job = defs.resolve_job_def("privacy_request")
    return job.execute_in_process(
        run_config={"ops": {"handle_privacy_requests": {"config": {"request_ids": [request_id]}}}},
        instance=DagsterInstance.get(),
        raise_on_error=False,
    )


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, 10_000), shout=st.booleans())
def test_erasure_leaves_nothing_of_the_subject_and_everything_else(pg_env, index, shout):
    defs = build_definitions()
    warehouse, vault = resource(defs, "warehouse"), resource(defs, "pseudonym_vault")
    if not warehouse.has_table(table_name(Tier.RAW, "customers")):
        assert run_job(defs=defs).success
    email, scope, ids = _subject(warehouse, index)
    before_warehouse = _tables(warehouse.get_engine())

    spelled = f"  {email.upper()} " if shout else email  # the request may spell it differently
    request_id = PrivacyRequests(vault).submit("erasure", "customers", spelled, scope)
    result = _serve(defs, request_id)
    assert result.success
    request = PrivacyRequests(vault).get(request_id)
    assert request.status == "erased"
    assert request.outcome["kept"] == [{"source": "consent_records", "reason": "Art. 17(3)(b) and (e): proof of consent is kept 5 years to meet Art. 7(1)"}]
    pseudonyms = {p for versions in request.plan["pseudonyms"].values() for p in versions.values()}
    assert pseudonyms

    after_warehouse, after_vault = _tables(warehouse.get_engine()), _tables(vault.get_engine())
    traces = {email, *request.plan["spellings"], *ids, *pseudonyms}
    _assert_gone_and_rest_intact(before_warehouse, after_warehouse, traces)
    for name, frame in after_vault.items():
        if name != "privacy_requests":
            assert not (_cells(frame) & traces), f"vault table {name} still holds the erased subject"

    audit = after_warehouse["audit__trail"]
    erasure = audit[audit["event_type"] == "erasure"].iloc[-1]
    assert erasure["subject"] in pseudonyms
    assert email not in erasure["details"] and not any(i in erasure["details"] for i in ids)

    again = _serve(defs, request_id)  # idempotent: a second run finds nothing left to delete
    assert again.success
    repeated = PrivacyRequests(vault).get(request_id).outcome
    assert sum(repeated["deleted"].values()) == 0 and sum(repeated["anonymised"].values()) == 0


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in one order, every missing value as None, so a NULL read back compares equal."""
    ordered = frame.sort_values(list(frame.columns)).reset_index(drop=True).astype(object)
    return ordered.where(ordered.notna(), None)


ANONYMISED = {"raw__engagement_events": ["customer_id", "ip_address", "user_agent"]}  # register: erasure anonymise


def _assert_gone_and_rest_intact(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame], traces: set[str]) -> None:
    """No trace of the subject outside the exempt tables; every other row exactly as before, and
    the subject's rows in anonymised tables still there with their identifying columns empty."""
    for name, frame in after.items():
        if name not in DERIVED_TABLES_EXEMPT:
            assert not (_cells(frame) & traces), f"{name} still holds the erased subject"
    for name, frame in before.items():
        if name.startswith("aggregate__") or name == "audit__trail":
            continue
        text = frame.select_dtypes(include=["object", "string"]).astype("string")
        derived = text.isin(list(traces)).any(axis=1) if name not in DERIVED_TABLES_EXEMPT else pd.Series(False, index=frame.index)
        if name in ANONYMISED:
            frame = frame.astype({c: "object" for c in ANONYMISED[name]})
            frame.loc[derived, ANONYMISED[name]] = None
            derived[:] = False
        expected = _canonical(frame.loc[~derived])
        actual = _canonical(after[name][list(frame.columns)])
        pd.testing.assert_frame_equal(actual, expected, check_dtype=False, obj=name)


def test_erasure_killed_half_way_completes_when_served_again(pg_env):
    """The events table is locked, so the erasure stops after the pseudonymised tier and the vault;
    kill -9 it there, release the lock, serve the request again: the subject is gone everywhere."""
    defs = build_definitions()
    assert run_job(defs=defs).success
    warehouse, vault = resource(defs, "warehouse"), resource(defs, "pseudonym_vault")
    email, scope, ids = _subject(warehouse, 42)
    before = _tables(warehouse.get_engine())
    request_id = PrivacyRequests(vault).submit("erasure", "customers", email, scope)
    events = table_name(Tier.RAW, "engagement_events")
    features = table_name(Tier.PSEUDONYMISED, "customer_features")
    features_before = warehouse.count_where(features, "workspace_id", scope)

    kill_while_locked(
        warehouse.get_engine(), events, ["compliance_assets", "request", "serve", request_id],
        lambda: warehouse.count_where(features, "workspace_id", scope) != features_before,
    )
    half = PrivacyRequests(vault).get(request_id)
    assert half.status == "running" and half.plan is not None
    assert warehouse.count_where(events, "customer_id", ids[0]) > 0 or not any(before[events]["customer_id"].isin(ids))

    served = run_cli("compliance_assets", "request", "serve", request_id)
    assert served.returncode == 0, served.stderr[-2000:]
    done = PrivacyRequests(vault).get(request_id)
    assert done.status == "erased"
    pseudonyms = {p for versions in done.plan["pseudonyms"].values() for p in versions.values()}
    _assert_gone_and_rest_intact(before, _tables(warehouse.get_engine()), {email, *done.plan["spellings"], *ids, *pseudonyms})


def test_the_sensor_launches_requests_then_refreshes_the_cohorts(local_env):
    defs = build_definitions()
    assert run_job(defs=defs).success
    warehouse, vault = resource(defs, "warehouse"), resource(defs, "pseudonym_vault")
    email, scope, _ = _subject(warehouse, 3)
    request_id = PrivacyRequests(vault).submit("erasure", "customers", email, scope)
    sensor = defs.resolve_sensor_def("privacy_requests")
    instance = DagsterInstance.get()

    with build_sensor_context(instance=instance, resources={"pseudonym_vault": vault}, definitions=defs) as context:
        (launch,) = list(sensor(context))
    assert launch.run_key == request_id and launch.job_name == "privacy_request"
    assert email not in str(launch.run_config) and email not in str(launch.tags)

    before = {name: published(Tier.AGGREGATE, name, defs) for name in COHORT_DIMS}
    assert _serve(defs, request_id).success
    with build_sensor_context(instance=instance, resources={"pseudonym_vault": vault}, definitions=defs) as context:
        (refresh,) = list(sensor(context))
    assert refresh.run_key == f"{request_id}:cohorts" and refresh.job_name == "cohort_refresh"
    assert {k.to_user_string() for k in refresh.asset_selection} == {"engagement_cohorts", "region_cohorts"}
    assert PrivacyRequests(vault).get(request_id).status == "done"
    with build_sensor_context(instance=instance, resources={"pseudonym_vault": vault}, definitions=defs) as context:
        assert list(sensor(context)) == []

    # The refresh the sensor asks for, then the attacker's subtraction: nothing of the erased subject shows.
    refreshed = defs.resolve_job_def("cohort_refresh").execute_in_process(
        run_config={k: v for k, v in small_run_config().items() if k != "resources"},
        instance=instance, asset_selection=refresh.asset_selection, raise_on_error=False,
    )
    assert refreshed.success
    for name, dims in COHORT_DIMS.items():
        assert attributes_read_off(before[name], published(Tier.AGGREGATE, name, defs), dims, change=-1) == {}


def test_a_backlog_is_served_in_one_run_and_one_bad_request_does_not_stop_the_others(local_env):
    defs = build_definitions()
    assert run_job(defs=defs).success
    warehouse, vault = resource(defs, "warehouse"), resource(defs, "pseudonym_vault")
    store = PrivacyRequests(vault)
    subjects = [_subject(warehouse, i) for i in (5, 6)]
    filed = [store.submit("erasure", "customers", email, scope) for email, scope, _ in subjects[:1]]
    filed.append(store.submit("erasure", "no_such_source", subjects[0][0], subjects[0][1]))
    filed += [store.submit("erasure", "customers", email, scope) for email, scope, _ in subjects[1:]]
    sensor = defs.resolve_sensor_def("privacy_requests")
    instance = DagsterInstance.get()

    ticks = []
    for _ in range(2):  # the second tick asks for the same run again: Dagster launches a run key once
        with build_sensor_context(instance=instance, resources={"pseudonym_vault": vault}, definitions=defs) as context:
            ticks.append(list(sensor(context)))
    (launch,), (again,) = ticks
    assert launch.run_key == again.run_key == f"{filed[0]}..{filed[-1]}"
    assert launch.run_config["ops"]["handle_privacy_requests"]["config"]["request_ids"] == filed
    assert launch.tags == {"privacy/requests": "3"}

    run = defs.resolve_job_def("privacy_request").execute_in_process(run_config=launch.run_config, instance=instance, raise_on_error=False)
    assert not run.success
    assert filed[1] in str(run.failure_data_for_node("handle_privacy_requests").error)
    bad = store.get(filed[1])
    assert bad.status == "failed" and bad.outcome["error"] == "LookupError: no source 'no_such_source' in the register"
    assert [store.get(i).status for i in (filed[0], filed[2])] == ["erased", "erased"]
    for email, scope, ids in subjects:
        assert warehouse.count_where(table_name(Tier.RAW, "engagement_events"), "customer_id", ids[0]) == 0

    with build_sensor_context(instance=instance, resources={"pseudonym_vault": vault}, definitions=defs) as context:
        (refresh,) = list(sensor(context))
    assert refresh.run_key == f"{filed[0]}..{filed[2]}:cohorts" and refresh.tags == {"privacy/requests": "2"}
    assert {store.get(i).status for i in (filed[0], filed[2])} == {"done"}


def test_the_same_subject_twice_in_one_run_is_erased_once_and_both_requests_close(local_env):
    """A run reads each scope once for all its requests: the second request finds rows the first
    already erased, and erasing them again changes nothing."""
    defs = build_definitions()
    assert run_job(defs=defs).success
    warehouse, vault = resource(defs, "warehouse"), resource(defs, "pseudonym_vault")
    store = PrivacyRequests(vault)
    email, scope, ids = _subject(warehouse, 7)
    twice = [store.submit("erasure", "customers", spelling, scope) for spelling in (email, f"  {email.upper()} ")]
    run = defs.resolve_job_def("privacy_request").execute_in_process(
        run_config={"ops": {"handle_privacy_requests": {"config": {"request_ids": twice}}}}, instance=DagsterInstance.get()
    )
    assert run.success
    first, second = (store.get(request_id) for request_id in twice)
    assert first.status == second.status == "erased" and first.plan["pseudonyms"] == second.plan["pseudonyms"]
    assert sum(first.outcome["deleted"].values()) > 0 and sum(second.outcome["deleted"].values()) == 0
    assert warehouse.count_where(table_name(Tier.RAW, "customers"), "customer_id", ids[0]) == 0


def test_cli_files_a_request_from_standard_input_and_serves_it(local_env):
    import subprocess
    import sys

    from tests.conftest import REPO

    defs = build_definitions()
    assert run_job(defs=defs).success
    email, scope, _ = _subject(resource(defs, "warehouse"), 11)
    filed = subprocess.run(
        [sys.executable, "-m", "compliance_assets", "request", "erasure", "--source", "customers", "--scope", scope],
        cwd=REPO, input=email + "\n", capture_output=True, text=True, timeout=120,
    )
    assert filed.returncode == 0, filed.stderr[-2000:]
    request_id = filed.stdout.strip().splitlines()[-1]
    served = run_cli("compliance_assets", "request", "serve", request_id)
    assert served.returncode == 0, served.stderr[-2000:]
    assert email not in served.stdout + served.stderr
    assert PrivacyRequests(resource(defs, "pseudonym_vault")).get(request_id).status == "erased"
    assert "erased" in served.stdout and "row(s) from raw__customers" in served.stdout

    # Someone the location never held: served, and said so.
    filed = subprocess.run(
        [sys.executable, "-m", "compliance_assets", "request", "erasure", "--source", "customers", "--scope", scope],
        cwd=REPO, input="nobody-ever@example.org\n", capture_output=True, text=True, timeout=120,
    )
    served = run_cli("compliance_assets", "request", "serve", filed.stdout.strip().splitlines()[-1])
    assert served.returncode == 0 and "no data held for this subject" in served.stdout


def test_access_and_portability_exports(local_env):
    import json

    from compliance_assets.jobs import privacy_requests
    from resources import environment

    def export_folder(request_id: str):
        return privacy_requests.export_folder(environment.folders().exports, request_id)

    defs = build_definitions()
    assert run_job(defs=defs).success
    warehouse, vault = resource(defs, "warehouse"), resource(defs, "pseudonym_vault")
    email, scope, ids = _subject(warehouse, 7)
    events = warehouse.read_table(table_name(Tier.RAW, "engagement_events"))
    consent = warehouse.read_table(table_name(Tier.RAW, "consent_records"))
    store = PrivacyRequests(vault)

    access_id = store.submit("access", "customers", email, scope)
    result = _serve(defs, access_id)
    assert result.success
    document = json.loads((export_folder(access_id) / "subject.json").read_text())
    tables = document["tables"]
    assert len(tables["raw__customers"]["rows"]) == len(ids)
    assert len(tables.get("raw__engagement_events", {"rows": []})["rows"]) == int(events["customer_id"].isin(ids).sum())
    assert len(tables["raw__consent_records"]["rows"]) == int(consent["customer_id"].isin(ids).sum())
    assert len(tables.get("pseudonymised__customer_features", {"rows": []})["rows"]) <= 1  # none if consent was withdrawn
    assert tables["raw__customers"]["legal_basis"] == "Consent" and tables["raw__customers"]["retention"]["email"] == "90 days"
    assert any(r["event_type"] == "publication" for r in document["processing_record"])
    assert (export_folder(access_id) / "raw__customers.csv").is_file()
    metadata = " ".join(str(v) for e in result.all_events if e.event_type_value == "STEP_OUTPUT" for v in e.event_specific_data.metadata.values())
    assert email not in metadata and not any(i in metadata for i in ids)
    assert store.get(access_id).status == "done"

    portability_id = store.submit("portability", "customers", email, scope)
    assert _serve(defs, portability_id).success
    exported = json.loads((export_folder(portability_id) / "subject.json").read_text())["tables"]
    assert set(exported) <= {"raw__customers", "raw__engagement_events", "raw__consent_records", "raw__search_logs"}
    assert "raw__customers" in exported


def test_a_dagster_job_files_a_request_from_a_file_and_deletes_the_file(local_env, tmp_path):
    defs = build_definitions()
    assert run_job(defs=defs).success
    email, scope, _ = _subject(resource(defs, "warehouse"), 5)
    ticket = tmp_path / "ticket-4711.txt"
    ticket.write_text(email + "\n")
    config = {"ops": {"file_privacy_request": {"config": {"kind": "erasure", "identifier_file": str(ticket), "scope": scope}}}}
    result = defs.resolve_job_def("submit_privacy_request").execute_in_process(run_config=config, instance=DagsterInstance.get())
    assert result.success
    request_id = result.output_for_node("file_privacy_request")
    assert not ticket.exists()
    request = PrivacyRequests(resource(defs, "pseudonym_vault")).get(request_id)
    assert (request.kind, request.status, request.identifier, request.scope) == ("erasure", "pending", email, scope)
    recorded = DagsterInstance.get().get_run_by_id(result.run_id)
    assert email not in str(recorded.run_config) and email not in str(recorded.tags)
