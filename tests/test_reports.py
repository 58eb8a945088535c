"""Reports a DPO reads: golden files for the demo register (regenerate with UPDATE_GOLDEN=1 after an
intended change, and review the diff), the Fides export validated by fideslang, the ten
checklist answers, each of which turns to "no" when its evidence is removed and to "not yet
evaluated" (never "no") when nothing ran to evaluate it, and the source of each DPIA figure."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance, materialize
from fideslang.models import Dataset, System

from compliance_demo.definitions import build_definitions
from compliance_demo import sources
from compliance_assets.factories.raw import raw_asset
from compliance_assets.dpia.lineage import deployed_controls, review_states
from compliance_assets.dpia.review import ReviewState
from compliance_assets.tiers import DATA_USE_TAG
from compliance_assets.register import load_register
from compliance_assets.reports.ai_schedule import fides_export, schedule_entries, schedule_markdown
from compliance_assets.reports.checklist import NO, NOT_APPLICABLE, NOT_EVALUATED, YES, Evidence, checklist, checklist_markdown, score
from compliance_assets.reports.dpia import dpia_markdown
from compliance_assets.reports.render import lineage_svg, to_html
from compliance_assets.reports.ropa import missing_fields, ropa_entries, ropa_markdown
from tests.conftest import REPO

GOLDEN = REPO / "tests" / "golden"
ACTIVITY = "engagement_analytics"
CENSUS = "census_statistics"


@pytest.fixture(scope="module")
def demo():
    register = load_register(REPO / "register")
    defs = build_definitions(register)
    states = review_states(defs.resolve_asset_graph(), None, register, None, sorted(register.dpias))
    return register, defs, states


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {name}: run with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed: review, then UPDATE_GOLDEN=1"


def test_reports_match_their_golden_files(local_env, demo):
    register, defs, states = demo
    controls = deployed_controls(defs.get_repository_def())
    _golden("ropa.md", ropa_markdown(register))
    _golden("ai_processing_schedule.md", schedule_markdown(register))
    _golden("ai_processing_schedule.json", json.dumps(schedule_entries(register), indent=2) + "\n")
    _golden("fides.yaml", yaml.safe_dump(fides_export(register), sort_keys=False))
    for activity, state in states.items():
        _golden(f"dpia_{activity}.md", dpia_markdown(register.dpias[activity], register, state, controls))


ARTICLE_30_1 = ("(a) name of the controller", "(a) contact details of the controller", "(a) data protection officer", "(b) purposes", "(c) categories of data subjects", "(c) categories of personal data", "(d) categories of recipients", "(e) transfers to third countries", "(f) time limits for erasure", "(g) technical and organisational security measures")
ARTICLE_30_2 = ("(a) name and contact details of the processor", "(a) each controller on whose behalf", "(a) contact details of each controller", "(a) data protection officer", "(b) categories of processing carried out on behalf of each controller", "(c) transfers to third countries", "(d) technical and organisational security measures")


def test_the_ropa_holds_an_article_30_1_or_30_2_record_with_every_field(demo):
    register, _, _ = demo
    text = ropa_markdown(register)
    entries = {e["activity"]: e for e in ropa_entries(register)}
    assert {k: e["article"] for k, e in entries.items()} == {"engagement_analytics": "30(2)", "consent_management": "30(2)", "site_search": "30(2)", CENSUS: "30(1)"}
    assert "## Census cohort statistics (`census_statistics`): Art. 30(1) record" in text
    for row in ARTICLE_30_1:
        assert text.count(f"| {row}") == (1 if row not in ARTICLE_30_2 else 4), row
    for row in ARTICLE_30_2:
        assert text.count(f"| {row}") == (3 if row not in ARTICLE_30_1 else 4), row
    for key, entry in entries.items():
        for name, field in entry["fields"].items():
            assert field["missing"] is None and field["evidence"], (key, name)
            assert all(e.startswith(("activities.yaml:", "sources.yaml:", "features.yaml:", "Dagster asset `")) for e in field["evidence"]), (key, name, field["evidence"])
    assert "Postmark (ActiveCampaign, LLC) (US), safeguard: SCCs" in text
    assert "sources.yaml:87 `sources.census_respondents.columns.race`" in entries[CENSUS]["fields"]["special_categories"]["evidence"]


def test_a_field_the_register_lacks_is_marked_missing_in_words(demo):
    register, _, _ = demo
    lacking = {**register.activities, "site_search": register.activities["site_search"].model_copy(update={"dpo": None, "processing_categories": [], "processor": None})}
    lacking[CENSUS] = lacking[CENSUS].model_copy(update={"controller_contact": None})
    thin = dataclasses.replace(register, activities=lacking)
    assert missing_fields(thin) == {
        "engagement_analytics": [],
        "consent_management": [],
        "site_search": ["no processor name and contact in the register", "no DPO contact in the register", "no categories of processing in the register"],
        CENSUS: ["no controller contact in the register"],
    }
    text = ropa_markdown(thin)
    assert "| (a) data protection officer | missing: no DPO contact in the register | to add: activities.yaml `activities.site_search.dpo` |" in text


def test_the_fides_export_is_valid_fideslang(demo):
    register, _, _ = demo
    export = fides_export(register)
    systems = [System.model_validate(s) for s in export["system"]]
    datasets = [Dataset.model_validate(d) for d in export["dataset"]]
    assert sorted(s.fides_key for s in systems) == ["census_statistics", ACTIVITY]
    assert {d.fides_key for d in datasets} == set(register.asset_names)
    engagement = next(s for s in systems if s.fides_key == ACTIVITY)
    assert engagement.does_international_transfers and engagement.requires_data_protection_assessments


def test_the_dpia_page_draws_the_lineage(demo):
    _, _, states = demo
    svg = lineage_svg(states[ACTIVITY].current.assets, highlight=ACTIVITY)
    page = to_html("DPIA", "# DPIA\n\n<!-- lineage -->\n", {"<!-- lineage -->": svg})
    assert page.count("<rect") == len(states[ACTIVITY].current.assets) and "customer_features" in page and "<line" in page


class _Elements(HTMLParser):
    """The live elements of a page (tag and attributes) and its text, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


