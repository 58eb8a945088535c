"""The WP248 criteria and section-1 facts that the register decides, so nobody types them."""

from __future__ import annotations

from dataclasses import dataclass

from compliance_assets.dpia.document import Criterion
from compliance_assets.register import Register
from compliance_assets.register.taxonomy import is_special_category

REQUIRED_FROM = 2  # WP248: two criteria or more, and a DPIA is required in most cases


@dataclass(frozen=True)
class Derived:
    triggered: bool
    reason: str


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


def derived_criteria(register: Register, activity_key: str, observed_rows: int | None = None, large_scale_from: int = 1_000_000) -> dict[Criterion, Derived]:
    """Criteria the register (and, for scale, the latest runs) decide. Large scale is left out
    until a run has counted rows."""
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
    }
    if observed_rows is not None:
        derived[Criterion.LARGE_SCALE] = Derived(
            observed_rows >= large_scale_from,
            f"the largest source held {observed_rows:,} rows at its last run (large scale from {large_scale_from:,})",
        )
    return derived
