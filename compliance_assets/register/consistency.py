"""Rules that span register files: references resolve, categories are declared by the activity
that processes them, special categories have an Art. 9 basis, transfers have a basis."""

from __future__ import annotations

from typing import TYPE_CHECKING

from compliance_assets.register.dpia_consistency import dpia_problems
from compliance_assets.register.loader import RegisterProblem
from compliance_assets.register.taxonomy import is_special_category, is_within

if TYPE_CHECKING:
    from compliance_assets.register.register import Register


def consistency_problems(register: Register) -> list[RegisterProblem]:
    problems: list[RegisterProblem] = []
    problems += _activity_problems(register)
    problems += _source_problems(register)
    problems += _feature_problems(register)
    problems += _cohort_problems(register)
    problems += _banding_problems(register)
    problems += _duplicate_names(register)
    problems += dpia_problems(register)
    return problems


def _covered(category: str, declared: list[str]) -> bool:
    return any(is_within(category, d) for d in declared)


def _activity_problems(register: Register) -> list[RegisterProblem]:
    file = register.files["activities.yaml"]
    out = []
    for name, activity in register.activities.items():
        here = ("activities", name)
        if any(is_special_category(c) for c in activity.data_categories) and not activity.special_category_basis:
            out.append(file.problem((*here, "data_categories"), "special categories (Art. 9) need special_category_basis"))
        for category in activity.data_categories:
            if not _covered(category, list(activity.retention)):
                out.append(file.problem((*here, "retention"), f"no retention period covers data category '{category}'"))
        for category in activity.retention:
            if not any(is_within(category, d) or is_within(d, category) for d in activity.data_categories):
                out.append(file.problem((*here, "retention", category), "retention for a category the activity does not declare"))
        if activity.legal_basis.value == "Consent":
            source = register.sources.get(activity.consent_source or "")
            if source is None:
                out.append(file.problem((*here, "consent_source"), "the legal basis is consent: name the raw source of consent records"))
            elif not {"purpose", "status", "recorded_at"} <= set(source.columns) or source.subject_reference is None:
                out.append(
                    file.problem((*here, "consent_source"), f"'{activity.consent_source}' needs a subject_reference and columns purpose, status, recorded_at")
                )
        for position, sub in enumerate(activity.sub_processors):
            if not sub.in_eea and sub.transfer_basis is None:
                out.append(
                    file.problem(
                        (*here, "sub_processors", position, "transfer_basis"),
                        f"sub-processor '{sub.name}' is in {sub.country}, outside the EU/EEA, and has no transfer basis",
                    )
                )
    return out


def _activity_ref(register: Register, file_key: str, section: str, name: str, activity: str) -> list[RegisterProblem]:
    if activity in register.activities:
        return []
    file = register.files[file_key]
    return [file.problem((section, name, "activity"), f"unknown processing activity '{activity}'")]


def _category_problem(register, file_key, location, activity_name, category) -> list[RegisterProblem]:
    """A column's category must be declared by its activity, and a special category (Art. 9)
    needs the activity's special-category basis."""
    activity = register.activities.get(activity_name)
    if activity is None:
        return []
    file = register.files[file_key]
    out = []
    if not _covered(category, activity.data_categories):
        out.append(file.problem(location, f"data category '{category}' is not declared by activity '{activity_name}'"))
    if is_special_category(category) and activity.special_category_basis is None:
        out.append(
            file.problem(location, f"'{category}' is a special category (Art. 9): activity '{activity_name}' needs special_category_basis")
        )
    return out


def _source_problems(register: Register) -> list[RegisterProblem]:
    file = register.files["sources.yaml"]
    out = []
    for name, source in register.sources.items():
        here = ("sources", name)
        out += _activity_ref(register, "sources.yaml", "sources", name, source.activity)
        for column_name, column in source.columns.items():
            out += _category_problem(register, "sources.yaml", (*here, "columns", column_name, "category"), source.activity, column.category)
        if source.subject is not None:
            for field in ("column", "scope"):
                value = getattr(source.subject, field)
                if value is not None and value not in source.columns:
                    out.append(file.problem((*here, "subject", field), f"column '{value}' is not a column of '{name}'"))
        if source.subject_reference is not None:
            target, column = source.subject_reference.split(".")
            target_source = register.sources.get(target)
            if target_source is None or target_source.subject is None or column not in target_source.columns:
                out.append(file.problem((*here, "subject_reference"), f"'{source.subject_reference}' is not a column of a source with a subject"))
        if source.erasure.action == "anonymise":
            identifying = {c for c, spec in source.columns.items() if spec.identifier.value != "none"}
            if source.subject_reference:
                identifying.add(source.subject_reference.split(".")[1])
            left = sorted(identifying - set(source.erasure.columns))
            if left:
                out.append(file.problem((*here, "erasure", "columns"), f"anonymising leaves identifying columns {left}; empty them too or delete the rows"))
        for field_name in ("event_time", "retention_from"):
            time_column = getattr(source, field_name)
            if time_column is not None:
                column = source.columns.get(time_column)
                if column is None or column.type not in ("date", "datetime"):
                    out.append(file.problem((*here, field_name), f"'{time_column}' is not a date or datetime column of '{name}'"))
    return out


def _column_exists(register: Register, ref: str) -> bool:
    asset, column = ref.split(".")
    if asset in register.sources:
        return column in register.sources[asset].columns
    if asset in register.feature_sets:
        fs = register.feature_sets[asset]
        return column in fs.features or column == fs.subject_key
    return False


