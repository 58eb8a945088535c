"""Pseudonym mappings follow their own retention: the vault forgets a subject's mapping once it
has not been seen for the register's period, after which nobody can re-identify them."""

from datetime import UTC, datetime, timedelta

from dagster import JobDefinition, OpExecutionContext, Output, job, op

from compliance_assets.register import Register


def mapping_retention_by_domain(register: Register) -> dict[str, timedelta]:
    """The shortest mapping retention of the activities sharing each domain."""
    periods: dict[str, timedelta] = {}
    for key, activity in register.activities.items():
        if activity.pseudonym_mapping_retention is not None:
            domain = activity.pseudonymisation_domain or key
            period = activity.pseudonym_mapping_retention.duration
            periods[domain] = min(period, periods.get(domain, period))
    return periods


def build_mapping_retention_job(register: Register) -> JobDefinition:
    @op(required_resource_keys={"pseudonym_vault", "audit_trail"})
    def purge_expired_mappings(context: OpExecutionContext):
        now = datetime.now(UTC).replace(tzinfo=None)
        deleted: dict[str, int] = {}
        for domain, period in sorted(mapping_retention_by_domain(register).items()):
            cutoff = now - period
            deleted[domain] = context.resources.pseudonym_vault.purge_expired(domain, cutoff)
            context.resources.audit_trail.append(
                "mapping_retention_purge",
                actor=f"dagster-run:{context.run.run_id}",
                details={"domain": domain, "deleted": deleted[domain], "last_seen_before": cutoff.isoformat(), "period_days": period.days},
            )
        yield Output(None, metadata={f"deleted/{domain}": count for domain, count in deleted.items()} | {"deleted": sum(deleted.values())})

    @job(name="mapping_retention", description="Delete pseudonym mappings not seen within their retention period.")
    def mapping_retention_job():
        purge_expired_mappings()

    return mapping_retention_job
