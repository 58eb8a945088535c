"""The DPIA as a DPO reads it: status and the changes awaiting review first, then the five sections."""

from __future__ import annotations

from compliance_assets.register.criteria import Observed, derived_criteria
from compliance_assets.register.dpia_document import CRITERION_TITLES, Criterion, DpiaDocument
from compliance_assets.dpia.fingerprint import band_label
from compliance_assets.dpia.review import Controls, ReviewState, missing_controls
from compliance_assets.register import Register
from compliance_assets.register.taxonomy import is_special_category
from compliance_assets.reports.render import mermaid_lineage, table

LINEAGE_PLACEHOLDER = "<!-- lineage -->"


def status_line(state: ReviewState) -> str:
    if state.needs_review:
        return f"**Status: review required** ({len(state.changes)} change(s) since the approved state). Publication of this activity's assets is blocked until the DPO decides."
    approved = state.approved
    return f"**Status: approved** by {approved.approver} on {approved.decided_at:%Y-%m-%d} (state `{state.current.digest[:12]}`)."


def observed(state: ReviewState) -> Observed | None:
    """The figures the criteria weigh, with where they come from; None when nothing measured them."""
    source = state.figures_from
    if source is None:
        return None
    current = state.current
    return Observed(current.rows, current.subjects, current.under_18, current.under_16, source)


def criteria_rows(document: DpiaDocument, register: Register, state: ReviewState) -> list[tuple[str, str, str, str]]:
    derived = derived_criteria(register, document.activity, observed(state))
    out = []
    for criterion in Criterion:
        assessed = document.criteria.get(criterion)
        typed = assessed.triggered if assessed is not None else None
        written = f" {assessed.reason}" if assessed is not None else ""
        if criterion in derived:
            computed = derived[criterion]
            note = "" if typed in (None, computed.triggered) else f" **Contradicts the document, which says {'yes' if typed else 'no'}.**"
            out.append((CRITERION_TITLES[criterion], "yes" if computed.triggered else "no", "computed", f"{computed.reason}.{note}{written}"))
        elif criterion in (Criterion.LARGE_SCALE, Criterion.SPECIAL_CATEGORIES_AT_SCALE):
            out.append((CRITERION_TITLES[criterion], "not yet measured", "computed", assessed.reason if assessed else "no population declared and no run measured"))
        else:
            out.append((CRITERION_TITLES[criterion], "yes" if typed else "no", "assessed", assessed.reason))
    return out


def scale_line(activity, state: ReviewState) -> str:
    """Every figure with its source: a run's and its date, or the approval's when nothing ran."""
    current, source = state.current, state.figures_from
    parts = []
    if current.rows is not None:
        parts.append(f"{current.rows:,} rows in the largest source, {band_label(current.band)} ({source})")
    if current.subjects is not None:
        parts.append(f"{current.subjects:,} subjects in its feature sets ({source})")
    if current.under_18 is not None:
        parts.append(f"{current.under_18:,} rows of subjects under 18 ({source})")
    if activity.population is not None:
        population = activity.population
        of = f" of a relevant population of {population.relevant_population:,}" if population.relevant_population else ""
        parts.append(f"{population.subjects:,} subjects declared{of}, {population.geography.value} extent (register: {population.source})")
    return "; ".join(parts) or "no run measured yet and no population declared"


def dpia_facts(register: Register, state: ReviewState) -> dict:
    """The register facts a DPIA states, as the document renders them: subjects, legal bases, the
    special categories its assets' columns hold, sub-processors (from the deployed state) and retention."""
    activity = register.activities[state.activity]
    own = [a for a in state.current.assets.values() if a.get("activity") == state.activity]
    special = sorted({c for a in own for c in a["columns"].values() if is_special_category(c)} | {c for c in activity.data_categories if is_special_category(c)})
    return {
        "role": activity.role.value,
        "legal_basis": activity.legal_basis.value,
        "special_categories": special,
        "special_category_basis": activity.special_category_basis.value if activity.special_category_basis else None,
        "data_subjects": list(activity.data_subjects),
        "sub_processors": [dict(s) for s in state.current.sub_processors],
        "retention": {category: r.period for category, r in activity.retention.items()},
    }


