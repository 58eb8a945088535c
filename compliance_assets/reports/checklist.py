"""The seed's 10-point checklist per AI feature. Every answer is computed from the deployed code,
the register and the latest check results, and links its evidence: remove the evidence and the
answer turns to "no". An answer is yes, no, not applicable, or not yet evaluated (a check that
never ran proves nothing either way), and the score counts only what was evaluated."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from compliance_assets.audit.chain import Head
from compliance_assets.dpia.review import Controls, ReviewState, missing_controls
from compliance_assets.register import Register
from compliance_assets.reports.render import table

YES, NO, NOT_APPLICABLE, NOT_EVALUATED = "yes", "no", "n/a", "not yet evaluated"
RETENTION_SCHEDULE = "daily_retention"


@dataclass(frozen=True)
class Evidence:
    controls: Controls
    check_results: Mapping[str, bool | None]  # "asset.check" -> latest passed (None: never evaluated)
    data_use_tags: Mapping[str, str]  # asset -> the data use it is deployed with
    dpia_states: Mapping[str, ReviewState] = field(default_factory=dict)
    audit_intact: bool = False
    audited_assets: frozenset[str] = frozenset()
    audit_head: Head | None = None  # the verified head, shown so a copy of the report anchors it too
    audit_summary: str = ""
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


def _checks(evidence: Evidence, refs: list[str]) -> tuple[str, str]:
    """Yes when every named check is deployed and passed at its latest evaluation; no when one is
    missing or failing; not yet evaluated when the others have never run."""
    if not refs:
        return NO, "no asset to check"
    absent = [r for r in refs if r not in evidence.controls.checks]
    failing = [r for r in refs if r not in absent and evidence.check_results.get(r) is False]
    unevaluated = [r for r in refs if r not in absent and evidence.check_results.get(r) is None]
    problems = [f"{label}: {', '.join(items)}" for label, items in (("not deployed", absent), ("failing", failing), ("never evaluated", unevaluated)) if items]
    answer = NO if absent or failing else NOT_EVALUATED if unevaluated else YES
    return answer, "; ".join(problems) or f"{len(refs)} blocking check(s) deployed and passing"


def _and(answer: str, holds: bool) -> str:
    """An answer that also needs a deployed fact: no without it, else the checks' answer."""
    return answer if holds else NO


def checklist(register: Register, activity_key: str, evidence: Evidence) -> list[Answer]:
    activity = register.activities[activity_key]
    own = [n for n in register.asset_names if register.entry(n).activity == activity_key]
    features = [n for n in own if n in register.feature_sets]
    published = [n for n in own if n in register.feature_sets or n in register.cohorts]
    raw_clocked = [n for n in own if n in register.sources and register.sources[n].retention_clock]
    state = evidence.dpia_states.get(activity_key)
    answers: list[Answer] = []

    def add(question: str, ok: bool | str | None, why: str, links: list[str]) -> None:
        answer = ok if isinstance(ok, str) else NOT_APPLICABLE if ok is None else YES if ok else NO
        answers.append(Answer(question, answer, why, links))

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
    add("Pseudonymisation applied?", _and(ok, has_domain), (f"domain '{domain}' deployed; " if has_domain else f"domain '{domain}' not deployed; ") + why, [_check_link(evidence, f"{n}.no_direct_identifiers") for n in published])
    if activity.legal_basis.value != "Consent":
        add("Consent checked?", None, f"legal basis is {activity.legal_basis.value}, not consent", [])
    else:
        ok, why = _checks(evidence, [f"{n}.consent" for n in features])
        add("Consent checked?", ok, why, [_check_link(evidence, f"{n}.consent") for n in features])
    ok, why = _checks(evidence, [f"{n}.retention" for n in raw_clocked]) if raw_clocked else (YES, "no clocked raw source")
    scheduled = RETENTION_SCHEDULE in evidence.controls.schedules
    add("Retention enforced?", _and(ok, scheduled), ("daily retention schedule deployed; " if scheduled else "no daily retention schedule; ") + why, [_check_link(evidence, f"{n}.retention") for n in raw_clocked])
    audited = [n for n in own if n in evidence.audited_assets]
    ran = any(evidence.check_results.get(ref) is not None for ref in evidence.controls.checks if ref.split(".")[0] in own)
    head = evidence.audit_head
    if evidence.audit_intact and head is not None:
        keyed = f"keyed from record {head.keyed_from}" if head.keyed_from is not None else "unkeyed"
        chain = f"audit chain intact to record {head.seq} (MAC {head.mac}, {keyed})"
    elif evidence.audit_intact:
        chain = "audit chain intact"
    else:
        chain = f"audit trail {evidence.audit_summary or 'broken or empty'}"
    trail = f"{chain}; {len(audited)} of {len(own)} assets have audit records"
    if not audited and not ran:
        add("Audit trail active?", NOT_EVALUATED, f"none of its assets has run yet, so none has an audit record to check ({trail})", ["python -m compliance_assets verify-audit"])
    else:
        add("Audit trail active?", evidence.audit_intact and bool(audited), trail, ["python -m compliance_assets verify-audit"])
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


def score(answers: list[Answer]) -> str:
    """Yes out of the items evaluated: not applicable and not yet evaluated are counted apart, never as no."""
    count = Counter(a.answer for a in answers)
    out = f"{count[YES]} of {count[YES] + count[NO]} evaluated items"
    if count[NOT_EVALUATED]:
        out += f"; {count[NOT_EVALUATED]} not yet evaluated"
    if count[NOT_APPLICABLE]:
        out += f"; {count[NOT_APPLICABLE]} not applicable"
    return out


def checklist_markdown(register: Register, answers_by_activity: Mapping[str, list[Answer]]) -> str:
    lines = ["# AI feature checklist", ""]
    for key, answers in answers_by_activity.items():
        lines += [f"## {register.activities[key].name} (`{key}`): {score(answers)}", ""]
        lines.append(table(["#", "question", "answer", "why", "evidence"], [(i, a.question, a.answer, a.why, ", ".join(a.evidence)) for i, a in enumerate(answers, 1)]))
        lines.append("")
    return "\n".join(lines)
