"""DPIA criteria derived from facts: vulnerable subjects from the register's subject kinds and from
the ages a run ingested, large scale from the declared population as well as rows, Art. 35(3)(b)
for special categories at scale; and a DPIA that restates one of them wrongly does not load."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest
from dagster import DagsterInstance, materialize

from compliance_demo.definitions import build_definitions
from compliance_demo import sources
from compliance_assets.register.ages import ROWS_UNDER_16, ROWS_UNDER_18
from compliance_assets.register.criteria import derived_criteria
from compliance_assets.register.dpia_document import Criterion
from compliance_assets.dpia.lineage import deployed_controls, review_states
from compliance_assets.factories.raw import raw_asset
from compliance_assets.register import RegisterError, load_register
from compliance_assets.reports.dpia import dpia_markdown, observed
from tests.conftest import small_run_config
from tests.test_dpia import register_copy

ENGAGEMENT, CENSUS = "engagement_analytics", "census_statistics"
ENGAGEMENT_SUBJECTS = ("    data_subjects: [customer]\n    population:", "    data_subjects: [patient]\n    population:")
ENGAGEMENT_VULNERABLE = (
    "  vulnerable_subjects: {triggered: false, reason: Adult newsletter subscribers; no children or employees of the controller}",
    "  vulnerable_subjects: {reason: Patients of the clinics that send the newsletters}",
)
CENSUS_AT_SCALE = ("      subjects: 32561\n", "      subjects: 2000000\n")
TODAY = f"{datetime.now(timezone.utc):%Y-%m-%d}"


def _load_error(copy) -> str:
    with pytest.raises(RegisterError) as raised:
        load_register(copy)
    return str(raised.value)


def test_patients_are_vulnerable_subjects(tmp_path):
    register = load_register(register_copy(tmp_path, activities=ENGAGEMENT_SUBJECTS, **{"dpia/engagement_analytics": ENGAGEMENT_VULNERABLE}))
    vulnerable = derived_criteria(register, ENGAGEMENT)[Criterion.VULNERABLE_SUBJECTS]
    assert vulnerable.triggered and "patients" in vulnerable.reason


def test_a_declared_vulnerable_group_the_taxonomy_lacks_counts(tmp_path):
    register = load_register(register_copy(
        tmp_path,
        activities=("    data_subjects: [customer]\n    population:", "    data_subjects: [customer]\n    vulnerable_groups: [elderly]\n    population:"),
        **{"dpia/engagement_analytics": ENGAGEMENT_VULNERABLE},
    ))
    vulnerable = derived_criteria(register, ENGAGEMENT)[Criterion.VULNERABLE_SUBJECTS]
    assert vulnerable.triggered and "elderly (declared)" in vulnerable.reason


def test_a_dpia_that_denies_vulnerable_patients_does_not_load(tmp_path):
    message = _load_error(register_copy(tmp_path, activities=ENGAGEMENT_SUBJECTS))
    assert "register/dpia/engagement_analytics.yaml:" in message
    assert "criteria.vulnerable_subjects.triggered: contradicts the register, which makes it triggered for activity 'engagement_analytics'" in message
    assert "patients" in message


def test_registered_age_bands_under_18_show_minors_before_any_run():
    from tests.conftest import REPO

    vulnerable = derived_criteria(load_register(REPO / "register"), CENSUS)[Criterion.VULNERABLE_SUBJECTS]
    assert vulnerable.triggered and "census_features.age_band has bands from 17" in vulnerable.reason


def _customers_with_minors(context) -> pd.DataFrame:
    """The demo's contacts, a few of whom are 15 or 17 on the day they are loaded."""
    people = sources.DemoSourceResource(**small_run_config()["resources"]["demo_source"]["config"]).people()
    today = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()
    people.loc[[0, 1, 2], "birth_date"] = today - pd.DateOffset(years=15)
    people.loc[[3, 4], "birth_date"] = today - pd.DateOffset(years=17)
    return people


