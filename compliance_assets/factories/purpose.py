"""Purpose binding: an asset may consume only the data categories its activity declares for its
purpose. Wiring it to an input column of any other category is refused when the definitions
load, and at run time a transform is handed only the input columns its register entry names."""

from __future__ import annotations

from dataclasses import dataclass

from compliance_assets.register import Register
from compliance_assets.register.taxonomy import is_within


class PrivacyViolationError(Exception):
    """Raised at definitions load: the code location refuses to exist with a purpose violation."""


@dataclass(frozen=True)
class ConsumedColumn:
    asset: str
    column: str
    category: str


def column_category(register: Register, asset: str, column: str) -> str:
    if asset in register.sources:
        return register.sources[asset].columns[column].category
    feature_set = register.feature_sets[asset]
    if column == feature_set.subject_key:
        return "user.unique_id.pseudonymous"
    return feature_set.features[column].category


def consumed_columns(register: Register, name: str) -> list[ConsumedColumn]:
    """Every input column an asset reads, with its data category."""
    refs: list[str] = []
    if name in register.feature_sets:
        feature_set = register.feature_sets[name]
        refs = [ref for feature in feature_set.features.values() for ref in feature.sources]
    elif name in register.cohorts:
        cohort = register.cohorts[name]
        source = register.feature_sets[cohort.source]
        columns = [*cohort.dimensions, *(m.column or source.subject_key for m in cohort.measures.values())]
        refs = [f"{cohort.source}.{c}" for c in columns]
    seen = dict.fromkeys(refs)
    return [ConsumedColumn(a, c, column_category(register, a, c)) for a, c in (ref.split(".") for ref in seen)]


def enforce_purpose(register: Register, name: str) -> None:
    activity_key = register.entry(name).activity
    activity = register.activities[activity_key]
    forbidden = [c for c in consumed_columns(register, name) if not any(is_within(c.category, d) for d in activity.data_categories)]
    if forbidden:
        listing = "; ".join(f"input '{c.asset}.{c.column}' is of category '{c.category}'" for c in forbidden)
        raise PrivacyViolationError(
            f"asset '{name}' serves '{activity.data_use}' for activity '{activity_key}', which may not consume: {listing}. "
            f"Declare the category in register/activities.yaml (activities.{activity_key}.data_categories) with its basis, or rewire the asset."
        )


def permitted_input_columns(register: Register, name: str) -> dict[str, list[str]]:
    """Per raw input of a feature set, the columns its feature registry names, plus the subject's
    identifier, scope and the key that joins other inputs to it: nothing else reaches a transform."""
    feature_set = register.feature_sets[name]
    subject_source = register.sources[feature_set.subject_source]
    permitted: dict[str, set[str]] = {}
    for feature in feature_set.features.values():
        for ref in feature.sources:
            asset, column = ref.split(".")
            permitted.setdefault(asset, set()).add(column)
    subject = subject_source.subject
    own = permitted.setdefault(feature_set.subject_source, set())
    own.update(c for c in (subject.column, subject.scope) if c)
    for asset in permitted:
        reference = register.sources[asset].subject_reference if asset in register.sources else None
        if reference:
            target, column = reference.split(".")
            permitted[asset].add(column)
            permitted.setdefault(target, set()).add(column)
    return {asset: sorted(columns) for asset, columns in permitted.items()}
