"""The register as pydantic models: processing activities (Art. 30), raw sources, the feature
registry and cohort releases. Field-level rules live here; rules that span files live in
`consistency.py`."""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Literal

from fideslang.models import (
    LegalBasisForProcessingEnum,
    LegalBasisForProfilingEnum,
    LegalBasisForTransfersEnum,
    SpecialCategoryLegalBasisEnum,
)
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from compliance_assets.register.taxonomy import (
    check_data_category,
    check_data_subject,
    check_data_use,
)

DataCategory = Annotated[str, AfterValidator(check_data_category)]
DataUse = Annotated[str, AfterValidator(check_data_use)]
DataSubject = Annotated[str, AfterValidator(check_data_subject)]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
Owner = Annotated[str, Field(pattern=r"^(team:[A-Za-z0-9_-]+|[^@\s]+@[^@\s]+\.[A-Za-z]{2,})$")]
ColumnRef = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]

EEA_COUNTRIES = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO".split()
)

_DURATION = re.compile(r"^\s*(\d+)\s*(day|days|week|weeks|month|months|year|years)\s*$")
_DAYS_PER_UNIT = {"day": 1, "week": 7, "month": 365 / 12, "year": 365}  # twelve months are a year


class Strict(BaseModel):
    """Unknown fields are errors: a typo in the register must not silently drop a rule."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _parse_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"'{value}' is not a duration such as '90 days', '12 months' or '5 years'")
    count, unit = int(match.group(1)), match.group(2).rstrip("s")
    return timedelta(days=count * _DAYS_PER_UNIT[unit])


class Retention(Strict):
    """How long rows of one data category may be kept, and from which timestamp column."""

    period: str
    """How long, as a duration: `90 days`, `12 months`, `5 years`."""
    reason: str = Field(min_length=1)
    """Why that long: what the RoPA and a subject's access export state."""

    @property
    def duration(self) -> timedelta:
        return _parse_duration(self.period)

    @model_validator(mode="after")
    def _period_parses(self) -> Retention:
        _parse_duration(self.period)
        return self


class SubProcessor(Strict):
    name: str = Field(min_length=1)
    """The sub-processor's legal name."""
    service: str = Field(min_length=1)
    """What it does for the activity."""
    country: CountryCode
    """Where it processes the data (ISO 3166 two-letter code)."""
    transfer_basis: LegalBasisForTransfersEnum | None = None
    """The Art. 46 safeguard (e.g. SCCs) or adequacy decision, required outside the EU/EEA."""

    @property
    def in_eea(self) -> bool:
        return self.country in EEA_COUNTRIES


class AutomatedDecisions(Strict):
    present: bool
    """Whether any decision is taken by automated means alone."""
    art22_basis: LegalBasisForProfilingEnum | None = None
    """The Art. 22(2) exception that allows it, required when present."""
    description: str = ""
    """What is decided, and how a person can contest it."""
    human_oversight: str = Field(default="", description="Who reviews an automated decision, and how a subject obtains that review (Art. 22(3))")

    @model_validator(mode="after")
    def _basis_when_present(self) -> AutomatedDecisions:
        if self.present and self.art22_basis is None:
            raise ValueError("automated decisions are present, so art22_basis is required")
        return self


class Party(Strict):
    """An organisation or person the record of processing activities names, and how to reach them."""

    name: str = Field(min_length=1)
    """The organisation's or person's name."""
    contact: str = Field(min_length=1, description="Email, postal address or web form where they can be reached")


class Role(StrEnum):
    CONTROLLER = "controller"
    PROCESSOR = "processor"


class Geography(StrEnum):
    LOCAL = "local"
    REGIONAL = "regional"
    NATIONAL = "national"
    INTERNATIONAL = "international"


