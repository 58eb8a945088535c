"""A DPIA (Art. 35) as a YAML document beside the code, in the five sections of the seed.

What can be derived from the register and the runs (data categories, subjects, purpose, legal
basis, five of the nine WP248 criteria and Art. 35(3)(b)) is computed, not typed: a document may
restate it, and a restatement that contradicts the register is an error (see `dpia/consistency.py`)."""

from __future__ import annotations

from datetime import date  # noqa: F401 (pydantic resolves the string annotation `date: date` below at runtime)
from enum import StrEnum

from pydantic import Field, model_validator

from compliance_assets.register.models import DataCategory, DataSubject, Identifier, Strict


class Criterion(StrEnum):
    """The nine criteria of the EDPB/WP248 guidelines (two or more usually mean a DPIA is required),
    and Art. 35(3)(b), which requires one on its own."""

    EVALUATION_OR_SCORING = "evaluation_or_scoring"
    AUTOMATED_DECISIONS = "automated_decisions_with_legal_effect"
    SYSTEMATIC_MONITORING = "systematic_monitoring"
    SENSITIVE_DATA = "sensitive_data"
    LARGE_SCALE = "large_scale"
    COMBINING_DATASETS = "matching_or_combining_datasets"
    VULNERABLE_SUBJECTS = "vulnerable_subjects"
    INNOVATIVE_TECHNOLOGY = "innovative_technology"
    PREVENTS_EXERCISING_RIGHTS = "prevents_exercising_a_right"
    SPECIAL_CATEGORIES_AT_SCALE = "special_categories_on_a_large_scale"


WP248_CRITERIA = tuple(c for c in Criterion if c is not Criterion.SPECIAL_CATEGORIES_AT_SCALE)


CRITERION_TITLES = {
    Criterion.EVALUATION_OR_SCORING: "Evaluation or scoring",
    Criterion.AUTOMATED_DECISIONS: "Automated decisions with legal or similar effect",
    Criterion.SYSTEMATIC_MONITORING: "Systematic monitoring",
    Criterion.SENSITIVE_DATA: "Sensitive data or data of a highly personal nature",
    Criterion.LARGE_SCALE: "Data processed on a large scale",
    Criterion.COMBINING_DATASETS: "Matching or combining datasets",
    Criterion.VULNERABLE_SUBJECTS: "Data concerning vulnerable data subjects",
    Criterion.INNOVATIVE_TECHNOLOGY: "Innovative use or new technology",
    Criterion.PREVENTS_EXERCISING_RIGHTS: "Prevents data subjects from exercising a right or using a service",
    Criterion.SPECIAL_CATEGORIES_AT_SCALE: "Special categories or criminal data on a large scale (Art. 35(3)(b))",
}


class Level(StrEnum):
    """The CNIL PIA scale, for likelihood and severity alike."""

    NEGLIGIBLE = "negligible"
    LIMITED = "limited"
    SIGNIFICANT = "significant"
    MAXIMUM = "maximum"


class Assessment(Strict):
    triggered: bool | None = Field(default=None, description="May be left out for criteria the register decides")
    reason: str = Field(min_length=1)
    """Why the criterion is or is not met."""


class Description(Strict):
    """Section 1. Categories, subjects, purpose and scale come from the register and the runs."""

    technology: str = Field(min_length=1)
    """The systems and techniques used."""
    data_categories: list[DataCategory] | None = None
    """The data categories processed."""
    data_subjects: list[DataSubject] | None = None
    """Whose data it is."""
    purpose: str | None = None
    """What the processing is for."""


class Necessity(Strict):
    """Section 2. The legal basis comes from the register; the rest is the controller's argument."""

    legal_basis: str | None = None
    """Why the legal basis applies."""
    purpose_limitation: str = Field(min_length=1)
    """How the data stays within its purpose."""
    minimisation: str = Field(min_length=1)
    """Why no less data would do."""
    storage_limitation: str = Field(min_length=1)
    """Why the retention periods are as short as they can be."""
    data_subject_rights: str = Field(min_length=1)
    """How subjects exercise their rights."""


