"""A location that defines only some of its register's assets: its sensors ask their refresh jobs
for the assets the location has, never for one it lacks (a run asking for it could not start)."""

from __future__ import annotations

from dagster import DagsterInstance, build_sensor_context

from compliance_demo.definitions import EMAIL_MARKETING_ASSETS, build_assets, build_definitions
from compliance_assets.tiers import Tier, table_name
from compliance_assets.location import supplying
from compliance_assets.privacy.normalise import normalise_email
from compliance_assets.register import load_register
from compliance_assets.resources.requests import PrivacyRequests
from tests.conftest import REPO, small_run_config
from tests.helpers import resource, run_job

WITHOUT_REGION_COHORTS = [name for name in EMAIL_MARKETING_ASSETS if name != "region_cohorts"]


def _tick(defs, sensor_name: str, resources: dict, cursor: str | None = None):
    with build_sensor_context(instance=DagsterInstance.get(), resources=resources, definitions=defs, cursor=cursor) as context:
        return list(defs.resolve_sensor_def(sensor_name)(context))


def _refresh(defs, job: str, request) -> bool:
    run_config = {k: v for k, v in small_run_config().items() if k != "resources"}
    return defs.resolve_job_def(job).execute_in_process(
        run_config=run_config, instance=DagsterInstance.get(), asset_selection=request.asset_selection, raise_on_error=False
    ).success


def test_sensors_of_a_location_without_one_cohort_refresh_only_what_it_defines(local_env):
    register = load_register(REPO / "register")
    defs = build_definitions(register, supplying(build_assets(register), WITHOUT_REGION_COHORTS))
    assert run_job(defs=defs).success
    warehouse, vault = resource(defs, "warehouse"), resource(defs, "pseudonym_vault")

    (withdrawals,) = _tick(defs, "consent_withdrawals", {"warehouse": warehouse}, cursor="{}")  # a cursor that has seen none of the demo's withdrawals
    assert {k.to_user_string() for k in withdrawals.asset_selection} == {"customer_features", "engagement_cohorts"}
    assert _refresh(defs, "consent_refresh", withdrawals)

    customers = warehouse.read_table(table_name(Tier.RAW, "customers"))
    subject = customers.assign(email=normalise_email(customers["email"])).dropna(subset=["email"]).iloc[0]
    store = PrivacyRequests(vault)
    request_id = store.submit("erasure", "customers", subject["email"], subject["workspace_id"])
    (launch,) = _tick(defs, "privacy_requests", {"pseudonym_vault": vault})
    assert defs.resolve_job_def("privacy_request").execute_in_process(
        run_config=launch.run_config, instance=DagsterInstance.get(), raise_on_error=False
    ).success
    (refresh,) = _tick(defs, "privacy_requests", {"pseudonym_vault": vault})
    assert refresh.job_name == "cohort_refresh"
    assert {k.to_user_string() for k in refresh.asset_selection} == {"engagement_cohorts"}
    assert _refresh(defs, "cohort_refresh", refresh)
    assert store.get(request_id).status == "done"
    assert store.get(request_id).outcome["cohort_refresh_run_key"] == refresh.run_key