def _feature_problems(register: Register) -> list[RegisterProblem]:
    file = register.files["features.yaml"]
    out = []
    for name, feature_set in register.feature_sets.items():
        here = ("feature_sets", name)
        out += _activity_ref(register, "features.yaml", "feature_sets", name, feature_set.activity)
        source = register.sources.get(feature_set.subject_source)
        if source is None or source.subject is None:
            out.append(file.problem((*here, "subject_source"), f"'{feature_set.subject_source}' is not a raw source with a subject identifier"))
        if feature_set.subject_key in feature_set.features:
            out.append(file.problem((*here, "features", feature_set.subject_key), "the subject key is added by the pseudonymiser and cannot be a feature"))
        for feature_name, feature in feature_set.features.items():
            location = (*here, "features", feature_name)
            out += _category_problem(register, "features.yaml", (*location, "category"), feature_set.activity, feature.category)
            for position, ref in enumerate(feature.sources):
                if not _column_exists(register, ref):
                    out.append(file.problem((*location, "sources", position), f"'{ref}' is not a registered column"))
    return out


def _cohort_problems(register: Register) -> list[RegisterProblem]:
    file = register.files["cohorts.yaml"]
    out = []
    for name, cohort in register.cohorts.items():
        here = ("cohorts", name)
        out += _activity_ref(register, "cohorts.yaml", "cohorts", name, cohort.activity)
        feature_set = register.feature_sets.get(cohort.source)
        if feature_set is None:
            out.append(file.problem((*here, "source"), f"'{cohort.source}' is not a feature set"))
            continue
        for position, dimension in enumerate(cohort.dimensions):
            if dimension not in feature_set.features:
                out.append(file.problem((*here, "dimensions", position), f"'{dimension}' is not a feature of '{cohort.source}'"))
        for measure_name, measure in cohort.measures.items():
            if measure_name in cohort.dimensions:
                out.append(file.problem((*here, "measures", measure_name), "a measure cannot share a dimension's name"))
            if measure.column is not None and measure.column not in feature_set.features:
                out.append(file.problem((*here, "measures", measure_name, "column"), f"'{measure.column}' is not a feature of '{cohort.source}'"))
        out += _margin_problems(register, name, cohort, feature_set)
    return out


def _margin_problems(register: Register, name: str, cohort, feature_set) -> list[RegisterProblem]:
    """Margins group by some of the cohort's dimensions, and keep the tenant when clients must not mix."""
    file = register.files["cohorts.yaml"]
    tenant = register.tenant_of(cohort.activity, feature_set)
    out = []
    for position, margin in enumerate(cohort.margins):
        here = ("cohorts", name, "margins", position)
        outside = [d for d in margin if d not in cohort.dimensions]
        if outside:
            out.append(file.problem(here, f"margin groups by {outside}, which are not dimensions of '{name}'"))
        elif set(margin) == set(cohort.dimensions):
            out.append(file.problem(here, "a margin over every dimension is the cohort table itself"))
        if tenant in cohort.dimensions and tenant not in margin:
            out.append(
                file.problem(here, f"margin would add up several client workspaces; '{cohort.activity}' forbids mixing them, so include '{tenant}'")
            )
    return out


def _duplicate_names(register: Register) -> list[RegisterProblem]:
    out = []
    seen: dict[str, str] = {}
    for file_key, section, names in (
        ("sources.yaml", "sources", register.sources),
        ("features.yaml", "feature_sets", register.feature_sets),
        ("cohorts.yaml", "cohorts", register.cohorts),
    ):
        for name in names:
            if name in seen:
                out.append(register.files[file_key].problem((section, name), f"asset name already used in {seen[name]}"))
            seen[name] = file_key
    return out


def _banding_problems(register: Register) -> list[RegisterProblem]:
    """Two bandings of one attribute in releases of one population give away the slices between
    their bounds (0-17 beside 0-16 is the 17-year-olds). Releases of one feature table are audited
    together at their common refinement (`privacy.joint`); releases of two feature tables of the
    same subjects cannot be, so there dimensions derived from the same source attribute must
    declare their bands, and two different bandings are refused."""
    file = register.files["cohorts.yaml"]
    seen: dict[tuple[str, str], tuple[str, str, tuple[float, ...] | None]] = {}
    out = []
    for name, cohort in register.cohorts.items():
        feature_set = register.feature_sets.get(cohort.source)
        if feature_set is None:
            continue
        for position, dimension in enumerate(cohort.dimensions):
            feature = feature_set.features.get(dimension)
            if feature is None or len(feature.sources) != 1:
                continue
            attribute = (feature_set.subject_source, feature.sources[0])
            bands = tuple(feature.bands) if feature.bands else None
            earlier = seen.setdefault(attribute, (name, dimension, bands))
            other_name, other_dimension, other_bands = earlier
            if register.cohorts[other_name].source == cohort.source:
                continue  # one feature table: the releases are audited together at their common refinement
            here = ("cohorts", name, "dimensions", position)
            if bands is None or other_bands is None:
                out.append(
                    file.problem(
                        here,
                        f"'{name}.{dimension}' and '{other_name}.{other_dimension}' both derive from {feature.sources[0]}: "
                        "declare each feature's bands so the two releases can be audited together, or publish both with one feature",
                    )
                )
            elif bands != other_bands:
                kind = "nested" if set(bands) <= set(other_bands) or set(other_bands) <= set(bands) else "crossing"
                out.append(
                    file.problem(
                        here,
                        f"{kind} bandings of {feature.sources[0]}: '{name}.{dimension}' bands {list(bands)} and "
                        f"'{other_name}.{other_dimension}' bands {list(other_bands)}; subtracting one release from the other "
                        "reveals the slices between their bounds: publish both with one banding",
                    )
                )
    return out