class Population(Strict):
    """Who the activity concerns, in the terms WP248 weighs for "large scale": how many subjects,
    out of which population, over which territory. Rows alone do not say it: ten million events
    can be a few thousand people, and a few thousand patients can be a whole town's."""

    subjects: int = Field(ge=1, description="Data subjects the activity concerns at its expected peak (every client's contacts, every respondent of a survey)")
    relevant_population: int | None = Field(
        default=None,
        ge=1,
        description="The population those subjects are drawn from (a country's residents, a hospital's catchment), so the subjects are also weighed as a proportion of it",
    )
    geography: Geography = Field(description="Geographical extent of the processing: local, regional, national or international")
    source: str = Field(min_length=1, description="Where the figures come from, for the DPO who checks them")

    @model_validator(mode="after")
    def _within_population(self) -> Population:
        if self.relevant_population is not None and self.subjects > self.relevant_population:
            raise ValueError("subjects cannot exceed the relevant population they are drawn from")
        return self


class VulnerableGroup(StrEnum):
    """Vulnerable subjects (WP248 criterion 7) the fideslang data-subject taxonomy has no key for."""

    CHILDREN = "children"
    ELDERLY = "elderly"
    ASYLUM_SEEKERS = "asylum_seekers"
    MENTALLY_ILL = "mentally_ill"


class ProcessingActivity(Strict):
    """One entry of the record of processing activities (Art. 30(1) and (2))."""

    name: str = Field(min_length=1)
    """The activity's name as the RoPA and the DPIA show it."""
    role: Role
    """Whether the organisation is the controller or a processor (acting for the `controller`) for this activity: decides between an Art. 30(1) and an Art. 30(2) record."""
    controller: str = Field(min_length=1, description="The controller; for a processor activity, each controller on whose behalf we act")
    controller_contact: str | None = Field(
        default=None,
        description="How to reach the controller (Art. 30(1)(a)), or each controller we act for (Art. 30(2)(a)); "
        "the RoPA says it is missing when left out",
    )
    processor: Party | None = Field(
        default=None, description="For a processor activity: who processes on the controllers' behalf, and their contact (Art. 30(2)(a))"
    )
    dpo: Party | None = Field(default=None, description="The data protection officer and their contact (Art. 30(1)(a) and 30(2)(a))")
    processing_categories: list[str] = Field(
        default_factory=list,
        description="For a processor activity: the categories of processing carried out on behalf of each controller (Art. 30(2)(b))",
    )
    purpose: str = Field(min_length=1)
    """What the processing is for, in words a data subject would understand (Art. 5(1)(b))."""
    data_use: DataUse
    """The purpose as a fideslang data use; purpose binding refuses an asset whose activity's data use is not allowed."""
    legal_basis: LegalBasisForProcessingEnum
    """The Art. 6 basis. Consent needs a `consent_source`."""
    special_category_basis: SpecialCategoryLegalBasisEnum | None = None
    """The Art. 9(2) condition, required when any asset of the activity holds a special category (health, race, religion, ...)."""
    data_subjects: list[DataSubject] = Field(min_length=1)
    """Whose data it is. Patients, employees, job applicants and trainees count as vulnerable subjects in the DPIA."""
    vulnerable_groups: list[VulnerableGroup] = Field(
        default_factory=list,
        description="Vulnerable subjects the fideslang taxonomy cannot name (children, elderly, asylum seekers, mentally ill); "
        "patients, employees, job applicants and trainees follow from data_subjects",
    )
    population: Population | None = Field(
        default=None, description="Declared subjects, relevant population and geographical extent, from which the DPIA judges large scale"
    )
    data_categories: list[DataCategory] = Field(min_length=1)
    """Every data category the activity processes; each column's category must fall under one of them."""
    recipients: list[str] = Field(default_factory=list)
    """Who receives the data or its results (Art. 30(1)(d)), beside the sub-processors."""
    sub_processors: list[SubProcessor] = Field(default_factory=list)
    """Processors engaged for the activity, with where they process (transfers outside the EU/EEA need a basis)."""
    retention: dict[DataCategory, Retention] = Field(min_length=1)
    """How long each data category may be kept, and why; the retention job and check apply it per column."""
    security_measures: list[str] = Field(min_length=1)
    """The technical and organisational measures (Art. 32) the RoPA lists."""
    automated_decisions: AutomatedDecisions
    """Whether the activity takes decisions with legal or similar effects by automated means (Art. 22)."""
    training_use: bool
    """Whether the data trains a model; the AI processing schedule lists such activities."""
    cross_client_training: bool = False
    """For a processor: whether one client's data may train a model used for another. False keeps clients apart."""
    k_anonymity: int = Field(default=50, ge=2)
    """The smallest number of distinct subjects a published cohort may hold."""
    protection_interval: int | None = Field(
        default=None,
        ge=1,
        description="The narrowest range an attacker may be able to bound a withheld cohort under k to, from "
        "everything published (default: k, so nobody can tell the cohort is small)",
    )
    min_numerator: int = Field(
        default=10,
        ge=1,
        description="Outcome counts (and their complements) of 1 to min_numerator - 1 are not published exactly",
    )
    disclosure_window: int = Field(
        default=10,
        ge=1,
        le=30,
        description="How many of the ledger's latest publications of a release (it keeps 30) a new one that shows a row "
        "again is read together with: no withheld cohort under k in any of them may be bounded narrower than the "
        "protection interval",
    )
    dominance_p_percent: float = Field(
        default=10.0,
        gt=0,
        le=100,
        description="The p % rule for sums and means of sensitive magnitudes: a cohort is withheld when its total less its "
        "two largest contributions is under p % of the largest",
    )
    pseudonymisation_domain: Identifier | None = None
    """The key domain of the activity's pseudonyms (default: the activity's key); activities in one domain share pseudonyms, others cannot link them."""
    reidentification_purposes: list[DataUse] = Field(
        default_factory=list, description="Data uses for which the mapping vault may return an identifier"
    )
    pseudonym_mapping_retention: Retention | None = None
    """How long the vault keeps a pseudonym's mapping back to its identifier after the subject was last seen."""
    consent_source: Identifier | None = Field(
        default=None, description="Raw source of consent records (purpose, status, recorded_at); required when the legal basis is consent"
    )
    owners: list[Owner] = Field(min_length=1)
    """Who answers for the activity: `team:<name>` or an email; shown as the assets' owners in Dagster."""