HOSTILE_COMMENT = "Fine <img src=x onerror=alert(1)> <script>alert(2)</script> [annex](javascript:alert(3))"
HOSTILE_APPROVER = "<b onmouseover=alert(4)>dpo@example.com</b>"


def test_a_hostile_dpia_decision_reaches_the_html_report_as_text(local_env):
    """A DPO's comment and name are quoted in the report: rendered, they are text, not markup."""
    defs = build_definitions()
    approval = defs.resolve_job_def("dpia_approval").execute_in_process(
        instance=DagsterInstance.get(),
        run_config={"ops": {"record_dpia_decision": {"config": {"activity": ACTIVITY, "approver": HOSTILE_APPROVER, "decision": "approve", "comment": HOSTILE_COMMENT}}}},
    )
    assert approval.success
    (materialization,) = approval.asset_materializations_for_node("record_dpia_decision")
    page = Path(materialization.metadata["report_path"].value).with_suffix(".html").read_text(encoding="utf-8")
    parsed = _Elements()
    parsed.feed(page)
    tags = {tag for tag, _ in parsed.tags}
    assert not tags & {"img", "script", "b", "iframe", "object"}, tags
    assert not [a for _, attrs in parsed.tags for a, v in attrs.items() if a.startswith("on") or "javascript:" in (v or "")]
    text = "".join(parsed.text)
    assert HOSTILE_APPROVER in text and "<img src=x onerror=alert(1)> <script>alert(2)</script>" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "svg" in tags and "table" in tags, "the lineage picture and the tables are still drawn"


def _evidence(register, defs, states) -> Evidence:
    controls = deployed_controls(defs.get_repository_def())
    graph = defs.resolve_asset_graph()
    return Evidence(
        controls=controls,
        check_results={ref: True for ref in controls.checks},
        data_use_tags={k.to_user_string(): graph.get(k).tags.get(DATA_USE_TAG, "") for k in graph.get_all_asset_keys()},
        dpia_states=states,
        audit_intact=True,
        audited_assets=frozenset(register.asset_names),
    )


