"""The loaded register: one object that the factories, checks and gate query."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from compliance_assets.register.loader import (
    ParsedFile,
)
from compliance_assets.register.models import (
    CohortRelease,
    FeatureSet,
    ProcessingActivity,
    RawSource,
    Retention,
)
from compliance_assets.privacy.cohorts import DisclosureRules
from compliance_assets.register.taxonomy import is_special_category, is_within
from compliance_assets.register.dpia_document import DpiaDocument

DPIA_FOLDER = "dpia"


@dataclass(frozen=True)
class Register:
    directory: Path
    activities: dict[str, ProcessingActivity]
    sources: dict[str, RawSource]
    feature_sets: dict[str, FeatureSet]
    cohorts: dict[str, CohortRelease]
    files: dict[str, ParsedFile] = field(repr=False, compare=False)
    dpias: dict[str, DpiaDocument] = field(default_factory=dict)

    def entry(self, asset_name: str) -> RawSource | FeatureSet | CohortRelease:
        entry = self.sources.get(asset_name) or self.feature_sets.get(asset_name) or self.cohorts.get(asset_name)
        if entry is None:
            raise KeyError(f"asset '{asset_name}' is not in the register at {self.directory}")
        return entry

    def activity_of(self, asset_name: str) -> ProcessingActivity:
        return self.activities[self.entry(asset_name).activity]

    def assets_of(self, activity_key: str) -> list[str]:
        return [name for name in self.asset_names if self.entry(name).activity == activity_key]

    def special_categories(self, activity_key: str) -> list[str]:
        """The Art. 9 categories an activity processes: those it declares and those any column of
        its assets holds (an activity may declare `user.demographic` and hold its race column)."""
        categories = set(self.activities[activity_key].data_categories)
        for name in self.assets_of(activity_key):
            entry = self.entry(name)
            if isinstance(entry, RawSource):
                categories |= {c.category for c in entry.columns.values()}
            elif isinstance(entry, FeatureSet):
                categories |= {f.category for f in entry.features.values()}
        return sorted(c for c in categories if is_special_category(c))

    def domain_of(self, asset_name: str) -> str:
        """The pseudonymisation domain: an explicit one from the register, else the activity's key."""
        activity_key = self.entry(asset_name).activity
        return self.activities[activity_key].pseudonymisation_domain or activity_key

    def domains(self) -> list[str]:
        """Every pseudonymisation domain the register's assets are keyed in."""
        return sorted({self.domain_of(name) for name in self.asset_names})

    def tenant_of(self, activity_key: str, feature_set: FeatureSet) -> str | None:
        """The feature holding the client workspace, when the activity forbids mixing clients."""
        activity = self.activities.get(activity_key)
        source = self.sources.get(feature_set.subject_source)
        if activity is None or activity.cross_client_training or source is None or source.subject is None:
            return None
        scope = source.subject.scope
        return scope if scope in feature_set.features else None

    def cohorts_built_on(self, feature_set_names: set[str]) -> list[str]:
        """Cohort tables whose source is one of these feature sets."""
        return [name for name, cohort in self.cohorts.items() if cohort.source in feature_set_names]

    def measure_type(self, cohort_name: str, measure_name: str) -> str:
        """Counts are integers, means floats, and a sum keeps the type of what it adds up (a sum
        of yes/no values counts the yeses: an integer)."""
        cohort = self.cohorts[cohort_name]
        spec = cohort.measures[measure_name]
        if spec.aggregation == "count_subjects":
            return "integer"
        if spec.aggregation == "sum":
            summed = self.feature_sets[cohort.source].features[spec.column].type
            return "integer" if summed == "boolean" else summed
        return "float"

    def retention_of(self, activity_key: str, category: str) -> Retention:
        """The most specific retention entry of the activity that covers `category`."""
        covering = [key for key in self.activities[activity_key].retention if is_within(category, key)]
        if not covering:
            raise KeyError(f"activity '{activity_key}' declares no retention for data category '{category}'")
        return self.activities[activity_key].retention[max(covering, key=len)]

    def source_retention(self, source_name: str, column: str) -> Retention:
        """How long a raw source's column may be kept: the source's own entry for its category
        when it has one, else the activity's."""
        source = self.sources[source_name]
        category = source.columns[column].category
        own = [key for key in source.retention if is_within(category, key)]
        return source.retention[max(own, key=len)] if own else self.retention_of(source.activity, category)

    def column_retention(self, asset_name: str, column: str, category: str) -> Retention | None:
        """A column's retention in any tier; None where its activity declares none for the category."""
        if asset_name in self.sources and column in self.sources[asset_name].columns:
            return self.source_retention(asset_name, column)
        try:
            return self.retention_of(self.entry(asset_name).activity, category)
        except KeyError:
            return None

    def retention_periods(self, source_name: str) -> dict[str, timedelta]:
        """Per column of a raw source, how long its values may be kept."""
        return {column: self.source_retention(source_name, column).duration for column in self.sources[source_name].columns}

    def margins_revealed_elsewhere(self, cohort_name: str) -> list[tuple[str, ...]]:
        """Totals of this table's subjects that other releases of the same source give away: any
        of their levels (cells or margins), summed over the dimensions this table lacks, is a
        total over the dimensions the two share. Suppression must assume those are known."""
        cohort = self.cohorts[cohort_name]
        dims = set(cohort.dimensions)
        revealed: list[tuple[str, ...]] = []
        for name, other in self.cohorts.items():
            if name == cohort_name or other.source != cohort.source:
                continue
            for level in [other.dimensions, *other.margins]:
                shared = tuple(d for d in cohort.dimensions if d in level)
                if set(shared) != dims and shared not in revealed:
                    revealed.append(shared)
        return revealed

    @staticmethod
    def is_sensitive(feature) -> bool:
        """A special category (Art. 9), or a feature the register marks sensitive."""
        return feature.sensitive or is_special_category(feature.category)

    @staticmethod
    def is_binary(feature) -> bool:
        """A yes/no outcome: a boolean, or a feature whose values are 0 and 1."""
        return feature.type == "boolean" or (feature.values is not None and set(feature.values) <= {"0", "1", "true", "false"})

    def disclosure_rules(self, cohort_name: str) -> DisclosureRules:
        """The release's measure rules and protection interval, from its activity and features."""
        cohort = self.cohorts[cohort_name]
        activity = self.activities[cohort.activity]
        features = self.feature_sets[cohort.source].features
        sensitive = {name: features[m.column] for name, m in cohort.measures.items() if m.column in features and self.is_sensitive(features[m.column])}
        return DisclosureRules(
            protection=activity.protection_interval,
            outcomes=tuple(name for name, feature in sensitive.items() if self.is_binary(feature)),
            min_numerator=activity.min_numerator,
            magnitudes=tuple(name for name, feature in sensitive.items() if not self.is_binary(feature)),
            p_percent=activity.dominance_p_percent,
            window=activity.disclosure_window,
        )

    def guarded_by_dpia(self, asset_name: str) -> bool:
        """A published (pseudonymised or aggregate) asset of an activity with a DPIA: its
        publication waits while the DPIA has a review open."""
        published = asset_name in self.feature_sets or asset_name in self.cohorts
        return published and self.entry(asset_name).activity in self.dpias

    def lookup_columns(self, asset_name: str) -> list[str]:
        """Columns that erasure and retention find rows by: the subject's identifier or its
        reference, the retention clock, and a feature set's pseudonym."""
        if asset_name in self.feature_sets:
            return [self.feature_sets[asset_name].subject_key]
        source = self.sources.get(asset_name)
        if source is None:
            return []
        columns = [source.subject.column, *([source.subject.scope] if source.subject.scope else [])] if source.subject else []
        columns += [source.subject_reference.split(".")[1]] if source.subject_reference else []
        columns += [source.retention_clock] if source.retention_clock else []
        return list(dict.fromkeys(columns))

    @property
    def asset_names(self) -> list[str]:
        return [*self.sources, *self.feature_sets, *self.cohorts]
