"""The living DPIA: documents checked against the register, the sensor classifying each of the six
change kinds on a copy of the demo definitions (one review per change, none for an unchanged
graph, a cursor that survives a redeploy, a revert that closes the review), and the blocking check
that a DPO's approval lifts."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetMaterialization, DagsterInstance, build_sensor_context

from compliance_demo.definitions import build_assets, build_definitions
from compliance_demo import features
from compliance_assets.register.ages import ROWS_UNDER_16, ROWS_UNDER_18
from compliance_assets.dpia.approvals import read_pin, write_pin
from compliance_assets.dpia.fingerprint import ChangeKind
from compliance_assets.dpia.lineage import review_states
from compliance_assets.factories.pseudonymised import pseudonymised_asset
from compliance_assets.factories.raw import raw_asset
from compliance_assets.jobs.dpia import dpia_asset_key
from compliance_assets.register import RegisterError, load_register
from tests.conftest import REPO
from tests.helpers import check_outcomes, executed_steps, resource, run_job

ACTIVITY = "engagement_analytics"
NEW_SUB_PROCESSOR = ("        transfer_basis: SCCs\n", "        transfer_basis: SCCs\n      - name: Mailgun Technologies\n        service: Bounce handling\n        country: IE\n")


def register_copy(tmp_path: Path, **edits: tuple[str, str]) -> Path:
    """The demo register (with its DPIAs and pins) in tmp, each file edited once: file_yaml=(old, new)."""
    copy = tmp_path / "register"
    if not copy.exists():
        shutil.copytree(REPO / "register", copy)
    for stem, (old, new) in edits.items():
        path = copy / f"{stem}.yaml"
        text = path.read_text()
        assert old in text, (stem, old)
        path.write_text(text.replace(old, new, 1))
    return copy


def _segments_differently(inputs):
    frame = features.customer_features(inputs)
    return frame.assign(engagement_segment=frame["engagement_segment"].where(frame["engagement_segment"] != "lapsing", "dormant"))


def _web_visits(context):
    return pd.DataFrame({"customer_id": pd.Series([], dtype="string"), "page": pd.Series([], dtype="string"), "visited_at": pd.Series([], dtype="datetime64[us]")})


WEB_VISITS = """  web_visits:
    activity: engagement_analytics
    description: Pages of the client's site a contact visited after a click.
    subject_reference: customers.customer_id
    event_time: visited_at
    columns:
      customer_id: {type: string, category: user.unique_id, identifier: direct, description: Contact id}
      page: {type: string, category: user.behavior, description: Page path}
      visited_at: {type: datetime, category: user.behavior, description: When}

  engagement_events:"""


def changed_definitions(kind: ChangeKind, tmp_path: Path, instance: DagsterInstance):
    """A copy of the demo definitions with one change of `kind`."""
    if kind is ChangeKind.NEW_DATA_CATEGORY:
        register = load_register(register_copy(
            tmp_path,
            activities=("      - user.contact.email\n", "      - user.contact.email\n      - user.contact.phone_number\n"),
            sources=("      full_name: {", "      phone: {type: string, category: user.contact.phone_number, identifier: direct, description: Phone number}\n      full_name: {"),
        ))
    elif kind is ChangeKind.NEW_SUB_PROCESSOR:
        register = load_register(register_copy(tmp_path, activities=NEW_SUB_PROCESSOR))
    elif kind is ChangeKind.NEW_AUTOMATED_DECISION:
        register = load_register(register_copy(tmp_path, activities=(
            "      present: false\n",
            "      present: true\n      art22_basis: Explicit consent\n      description: Contacts in the dormant segment are unsubscribed automatically\n"
            "      human_oversight: The client's campaign manager confirms each unsubscription batch\n",
        )))
    elif kind is ChangeKind.CODE_CHANGE:
        register = load_register(register_copy(tmp_path))
        assets = [a for a in build_assets(register) if a.key.to_user_string() != "customer_features"]
        return build_definitions(register, [*assets, pseudonymised_asset(register, "customer_features", _segments_differently)])
    elif kind is ChangeKind.NEW_UPSTREAM_SOURCE:
        register = load_register(register_copy(
            tmp_path,
            sources=("  engagement_events:", WEB_VISITS),
            features=("        sources: [engagement_events.occurred_at, engagement_events.customer_id]", "        sources: [engagement_events.occurred_at, engagement_events.customer_id, web_visits.visited_at]"),
        ))
        return build_definitions(register, [*build_assets(register), raw_asset(register, "web_visits", _web_visits)])
    elif kind is ChangeKind.NEW_VULNERABLE_SUBJECTS:
        register = load_register(register_copy(tmp_path))
        pin_minors_measured(register.directory, ACTIVITY)
        instance.report_runless_asset_event(AssetMaterialization("customers", metadata={ROWS_UNDER_18: 12, ROWS_UNDER_16: 3}))
    else:
        register = load_register(register_copy(tmp_path))
        instance.report_runless_asset_event(AssetMaterialization("engagement_events", metadata={"dagster/row_count": 5_000_000}))
    return build_definitions(register)


def pin_minors_measured(register_dir: Path, activity: str) -> None:
    """The pinned approval as if the run it covered had counted no minor."""
    pin = read_pin(register_dir, activity)
    write_pin(register_dir, dataclasses.replace(pin, fingerprint=dataclasses.replace(pin.fingerprint, under_18=0, under_16=0)))


def tick(defs, instance: DagsterInstance, cursor: str | None = None):
    sensor = defs.resolve_sensor_def("dpia_review")
    resources = {"dpia_reviews": resource(defs, "dpia_reviews"), "audit_trail": resource(defs, "audit_trail")}
    with build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources=resources) as context:
        return sensor(context)


def test_the_demo_register_loads_its_dpias_and_computes_what_it_can():
    register = load_register(REPO / "register")
    assert sorted(register.dpias) == ["census_statistics", ACTIVITY]


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        ("dpia/census_statistics", "sensitive_data: {reason:", "sensitive_data: {triggered: false, reason:", "census_statistics.yaml:22: criteria.sensitive_data.triggered: contradicts the register, which makes it triggered for activity 'census_statistics': special categories (Art. 9): user.demographic.race_ethnicity"),
        ("dpia/census_statistics", "  innovative_technology: {triggered: false, reason: Established statistical disclosure control}\n", "", "every WP248 criterion must be assessed; missing: innovative_technology"),
        ("dpia/census_statistics", "mitigations: [k_anonymity, no_differencing]", "mitigations: [k_anonymity, suppression]", "risk 'disclosure_of_race' names mitigations that are not defined: suppression"),
        ("dpia/census_statistics", "activity: census_statistics\ndescription:\n", "activity: census_statistics\ndescription:\n  purpose: Statistics\n", "description.purpose: says 'Statistics' but the register says"),
    ],
)
def test_a_dpia_that_contradicts_the_register_is_an_error_naming_file_and_line(tmp_path, file, old, new, expected):
    copy = register_copy(tmp_path)
    path = copy / f"{file}.yaml"
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))
    with pytest.raises(RegisterError) as raised:
        load_register(copy)
    assert expected in str(raised.value)


def test_two_criteria_without_a_dpia_is_a_register_error(tmp_path):
    copy = register_copy(tmp_path)
    (copy / "dpia" / "census_statistics.yaml").unlink()
    activities = copy / "activities.yaml"
    text = activities.read_text()
    census = text.index("  census_statistics:")
    head, tail = text[:census], text[census:]
    activities.write_text(head + tail.replace("      present: false\n", "      present: true\n      art22_basis: Authorised by law\n      description: Benefit eligibility flags\n", 1))
    with pytest.raises(RegisterError) as raised:
        load_register(copy)
    assert "activities.census_statistics: meets 3 WP248 criteria (sensitive_data, automated_decisions_with_legal_effect, vulnerable_subjects): a DPIA is required" in str(raised.value)


def test_the_deployed_demo_matches_its_pinned_approvals(local_env):
    defs = build_definitions()
    states = review_states(defs.resolve_asset_graph(), None, load_register(REPO / "register"), None, ["census_statistics", ACTIVITY])
    assert {a: s.changes for a, s in states.items()} == {"census_statistics": [], ACTIVITY: []}, (
        "the code drifted from the approved DPIA: review, then `python -m compliance_assets dpia approve <activity> --pin`"
    )


def test_an_unchanged_graph_yields_no_review_and_the_cursor_survives_a_redeploy(local_env):
    instance = DagsterInstance.get()
    first = tick(build_definitions(), instance)
    assert not first.run_requests
    redeployed = tick(build_definitions(), instance, first.cursor)
    assert not redeployed.run_requests and redeployed.cursor == first.cursor


@pytest.mark.parametrize("kind", [k for k in ChangeKind if k is not ChangeKind.OTHER])
def test_each_change_kind_is_detected_classified_and_reviewed_once(local_env, tmp_path, kind):
    instance = DagsterInstance.get()
    cursor = tick(build_definitions(), instance).cursor
    defs = changed_definitions(kind, tmp_path, instance)
    state = review_states(defs.resolve_asset_graph(), instance, load_register(tmp_path / "register"), None, [ACTIVITY])[ACTIVITY]
    assert {c.kind for c in state.changes} - {ChangeKind.OTHER} == {kind}, state.changes
    first = tick(defs, instance, cursor)
    second = tick(build_definitions(load_register(tmp_path / "register")) if kind not in (ChangeKind.CODE_CHANGE, ChangeKind.NEW_UPSTREAM_SOURCE) else defs, instance, first.cursor)
    keys = {r.run_key for r in [*first.run_requests, *second.run_requests]}
    assert len(first.run_requests) == 1 and len(keys) == 1, "one review per change, not one per tick"
    (request,) = first.run_requests
    assert request.asset_selection == [dpia_asset_key(ACTIVITY)]
    assert kind.value in request.tags["dpia/changes"]


def test_review_blocks_publication_until_the_dpo_approves_and_a_revert_closes_it(local_env, tmp_path):
    instance = DagsterInstance.get()
    assert run_job().success
    baseline = tick(build_definitions(), instance).cursor
    changed = build_definitions(load_register(register_copy(tmp_path, activities=NEW_SUB_PROCESSOR)))
    (request,) = tick(changed, instance, baseline).run_requests
    review = changed.resolve_job_def("dpia_review").execute_in_process(instance=instance, asset_selection=request.asset_selection)
    assert review.success
    (materialization,) = review.asset_materializations_for_node("dpia__engagement_analytics")
    assert materialization.metadata["status"].value == "review_required"
    assert "New sub-processor 'Mailgun Technologies' (Bounce handling) in IE." in materialization.metadata["report"].value
    store = resource(changed, "dpia_reviews")
    (open_review,) = store.blocking(ACTIVITY)
    assert [c["kind"] for c in open_review.changes] == ["new_sub_processor"]

    blocked = run_job(defs=changed)
    assert not blocked.success
    assert check_outcomes(blocked)[("customer_features", "dpia_approved")] is False
    assert "engagement_cohorts" not in executed_steps(blocked), "downstream of a blocked asset must not run"

    # Reverted before anyone reviewed it: the review closes, nothing blocks.
    reverted = tick(build_definitions(), instance, tick(changed, instance, baseline).cursor)
    assert not reverted.run_requests and store.blocking(ACTIVITY) == []
    # Made again: a fresh review run (a new run key), since the earlier one was closed.
    (again,) = tick(changed, instance, reverted.cursor).run_requests
    assert again.run_key != request.run_key
    assert changed.resolve_job_def("dpia_review").execute_in_process(instance=instance, asset_selection=again.asset_selection).success
    assert len(store.blocking(ACTIVITY)) == 1

    approval = changed.resolve_job_def("dpia_approval").execute_in_process(
        instance=instance,
        run_config={"ops": {"record_dpia_decision": {"config": {"activity": ACTIVITY, "approver": "dpo@example.com", "decision": "approve", "comment": "Mailgun is in the EEA; covered by the annex"}}}},
    )
    assert approval.success
    assert store.blocking(ACTIVITY) == []
    assert not tick(changed, instance, reverted.cursor).run_requests
    unblocked = run_job(defs=changed)
    assert unblocked.success and check_outcomes(unblocked)[("customer_features", "dpia_approved")] is True
    audit = resource(changed, "audit_trail").records()
    assert {"dpia_review_opened", "dpia_review_closed", "dpia_decision"} <= set(audit["event_type"])


def test_governance_reports_after_the_demo(local_env):
    instance = DagsterInstance.get()
    assert run_job().success
    defs = build_definitions()
    result = defs.resolve_job_def("governance_reports").execute_in_process(instance=instance)
    assert result.success
    (reports,) = result.asset_materializations_for_node("compliance_reports")
    assert reports.metadata[f"checklist_no/{ACTIVITY}"].value == 0, reports.metadata["checklist"].value
    assert reports.metadata["checklist_no/census_statistics"].value == 0, "a release that never ran is not yet evaluated, not failing"
    assert reports.metadata["checklist_not_evaluated/census_statistics"].value == 3, reports.metadata["checklist"].value
    assert "## Census cohort statistics (`census_statistics`): 4 of 4 evaluated items; 3 not yet evaluated; 3 not applicable" in reports.metadata["checklist"].value
    folder = Path(reports.metadata["reports_folder"].value)
    expected = {"ropa.md", "ropa.html", "ropa.json", "ai_processing_schedule.md", "ai_processing_schedule.html", "ai_processing_schedule.json", "fides.yaml", "checklist.md", "checklist.html", "openlineage.json"}
    assert expected <= {p.name for p in folder.iterdir()}
    (dpia,) = result.asset_materializations_for_node("dpia__engagement_analytics")
    assert dpia.metadata["status"].value == "approved"
    page = (folder / "dpia" / f"{ACTIVITY}.html").read_text()
    assert "<svg" in page and "Status: approved" in page


def test_a_rejection_keeps_publication_blocked_until_an_approval(local_env, tmp_path):
    defs = build_definitions(load_register(register_copy(tmp_path, activities=NEW_SUB_PROCESSOR)))
    store = resource(defs, "dpia_reviews")
    state = review_states(defs.resolve_asset_graph(), None, load_register(tmp_path / "register"), store, [ACTIVITY])[ACTIVITY]
    store.open_review(ACTIVITY, state.current.identity, [{"kind": c.kind.value, "text": c.text} for c in state.changes])
    assert store.decide(state.current, "reject", "dpo@example.com", "Mailgun has no annex entry yet") == 1
    (rejected,) = store.blocking(ACTIVITY)
    assert rejected.status == "rejected"
    assert store.open_review(ACTIVITY, state.current.identity, [])[1] is False, "a rejected state is not re-opened by the next tick"
    store.decide(state.current, "approve", "dpo@example.com", "annex signed")
    assert store.blocking(ACTIVITY) == []
    with pytest.raises(ValueError, match="decision must be"):
        store.decide(state.current, "maybe", "dpo@example.com", "")
