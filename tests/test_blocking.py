"""Blocking checks, through real Dagster execution: a pseudonymised asset that adds an undeclared
column or lets an email through fails its check, downstream does not run, the published table
keeps the last good data, and the rejected copy, which may hold what the check found, is gone."""

from __future__ import annotations

import pandas as pd
import pandas.testing as pdt
import pytest

from compliance_demo.definitions import build_assets, build_definitions
from compliance_demo.features import customer_features
from compliance_assets.factories.aggregate import cohort_asset
from compliance_assets.tiers import Tier, table_name
from compliance_assets.factories.pseudonymised import FeatureInputs, pseudonymised_asset
from compliance_assets.privacy.cohorts import CohortRelease, release_cohorts
from compliance_assets.register import load_register
from compliance_assets.storage.warehouse import STAGING_PREFIX
from tests.conftest import REPO
from tests.helpers import check_evaluation, check_outcomes, executed_steps, materialized, published, raw_values, run_job, warehouse_of


def _with_undeclared_column(inputs: FeatureInputs) -> pd.DataFrame:
    features = customer_features(inputs)
    return features.assign(birth_year=inputs.subjects["birth_date"].dt.year.iloc[: len(features)].to_numpy())


def _leaking_email(inputs: FeatureInputs) -> pd.DataFrame:
    features = customer_features(inputs)
    emails = raw_values("customers", "email").str.strip().to_numpy()  # a transform sees none: fetched behind its back
    features["region"] = features["region"].where(features.index % 97 != 0, emails[: len(features)])
    return features


def _leaking_customer_id(inputs: FeatureInputs) -> pd.DataFrame:
    features = customer_features(inputs)
    ids = raw_values("customers", "customer_id").to_numpy()
    features["engagement_segment"] = features["engagement_segment"].where(features.index != 5, ids[5])
    return features


def _unregistered_segment(inputs: FeatureInputs) -> pd.DataFrame:
    features = customer_features(inputs)
    features["engagement_segment"] = features["engagement_segment"].where(features.index % 10 != 0, "vip")
    return features


def _definitions_with(transform):
    register = load_register(REPO / "register")
    assets = [a for a in build_assets(register) if a.key.to_user_string() != "customer_features"]
    return build_definitions(register, [*assets, pseudonymised_asset(register, "customer_features", transform)])


@pytest.mark.parametrize(
    ("transform", "failing_check", "offending_column"),
    [
        (_with_undeclared_column, "minimisation", "birth_year"),
        (_leaking_email, "no_direct_identifiers", "region"),
        (_leaking_customer_id, "no_direct_identifiers", "engagement_segment"),
        (_unregistered_segment, "contract", "engagement_segment"),
    ],
    ids=["undeclared-column", "email-leak", "raw-customer-id", "value-outside-contract"],
)
def test_failing_check_blocks_downstream_and_keeps_last_good_data(local_env, transform, failing_check, offending_column):
    assert run_job().success
    good_features = published(Tier.PSEUDONYMISED, "customer_features")
    good_cohorts = published(Tier.AGGREGATE, "engagement_cohorts")

    defs = _definitions_with(transform)
    result = run_job(defs=defs)

    assert not result.success
    assert check_outcomes(result)[("customer_features", failing_check)] is False
    assert "customer_features" not in materialized(result)
    assert not {"engagement_cohorts", "region_cohorts"} & executed_steps(result)
    pdt.assert_frame_equal(published(Tier.PSEUDONYMISED, "customer_features"), good_features)
    pdt.assert_frame_equal(published(Tier.AGGREGATE, "engagement_cohorts"), good_cohorts)
    assert not warehouse_of(defs).has_table(STAGING_PREFIX + table_name(Tier.PSEUDONYMISED, "customer_features"))

    evaluation = check_evaluation(result, "customer_features", failing_check)
    rendered = " ".join(str(v.value) for v in evaluation.metadata.values())
    assert offending_column in rendered
    assert "@" not in rendered and "cus_" not in rendered


def _run_with_engagement_release(release):
    """The demo with `engagement_cohorts` released by `release` instead of the engine."""
    register = load_register(REPO / "register")
    assets = [a for a in build_assets(register) if a.key.to_user_string() != "engagement_cohorts"]
    return run_job(defs=build_definitions(register, [*assets, cohort_asset(register, "engagement_cohorts", release)]))


def test_cohort_release_under_k_is_blocked(local_env):
    assert run_job().success
    good = published(Tier.AGGREGATE, "engagement_cohorts")

    def careless_release(frame, dimensions, subject, measures, k, margins, revealed, **_history):
        return release_cohorts(frame, dimensions, subject, measures, 2, margins, revealed)

    result = _run_with_engagement_release(careless_release)
    assert not result.success
    outcomes = check_outcomes(result)
    assert outcomes[("engagement_cohorts", "k_anonymity")] is False
    assert outcomes[("region_cohorts", "k_anonymity")] is True
    pdt.assert_frame_equal(published(Tier.AGGREGATE, "engagement_cohorts"), good)


def test_cohorts_that_mix_client_workspaces_are_blocked(local_env, tmp_path):
    import shutil

    copy = tmp_path / "register"
    shutil.copytree(REPO / "register", copy)
    cohorts = copy / "cohorts.yaml"
    cohorts.write_text(cohorts.read_text().replace("dimensions: [workspace_id, region]", "dimensions: [region]"))
    register = load_register(copy)
    defs = build_definitions(register)
    result = run_job(defs=defs)
    assert not result.success
    outcomes = check_outcomes(result)
    assert outcomes[("region_cohorts", "client_isolation")] is False
    assert outcomes[("engagement_cohorts", "client_isolation")] is True
    assert "region_cohorts" not in materialized(result)
    assert not warehouse_of(defs).has_table("aggregate__region_cohorts")


def test_margins_that_give_away_suppressed_cohorts_are_blocked(local_env):
    """Primary suppression only: every cell under k is hidden, but the published workspace totals
    minus the released cells recover them. k-anonymity passes; the differencing audit does not."""
    assert run_job().success
    good = published(Tier.AGGREGATE, "engagement_cohorts")

    def primary_only(frame, dimensions, subject, measures, k, margins, revealed, **_history):
        cells = release_cohorts(frame, dimensions, subject, measures, k)
        totals = [release_cohorts(frame, list(m), subject, measures, k).released for m in margins]
        return CohortRelease(pd.concat([cells.released, *totals], ignore_index=True), cells.suppressed, k, cells.detail_level)

    result = _run_with_engagement_release(primary_only)
    assert not result.success
    outcomes = check_outcomes(result)
    assert outcomes[("engagement_cohorts", "k_anonymity")] is True
    assert outcomes[("engagement_cohorts", "no_differencing")] is False
    assert outcomes[("region_cohorts", "no_differencing")] is True
    pdt.assert_frame_equal(published(Tier.AGGREGATE, "engagement_cohorts"), good)
    evaluation = check_evaluation(result, "engagement_cohorts", "no_differencing")
    assert evaluation.metadata["exposed_cohorts"].value > 0
    assert "determined by the published totals" in evaluation.metadata["exposed"].value