class Risk(Strict):
    description: str = Field(min_length=1)
    """What could happen to whom."""
    likelihood: Level
    """How likely it is."""
    severity: Level
    """How severe it would be."""
    mitigations: list[Identifier] = Field(default_factory=list)
    """The keys of the mitigations that address it."""


class Control(Strict):
    """Where a mitigation lives in the code location: exactly one of these, verified to exist."""

    check: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$", description="asset.check")
    pseudonymisation_domain: Identifier | None = None
    """A pseudonymisation domain the assets must use."""
    job: Identifier | None = None
    """A job that must exist."""
    schedule: Identifier | None = None
    """A schedule that must exist."""
    sensor: Identifier | None = None
    """A sensor that must exist."""

    @model_validator(mode="after")
    def _exactly_one(self) -> Control:
        if len(self.model_dump(exclude_none=True)) != 1:
            raise ValueError("name exactly one control: check, pseudonymisation_domain, job, schedule or sensor")
        return self

    @property
    def kind(self) -> str:
        return next(iter(self.model_dump(exclude_none=True)))

    @property
    def target(self) -> str:
        return next(iter(self.model_dump(exclude_none=True).values()))


class Mitigation(Strict):
    description: str = Field(min_length=1)
    """What the measure does."""
    control: Control
    """The control in the code location that implements it; the deploy gate checks it exists."""


class Consultation(Strict):
    """Section 5: the DPO's opinion on the document as committed."""

    dpo_opinion: str = Field(min_length=1)
    """The DPO's written opinion (Art. 35(2))."""
    approver: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
    """Who approved the DPIA."""
    date: date
    """When."""
    residual_risk: Level
    """The risk left after the mitigations; high residual risk needs prior consultation (Art. 36)."""


class DpiaDocument(Strict):
    activity: Identifier
    """The processing activity the DPIA assesses."""
    description: Description
    """The systematic description of the processing (Art. 35(7)(a))."""
    necessity: Necessity
    """The assessment of necessity and proportionality (Art. 35(7)(b))."""
    criteria: dict[Criterion, Assessment]
    """The WP248 criteria restated with a reason; a restatement that contradicts what the register implies stops the load."""
    risks: dict[Identifier, Risk] = Field(min_length=1)
    """The risks to the rights and freedoms of data subjects (Art. 35(7)(c))."""
    mitigations: dict[Identifier, Mitigation] = Field(min_length=1)
    """The measures against them (Art. 35(7)(d)), each with the control in the code location that implements it."""
    consultation: Consultation
    """The DPO's opinion and the approval."""
    large_scale_from: int = Field(default=1_000_000, ge=1, description="Rows in one source from which the processing is large-scale (WP248: volume)")
    large_scale_subjects: int = Field(
        default=100_000, ge=1, description="Data subjects, declared or counted at the last run, from which the processing is large-scale (WP248: number of subjects)"
    )
    large_scale_share: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="Share of the declared relevant population from which the processing is large-scale (WP248: subjects as a proportion of the population)",
    )

    @model_validator(mode="after")
    def _complete(self) -> DpiaDocument:
        missing = [c.value for c in WP248_CRITERIA if c not in self.criteria]
        if missing:
            raise ValueError(f"every WP248 criterion must be assessed; missing: {', '.join(missing)}")
        for name, risk in self.risks.items():
            unknown = [m for m in risk.mitigations if m not in self.mitigations]
            if unknown:
                raise ValueError(f"risk '{name}' names mitigations that are not defined: {', '.join(unknown)}")
            if risk.severity in (Level.SIGNIFICANT, Level.MAXIMUM) and not risk.mitigations:
                raise ValueError(f"risk '{name}' has {risk.severity.value} severity and no mitigation")
        return self
