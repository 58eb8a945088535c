"""The DPIA in Dagster: one report asset per DPIA (its materialisation is the review: it opens a
review record when the deployed state differs from the approved one), the governance reports
asset (RoPA, AI processing schedule, checklist), and the approval job a DPO's decision runs."""


import json
from datetime import datetime, timezone
from pathlib import Path

import yaml
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetSelection,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    Config,
    JobDefinition,
    MaterializeResult,
    MetadataValue,
    OpExecutionContext,
    Output,
    asset,
    define_asset_job,
    job,
    op,
)
from pydantic import Field

from compliance_assets.audit.anchor import REPORTS_ASSET, head_metadata
from compliance_assets.dpia.lineage import deployed_controls, review_states
from compliance_assets.dpia.approvals import approval_of
from compliance_assets.dpia.review import ReviewState, review_state
from compliance_assets.tiers import ACTIVITY_TAG, DATA_USE_TAG
from compliance_assets.register import Register
from compliance_assets.reports.ai_schedule import ai_activities, fides_export, schedule_entries, schedule_markdown
from compliance_assets.reports.checklist import NO, NOT_EVALUATED, Evidence, checklist, checklist_markdown
from compliance_assets.reports.crosscheck import Exports, export_mismatches, mismatches_markdown
from compliance_assets.reports.dpia import LINEAGE_PLACEHOLDER, dpia_facts, dpia_markdown
from compliance_assets.reports.openlineage import lineage_events, to_json, validate_events
from compliance_assets.reports.render import lineage_svg, to_html
from compliance_assets.reports.ropa import ropa_entries, ropa_markdown

DPIA_GROUP = "dpia"
DPIA_REVIEW_JOB = "dpia_review"
DPIA_APPROVAL_JOB = "dpia_approval"
EXPORTS_CHECK = "exports_match_register"
LINEAGE_NAMESPACE = "compliance_assets"  # the OpenLineage namespace of the jobs and the warehouse tables


class CodeLocation:
    """The Definitions these assets and ops belong to. Runs launched from a code location could
    read `context.repository_def`, but in-process runs have none; the run's own process loads
    the same code either way, so the Definitions object is what 'deployed' means here."""

    def __init__(self) -> None:
        self.definitions = None

    @property
    def repository_def(self):
        if self.definitions is None:
            raise RuntimeError("the DPIA assets were built outside build_definitions; set CodeLocation.definitions")
        return self.definitions.get_repository_def()


def dpia_asset_key(activity: str) -> AssetKey:
    return AssetKey([DPIA_GROUP, activity])


