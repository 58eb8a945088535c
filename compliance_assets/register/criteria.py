"""The WP248 criteria and section-1 facts that the register and the runs decide, so nobody types them."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from compliance_assets.register.ages import AGE_IN_YEARS, BIRTH_DATE, age_columns
from compliance_assets.register.dpia_document import Criterion, DpiaDocument
from compliance_assets.register.register import Register
from compliance_assets.register.taxonomy import is_special_category, is_within

REQUIRED_FROM = 2  # WP248: two criteria or more, and a DPIA is required in most cases
DEFAULT_THRESHOLDS = SimpleNamespace(**{k: f.default for k, f in DpiaDocument.model_fields.items() if k.startswith("large_scale")})
ADULTHOOD = 18

# fideslang data subjects WP248 names as vulnerable: patients, and employees (with job applicants
# and trainees) for the imbalance of power between them and their employer.
VULNERABLE_KINDS = {
    "patient": "patients",
    "employee": "employees (imbalance of power with the employer)",
    "job_applicant": "job applicants (imbalance of power with the employer)",
    "trainee": "trainees (imbalance of power with the employer)",
}


@dataclass(frozen=True)
class Derived:
    triggered: bool
    reason: str


@dataclass(frozen=True)
class Observed:
    """What the latest runs measured, or the approved state's figures when nothing ran, and
    `source`, which says which of the two (it ends every reason that cites a figure)."""

    rows: int | None = None
    subjects: int | None = None
    under_18: int | None = None
    under_16: int | None = None
    source: str = "at its last run"


def activity_assets(register: Register, activity_key: str) -> list[str]:
    return [name for name in register.asset_names if register.entry(name).activity == activity_key]


def feeding_sources(register: Register, activity_key: str) -> list[str]:
    """Raw sources whose rows reach the activity's assets (its own, or read by its features)."""
    sources: set[str] = set()
    for name in activity_assets(register, activity_key):
        if name in register.sources:
            sources.add(name)
        feature_set = register.feature_sets.get(name) or register.feature_sets.get(getattr(register.entry(name), "source", ""))
        if feature_set is not None:
            sources.add(feature_set.subject_source)
            sources.update(ref.split(".")[0] for feature in feature_set.features.values() for ref in feature.sources)
    activity = register.activities[activity_key]
    if activity.legal_basis.value == "Consent" and activity.consent_source:
        sources.add(activity.consent_source)
    return sorted(sources)


def declared_minors(register: Register, activity_key: str) -> list[str]:
    """Age features of the activity whose registered bands start under 18: the data contract says
    the data holds minors (a band from 17 exists because 17-year-olds do)."""
    out = []
    for name, feature_set in register.feature_sets.items():
        if feature_set.activity != activity_key:
            continue
        for feature_name, feature in feature_set.features.items():
            ages = is_within(feature.category, AGE_IN_YEARS) or is_within(feature.category, BIRTH_DATE)
            if ages and feature.bands and min(feature.bands) < ADULTHOOD:
                out.append(f"{name}.{feature_name} has bands from {min(feature.bands):g}")
    return out


def _vulnerable(register: Register, activity_key: str, observed: Observed | None) -> Derived:
    activity = register.activities[activity_key]
    found = [VULNERABLE_KINDS[s] for s in activity.data_subjects if s in VULNERABLE_KINDS]
    found += [f"{group.value.replace('_', ' ')} (declared)" for group in activity.vulnerable_groups]
    banded = declared_minors(register, activity_key)
    if banded:
        found.append(f"minors, as the registered age bands start under {ADULTHOOD}: {', '.join(banded)}")
    if observed is not None and observed.under_18:
        found.append(f"minors: {observed.under_18:,} row(s) of subjects under {ADULTHOOD}, {observed.under_16 or 0:,} under 16 ({observed.source})")
    if found:
        return Derived(True, "vulnerable subjects: " + "; ".join(found))
    if not any(age_columns(register.sources[s].columns) for s in feeding_sources(register, activity_key)):
        ages = "no age or date of birth in its sources"
    elif observed is not None and observed.under_18 == 0:
        ages = f"no row under {ADULTHOOD} ({observed.source})"
    else:
        ages = "no run has measured the ages yet"
    return Derived(False, f"no patient, employee, job applicant, trainee or declared vulnerable group among the subjects ({', '.join(activity.data_subjects)}); {ages}")


