"""The seed's 10-point checklist per AI feature. Every answer is computed from the deployed code,
the register and the latest check results, and links its evidence: remove the evidence and the
answer turns to "no"."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from compliance_assets.dpia.review import Controls, ReviewState, missing_controls
from compliance_assets.register import Register
from compliance_assets.reports.render import table

YES, NO, NOT_APPLICABLE = "yes", "no", "n/a"
RETENTION_SCHEDULE = "daily_retention"


@dataclass(frozen=True)
class Evidence:
    controls: Controls
    check_results: Mapping[str, bool | None]  # "asset.check" -> latest passed (None: never evaluated)
    data_use_tags: Mapping[str, str]  # asset -> the data use it is deployed with
    dpia_states: Mapping[str, ReviewState] = field(default_factory=dict)
    audit_intact: bool = False
    audited_assets: frozenset[str] = frozenset()
    ui_url: str = "http://127.0.0.1:3000"


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    why: str
    evidence: list[str]


def _check_link(evidence: Evidence, ref: str) -> str:
    asset = ref.split(".")[0]
    return f"[{ref}]({evidence.ui_url}/assets/{asset}?view=checks)"


def _checks(evidence: Evidence, refs: list[str]) -> tuple[bool, str]:
    """All named checks are deployed and passed at their latest evaluation."""
    if not refs:
        return False, "no asset to check"
    absent = [r for r in refs if r not in evidence.controls.checks]
    failing = [r for r in refs if r not in absent and evidence.check_results.get(r) is False]
    unevaluated = [r for r in refs if r not in absent and evidence.check_results.get(r) is None]
    problems = [f"{label}: {', '.join(items)}" for label, items in (("not deployed", absent), ("failing", failing), ("never evaluated", unevaluated)) if items]
    return not problems, "; ".join(problems) or f"{len(refs)} blocking check(s) deployed and passing"


def checklist(register: Register, activity_key: str, evidence: Evidence) -> list[Answer]:
    activity = register.activities[activity_key]
    own = [n for n in register.asset_names if register.entry(n).activity == activity_key]
    features = [n for n in own if n in register.feature_sets]
    published = [n for n in own if n in register.feature_sets or n in register.cohorts]
    raw_clocked = [n for n in own if n in register.sources and register.sources[n].retention_clock]
    state = evidence.dpia_states.get(activity_key)
    answers: list[Answer] = []

    def add(question: str, ok: bool | None, why: str, links: list[str]) -> None:
        answers.append(Answer(question, NOT_APPLICABLE if ok is None else (YES if ok else NO), why, links))

    if activity.role.value != "processor":
        add("AVV updated?", None, f"we are the controller ({activity.controller}); no processing agreement", [])
    elif state is None or state.approved is None:
        add("AVV updated?", False, "no approved DPIA state to compare the annex's sub-processors with", [])
    else:
        signed = {(s["name"], s["country"]) for s in state.approved.fingerprint.sub_processors}
        running = {(s.name, s.country) for s in activity.sub_processors}
        add("AVV updated?", running <= signed, "the annex the controller approved lists every sub-processor in use" if running <= signed else f"not in the approved annex: {', '.join(n for n, _ in sorted(running - signed))}", ["ai_processing_schedule.md"])
    listed = bool(activity.sub_processors) and all(s.in_eea or s.transfer_basis for s in activity.sub_processors)
    add("Sub-processors listed?", listed, f"{len(activity.sub_processors)} listed with country and, outside the EEA, a transfer basis" if listed else "no sub-processor listed (at least hosting is one), or a transfer without basis", ["register/activities.yaml"])
    bound = [n for n in own if evidence.data_use_tags.get(n) == activity.data_use]
    add("Purpose documented?", bool(activity.purpose) and len(bound) == len(own), f"purpose and data use `{activity.data_use}` on {len(bound)} of {len(own)} deployed assets", ["ropa.md"])
    ok, why = _checks(evidence, [f"{n}.minimisation" for n in published])
    add("Data minimised?", ok, why, [_check_link(evidence, f"{n}.minimisation") for n in published])
    domain = activity.pseudonymisation_domain or activity_key
    ok, why = _checks(evidence, [f"{n}.no_direct_identifiers" for n in published])
    has_domain = domain in evidence.controls.pseudonymisation_domains
    add("Pseudonymisation applied?", ok and has_domain, (f"domain '{domain}' deployed; " if has_domain else f"domain '{domain}' not deployed; ") + why, [_check_link(evidence, f"{n}.no_direct_identifiers") for n in published])
    if activity.legal_basis.value != "Consent":
        add("Consent checked?", None, f"legal basis is {activity.legal_basis.value}, not consent", [])
    else:
        ok, why = _checks(evidence, [f"{n}.consent" for n in features])
        add("Consent checked?", ok, why, [_check_link(evidence, f"{n}.consent") for n in features])
    ok, why = _checks(evidence, [f"{n}.retention" for n in raw_clocked]) if raw_clocked else (True, "no clocked raw source")
    scheduled = RETENTION_SCHEDULE in evidence.controls.schedules
    add("Retention enforced?", ok and scheduled, ("daily retention schedule deployed; " if scheduled else "no daily retention schedule; ") + why, [_check_link(evidence, f"{n}.retention") for n in raw_clocked])
    audited = [n for n in own if n in evidence.audited_assets]
    add("Audit trail active?", evidence.audit_intact and bool(audited), f"hash chain {'intact' if evidence.audit_intact else 'broken or empty'}; {len(audited)} of {len(own)} assets have audit records", ["python -m compliance_assets verify-audit"])
    if activity_key not in register.dpias:
        add("DPIA completed?", False, "no DPIA document in register/dpia/", [])
    else:
        missing = missing_controls(register.dpias[activity_key], evidence.controls)
        current = state is not None and state.approved is not None and not state.needs_review
        add("DPIA completed?", current and not missing, ("approved and current" if current else "review required or never approved") + (f"; missing controls: {', '.join(missing)}" if missing else ""), [f"dpia/{activity_key}.md"])
    decisions = activity.automated_decisions
    if not decisions.present:
        add("Human oversight implemented?", None, "no automated decision", [])
    else:
        add("Human oversight implemented?", bool(decisions.human_oversight.strip()), decisions.human_oversight or "automated decisions without a documented human review (Art. 22(3))", ["register/activities.yaml"])
    return answers


def checklist_markdown(register: Register, answers_by_activity: Mapping[str, list[Answer]]) -> str:
    lines = ["# AI feature checklist", ""]
    for key, answers in answers_by_activity.items():
        done = sum(a.answer != NO for a in answers)
        lines += [f"## {register.activities[key].name} (`{key}`): {done}/10", ""]
        lines.append(table(["#", "question", "answer", "why", "evidence"], [(i, a.question, a.answer, a.why, ", ".join(a.evidence)) for i, a in enumerate(answers, 1)]))
        lines.append("")
    return "\n".join(lines)
