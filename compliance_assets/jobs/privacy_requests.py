"""Data-subject requests run unattended: a sensor turns each pending request into one run of the
request job (run key = request id), and after an erasure it refreshes the cohort tables the
subject contributed to, so cohorts that fall under k are suppressed again."""

from collections.abc import Collection
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

from compliance_assets.register import Register
from compliance_assets.rights.access import export_subject
from compliance_assets.rights.erasure import erase, suppress
from compliance_assets.rights.heap import long_lived_objects_frozen
from compliance_assets.rights.locate import ScopeCache, locate_subject, plan_pseudonyms
from compliance_assets.resources.requests import PrivacyRequests, run_key_for
from compliance_assets.resources.vault import PseudonymVaultResource

REQUEST_JOB = "privacy_request"
COHORT_REFRESH_JOB = "cohort_refresh"


REQUESTS_PER_RUN = 200


class RequestConfig(Config):
    """Request ids only: the identifiers stay sealed in the request table."""

    request_ids: list[str] = Field(description="The requests this run serves, in the order they were filed")


def export_folder(exports: Path, request_id: str) -> Path:
    """Where one request's access or portability export is written: under the host's exports
    folder (`Folders.exports`), never in Dagster's records."""
    return Path(exports) / request_id


def cohorts_fed_by(register: Register, source_name: str) -> list[AssetKey]:
    """Cohort tables built from feature sets whose subjects come from `source_name`."""
    feature_sets = {name for name, fs in register.feature_sets.items() if fs.subject_source == source_name}
    return [AssetKey(name) for name in register.cohorts_built_on(feature_sets)]


def build_privacy_request_job(register: Register, exports: Path) -> JobDefinition:
    @op(required_resource_keys={"warehouse", "pseudonym_vault", "pseudonym_keys", "audit_trail"})
    def handle_privacy_requests(context: OpExecutionContext, config: RequestConfig):
        """Serves each request in turn; one that fails is marked failed with its reason and the
        others are still served, then the run fails naming it."""
        store = PrivacyRequests(context.resources.pseudonym_vault)
        totals = {"rows_exported": 0, "exceptions_kept": 0}
        deleted_per_table: dict[str, int] = {}
        failed: list[str] = []
        cache = ScopeCache()
        with long_lived_objects_frozen():
            for request_id in config.request_ids:
                request = store.get(request_id)
                try:
                    served = _serve(context, store, request, cache)
                except (LookupError, ValueError) as error:
                    store.finish(request_id, "failed", {"error": f"{type(error).__name__}: {error}", "run_id": context.run.run_id})
                    context.log.error(f"privacy request {request_id} failed: {error}")
                    failed.append(request_id)
                    continue
                for table, rows in served.get("deleted", {}).items():
                    deleted_per_table[table] = deleted_per_table.get(table, 0) + rows
                totals["rows_exported"] += sum(served.get("rows", {}).values())
                totals["exceptions_kept"] += len(served.get("kept", []))
        metadata = {
            "requests_served": MetadataValue.int(len(config.request_ids) - len(failed)),
            "requests_failed": MetadataValue.int(len(failed)),
            "rows_deleted": MetadataValue.int(sum(deleted_per_table.values())),
            **{name: MetadataValue.int(value) for name, value in totals.items()},
            "tables_touched": MetadataValue.int(sum(1 for n in deleted_per_table.values() if n)),
            "deleted_per_table": MetadataValue.json(deleted_per_table),
        }
        if totals["rows_exported"]:
            metadata["exports_folder"] = MetadataValue.path(str(exports))
        if failed:
            raise Failure(f"{len(failed)} of {len(config.request_ids)} privacy request(s) failed: {', '.join(failed)}; see their outcome", metadata=metadata)
        context.add_output_metadata(metadata)

    def _serve(context: OpExecutionContext, store: PrivacyRequests, request, cache: ScopeCache) -> dict:
        plan = request.plan
        if plan is None:
            plan = locate_subject(
                register, context.resources.warehouse, context.resources.pseudonym_keys,
                request.source, request.identifier, request.scope, cache,
            )
            store.save_plan(request.request_id, plan)
        subject = next(iter(plan_pseudonyms(plan)), None)
        if request.kind != "erasure":
            folder = export_folder(exports, request.request_id)
            summary = export_subject(
                register, context.resources.warehouse, context.resources.audit_trail.records(), plan, folder,
                portability=request.kind == "portability",
            )
            context.resources.audit_trail.append(
                f"{request.kind}_export", actor=f"dagster-run:{context.run.run_id}", subject=subject,
                details={"request_id": request.request_id, **summary},
            )
            store.finish(request.request_id, "done", {**summary, "run_id": context.run.run_id, "export_folder": str(folder)})
            return summary
        listed = suppress(register, context.resources.pseudonym_keys, plan, request.identifier, request.request_id)
        outcome = erase(register, context.resources.warehouse, context.resources.pseudonym_vault, plan)
        outcome["suppression_entries_added"] = listed
        outcome["run_id"] = context.run.run_id
        outcome["cohorts_to_refresh"] = [k.to_user_string() for k in cohorts_fed_by(register, request.source)]
        context.resources.audit_trail.append(
            "erasure", actor=f"dagster-run:{context.run.run_id}", subject=subject,
            details={"request_id": request.request_id, "source": request.source, **outcome},
        )
        store.finish(request.request_id, "erased", outcome)
        return outcome

    @job(name=REQUEST_JOB, description="Serve data-subject requests (erasure, access or portability) by their ids; started by the request sensor.")
    def privacy_request_job():
        handle_privacy_requests()

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