def _sub_processor(s: dict) -> str:
    basis = f", {s['transfer_basis']}" if s.get("transfer_basis") else ""
    return f"{s['name']} ({s['country']}{basis})"


def dpia_markdown(document: DpiaDocument, register: Register, state: ReviewState, controls: Controls) -> str:
    activity = register.activities[document.activity]
    current = state.current
    facts = dpia_facts(register, state)
    lines = [f"# DPIA: {activity.name}", "", status_line(state), ""]
    if state.changes:
        lines += ["## Changes awaiting review", "", *[f"- **{c.kind.value.replace('_', ' ')}**: {c.text}" for c in state.changes], ""]
    lines += [
        "## 1. Description of the processing", "",
        f"- **Purpose:** {activity.purpose} (data use `{activity.data_use}`)",
        f"- **Role:** {facts['role']}; controller: {activity.controller}",
        f"- **Data subjects:** {', '.join(facts['data_subjects'])}",
        f"- **Scale:** {scale_line(activity, state)}",
        f"- **Technology:** {document.description.technology}",
        "- **Sub-processors:** " + (", ".join(_sub_processor(s) for s in facts["sub_processors"]) or "none"),
        "", "The lineage the DPIA covers (the activity's own assets highlighted):", "",
        LINEAGE_PLACEHOLDER, "", mermaid_lineage(current.assets), "",
        "Data categories per column, over the activity's assets and everything upstream:", "",
        table(["asset", "tier", "column", "data category"], [(n, a["tier"], c, cat) for n, a in sorted(current.assets.items()) for c, cat in a["columns"].items()]),
        "",
        "## 2. Necessity and proportionality", "",
        f"- **Legal basis:** {facts['legal_basis']}",
        f"- **Special categories (Art. 9):** {', '.join(facts['special_categories'])}; basis: {facts['special_category_basis']}" if facts["special_categories"] else "- **Special categories (Art. 9):** none",
        "- **Retention (register):** " + "; ".join(f"{c}: {p}" for c, p in facts["retention"].items()),
        f"- **Purpose limitation:** {document.necessity.purpose_limitation}",
        f"- **Minimisation:** {document.necessity.minimisation}",
        f"- **Storage limitation:** {document.necessity.storage_limitation}",
        f"- **Data-subject rights:** {document.necessity.data_subject_rights}",
        "", "## 3. Risk assessment", "",
        table(["criterion (WP248, Art. 35(3)(b))", "triggered", "decided by", "reason"], criteria_rows(document, register, state)),
        "",
        table(["risk", "likelihood", "severity", "mitigations"], [(r.description, r.likelihood.value, r.severity.value, ", ".join(r.mitigations)) for r in document.risks.values()]),
        "", "## 4. Mitigations", "",
    ]
    missing = missing_controls(document, controls)
    lines.append(
        table(
            ["mitigation", "control in code", "present"],
            [(m.description, f"{m.control.kind} `{m.control.target}`", "no: not in the code location" if name in missing else "yes") for name, m in document.mitigations.items()],
        )
    )
    consultation = document.consultation
    lines += [
        "", "## 5. DPO consultation", "",
        f"- **Opinion:** {consultation.dpo_opinion}",
        f"- **Approver:** {consultation.approver}, {consultation.date.isoformat()}",
        f"- **Residual risk:** {consultation.residual_risk.value}",
    ]
    if state.approved is not None:
        lines.append(f"- **Approved state:** `{state.approved.fingerprint.digest[:12]}` by {state.approved.approver} on {state.approved.decided_at:%Y-%m-%d}: {state.approved.comment}")
    return "\n".join(lines) + "\n"