class IdentifierRole(StrEnum):
    DIRECT = "direct"
    QUASI = "quasi"
    NONE = "none"


ColumnType = Literal["string", "integer", "float", "boolean", "date", "datetime"]


class Column(Strict):
    type: ColumnType
    """The column's type; values that do not read as it are quarantined."""
    category: DataCategory
    """The fideslang data category of the column's values."""
    identifier: IdentifierRole = IdentifierRole.NONE
    """`direct` (names a person), `quasi` (identifies in combination) or `none`."""
    description: str = Field(min_length=1)
    """What the column holds, shown on the asset page."""
    values: list[str] | None = Field(default=None, min_length=1)
    """The only values a text column may hold; a row with another value (a Cyrillic 'а' in 'Male') is quarantined with its reason, not ingested."""

    @model_validator(mode="after")
    def _value_set_for_text(self) -> Column:
        if self.values is not None and self.type != "string":
            raise ValueError("a registered value set is for a string column")
        return self


IdentifierKind = Literal["email", "phone", "customer_id"]


class SubjectIdentifier(Strict):
    """The column that names the data subject, how to normalise it before keying, and the
    column (if any) whose value scopes it: the same email at two clients is two subjects."""

    column: Identifier
    """The column holding the identifier."""
    kind: IdentifierKind
    """How it is normalised before keying: `email` (case-folded), `phone` (E.164), `customer_id`."""
    scope: Identifier | None = None
    """A column whose value scopes the identifier (the same email at two clients is two subjects); a request about such a subject names its scope."""
    default_region: CountryCode | None = Field(
        default=None,
        description="Where phone numbers without a country code are from: how a phone identifier is normalised, and the "
        "region in which the identifier check reads such numbers in the tiers built from this source. Without one "
        "(the default), the check finds only numbers written with their country code (+33…, 0033…).",
    )

    @model_validator(mode="after")
    def _phone_needs_region(self) -> SubjectIdentifier:
        if self.kind == "phone" and self.default_region is None:
            raise ValueError("phone identifiers need default_region to be written in E.164")
        return self


