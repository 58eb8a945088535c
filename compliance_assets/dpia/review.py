"""Whether a DPIA needs a review now: the approved state against the deployed one, and whether each
mitigation's control still exists in the code location."""

from __future__ import annotations

from dataclasses import dataclass, field

from compliance_assets.dpia.approvals import Decision
from compliance_assets.dpia.document import Control, DpiaDocument
from compliance_assets.dpia.fingerprint import Change, ChangeKind, Fingerprint, changes

NEVER_APPROVED = Change(ChangeKind.OTHER, "No approved state: the DPO has not signed off this processing yet.")


@dataclass(frozen=True)
class Controls:
    """What the deployed code location offers as controls, by name."""

    checks: frozenset[str] = frozenset()  # "asset.check"
    pseudonymisation_domains: frozenset[str] = frozenset()
    jobs: frozenset[str] = frozenset()
    schedules: frozenset[str] = frozenset()
    sensors: frozenset[str] = frozenset()

    def has(self, control: Control) -> bool:
        return control.target in getattr(self, {"check": "checks", "pseudonymisation_domain": "pseudonymisation_domains"}.get(control.kind, control.kind + "s"))


@dataclass(frozen=True)
class ReviewState:
    activity: str
    current: Fingerprint
    approved: Decision | None
    changes: list[Change] = field(default_factory=list)

    @property
    def needs_review(self) -> bool:
        return bool(self.changes)


def review_state(current: Fingerprint, approved: Decision | None) -> ReviewState:
    """A review is needed when nothing was approved, or when the approved state differs from now.
    Scale counts only when both sides were measured; an unmeasured side keeps the approved band."""
    if approved is None:
        return ReviewState(current.activity, current, None, [NEVER_APPROVED])
    baseline = approved.fingerprint
    if current.rows is None:
        current = current.with_rows(baseline.rows)
    found = changes(baseline, current) if current.digest != baseline.digest or (current.band or 0) > (baseline.band or 0) else []
    return ReviewState(current.activity, current, approved, found)


def missing_controls(document: DpiaDocument, controls: Controls) -> dict[str, Control]:
    """Mitigations whose control is not in the deployed code location."""
    return {name: m.control for name, m in document.mitigations.items() if not controls.has(m.control)}