def _with_activity(register, **changes):
    activity = register.activities[ACTIVITY]
    updated = activity.model_copy(update=changes)
    return dataclasses.replace(register, activities={**register.activities, ACTIVITY: updated})


def _approved_without_postmark(state: ReviewState) -> ReviewState:
    fingerprint = state.approved.fingerprint
    signed = dataclasses.replace(fingerprint, sub_processors=[s for s in fingerprint.sub_processors if s["country"] != "US"])
    return dataclasses.replace(state, approved=dataclasses.replace(state.approved, fingerprint=signed))


def _automated(register, oversight: str):
    decisions = register.activities[ACTIVITY].automated_decisions.model_copy(update={"present": True, "art22_basis": "Explicit consent", "description": "auto-unsubscribe", "human_oversight": oversight})
    return _with_activity(register, automated_decisions=decisions)


REMOVALS = {
    "AVV updated?": lambda r, e: (r, dataclasses.replace(e, dpia_states={**e.dpia_states, ACTIVITY: _approved_without_postmark(e.dpia_states[ACTIVITY])})),
    "Sub-processors listed?": lambda r, e: (_with_activity(r, sub_processors=[]), e),
    "Purpose documented?": lambda r, e: (r, dataclasses.replace(e, data_use_tags={**e.data_use_tags, "region_cohorts": ""})),
    "Data minimised?": lambda r, e: (r, dataclasses.replace(e, check_results={**e.check_results, "customer_features.minimisation": False})),
    "Pseudonymisation applied?": lambda r, e: (r, dataclasses.replace(e, controls=dataclasses.replace(e.controls, pseudonymisation_domains=frozenset()))),
    "Consent checked?": lambda r, e: (r, dataclasses.replace(e, controls=dataclasses.replace(e.controls, checks=e.controls.checks - {"customer_features.consent"}))),
    "Retention enforced?": lambda r, e: (r, dataclasses.replace(e, controls=dataclasses.replace(e.controls, schedules=frozenset()))),
    "Audit trail active?": lambda r, e: (r, dataclasses.replace(e, audit_intact=False)),
    "DPIA completed?": lambda r, e: (dataclasses.replace(r, dpias={k: v for k, v in r.dpias.items() if k != ACTIVITY}), e),
    "Human oversight implemented?": lambda r, e: (_automated(r, ""), e),
}


def test_the_demo_answers_every_question(local_env, demo):
    register, defs, states = demo
    answers = {a.question: a.answer for a in checklist(register, ACTIVITY, _evidence(register, defs, states))}
    assert list(answers) == list(REMOVALS)
    assert answers == {**{q: YES for q in REMOVALS}, "Human oversight implemented?": NOT_APPLICABLE}
    with_oversight = checklist(_automated(register, "Each batch is confirmed by the client's campaign manager"), ACTIVITY, _evidence(register, defs, states))
    assert with_oversight[-1].answer == YES


@pytest.mark.parametrize("question", list(REMOVALS))
def test_an_answer_turns_to_no_when_its_evidence_is_removed(local_env, demo, question):
    register, defs, states = demo
    register, evidence = REMOVALS[question](register, _evidence(register, defs, states))
    answers = {a.question: a for a in checklist(register, ACTIVITY, evidence)}
    assert answers[question].answer == NO, answers[question]
    others = [q for q, a in answers.items() if q != question and a.answer == NO]
    # A control the DPIA names as a mitigation is evidence for "DPIA completed?" too.
    assert others in ([], ["DPIA completed?"]), f"removing the evidence of '{question}' also flipped {others}"
    if others:
        assert "missing controls" in answers["DPIA completed?"].why


