"""The register compiles to one Great Expectations suite per asset; validation runs GX itself and
reports expectation, column and row counts, never the offending values."""

from __future__ import annotations

import pandas as pd

from compliance_assets.contracts.suites import suite_for
from compliance_assets.contracts.validation import validate
from compliance_assets.register import load_register
from tests.conftest import REPO

REGISTER = load_register(REPO / "register")


def _cohorts(**overrides) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "sex": pd.Series(["Female", "Male", pd.NA], dtype="string"),
            "race": pd.Series(["White", "White", pd.NA], dtype="string"),
            "education": pd.Series(["Bachelors", "Masters", pd.NA], dtype="string"),
            "grouped_by": pd.Series(["sex,race,education", "sex,race,education", "(total)"], dtype="string"),
            "share_income_over_50k": pd.Series([0.2, 0.5, 0.3], dtype="Float64"),
            "subjects": pd.Series([60, 70, 130], dtype="Int64"),
        }
    )
    return frame.assign(**overrides)


def test_every_registered_asset_has_a_suite_covering_its_columns():
    for name in REGISTER.asset_names:
        specs = suite_for(REGISTER, name)
        assert specs[0].expectation == "ExpectTableColumnsToMatchSet"
        typed = {s.column for s in specs if s.expectation == "ExpectColumnValuesToBeOfType"}
        assert typed, name


def test_a_clean_cohort_table_passes():
    outcome = validate(_cohorts(), "census_cohorts", suite_for(REGISTER, "census_cohorts"))
    assert outcome.success, [(o.spec.expectation, o.spec.column) for o in outcome.failed]


def test_each_broken_rule_is_named_with_its_column_and_row_count():
    broken = _cohorts(
        subjects=pd.Series([60, 12, 130], dtype="Int64"),
        race=pd.Series(["White", "Martian", pd.NA], dtype="string"),
        grouped_by=pd.Series(["sex,race,education", "sex", "(total)"], dtype="string"),
    )
    outcome = validate(broken, "census_cohorts", suite_for(REGISTER, "census_cohorts"))
    failed = {(o.spec.expectation, o.spec.column): o.unexpected_rows for o in outcome.failed}
    assert failed == {
        ("ExpectColumnValuesToBeBetween", "subjects"): 1,
        ("ExpectColumnValuesToBeInSet", "race"): 1,
        ("ExpectColumnValuesToBeInSet", "grouped_by"): 1,
    }
    assert all("Martian" not in str(o.observed) for o in outcome.outcomes)


def test_missing_and_extra_columns_and_wrong_types_fail():
    frame = _cohorts().drop(columns="education").assign(subjects=lambda f: f["subjects"].astype("string"), extra=1)
    outcome = validate(frame, "census_cohorts", suite_for(REGISTER, "census_cohorts"))
    failed = {(o.spec.expectation, o.spec.column) for o in outcome.failed}
    assert ("ExpectTableColumnsToMatchSet", None) in failed
    assert ("ExpectColumnValuesToBeOfType", "subjects") in failed
    assert not outcome.success


def test_pseudonymised_suite_checks_format_uniqueness_and_nulls():
    specs = suite_for(REGISTER, "customer_features")
    rules = {(s.expectation, s.column) for s in specs}
    assert {
        ("ExpectColumnValuesToMatchRegex", "subject_pseudonym"),
        ("ExpectColumnValuesToBeUnique", "subject_pseudonym"),
        ("ExpectColumnValuesToNotBeNull", "subject_pseudonym"),
        ("ExpectColumnValuesToBeInSet", "engagement_segment"),
    } <= rules
