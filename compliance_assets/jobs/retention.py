"""Storage limitation on a schedule: every raw source with a retention clock loses the rows past
their categories' periods, in short batches, and so does the staging copy a blocked raw
publication left; quarantined rows go once their source's shortest period has passed since they
were set aside; a feature table not republished within its period is emptied; and, where the host opts in, the location's own Dagster runs and event logs older than
their configured period are pruned (Dagster has no retention of its own for either). Runs of
other code locations on a shared instance are theirs to keep: they are never touched."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from dagster import AssetKey, Config, JobDefinition, MetadataValue, OpExecutionContext, Output, RunsFilter, job, op
from pydantic import Field

from compliance_assets.jobs.dpia import CodeLocation
from compliance_assets.tiers import Tier, table_name
from compliance_assets.register import Register
from compliance_assets.storage.warehouse import QUARANTINE_PREFIX, STAGING_PREFIX

RETENTION_JOB = "retention"


class RetentionConfig(Config):
    batch_rows: int = Field(default=10_000, description="Rows deleted per transaction")
    dagster_run_retention_days: int = Field(
        default=90, description="This location's finished runs (and their event logs) older than this are deleted, where the location prunes runs"
    )
    as_of: str | None = Field(default=None, description="Judge retention as of this UTC time (ISO 8601); now when empty")


def feature_set_period(register: Register, name: str) -> timedelta:
    """A feature table is rebuilt whole, so its rows are as old as its last publication, and it
    may be kept only as long as its shortest-lived feature."""
    feature_set = register.feature_sets[name]
    return min(register.retention_of(feature_set.activity, f.category).duration for f in feature_set.features.values())


def expiry_rules(register: Register, source_name: str, now: datetime) -> list[tuple[datetime, list[str]]]:
    """(cutoff, columns) per distinct period: a row expires once any non-empty column is past its own."""
    by_period: dict[timedelta, list[str]] = defaultdict(list)
    for column, period in register.retention_periods(source_name).items():
        by_period[period].append(column)
    return [(now - period, sorted(columns)) for period, columns in sorted(by_period.items())]


def quarantine_periods(register: Register) -> dict[str, timedelta]:
    """How long each quarantine keeps a row after setting it aside: the shortest period of its raw
    source's columns (a feature set's quarantine holds its subject source's rows). A row waits
    there to be fixed, not to outlive the data it would have become."""
    periods = {name: min(register.retention_periods(name).values()) for name in register.sources}
    periods.update({name: periods[feature_set.subject_source] for name, feature_set in register.feature_sets.items()})
    return periods


def build_retention_job(register: Register, prune_dagster_runs: bool = False, location: CodeLocation | None = None) -> JobDefinition:
    """`location` (required to prune) says which jobs are the location's own."""
    if prune_dagster_runs and location is None:
        raise ValueError("pruning Dagster runs needs the location whose runs they are")
    clocked = {name: source.retention_clock for name, source in register.sources.items() if source.retention_clock}

    @op(required_resource_keys={"warehouse", "audit_trail"})
    def enforce_retention(context: OpExecutionContext, config: RetentionConfig):
        warehouse = context.resources.warehouse
        now = datetime.fromisoformat(config.as_of).replace(tzinfo=None) if config.as_of else datetime.now(UTC).replace(tzinfo=None)
        metadata: dict[str, object] = {}
        for name, clock in sorted(clocked.items()):
            table = table_name(Tier.RAW, name)
            deleted = warehouse.purge_expired(table, clock, expiry_rules(register, name, now), config.batch_rows)
            oldest = warehouse.oldest(table, clock)
            staged = warehouse.purge_expired(STAGING_PREFIX + table, clock, expiry_rules(register, name, now), config.batch_rows)
            metadata[f"{name}/rows_deleted"] = MetadataValue.int(deleted)
            metadata[f"{name}/staged_rows_deleted"] = MetadataValue.int(staged)
            if oldest is not None:
                metadata[f"{name}/oldest_row_days"] = MetadataValue.float(round((now - oldest) / timedelta(days=1), 2))
            context.resources.audit_trail.append(
                "retention_purge", actor=f"dagster-run:{context.run.run_id}",
                details={"asset": name, "table": table, "rows_deleted": deleted, "staged_rows_deleted": staged, "clock": clock},
            )
        for name, period in sorted(quarantine_periods(register).items()):
            gone = warehouse.purge_quarantine(name, now - period, config.batch_rows)
            metadata[f"{name}/quarantined_rows_deleted"] = MetadataValue.int(gone)
            if gone:
                context.resources.audit_trail.append(
                    "retention_purge", actor=f"dagster-run:{context.run.run_id}",
                    details={"asset": name, "table": QUARANTINE_PREFIX + name, "rows_deleted": gone, "clock": "quarantined_at"},
                )
        for name in sorted(register.feature_sets):
            emptied = _empty_if_stale(context, name, now)
            metadata[f"{name}/rows_deleted"] = MetadataValue.int(emptied)
            if emptied:
                context.resources.audit_trail.append(
                    "retention_purge", actor=f"dagster-run:{context.run.run_id}",
                    details={"asset": name, "table": table_name(Tier.PSEUDONYMISED, name), "rows_deleted": emptied, "clock": "last publication"},
                )
        if prune_dagster_runs:
            pruned = _prune_own_runs(context, set(location.repository_def.job_names), now - timedelta(days=config.dagster_run_retention_days))
            metadata["dagster_runs_deleted"] = MetadataValue.int(pruned)
            context.resources.audit_trail.append(
                "dagster_run_pruning", actor=f"dagster-run:{context.run.run_id}",
                details={"runs_deleted": pruned, "older_than_days": config.dagster_run_retention_days},
            )
        yield Output(None, metadata=metadata)

    def _empty_if_stale(context: OpExecutionContext, name: str, now: datetime) -> int:
        """Empties a feature table whose last publication is older than its period."""
        event = context.instance.get_latest_materialization_event(AssetKey(name))
        if event is None or now - datetime.fromtimestamp(event.timestamp, UTC).replace(tzinfo=None) <= feature_set_period(register, name):
            return 0
        return context.resources.warehouse.empty_table(table_name(Tier.PSEUDONYMISED, name))

    @job(name=RETENTION_JOB, description="Delete rows past their retention in every raw source, and prune old Dagster runs.")
    def retention_job():
        enforce_retention()

    return retention_job


def _location_of(run) -> str | None:
    origin = run.remote_job_origin
    return origin.location_name if origin is not None else None


def _prune_own_runs(context: OpExecutionContext, own_jobs: set[str], cutoff: datetime) -> int:
    """Deletes this location's finished runs created before `cutoff` (with their event logs),
    never this run: a run is the location's when its job is one of the location's jobs and it
    came from the same code location as this run."""
    instance = context.instance
    here = _location_of(context.run)
    deleted, cursor = 0, None
    while True:
        records = instance.get_run_records(filters=RunsFilter(created_before=cutoff.replace(tzinfo=UTC)), limit=100, cursor=cursor)
        if not records:
            return deleted
        cursor = records[-1].dagster_run.run_id
        for record in records:
            run = record.dagster_run
            if run.run_id != context.run.run_id and run.is_finished and run.job_name in own_jobs and _location_of(run) == here:
                instance.delete_run(run.run_id)
                deleted += 1
