"""Storage limitation on a schedule, on by default so the daemon enforces it without a click."""

from dagster import DefaultScheduleStatus, JobDefinition, ScheduleDefinition


def mapping_retention_schedule(job: JobDefinition) -> ScheduleDefinition:
    return ScheduleDefinition(
        name="daily_mapping_retention",
        job=job,
        cron_schedule="30 2 * * *",
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
        description="Every night: forget pseudonym mappings past their retention (register: pseudonym_mapping_retention).",
    )


def retention_schedule(job: JobDefinition) -> ScheduleDefinition:
    return ScheduleDefinition(
        name="daily_retention",
        job=job,
        cron_schedule="0 3 * * *",
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
        description="Every night: delete rows past their category's retention in every raw source, and prune old Dagster runs.",
    )