def test_minors_in_the_ingested_data_make_subjects_vulnerable(local_env):
    register = load_register(register_copy(local_env))
    defs = build_definitions(register)
    instance = DagsterInstance.get()
    resources = {k: defs.resources[k] for k in ("warehouse", "audit_trail", "pseudonym_keys")}
    result = materialize([raw_asset(register, "customers", _customers_with_minors)], resources=resources, instance=instance)
    (materialization,) = result.asset_materializations_for_node("customers")
    assert (materialization.metadata[ROWS_UNDER_18].value, materialization.metadata[ROWS_UNDER_16].value) == (5, 3)

    before = derived_criteria(register, ENGAGEMENT)[Criterion.VULNERABLE_SUBJECTS]
    assert not before.triggered, "the register alone knows of no minor"
    state = review_states(defs.resolve_asset_graph(), instance, register, None, [ENGAGEMENT])[ENGAGEMENT]
    assert (state.current.under_18, state.current.under_16, state.current.measured_at) == (5, 3, TODAY)
    vulnerable = derived_criteria(register, ENGAGEMENT, observed(state))[Criterion.VULNERABLE_SUBJECTS]
    assert vulnerable.triggered
    assert f"5 row(s) of subjects under 18, 3 under 16 (at its last run on {TODAY})" in vulnerable.reason
    report = dpia_markdown(register.dpias[ENGAGEMENT], register, state, deployed_controls(defs.get_repository_def()))
    row = next(line for line in report.splitlines() if line.startswith("| Data concerning vulnerable data subjects"))
    assert "| yes | computed |" in row and "**Contradicts the document, which says no.**" in row


def test_ages_in_years_are_counted_on_the_census_file(local_env):
    register = load_register(register_copy(local_env))
    defs = build_definitions(register)
    asset = raw_asset(register, "census_respondents", sources.load_census, required_resource_keys={"census_file"})
    result = materialize([asset], resources={k: defs.resources[k] for k in ("warehouse", "audit_trail", "pseudonym_keys", "census_file")}, instance=DagsterInstance.get())
    (materialization,) = result.asset_materializations_for_node("census_respondents")
    assert (materialization.metadata[ROWS_UNDER_18].value, materialization.metadata[ROWS_UNDER_16].value) == (395, 0)  # the 17-year-olds


def test_special_categories_on_a_large_scale_trigger_article_35_3_b(tmp_path):
    register = load_register(register_copy(tmp_path, activities=CENSUS_AT_SCALE))
    derived = derived_criteria(register, CENSUS)
    assert derived[Criterion.LARGE_SCALE].triggered and "2,000,000 subjects (from 100,000)" in derived[Criterion.LARGE_SCALE].reason
    at_scale = derived[Criterion.SPECIAL_CATEGORIES_AT_SCALE]
    assert at_scale.triggered and "user.demographic.race_ethnicity" in at_scale.reason and "Art. 35(3)(b)" in at_scale.reason


def test_special_categories_on_a_large_scale_need_a_dpia_on_their_own(tmp_path):
    copy = register_copy(tmp_path, activities=CENSUS_AT_SCALE)
    (copy / "dpia" / "census_statistics.yaml").unlink()
    (copy / "features.yaml").write_text((copy / "features.yaml").read_text().replace("bands: [17, 25, 35, 45, 55, 65]", "bands: [18, 25, 35, 45, 55, 65]"))
    assert "activities.census_statistics: special categories (user.demographic.race_ethnicity) processed on a large scale: a DPIA is required (Art. 35(3)(b))" in _load_error(copy)


def test_large_scale_weighs_subjects_against_the_declared_population(tmp_path):
    few_of_many = derived_criteria(load_register(register_copy(tmp_path / "a")), CENSUS)[Criterion.LARGE_SCALE]
    assert not few_of_many.triggered and "0.01% of a relevant population of 263,000,000" in few_of_many.reason
    a_town = ("      relevant_population: 263000000\n      geography: national\n", "      relevant_population: 400000\n      geography: local\n")
    most_of_a_town = derived_criteria(load_register(register_copy(tmp_path / "b", activities=a_town)), CENSUS)[Criterion.LARGE_SCALE]
    assert most_of_a_town.triggered and "8.14% of the relevant population (from 5%)" in most_of_a_town.reason and "local extent" in most_of_a_town.reason


@pytest.mark.parametrize(
    ("restated", "criterion", "state"),
    [
        ("  large_scale: {triggered: false, reason: A sample}", "large_scale", "triggered"),
        ("  large_scale: {reason: A sample}\n  special_categories_on_a_large_scale: {triggered: false, reason: A sample}", "special_categories_on_a_large_scale", "triggered"),
    ],
)
def test_a_restatement_that_contradicts_scale_stops_the_load(tmp_path, restated, criterion, state):
    large = "  large_scale: {reason: \"Judged on the respondents declared in the register, out of the 1994 US population, and on the file's rows at each run\"}"
    message = _load_error(register_copy(tmp_path, activities=CENSUS_AT_SCALE, **{"dpia/census_statistics": (large, restated)}))
    assert "register/dpia/census_statistics.yaml:" in message
    assert f"criteria.{criterion}.triggered: contradicts the register, which makes it {state} for activity 'census_statistics'" in message
