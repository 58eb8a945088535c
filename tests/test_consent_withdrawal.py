"""A withdrawal recorded after a run triggers the recomputation of the consent-based assets, and
the recomputed features no longer hold the subject."""

from __future__ import annotations

import pandas as pd
from dagster import DagsterInstance, build_sensor_context

from compliance_demo.definitions import build_definitions
from compliance_assets.tiers import Tier, table_name
from compliance_assets.register import load_register
from compliance_assets.rights.locate import locate_subject
from tests.conftest import REPO, small_run_config
from tests.helpers import attributes_read_off, published, resource, run_job
from tests.test_erasure import COHORT_DIMS


def _tick(sensor, defs, warehouse, cursor=None):
    with build_sensor_context(instance=DagsterInstance.get(), resources={"warehouse": warehouse}, definitions=defs, cursor=cursor) as context:
        requests = list(sensor(context))
        return requests, context.cursor


def test_a_new_withdrawal_recomputes_the_consent_based_assets(local_env):
    defs = build_definitions()
    assert run_job(defs=defs).success
    warehouse = resource(defs, "warehouse")
    sensor = defs.resolve_sensor_def("consent_withdrawals")

    first, cursor = _tick(sensor, defs, warehouse)  # the first tick starts from the present: the demo's withdrawals are not new
    assert first == [] and cursor
    assert _tick(sensor, defs, warehouse, cursor)[0] == []

    customers = published(Tier.RAW, "customers")
    features = published(Tier.PSEUDONYMISED, "customer_features")
    register = load_register(REPO / "register")
    with defs.resources["pseudonym_keys"].process_config_and_initialize_cm() as keys:
        for row in customers.dropna(subset=["email"]).itertuples():
            plan = locate_subject(register, warehouse, keys, "customers", row.email, row.workspace_id)
            pseudonym = next(iter(plan["pseudonyms"]["engagement"].values()))
            if pseudonym in set(features["subject_pseudonym"]):
                break
    consent = warehouse.read_table(table_name(Tier.RAW, "consent_records"))
    withdrawal = consent.iloc[[0]].assign(
        consent_id="withdrawal-test", customer_id=plan["references"]["customer_id"][0], status="withdrawn",
        purpose=register.activities["engagement_analytics"].data_use, recorded_at=pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s"),
    )
    with warehouse.begin() as connection:
        withdrawal.to_sql(table_name(Tier.RAW, "consent_records"), connection, if_exists="append", index=False)

    before = {name: published(Tier.AGGREGATE, name) for name in COHORT_DIMS}
    (second,), _ = _tick(sensor, defs, warehouse, cursor)
    assert {k.to_user_string() for k in second.asset_selection} == {"customer_features", "engagement_cohorts", "region_cohorts"}
    refresh = defs.resolve_job_def("consent_refresh").execute_in_process(
        run_config={k: v for k, v in small_run_config().items() if k != "resources"},
        instance=DagsterInstance.get(), asset_selection=second.asset_selection, raise_on_error=False,
    )
    assert refresh.success
    assert pseudonym not in set(published(Tier.PSEUDONYMISED, "customer_features")["subject_pseudonym"])
    # The attacker subtracts the cohort tables from before the withdrawal: nothing of the subject shows.
    for name, dims in COHORT_DIMS.items():
        assert attributes_read_off(before[name], published(Tier.AGGREGATE, name), dims, change=-1) == {}
