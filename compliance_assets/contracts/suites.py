"""Compiles the register into one expectation suite per asset. The result is plain data (GX
class name and arguments), so definitions load without importing GX; validation builds the GX
objects when a check runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from compliance_assets.tiers import KEY_VERSION, Tier
from compliance_assets.privacy.cohorts import GROUPED_BY, SUBJECTS, level_label, release_levels
from compliance_assets.privacy.pseudonymise import PSEUDONYM_PATTERN
from compliance_assets.register import Register
from compliance_assets.register.models import RELEASE_DAY

# Register column types as GX names pandas dtypes (it reports nullable Int64 as int64, and so on).
DTYPES = {"string": "str", "integer": "int64", "float": "float64", "boolean": "bool", "date": "datetime64", "datetime": "datetime64"}


@dataclass(frozen=True)
class ExpectationSpec:
    expectation: str  # a class in great_expectations.expectations
    kwargs: dict = field(hash=False)
    rule: str  # the register entry it comes from, for the check's metadata

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")


def suite_for(register: Register, asset_name: str) -> list[ExpectationSpec]:
    if asset_name in register.sources:
        return _raw_suite(register, asset_name)
    if asset_name in register.feature_sets:
        return _feature_suite(register, asset_name)
    if asset_name in register.cohorts:
        return _cohort_suite(register, asset_name)
    raise KeyError(f"asset '{asset_name}' is not in the register at {register.directory}")


def _columns(columns: list[str], tier: Tier) -> ExpectationSpec:
    return ExpectationSpec(
        "ExpectTableColumnsToMatchSet",
        {"column_set": columns, "exact_match": True},
        f"{tier.value}: exactly the registered columns",
    )


def _typed(column: str, type_: str) -> ExpectationSpec:
    return ExpectationSpec("ExpectColumnValuesToBeOfType", {"column": column, "type_": DTYPES[type_]}, f"declared type {type_}")


def _raw_suite(register: Register, name: str) -> list[ExpectationSpec]:
    source = register.sources[name]
    specs = [_columns(list(source.columns), Tier.RAW)]
    specs += [_typed(c, spec.type) for c, spec in source.columns.items()]
    if source.retention_clock:
        specs.append(ExpectationSpec("ExpectColumnValuesToNotBeNull", {"column": source.retention_clock}, "retention clock is set"))
    return specs


def _feature_suite(register: Register, name: str) -> list[ExpectationSpec]:
    feature_set = register.feature_sets[name]
    key = feature_set.subject_key
    specs = [_columns([key, KEY_VERSION, *feature_set.features], Tier.PSEUDONYMISED)]
    specs += [
        ExpectationSpec("ExpectColumnValuesToNotBeNull", {"column": key}, "every row has a subject"),
        ExpectationSpec("ExpectColumnValuesToMatchRegex", {"column": key, "regex": f"^{PSEUDONYM_PATTERN}$"}, "pseudonym format"),
        ExpectationSpec("ExpectColumnValuesToBeUnique", {"column": key}, "one row per subject"),
        ExpectationSpec("ExpectColumnValuesToNotBeNull", {"column": KEY_VERSION}, "every pseudonym has its key version"),
    ]
    for column, feature in feature_set.features.items():
        specs.append(_typed(column, feature.type))
        if feature.values is not None:
            specs.append(ExpectationSpec("ExpectColumnValuesToBeInSet", {"column": column, "value_set": feature.values}, "registered value set"))
    return specs


def _cohort_suite(register: Register, name: str) -> list[ExpectationSpec]:
    cohort = register.cohorts[name]
    feature_set = register.feature_sets[cohort.source]
    k = register.activities[cohort.activity].k_anonymity
    measures = [m for m in cohort.measures if m != SUBJECTS]
    levels = [level_label(level) for level in release_levels(cohort.dimensions, cohort.margins, ())[0]]
    day = [RELEASE_DAY] if cohort.partitions else []
    specs = [_columns([*day, *cohort.dimensions, GROUPED_BY, *measures, SUBJECTS], Tier.AGGREGATE)]
    specs += [ExpectationSpec("ExpectColumnValuesToNotBeNull", {"column": RELEASE_DAY}, "every row carries its day") for _ in day]
    specs += [
        ExpectationSpec("ExpectColumnValuesToBeBetween", {"column": SUBJECTS, "min_value": k}, f"cohort size ≥ k = {k}"),
        ExpectationSpec("ExpectColumnValuesToNotBeNull", {"column": SUBJECTS}, "every row counts its subjects"),
        ExpectationSpec("ExpectColumnValuesToBeInSet", {"column": GROUPED_BY, "value_set": levels}, "published levels only"),
        _typed(SUBJECTS, "integer"),
        *(_typed(m, register.measure_type(name, m)) for m in measures),
    ]
    for dimension in cohort.dimensions:
        values = feature_set.features[dimension].values
        if values is not None:
            specs.append(ExpectationSpec("ExpectColumnValuesToBeInSet", {"column": dimension, "value_set": values}, "registered value set"))
    return specs
