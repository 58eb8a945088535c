"""Nightly schedules of the plugin's jobs (storage limitation, pseudonym mappings, the governance
reports), on by default so the daemon runs them without a click."""

from dagster import DefaultScheduleStatus, JobDefinition, ScheduleDefinition


def nightly_schedule(name: str, job: JobDefinition, cron: str, description: str) -> ScheduleDefinition:
    return ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
        description=description,
    )


def reports_schedule(job: JobDefinition) -> ScheduleDefinition:
    return nightly_schedule(
        "daily_governance_reports", job, "0 4 * * *",
        "Every night, after retention: the DPIAs (a review opens if anything drifted), RoPA, AI processing schedule and checklist.",
    )


def mapping_retention_schedule(job: JobDefinition) -> ScheduleDefinition:
    return nightly_schedule(
        "daily_mapping_retention", job, "30 2 * * *",
        "Every night: forget pseudonym mappings past their retention (register: pseudonym_mapping_retention).",
    )


def retention_schedule(job: JobDefinition) -> ScheduleDefinition:
    return nightly_schedule(
        "daily_retention", job, "0 3 * * *",
        "Every night: delete rows past their category's retention in every raw source, and prune old Dagster runs.",
    )
