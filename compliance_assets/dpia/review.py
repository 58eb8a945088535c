"""Whether a DPIA needs a review now: the approved state against the deployed one, and whether each
mitigation's control still exists in the code location."""

from __future__ import annotations

from dataclasses import dataclass, field

from compliance_assets.dpia.approvals import Decision
from compliance_assets.register.dpia_document import Control, DpiaDocument
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

    @property
    def figures_from(self) -> str | None:
        """Where the scale and age figures come from, as a DPO reads it; None when nothing has them."""
        if self.current.measured_at is not None:
            return f"at its last run on {self.current.measured_at}"
        if self.approved is not None and self.current.rows is not None:
            return f"never run; figure from the approval of {self.approved.decided_at:%Y-%m-%d}"
        return None


def review_state(current: Fingerprint, approved: Decision | None) -> ReviewState:
    """A review is needed when nothing was approved, or when the approved state differs from now.
    Scale and minors count only when both sides were measured; a state no run has measured keeps
    the approved figures (and says so: `measured_at` stays None)."""
    if approved is None:
        return ReviewState(current.activity, current, None, [NEVER_APPROVED])
    baseline = approved.fingerprint
    if current.measured_at is None:
        current = current.with_measures_of(baseline)
    moved = current.digest != baseline.digest or (current.band or 0) > (baseline.band or 0) or (baseline.under_18 == 0 and bool(current.under_18))
    return ReviewState(current.activity, current, approved, changes(baseline, current) if moved else [])


def missing_controls(document: DpiaDocument, controls: Controls) -> dict[str, Control]:
    """Mitigations whose control is not in the deployed code location."""
    return {name: m.control for name, m in document.mitigations.items() if not controls.has(m.control)}