def write_report(folder: Path, stem: str, markdown_text: str, title: str, pictures: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.md").write_text(markdown_text, encoding="utf-8")
    (folder / f"{stem}.html").write_text(to_html(title, markdown_text, pictures), encoding="utf-8")
    return folder / f"{stem}.md"


def render_dpia(register: Register, state: ReviewState, controls, reports_dir: Path) -> tuple[str, Path]:
    document = register.dpias[state.activity]
    text = dpia_markdown(document, register, state, controls)
    svg = lineage_svg(state.current.assets, highlight=state.activity)
    path = write_report(reports_dir / DPIA_GROUP, state.activity, text, f"DPIA: {register.activities[state.activity].name}", {LINEAGE_PLACEHOLDER: svg})
    return text, path


def dpia_metadata(state: ReviewState, text: str, path: Path, open_reviews: int) -> dict:
    return {
        "report": MetadataValue.md(text),
        "report_path": MetadataValue.path(str(path)),
        "status": MetadataValue.text("review_required" if state.needs_review else "approved"),
        "changes_awaiting_review": MetadataValue.int(len(state.changes)),
        "open_reviews": MetadataValue.int(open_reviews),
        "largest_source_rows": MetadataValue.int(state.current.rows or 0),
        "fingerprint": MetadataValue.text(state.current.digest[:16]),
    }


def open_review_if_needed(context, store, state: ReviewState) -> None:
    """Writes the review record (one per state) and its audit entry."""
    if not state.needs_review:
        return
    review_id, opened = store.open_review(state.activity, state.current.identity, [{"kind": c.kind.value, "text": c.text} for c in state.changes])
    if opened:
        context.resources.audit_trail.append(
            "dpia_review_opened",
            actor=f"dagster-run:{context.run.run_id}",
            details={"activity": state.activity, "review_id": review_id, "changes": [c.kind.value for c in state.changes], "state": state.current.identity},
        )
        context.log.warning(f"DPIA review {review_id} opened for '{state.activity}': " + "; ".join(c.text for c in state.changes))


def build_dpia_assets(register: Register, reports_dir: Path, location: CodeLocation) -> list[AssetsDefinition]:
    def build(activity_key: str) -> AssetsDefinition:
        activity = register.activities[activity_key]

        @asset(
            key=dpia_asset_key(activity_key),
            group_name=DPIA_GROUP,
            kinds={"markdown", "html"},
            owners=activity.owners,
            tags={ACTIVITY_TAG: activity_key},
            description=f"The living DPIA of '{activity.name}': recomputes what the approval covers from the deployed "
            "code and the latest runs, opens a review when it changed, and renders the report.",
            required_resource_keys={"dpia_reviews", "audit_trail"},
        )
        def _dpia(context: AssetExecutionContext) -> MaterializeResult:
            store = context.resources.dpia_reviews
            repository_def = location.repository_def
            state = review_states(repository_def.asset_graph, context.instance, register, store, [activity_key])[activity_key]
            open_review_if_needed(context, store, state)
            text, path = render_dpia(register, state, deployed_controls(repository_def), reports_dir)
            return MaterializeResult(metadata=dpia_metadata(state, text, path, len(store.blocking(activity_key))))

        return _dpia

    return [build(key) for key in sorted(register.dpias)]


def latest_check_results(instance, repository_def) -> dict[str, bool | None]:
    results: dict[str, bool | None] = {}
    for check_key in repository_def.asset_graph.asset_check_keys:
        record = instance.get_latest_asset_check_evaluation_record(AssetCheckKey(check_key.asset_key, check_key.name))
        evaluation = record.evaluation if record is not None else None
        # A check still in flight (this run's own, for one) has a planned event, not a result yet.
        results[f"{check_key.asset_key.to_user_string()}.{check_key.name}"] = evaluation.passed if isinstance(evaluation, AssetCheckEvaluation) else None
    return results


def gather_evidence(context, repository_def, register: Register) -> Evidence:
    graph = repository_def.asset_graph
    audit = context.resources.audit_trail
    records = audit.records()
    verification = audit.verification(context.instance)
    audited = set()
    for details in records["details"] if len(records) else []:
        asset_name = json.loads(details).get("asset")
        if asset_name:
            audited.add(asset_name)
    store = context.resources.dpia_reviews
    return Evidence(
        controls=deployed_controls(repository_def),
        check_results=latest_check_results(context.instance, repository_def),
        data_use_tags={k.to_user_string(): graph.get(k).tags.get(DATA_USE_TAG, "") for k in graph.get_all_asset_keys()},
        dpia_states=review_states(graph, context.instance, register, store, list(register.dpias)),
        audit_intact=len(records) > 0 and verification.intact,
        audited_assets=frozenset(audited),
        audit_head=verification.head if verification.intact else None,
        audit_summary=verification.summary() if len(records) else "empty",
    )


def build_reports_asset(register: Register, reports_dir: Path, location: CodeLocation) -> AssetsDefinition:
    @asset(
        name=REPORTS_ASSET,
        group_name=DPIA_GROUP,
        kinds={"markdown", "html", "json", "yaml"},
        owners=["team:privacy"],
        description="The record of processing activities (Art. 30), the AI processing schedule (AVV annex; JSON and "
        "Fides YAML too), the 10-point checklist per AI feature and the OpenLineage column lineage, from the register, "
        "the code and the latest checks.",
        required_resource_keys={"dpia_reviews", "audit_trail"},
        check_specs=[
            AssetCheckSpec(
                EXPORTS_CHECK,
                asset=REPORTS_ASSET,
                blocking=True,
                description="Reads the written Fides export, RoPA and AI processing schedule back, and each DPIA's "
                "stated facts, and compares them field by field with what the register says of each activity.",
            )
        ],
    )
    def compliance_reports(context: AssetExecutionContext) -> MaterializeResult:
        reports_dir.mkdir(parents=True, exist_ok=True)
        ropa = ropa_markdown(register)
        write_report(reports_dir, "ropa", ropa, "Record of processing activities")
        (reports_dir / "ropa.json").write_text(json.dumps(ropa_entries(register), indent=2), encoding="utf-8")
        schedule = schedule_markdown(register)
        write_report(reports_dir, "ai_processing_schedule", schedule, "AI processing schedule")
        (reports_dir / "ai_processing_schedule.json").write_text(json.dumps(schedule_entries(register), indent=2), encoding="utf-8")
        (reports_dir / "fides.yaml").write_text(yaml.safe_dump(fides_export(register), sort_keys=False), encoding="utf-8")
        lineage = to_json(lineage_events(register, LINEAGE_NAMESPACE, datetime.now(timezone.utc)))
        validate_events(lineage)
        (reports_dir / "openlineage.json").write_text(json.dumps(lineage, indent=2), encoding="utf-8")
        evidence = gather_evidence(context, location.repository_def, register)
        answers = {key: checklist(register, key, evidence) for key in ai_activities(register)}
        checks = checklist_markdown(register, answers)
        write_report(reports_dir, "checklist", checks, "AI feature checklist")
        metadata = {
            "checklist": MetadataValue.md(checks),
            "ropa": MetadataValue.md(ropa),
            "ai_processing_schedule": MetadataValue.md(schedule),
            "reports_folder": MetadataValue.path(str(reports_dir)),
            "openlineage_events": MetadataValue.int(len(lineage)),
        }
        if evidence.audit_head is not None:  # a checkpoint of the verified head, outside the warehouse
            metadata.update(head_metadata(evidence.audit_head))
        for key, given in answers.items():
            metadata[f"checklist_no/{key}"] = MetadataValue.int(sum(a.answer == NO for a in given))
            metadata[f"checklist_not_evaluated/{key}"] = MetadataValue.int(sum(a.answer == NOT_EVALUATED for a in given))
        exports = Exports(
            fides=yaml.safe_load((reports_dir / "fides.yaml").read_text(encoding="utf-8")),
            ropa=json.loads((reports_dir / "ropa.json").read_text(encoding="utf-8")),
            schedule=json.loads((reports_dir / "ai_processing_schedule.json").read_text(encoding="utf-8")),
            dpias={key: dpia_facts(register, state) for key, state in evidence.dpia_states.items()},
        )
        mismatches = export_mismatches(register, exports)
        for mismatch in mismatches:
            context.log.error(f"export disagrees with the register: {mismatch}")
        check = AssetCheckResult(
            check_name=EXPORTS_CHECK,
            passed=not mismatches,
            severity=AssetCheckSeverity.ERROR,
            metadata={"mismatches": MetadataValue.int(len(mismatches)), "report": MetadataValue.md(mismatches_markdown(mismatches))},
        )
        return MaterializeResult(metadata=metadata, check_results=[check])

    return compliance_reports


def build_dpia_review_job(register: Register) -> JobDefinition:
    return define_asset_job(
        DPIA_REVIEW_JOB,
        selection=AssetSelection.assets(*[dpia_asset_key(a) for a in sorted(register.dpias)]),
        description="Recompute DPIAs against their approved state; opens a review for each change (the DPIA sensor launches it).",
    )


class DpiaDecision(Config):
    activity: str = Field(description="The processing activity whose DPIA is decided")
    approver: str = Field(description="Who decides (the DPO, by email)")
    decision: str = Field(default="approve", description="'approve' pins the current state and unblocks; 'reject' keeps it blocked")
    comment: str = Field(description="The reasoning, kept with the decision and in the audit trail")


def decide(context, repository_def, register: Register, config: DpiaDecision, reports_dir: Path) -> tuple[ReviewState, str, Path, int]:
    """Shared by the job and the CLI: records the decision on the deployed state and re-renders."""
    if config.activity not in register.dpias:
        raise ValueError(f"'{config.activity}' has no DPIA in {register.directory / 'dpia'}; known: {', '.join(sorted(register.dpias))}")
    store = context.resources.dpia_reviews
    state = review_states(repository_def.asset_graph, context.instance, register, store, [config.activity])[config.activity]
    closed = store.decide(state.current, config.decision, config.approver, config.comment)
    context.resources.audit_trail.append(
        "dpia_decision",
        actor=config.approver,
        details={"activity": config.activity, "decision": config.decision, "comment": config.comment, "state": state.current.identity, "reviews": closed},
    )
    after = review_state(state.current, approval_of(register.directory, store, config.activity))
    text, path = render_dpia(register, after, deployed_controls(repository_def), reports_dir)
    return after, text, path, len(store.blocking(config.activity))


def build_dpia_approval_job(register: Register, reports_dir: Path, location: CodeLocation) -> JobDefinition:
    @op(required_resource_keys={"dpia_reviews", "audit_trail"})
    def record_dpia_decision(context: OpExecutionContext, config: DpiaDecision):
        state, text, path, open_reviews = decide(context, location.repository_def, register, config, reports_dir)
        yield AssetMaterialization(asset_key=dpia_asset_key(config.activity), metadata=dpia_metadata(state, text, path, open_reviews))
        yield Output(None, metadata={"decision": config.decision, "open_reviews": open_reviews})

    @job(name=DPIA_APPROVAL_JOB, description="A DPO's decision on a DPIA: approve (pins the deployed state, unblocks) or reject.")
    def dpia_approval():
        record_dpia_decision()

    return dpia_approval