class ErasurePolicy(Strict):
    """What an erasure request does to a source's rows: delete them; anonymise them (empty the
    listed columns, which must include every identifying one); or keep them under an Art. 17(3)
    exception whose reason goes into every erasure record."""

    action: Literal["delete", "anonymise", "keep"] = "delete"
    """`delete` the rows, `anonymise` them (empty their identifying columns) or `keep` them."""
    columns: list[Identifier] = Field(default_factory=list, description="Columns an anonymisation empties")
    reason: str | None = None
    """Why, for `keep` the Art. 17(3) ground; shown in the erasure's outcome."""

    @model_validator(mode="after")
    def _complete(self) -> ErasurePolicy:
        if self.action == "keep" and not self.reason:
            raise ValueError("keeping rows against an erasure request needs the Art. 17(3) reason")
        if self.action == "anonymise" and not self.columns:
            raise ValueError("anonymising needs the columns to empty")
        return self


class RawSource(Strict):
    """A raw-tier asset: personal data as it arrives."""

    activity: Identifier
    """The processing activity the source belongs to."""
    description: str = Field(min_length=1)
    """What the source is, shown on its asset page."""
    subject: SubjectIdentifier | None = None
    """The column that names the data subject, when the source is the subject source of a feature set."""
    subject_reference: ColumnRef | None = None
    """`source.column` of the subject source's identifier this source's rows point to (e.g. `customers.customer_id`)."""
    event_time: Identifier | None = None
    """The column with the time of each row, which daily partitions are counted from."""
    retention_from: Identifier | None = Field(
        default=None, description="Column the retention periods count from; defaults to event_time."
    )
    retention: dict[DataCategory, Retention] = Field(
        default_factory=dict,
        description="Periods for this source's columns that differ from the activity's for the same category.",
    )
    erasure: ErasurePolicy = Field(default_factory=ErasurePolicy)
    """What erasure does to the source's rows: delete them (default), empty their identifying columns, or keep them under Art. 17(3) with the reason."""
    provided_by_subject: bool = Field(
        default=False,
        description="The subject provided these rows (directly or by using the service): Art. 20 portability covers them.",
    )
    past_retention_on_arrival: Literal["block", "drop"] = Field(
        default="block",
        description="Arriving rows already past retention: 'block' fails the retention check, 'drop' does not keep them (counted and audited).",
    )
    partitions: Literal["daily"] | None = Field(
        default=None,
        description="'daily': one Dagster partition per UTC day of event_time; a run replaces only its days' rows.",
    )
    max_quarantined_fraction: float = Field(default=0.01, ge=0, le=1)
    """The share of a run's arriving rows that may be quarantined (unreadable, outside a value set, without an identifier, a subject id duplicated) before the blocking `quarantine` check fails and nothing is published; it also bounds the feature sets keyed from this source."""
    columns: dict[Identifier, Column] = Field(min_length=1)
    """Every column the source delivers, by snake_case name; an undeclared or missing column fails the run."""

    @model_validator(mode="after")
    def _partitioned_by_its_clock(self) -> RawSource:
        if self.partitions and not self.event_time:
            raise ValueError("a source partitioned by day needs the event_time its days are counted from")
        return self

    @property
    def retention_clock(self) -> str | None:
        return self.retention_from or self.event_time


