"""The reference location's own schedule: its pipeline every night (the plugin's jobs bring theirs)."""

from dagster import DefaultScheduleStatus, build_schedule_from_partitioned_job

from compliance_assets.jobs.schedules import nightly_schedule


def pipeline_schedule(job, partitioned: bool = True):
    """A partitioned pipeline's nightly run targets yesterday's partition, the day just closed; a
    code location whose pipeline has no partitioned asset gets a plain nightly run."""
    description = "Every night: yesterday's events (and today's contacts) through raw → pseudonymised → cohorts, every blocking check on."
    if not partitioned:
        return nightly_schedule("daily_demo_pipeline", job, "0 1 * * *", description)
    return build_schedule_from_partitioned_job(
        job, name="daily_demo_pipeline", hour_of_day=1, minute_of_hour=0, default_status=DefaultScheduleStatus.RUNNING, description=description,
    )
