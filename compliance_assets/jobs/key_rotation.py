"""The key rotation job: moves every pseudonym to a new key version (under this code's
normalisation) and destroys the old one."""


from dagster import Config, Failure, JobDefinition, MetadataValue, OpExecutionContext, Output, job, op
from pydantic import Field

from compliance_assets.register import Register
from compliance_assets.vault.rotation import rotate_keys


class RotationConfig(Config):
    actor: str = Field(description="Who rotates the keys (recorded in the audit trail)")
    batch_rows: int = Field(default=5_000, ge=1, description="Rows per transaction")
    pause_seconds: float = Field(default=0.0, ge=0, description="Pause between batches, to spare concurrent load")


def build_key_rotation_job(register: Register) -> JobDefinition:
    @op(required_resource_keys={"warehouse", "pseudonym_vault", "pseudonym_keys", "audit_trail"})
    def rotate_pseudonym_keys(context: OpExecutionContext, config: RotationConfig):
        resources = context.resources

        def progress(where: str, done: int, total: int) -> None:
            context.log.info(f"{where}: {done}/{total}")

        report = rotate_keys(
            register, resources.warehouse, resources.pseudonym_vault, resources.pseudonym_keys, resources.audit_trail,
            actor=config.actor, batch_rows=config.batch_rows, pause_seconds=config.pause_seconds, progress=progress,
        )
        if not report.completed:
            raise Failure(
                description=f"rotation to key version {report.new_version} is not verified; version {report.old_version} was kept",
                metadata={"problems": MetadataValue.md("\n".join(f"- {p}" for p in report.problems))},
            )
        yield Output(
            None,
            metadata={
                "old_version": report.old_version,
                "new_version": report.new_version,
                "rows_rekeyed": sum(report.rows_rekeyed.values()),
                "mappings_moved": sum(report.mappings_moved.values()),
                "old_normalisation": report.old_normalisation,
                "new_normalisation": report.new_normalisation,
                "subjects_merged": sum(report.subjects_merged.values()),
            },
        )

    @job(name="key_rotation", description="Re-key every pseudonymised table and the mapping vault, verify, then destroy the old key version.")
    def rotate_keys_job():
        rotate_pseudonym_keys()

    return rotate_keys_job
