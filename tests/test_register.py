"""The register as code: the demo register loads, and every kind of mistake is refused with the
file, the field and the line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compliance_assets.register import RegisterError, load_register
from tests.conftest import REPO, run_cli


@pytest.fixture
def register_copy(tmp_path: Path) -> Path:
    target = tmp_path / "register"
    shutil.copytree(REPO / "register", target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"fixture text not found in {path.name}: {old!r}"
    path.write_text(text.replace(old, new, 1))


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), start=1) if needle in line)


def test_demo_register_loads():
    register = load_register(REPO / "register")
    assert set(register.activities) == {"engagement_analytics", "consent_management", "site_search", "census_statistics"}
    assert register.activities["engagement_analytics"].k_anonymity == 50
    assert "customer_features" in register.feature_sets
    assert register.domain_of("customer_features") == "engagement"


@pytest.mark.parametrize(
    ("file", "old", "new", "field", "fragment"),
    [
        ("activities.yaml", "legal_basis: Consent", "legal_basis: Because we can", "activities.engagement_analytics.legal_basis", "Input should be"),
        ("activities.yaml", "data_use: analytics.reporting.campaign_insights", "data_use: analytics.spying", "activities.engagement_analytics.data_use", "unknown fideslang data use 'analytics.spying'"),
        ("sources.yaml", "category: user.contact.email,", "category: user.contact.emial,", "sources.customers.columns.email.category", "unknown fideslang data category 'user.contact.emial'"),
        ("features.yaml", "        necessity: Open rate is the first measure of a campaign's reach\n", "", "feature_sets.customer_features.features.opens_90d.necessity", "Field required"),
        ("features.yaml", "        minimisation: Ten-year bands replace the date of birth\n", "        minimisation: Ten-year bands replace the date of birth\n        colour: blue\n", "feature_sets.customer_features.features.age_band.colour", "unknown field"),
        ("activities.yaml", "    k_anonymity: 50\n    pseudonymisation_domain", "    k_anonymity: 1\n    pseudonymisation_domain", "activities.engagement_analytics.k_anonymity", "greater than or equal to 2"),
        ("activities.yaml", "      present: false\n    training_use: false\n    cross_client_training", "      present: true\n    training_use: false\n    cross_client_training", "activities.engagement_analytics.automated_decisions", "art22_basis is required"),
    ],
    ids=["legal-basis", "data-use", "category", "necessity-missing", "unknown-field", "k-too-small", "art22-basis"],
)
def test_field_errors_name_file_field_and_line(register_copy, file, old, new, field, fragment):
    path = register_copy / file
    _edit(path, old, new)
    with pytest.raises(RegisterError) as caught:
        load_register(register_copy)
    message = str(caught.value)
    assert f"{path}:" in message
    assert field in message
    assert fragment in message


def test_error_line_points_at_the_field(register_copy):
    path = register_copy / "sources.yaml"
    _edit(path, "category: user.contact.email,", "category: user.contact.emial,")
    with pytest.raises(RegisterError) as caught:
        load_register(register_copy)
    (problem,) = caught.value.problems
    assert problem.line == _line_of(path, "user.contact.emial")


@pytest.mark.parametrize(
    ("file", "old", "new", "fragment", "reported_in"),
    [
        ("features.yaml", "sources: [customers.postcode]", "sources: [customers.zip_code]", "'customers.zip_code' is not a registered column", "features.yaml"),
        ("cohorts.yaml", "dimensions: [workspace_id, region]", "dimensions: [workspace_id, postcode]", "'postcode' is not a feature of 'customer_features'", "cohorts.yaml"),
        ("sources.yaml", "    activity: consent_management", "    activity: consent_mgmt", "unknown processing activity 'consent_mgmt'", "sources.yaml"),
        ("activities.yaml", "        country: US\n        transfer_basis: SCCs\n", "        country: US\n", "outside the EU/EEA, and has no transfer basis", "activities.yaml"),
        ("activities.yaml", "    special_category_basis: Archiving, research and statistics (with a basis in law)\n", "", "is a special category (Art. 9): activity 'census_statistics' needs special_category_basis", "sources.yaml"),
        ("activities.yaml", "      user.behavior: {period: 12 months", "      user.behaviour_typo: {period: 12 months", "unknown fideslang data category", "activities.yaml"),
        ("sources.yaml", "user_agent: {type: string, category: user.device,", "user_agent: {type: string, category: user.biometric,", "data category 'user.biometric' is not declared by activity 'engagement_analytics'", "sources.yaml"),
        ("activities.yaml", "    consent_source: consent_records\n", "", "the legal basis is consent: name the raw source of consent records", "activities.yaml"),
        ("cohorts.yaml", "margins: [[workspace_id], [workspace_id, age_band]]", "margins: [[workspace_id, region]]", "margin groups by ['region'], which are not dimensions of 'engagement_cohorts'", "cohorts.yaml"),
        ("cohorts.yaml", "margins: [[workspace_id], [workspace_id, age_band]]", "margins: [[age_band]]", "margin would add up several client workspaces; 'engagement_analytics' forbids mixing them, so include 'workspace_id'", "cohorts.yaml"),
    ],
    ids=["feature-source", "cohort-dimension", "activity-ref", "transfer-basis", "art9-basis", "retention-key", "undeclared-category", "consent-source", "margin-dimension", "margin-mixes-tenants"],
)
def test_cross_file_errors(register_copy, file, old, new, fragment, reported_in):
    _edit(register_copy / file, old, new)
    with pytest.raises(RegisterError) as caught:
        load_register(register_copy)
    assert fragment in str(caught.value)
    assert str(register_copy / reported_in) in str(caught.value)


def test_invalid_yaml_names_the_line(register_copy):
    path = register_copy / "cohorts.yaml"
    _edit(path, "    source: customer_features\n    dimensions: [workspace_id, region]", "    source: customer_features\n    dimensions: [workspace_id, region")
    with pytest.raises(RegisterError) as caught:
        load_register(register_copy)
    assert "not valid YAML" in str(caught.value)
    assert caught.value.problems[0].line is not None


def test_code_location_refuses_to_load_with_a_broken_register(register_copy, local_env):
    _edit(register_copy / "features.yaml", "        necessity: Open rate is the first measure of a campaign's reach\n", "")
    broken = run_cli("dagster", "definitions", "validate", "-w", "workspace.yaml", env_overrides={"COMPLIANCE_REGISTER_DIR": str(register_copy)})
    assert broken.returncode != 0
    output = broken.stdout + broken.stderr
    assert "features.yaml" in output
    assert "feature_sets.customer_features.features.opens_90d.necessity" in output


def test_code_location_validates(local_env):
    ok = run_cli("dagster", "definitions", "validate", "-w", "workspace.yaml")
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_totals_other_releases_give_away_are_known_to_each_release():
    register = load_register(REPO / "register")
    assert register.margins_revealed_elsewhere("engagement_cohorts") == [("workspace_id",)]
    assert register.margins_revealed_elsewhere("region_cohorts") == [("workspace_id",)]
    assert register.margins_revealed_elsewhere("census_cohorts") == []
