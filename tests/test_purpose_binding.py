"""Purpose binding: wiring an asset to inputs its purpose may not consume is refused when the
definitions load; at run time a transform only ever sees the columns its register entry names."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from compliance_demo.definitions import build_assets, build_definitions
from compliance_demo.features import customer_features
from compliance_assets.tiers import Tier
from compliance_assets.factories.pseudonymised import FeatureInputs, pseudonymised_asset
from compliance_assets.factories.purpose import PrivacyViolationError
from compliance_assets.register import load_register
from tests.conftest import REPO, run_cli
from tests.helpers import executed_steps, materialized, published, run_job, warehouse_of

RECOMMENDATIONS = """
  recommendations:
    name: Newsletter content recommendations
    role: processor
    controller: Each client workspace
    purpose: Recommend newsletter content from engagement only.
    data_use: personalize.content.profiled
    legal_basis: Consent
    consent_source: consent_records
    data_subjects: [customer]
    data_categories: [user.unique_id, user.behavior, system.operations]
    retention:
      user.unique_id: {period: 6 months, reason: Profiles are rebuilt twice a year}
      user.behavior: {period: 6 months, reason: Profiles are rebuilt twice a year}
      system.operations: {period: 6 months, reason: Kept with the profile}
    security_measures: [Pseudonymised inputs only]
    automated_decisions:
      present: false
    training_use: false
    owners: [team:data-platform]
"""
SEGMENTS = """
  recommendation_segments:
    activity: recommendations
    description: Audience segments for content recommendations.
    source: customer_features
    dimensions: [workspace_id, age_band, engagement_segment]
    measures:
      subjects: {aggregation: count_subjects, description: Distinct contacts}
"""


@pytest.fixture
def profiling_register(tmp_path):
    copy = tmp_path / "register"
    shutil.copytree(REPO / "register", copy)
    (copy / "activities.yaml").write_text((copy / "activities.yaml").read_text() + RECOMMENDATIONS)
    (copy / "cohorts.yaml").write_text((copy / "cohorts.yaml").read_text() + SEGMENTS)
    return copy


def test_profiling_asset_reading_demographics_is_refused_at_load(local_env, profiling_register):
    register = load_register(profiling_register)  # the register itself is well-formed
    with pytest.raises(PrivacyViolationError) as caught:
        build_definitions(register, [*build_assets(register), *_segments(register)])
    message = str(caught.value)
    assert "recommendation_segments" in message
    assert "customer_features.age_band" in message and "user.demographic.age_range" in message
    assert "customer_features.engagement_segment" not in message  # behaviour is within its purpose


def _segments(register):
    from compliance_assets.factories.aggregate import cohort_asset

    return [cohort_asset(register, "recommendation_segments")]


def test_the_deploy_gate_and_dagster_refuse_the_code_location(local_env, tmp_path):
    module = tmp_path / "profiling_location.py"
    module.write_text(
        "from compliance_demo.definitions import build_assets, build_definitions\n"
        "from compliance_assets.factories.aggregate import cohort_asset\n"
        "from compliance_assets.register import load_register\n"
        f"register = load_register({str(tmp_path / 'register')!r})\n"
        "defs = build_definitions(register, [*build_assets(register), cohort_asset(register, 'recommendation_segments')])\n"
    )
    shutil.copytree(REPO / "register", tmp_path / "register")
    for name, extra in (("activities.yaml", RECOMMENDATIONS), ("cohorts.yaml", SEGMENTS)):
        path = tmp_path / "register" / name
        path.write_text(path.read_text() + extra)
    validated = run_cli("dagster", "definitions", "validate", "-f", str(module))
    assert validated.returncode != 0
    assert "PrivacyViolationError" in validated.stdout + validated.stderr


def _reads_a_column_it_may_not(inputs: FeatureInputs) -> pd.DataFrame:
    features = customer_features(inputs)
    features["region"] = inputs.sources["customers"]["full_name"].iloc[: len(features)].to_numpy()
    return features


def test_transforms_only_see_registered_input_columns(local_env):
    assert run_job().success
    good = published(Tier.PSEUDONYMISED, "customer_features")
    register = load_register(REPO / "register")
    assets = [a for a in build_assets(register) if a.key.to_user_string() != "customer_features"]
    defs = build_definitions(register, [*assets, pseudonymised_asset(register, "customer_features", _reads_a_column_it_may_not)])
    warehouse = warehouse_of(defs)
    result = run_job(defs=defs)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "KeyError" in failure.event_specific_data.error.to_string()
    assert "message is withheld" in failure.event_specific_data.error.to_string()
    assert "customer_features" not in materialized(result)
    assert not {"engagement_cohorts", "region_cohorts"} & executed_steps(result)
    assert not warehouse.has_table("staging__pseudonymised__customer_features")
    pd.testing.assert_frame_equal(published(Tier.PSEUDONYMISED, "customer_features"), good)