class Feature(Strict):
    """A feature-registry entry: every column of a pseudonymised asset must have one."""

    type: ColumnType
    """The feature's type, checked by the contract."""
    category: DataCategory
    """The fideslang data category of the feature."""
    identifier: Literal["quasi", "none"] = "none"
    """`quasi` when it identifies in combination (a cohort dimension usually is), `none` otherwise; `direct` is refused in this tier."""
    sources: list[ColumnRef] = Field(min_length=1)
    """`source.column` of every raw column the feature is computed from; the transform may read only these."""
    extraction: str = Field(min_length=1)
    """How the feature is computed from its sources."""
    minimisation: str = Field(min_length=1)
    """What it keeps less of than its sources (bands instead of ages, a count instead of events)."""
    necessity: str = Field(min_length=1)
    """Why the purpose needs it; a feature without one fails the deploy gate."""
    values: list[str] | None = Field(default=None, description="The only values the feature may take (its data contract).")
    sensitive: bool = Field(
        default=False,
        description="Measures over this feature follow the measure rules even when its category is not special (Art. 9)",
    )
    bands: list[float] | None = Field(
        default=None,
        min_length=1,
        description="The feature cuts its one numeric source attribute into bands starting at these bounds: "
        "two releases of one population may use two bandings of an attribute only when one refines the other",
    )


class FeatureSet(Strict):
    """A pseudonymised-tier asset: one row per subject, keyed by a keyed-HMAC pseudonym."""

    activity: Identifier
    """The processing activity the features serve."""
    description: str = Field(min_length=1)
    """What a row is, shown on the asset page."""
    subject_source: Identifier
    """The raw source whose subjects the rows are (it must have a `subject`)."""
    subject_key: Identifier = "subject_pseudonym"
    """The name of the pseudonym column, the table's key."""
    features: dict[Identifier, Feature] = Field(min_length=1)
    """Every column the transform returns beside the key; any other column fails `minimisation`."""


class Measure(Strict):
    aggregation: Literal["count_subjects", "sum", "mean"]
    """`count_subjects`, `sum` or `mean`."""
    column: Identifier | None = None
    """The feature summed or averaged (not for `count_subjects`)."""
    description: str = Field(min_length=1)
    """What the measure means, on the asset page."""

    @model_validator(mode="after")
    def _column_unless_count(self) -> Measure:
        if self.aggregation != "count_subjects" and self.column is None:
            raise ValueError(f"aggregation '{self.aggregation}' needs a column")
        return self


RELEASE_DAY = "day"  # the column a daily-partitioned cohort release's rows carry their day in


class CohortRelease(Strict):
    """An aggregate-tier asset: cohorts of at least k subjects (k from the activity)."""

    activity: Identifier
    """The processing activity the release serves."""
    description: str = Field(min_length=1)
    """What the table shows, on its asset page."""
    source: Identifier
    """The feature set the cohorts are counted from."""
    dimensions: list[Identifier] = Field(min_length=1)
    """The features the cohorts are grouped by (quasi-identifiers, usually banded)."""
    measures: dict[Identifier, Measure] = Field(min_length=1)
    """What each row shows: `subjects` (distinct subjects) and sums or means of features."""
    margins: list[list[Identifier]] = Field(
        default_factory=list,
        description="Totals published beside the cohorts, each over a subset of the dimensions ([] is the grand total).",
    )
    partitions: Literal["daily"] | None = Field(
        default=None,
        description=f"'daily': one Dagster partition per UTC day; a day's run publishes that day's release, its rows carrying "
        f"the day in `{RELEASE_DAY}`, replaces only that day's rows and is audited against every publication of every day.",
    )

    @model_validator(mode="after")
    def _day_column_free(self) -> CohortRelease:
        if self.partitions and RELEASE_DAY in (*self.dimensions, *self.measures):
            raise ValueError(f"a release partitioned by day publishes its day as '{RELEASE_DAY}': no dimension or measure may be called that")
        return self


class ActivitiesFile(Strict):
    activities: dict[Identifier, ProcessingActivity]
    """Every processing activity, by a snake_case key that sources, feature sets and cohorts name as their `activity`."""


class SourcesFile(Strict):
    sources: dict[Identifier, RawSource]
    """Every raw source, by the snake_case name of its asset and table."""


class FeaturesFile(Strict):
    feature_sets: dict[Identifier, FeatureSet]
    """Every feature set of the pseudonymised tier, by the snake_case name of its asset."""


class CohortsFile(Strict):
    cohorts: dict[Identifier, CohortRelease]
    """Every cohort release of the aggregate tier, by the snake_case name of its asset."""
