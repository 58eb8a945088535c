"""Data-subject requests run unattended: a sensor turns each pending request into one run of the
request job (run key = request id), and after an erasure it refreshes the cohort tables the
subject contributed to, so cohorts that fall under k are suppressed again."""

from pathlib import Path

from dagster import (
    AssetKey,
    Config,
    DefaultSensorStatus,
    Failure,
    JobDefinition,
    MetadataValue,
    OpExecutionContext,
    Output,
    RunConfig,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    job,
    op,
    sensor,
)

from pydantic import Field

from compliance_assets import environment
from compliance_assets.register import Register
from compliance_assets.rights.access import export_subject
from compliance_assets.rights.erasure import erase
from compliance_assets.rights.locate import locate_subject, plan_pseudonyms
from resources.requests import PrivacyRequests
from resources.vault import PseudonymVaultResource

REQUEST_JOB = "privacy_request"
COHORT_REFRESH_JOB = "cohort_refresh"


class RequestConfig(Config):
    request_id: str


def export_folder(request_id: str) -> Path:
    """Where access and portability exports are written: beside the demo's data, never in Dagster."""
    return environment.data_dir() / "exports" / request_id


def cohorts_fed_by(register: Register, source_name: str) -> list[AssetKey]:
    """Cohort tables built from feature sets whose subjects come from `source_name`."""
    feature_sets = {name for name, fs in register.feature_sets.items() if fs.subject_source == source_name}
    return [AssetKey(name) for name in register.cohorts_built_on(feature_sets)]


def build_privacy_request_job(register: Register) -> JobDefinition:
    @op(required_resource_keys={"warehouse", "pseudonym_vault", "pseudonym_keys", "audit_trail"})
    def handle_privacy_request(context: OpExecutionContext, config: RequestConfig):
        store = PrivacyRequests(context.resources.pseudonym_vault)
        request = store.get(config.request_id)
        plan = request.plan
        if plan is None:
            plan = locate_subject(
                register, context.resources.warehouse, context.resources.pseudonym_keys,
                request.source, request.identifier, request.scope,
            )
            store.save_plan(request.request_id, plan)
        if request.kind != "erasure":
            yield from _export(context, store, request, plan)
            return
        outcome = erase(register, context.resources.warehouse, context.resources.pseudonym_vault, plan)
        outcome["run_id"] = context.run.run_id
        outcome["cohorts_to_refresh"] = [k.to_user_string() for k in cohorts_fed_by(register, request.source)]
        subject = next(iter(plan_pseudonyms(plan)), None)
        context.resources.audit_trail.append(
            "erasure", actor=f"dagster-run:{context.run.run_id}", subject=subject,
            details={"request_id": request.request_id, "source": request.source, **outcome},
        )
        store.finish(request.request_id, "erased", outcome)
        deleted = outcome["deleted"]
        yield Output(
            None,
            metadata={
                "rows_deleted": MetadataValue.int(sum(deleted.values())),
                "tables_touched": MetadataValue.int(sum(1 for n in deleted.values() if n)),
                "exceptions_kept": MetadataValue.int(len(outcome["kept"])),
                "deleted_per_table": MetadataValue.json(deleted),
            },
        )

    def _export(context: OpExecutionContext, store: PrivacyRequests, request, plan: dict):
        folder = export_folder(request.request_id)
        summary = export_subject(
            register, context.resources.warehouse, context.resources.audit_trail.records(), plan, folder,
            portability=request.kind == "portability",
        )
        subject = next(iter(plan_pseudonyms(plan)), None)
        context.resources.audit_trail.append(
            f"{request.kind}_export", actor=f"dagster-run:{context.run.run_id}", subject=subject,
            details={"request_id": request.request_id, **summary},
        )
        store.finish(request.request_id, "done", {**summary, "run_id": context.run.run_id})
        yield Output(
            None,
            metadata={
                "rows_exported": MetadataValue.int(sum(summary["rows"].values())),
                "tables_exported": MetadataValue.int(len(summary["rows"])),
                "export_folder": MetadataValue.path(str(folder)),
            },
        )

    @job(name=REQUEST_JOB, description="Serve one data-subject request (erasure, access or portability) by its id; started by the request sensor.")
    def privacy_request_job():
        handle_privacy_request()

    return privacy_request_job


class SubmitRequestConfig(Config):
    """The identifier is read from a file (dropped by a ticketing system, say) and the file is then
    deleted: run config is shown to everyone who can open the UI, so it must not hold it."""

    kind: str = Field(description="erasure | access | portability")
    identifier_file: str = Field(description="Path of a file whose first line is the subject's identifier")
    source: str = Field(default="customers", description="Raw source whose subject identifier it is")
    scope: str | None = Field(default=None, description="The subject's scope, e.g. the client workspace")


def build_submit_request_job() -> JobDefinition:
    @op(required_resource_keys={"pseudonym_vault", "audit_trail"})
    def file_privacy_request(context: OpExecutionContext, config: SubmitRequestConfig):
        path = Path(config.identifier_file)
        if not path.is_file():
            raise Failure(f"identifier_file {path} does not exist")
        identifier = path.read_text(encoding="utf-8").splitlines()[0].strip() if path.stat().st_size else ""
        request_id = PrivacyRequests(context.resources.pseudonym_vault).submit(config.kind, config.source, identifier, config.scope)
        path.unlink()
        context.resources.audit_trail.append(
            "request_filed", actor=f"dagster-run:{context.run.run_id}",
            details={"request_id": request_id, "kind": config.kind, "source": config.source},
        )
        yield Output(request_id, metadata={"request_id": MetadataValue.text(request_id)})

    @job(name="submit_privacy_request", description="File a data-subject request; the request sensor serves it.")
    def submit_privacy_request_job():
        file_privacy_request()

    return submit_privacy_request_job


def build_privacy_request_sensor(request_job: JobDefinition, refresh_job, register: Register) -> SensorDefinition:
    @sensor(
        name="privacy_requests",
        jobs=[request_job, refresh_job],
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        description="Launches one run per pending data-subject request, then refreshes the cohorts an erasure touched.",
    )
    def privacy_requests(context: SensorEvaluationContext, pseudonym_vault: PseudonymVaultResource):
        store = PrivacyRequests(pseudonym_vault)
        for request_id in store.with_status("pending"):
            yield RunRequest(
                run_key=request_id,
                job_name=request_job.name,
                run_config=RunConfig(ops={"handle_privacy_request": RequestConfig(request_id=request_id)}),
                tags={"privacy/request_id": request_id},
            )
        for request_id in store.with_status("erased"):
            request = store.get(request_id)
            cohorts = cohorts_fed_by(register, request.source)
            if cohorts:
                yield RunRequest(
                    run_key=f"{request_id}:cohorts", job_name=refresh_job.name, asset_selection=cohorts,
                    tags={"privacy/request_id": request_id},
                )
            store.finish(request_id, "done", {**(request.outcome or {}), "cohort_refresh_run_key": f"{request_id}:cohorts" if cohorts else None})

    return privacy_requests