def _large_scale(register: Register, activity_key: str, observed: Observed | None) -> Derived | None:
    """WP248's factors: subjects (absolute, and as a share of the relevant population), volume,
    duration and geographical extent. The first two decide against the DPIA's thresholds; extent
    and duration are stated beside them for the DPO, as WP248 weighs them together. None when
    neither the register nor a run gives a figure."""
    activity = register.activities[activity_key]
    population = activity.population
    measured_rows = observed.rows if observed is not None else None
    measured_subjects = observed.subjects if observed is not None else None
    if population is None and measured_rows is None and measured_subjects is None:
        return None
    thresholds = register.dpias.get(activity_key) or DEFAULT_THRESHOLDS
    met, factors = [], []
    counts = [n for n in (population.subjects if population else None, measured_subjects) if n is not None]
    subjects = max(counts) if counts else None
    if population is not None:
        factors.append(f"{population.subjects:,} subjects declared")
    if measured_subjects is not None:
        factors.append(f"{measured_subjects:,} subjects counted ({observed.source})")
    if subjects is not None and subjects >= thresholds.large_scale_subjects:
        met.append(f"{subjects:,} subjects (from {thresholds.large_scale_subjects:,})")
    if population is not None and population.relevant_population:
        share = subjects / population.relevant_population
        factors.append(f"{share:.2%} of a relevant population of {population.relevant_population:,}")
        if share >= thresholds.large_scale_share:
            met.append(f"{share:.2%} of the relevant population (from {thresholds.large_scale_share:.0%})")
    if measured_rows is not None:
        factors.append(f"the largest source held {measured_rows:,} rows ({observed.source})")
        if measured_rows >= thresholds.large_scale_from:
            met.append(f"{measured_rows:,} rows in one source (from {thresholds.large_scale_from:,})")
    if population is not None:
        factors.append(f"{population.geography.value} extent")
    longest = max(activity.retention.values(), key=lambda r: r.duration)
    factors.append(f"kept up to {longest.period}")
    if met:
        return Derived(True, "large scale: " + "; ".join(met) + " (" + "; ".join(factors) + ")")
    return Derived(False, "not large scale: " + "; ".join(factors) + f" (large from {thresholds.large_scale_subjects:,} subjects, {thresholds.large_scale_share:.0%} of the population or {thresholds.large_scale_from:,} rows)")


def derived_criteria(register: Register, activity_key: str, observed: Observed | None = None) -> dict[Criterion, Derived]:
    """Criteria the register (and, for scale and minors, the latest runs) decide. Large scale, and
    with it Art. 35(3)(b), is left out while neither the register declares a population nor a run
    has counted rows."""
    activity = register.activities[activity_key]
    sources = feeding_sources(register, activity_key)
    categories = set(activity.data_categories) | {c.category for s in sources for c in register.sources[s].columns.values()}
    special = sorted(c for c in categories if is_special_category(c))
    derived = {
        Criterion.SENSITIVE_DATA: Derived(
            bool(special),
            f"special categories (Art. 9): {', '.join(special)}" if special else "no special category (Art. 9) in the register's data categories",
        ),
        Criterion.AUTOMATED_DECISIONS: Derived(
            activity.automated_decisions.present,
            f"automated decisions under Art. 22 ({activity.automated_decisions.art22_basis.value}): {activity.automated_decisions.description}"
            if activity.automated_decisions.present
            else "the register declares no automated decision",
        ),
        Criterion.COMBINING_DATASETS: Derived(
            len(sources) >= 2,
            f"combines {len(sources)} raw sources: {', '.join(sources)}" if len(sources) >= 2 else f"reads one raw source only ({', '.join(sources) or 'none'})",
        ),
        Criterion.VULNERABLE_SUBJECTS: _vulnerable(register, activity_key, observed),
    }
    scale = _large_scale(register, activity_key, observed)
    if scale is not None:
        derived[Criterion.LARGE_SCALE] = scale
        both = bool(special) and scale.triggered
        derived[Criterion.SPECIAL_CATEGORIES_AT_SCALE] = Derived(
            both,
            f"special categories ({', '.join(special)}) processed on a large scale: a DPIA is required (Art. 35(3)(b))"
            if both
            else ("special categories, but not on a large scale" if special else "no special category (Art. 9) or criminal data"),
        )
    return derived