def build_privacy_request_sensor(request_job: JobDefinition, refresh_job, register: Register, defined: Collection[AssetKey]) -> SensorDefinition:
    """Refreshes only the cohorts among `defined` (the location's asset keys): a run asking for an
    asset no definition supplies cannot start."""
    @sensor(
        name="privacy_requests",
        jobs=[request_job, refresh_job],
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"Serves pending data-subject requests (up to {REQUESTS_PER_RUN} to a run; a lone request's run key is its id), then refreshes once the cohorts the tick's erasures touched.",
    )
    def privacy_requests(context: SensorEvaluationContext, pseudonym_vault: PseudonymVaultResource):
        store = PrivacyRequests(pseudonym_vault)
        for run_key, request_ids in store.queue_pending(REQUESTS_PER_RUN).items():
            yield RunRequest(
                run_key=run_key,
                job_name=request_job.name,
                run_config=RunConfig(ops={"handle_privacy_requests": RequestConfig(request_ids=request_ids)}),
                tags=_request_tags(request_ids),
            )
        erased = [store.get(request_id) for request_id in store.with_status("erased")]
        by_cohorts: dict[tuple[AssetKey, ...], list] = {}
        for request in erased:
            by_cohorts.setdefault(tuple(key for key in cohorts_fed_by(register, request.source) if key in defined), []).append(request)
        for cohorts, served in by_cohorts.items():
            request_ids = [request.request_id for request in served]
            run_key = f"{run_key_for(request_ids)}:cohorts"
            if cohorts:
                yield RunRequest(run_key=run_key, job_name=refresh_job.name, asset_selection=list(cohorts), tags=_request_tags(request_ids))
            for request in served:
                store.finish(request.request_id, "done", {**(request.outcome or {}), "cohort_refresh_run_key": run_key if cohorts else None})

    return privacy_requests


def _request_tags(request_ids: list[str]) -> dict[str, str]:
    """A lone request is tagged with its id (searchable in the UI); a batch with its size."""
    return {"privacy/request_id": request_ids[0]} if len(request_ids) == 1 else {"privacy/requests": str(len(request_ids))}