def test_a_check_that_never_ran_is_not_yet_evaluated_never_no(local_env, demo):
    register, defs, states = demo
    evidence = _evidence(register, defs, states)
    unevaluated = dataclasses.replace(evidence, check_results={**evidence.check_results, "customer_features.minimisation": None})
    answers = {a.question: a for a in checklist(register, ACTIVITY, unevaluated)}
    assert answers["Data minimised?"].answer == NOT_EVALUATED and "never evaluated: customer_features.minimisation" in answers["Data minimised?"].why
    assert [q for q, a in answers.items() if a.answer == NO] == []
    failing = dataclasses.replace(unevaluated, check_results={**unevaluated.check_results, "engagement_cohorts.minimisation": False})
    assert {a.question: a.answer for a in checklist(register, ACTIVITY, failing)}["Data minimised?"] == NO, "a failing check outweighs one not yet run"


def test_an_activity_that_never_ran_is_not_yet_evaluated_where_only_a_run_can_tell(local_env, demo):
    register, defs, states = demo
    evidence = _evidence(register, defs, states)
    census = [ref for ref in evidence.controls.checks if ref.startswith("census_")]
    never_ran = dataclasses.replace(
        evidence,
        check_results={**evidence.check_results, **dict.fromkeys(census)},
        audited_assets=frozenset(a for a in evidence.audited_assets if not a.startswith("census_")),
    )
    answers = checklist(register, "census_statistics", never_ran)
    by_question = {a.question: a.answer for a in answers}
    assert by_question == {
        "AVV updated?": NOT_APPLICABLE,
        "Sub-processors listed?": YES,
        "Purpose documented?": YES,
        "Data minimised?": NOT_EVALUATED,
        "Pseudonymisation applied?": NOT_EVALUATED,
        "Consent checked?": NOT_APPLICABLE,
        "Retention enforced?": YES,
        "Audit trail active?": NOT_EVALUATED,
        "DPIA completed?": YES,
        "Human oversight implemented?": NOT_APPLICABLE,
    }
    assert score(answers) == "4 of 4 evaluated items; 3 not yet evaluated; 3 not applicable"
    text = checklist_markdown(register, {"census_statistics": answers})
    assert "## Census cohort statistics (`census_statistics`): 4 of 4 evaluated items; 3 not yet evaluated; 3 not applicable" in text
    assert "| 8 | Audit trail active? | not yet evaluated | none of its assets has run yet" in text


def test_the_score_counts_yes_out_of_yes_and_no_only(local_env, demo):
    register, defs, states = demo
    register, evidence = REMOVALS["Audit trail active?"](register, _evidence(register, defs, states))
    answers = checklist(register, ACTIVITY, evidence)
    assert [a.answer for a in answers].count(NOT_APPLICABLE) == 1
    assert score(answers) == "8 of 9 evaluated items; 1 not applicable", "n/a is neither a point nor a question asked"


def test_a_dpia_names_the_source_of_every_figure(local_env):
    register = load_register(REPO / "register")
    defs = build_definitions(register)
    instance = DagsterInstance.get()
    controls = deployed_controls(defs.get_repository_def())

    def report() -> str:
        state = review_states(defs.resolve_asset_graph(), instance, register, None, [CENSUS])[CENSUS]
        return dpia_markdown(register.dpias[CENSUS], register, state, controls)

    never_ran = report()
    assert "- **Scale:** 32,561 rows in the largest source, 10 thousand to 100 thousand (never run; figure from the approval of 2026-11-23)" in never_ran
    assert "the largest source held 32,561 rows (never run; figure from the approval of 2026-11-23)" in never_ran
    assert "at its last run" not in never_ran

    census = raw_asset(register, "census_respondents", sources.load_census, required_resource_keys={"census_file"})
    assert materialize([census], resources={k: defs.resources[k] for k in ("warehouse", "audit_trail", "pseudonym_keys", "census_file")}, instance=instance).success
    ran = report()
    today = f"{datetime.now(timezone.utc):%Y-%m-%d}"
    assert f"- **Scale:** 32,561 rows in the largest source, 10 thousand to 100 thousand (at its last run on {today}); 395 rows of subjects under 18 (at its last run on {today})" in ran
    assert f"395 row(s) of subjects under 18, 0 under 16 (at its last run on {today})" in ran
    assert "never run" not in ran
