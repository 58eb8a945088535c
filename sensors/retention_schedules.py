"""Storage limitation on a schedule, on by default so the daemon enforces it without a click."""

from dagster import DefaultScheduleStatus, JobDefinition, ScheduleDefinition


def _nightly(name: str, job: JobDefinition, cron: str, description: str) -> ScheduleDefinition:
    return ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
        description=description,
    )


def mapping_retention_schedule(job: JobDefinition) -> ScheduleDefinition:
    return _nightly(
        "daily_mapping_retention", job, "30 2 * * *",
        "Every night: forget pseudonym mappings past their retention (register: pseudonym_mapping_retention).",
    )


def retention_schedule(job: JobDefinition) -> ScheduleDefinition:
    return _nightly(
        "daily_retention", job, "0 3 * * *",
        "Every night: delete rows past their category's retention in every raw source, and prune old Dagster runs.",
    )
