"""A code location built from a register: the assets a team declares with the factories, plus
everything the register asks of the location around them (the DPIA reports and their review and
approval jobs, the RoPA and the other governance reports, data-subject requests, retention, key
rotation, consent withdrawal, their sensors and schedules, and the resources they use).

    from compliance_assets import build_location, load_register, raw_asset

    register = load_register("register")
    defs = build_location(
        register,
        [raw_asset(register, "customers", load_customers), ...],
        resources=local_resources(Path(".data")),
        folders=Folders.under(Path(".data")),
    )

The host decides everything that belongs to a deployment: where the data, reports and exports
live, which resources (and so which databases and keys) back the location, which executor runs
its steps and whether Dagster's old runs are pruned. Nothing here reads the environment or knows
the demo: `compliance_demo/definitions.py` is one such host."""


from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dagster import AssetKey, AssetSelection, Definitions, ExecutorDefinition, ScheduleDefinition, define_asset_job

from compliance_assets.jobs.dpia import CodeLocation, build_dpia_approval_job, build_dpia_assets, build_dpia_review_job, build_reports_asset
from compliance_assets.jobs.key_rotation import build_key_rotation_job
from compliance_assets.jobs.mapping_retention import build_mapping_retention_job
from compliance_assets.jobs.privacy_requests import (
    COHORT_REFRESH_JOB,
    build_privacy_request_job,
    build_privacy_request_sensor,
    build_submit_request_job,
)
from compliance_assets.jobs.retention import build_retention_job
from compliance_assets.jobs.schedules import mapping_retention_schedule, reports_schedule, retention_schedule
from compliance_assets.register import Register
from compliance_assets.resources.audit import AuditTrailResource
from compliance_assets.resources.dpia_reviews import DpiaReviewsResource
from compliance_assets.resources.keys import AuditKeyResource, PseudonymisationKeyResource
from compliance_assets.resources.vault import PseudonymVaultResource
from compliance_assets.resources.warehouse import WarehouseResource
from compliance_assets.sensors.consent_withdrawal import build_consent_withdrawal_sensor, consent_based_assets
from compliance_assets.sensors.dpia_review import build_dpia_review_sensor

REQUIRED_RESOURCES = ("warehouse", "pseudonym_vault", "pseudonym_keys", "audit_trail", "dpia_reviews")
FOLDERS_METADATA = "compliance_assets/folders"
REGISTER_METADATA = "compliance_assets/register"


@dataclass(frozen=True)
class Folders:
    """Where a location writes files: the DPIA and governance reports (no personal data), and the
    access and portability exports (personal data: keep them under the data's own protection)."""

    reports: Path
    exports: Path

    @classmethod
    def under(cls, root: Path) -> Folders:
        return cls(reports=Path(root) / "reports", exports=Path(root) / "exports")


def local_resources(
    data_dir: Path,
    *,
    warehouse_url: str | None = None,
    vault_url: str | None = None,
    dev_key_dir: Path | None = None,
    development_keys: bool = True,
    push_down_aggregations: bool = True,
) -> dict[str, object]:
    """The five resources the plugin needs: the warehouse and the vault on SQLite files under
    `data_dir` unless their URLs are given, with development keys generated in files under
    `dev_key_dir` (default: `data_dir`/keys) when the key variables are unset, or none at all
    (`development_keys=False`: the variables must then be set, as in production)."""
    data_dir = Path(data_dir)
    keys = (Path(dev_key_dir) if dev_key_dir is not None else data_dir / "keys") if development_keys else None

    def key_file(name: str) -> str | None:
        return str(keys / name) if keys is not None else None

    warehouse_url = warehouse_url or f"sqlite:///{data_dir / 'warehouse.db'}"
    vault = PseudonymVaultResource(url=vault_url or f"sqlite:///{data_dir / 'vault.db'}", dev_key_file=key_file("vault.key"))
    return {
        "warehouse": WarehouseResource(url=warehouse_url, push_down_aggregations=push_down_aggregations),
        "pseudonym_vault": vault,
        "pseudonym_keys": PseudonymisationKeyResource(vault=vault, dev_key_file=key_file("master.key")),
        "audit_trail": AuditTrailResource(url=warehouse_url, audit_key=AuditKeyResource(dev_key_file=key_file("vault.key"))),
        "dpia_reviews": DpiaReviewsResource(url=warehouse_url),
    }


def supplying(assets: Sequence, names: Sequence[str]) -> list:
    """The definitions among `assets` that supply any of `names`: how a location holds only some of
    its register's assets. Such a location still loads (its jobs and sensors ask only for what it
    defines), and the deploy gate names the gap."""
    return [d for d in assets if any(k.to_user_string() in names for k in d.keys)]


def build_governance_assets(register: Register, location: CodeLocation, reports: Path) -> list:
    """The DPIA report per DPIA document and the governance reports: no personal data."""
    return [*build_dpia_assets(register, reports, location), build_reports_asset(register, reports, location)]


def build_location(
    register: Register,
    assets: Sequence,
    *,
    resources: Mapping[str, object],
    folders: Folders,
    jobs: Sequence = (),  # JobDefinition, or what define_asset_job returns
    schedules: Sequence[ScheduleDefinition] = (),
    sensors: Sequence = (),
    executor: ExecutorDefinition | None = None,
    sensor_interval_seconds: int = 60,
    prune_dagster_runs: bool = False,
) -> Definitions:
    """`assets` (from the factories) with the register's governance assets, privacy jobs, sensors
    and schedules. `resources` must hold the five the plugin uses (`REQUIRED_RESOURCES`; see
    `local_resources`) and may hold the team's own; `jobs`, `schedules` and `sensors` are the
    team's, added beside ours. `executor` is Dagster's default unless given.
    `prune_dagster_runs` lets the retention job delete this location's own finished runs past
    their period (other locations' runs on a shared instance are never touched)."""
    missing = [key for key in REQUIRED_RESOURCES if key not in resources]
    if missing:
        raise ValueError(f"build_location needs the resources {missing}: pass them (e.g. from local_resources) in `resources`")
    location = CodeLocation()
    # The refresh jobs and the sensors that launch them ask only for what the location defines.
    defined = {key for definition in assets for key in definition.keys}
    dpia_review = build_dpia_review_job(register)
    governance_reports = define_asset_job(
        "governance_reports",
        selection=AssetSelection.groups("dpia"),
        description="Every DPIA report, the RoPA, the AI processing schedule and the checklist.",
    )
    mapping_retention = build_mapping_retention_job(register)
    requests = build_privacy_request_job(register, folders.exports)
    retention = build_retention_job(register, prune_dagster_runs, location)
    consent_refresh = define_asset_job(
        "consent_refresh",
        selection=AssetSelection.assets(*[key for keys in consent_based_assets(register).values() for key in keys if key in defined]),
        description="Recompute consent-based assets and their cohorts (after a consent withdrawal).",
    )
    cohort_refresh = define_asset_job(
        COHORT_REFRESH_JOB,
        selection=AssetSelection.assets(*[key for name in register.cohorts if (key := AssetKey(name)) in defined]),
        description="Recompute cohort tables (e.g. after an erasure), with every blocking check.",
    )
    location.definitions = Definitions(
        assets=[*assets, *build_governance_assets(register, location, folders.reports)],
        jobs=[
            *jobs,
            build_key_rotation_job(register),
            mapping_retention,
            requests,
            build_submit_request_job(),
            cohort_refresh,
            consent_refresh,
            retention,
            dpia_review,
            build_dpia_approval_job(register, folders.reports, location),
            governance_reports,
        ],
        schedules=[
            *schedules,
            mapping_retention_schedule(mapping_retention),
            retention_schedule(retention),
            reports_schedule(governance_reports),
        ],
        sensors=[
            build_privacy_request_sensor(requests, cohort_refresh, register, defined),
            build_consent_withdrawal_sensor(register, consent_refresh, defined),
            build_dpia_review_sensor(register, dpia_review, sensor_interval_seconds),
            *sensors,
        ],
        executor=executor,
        resources=dict(resources),
        metadata={
            FOLDERS_METADATA: {"reports": str(folders.reports), "exports": str(folders.exports)},
            REGISTER_METADATA: str(register.directory),
        },
    )
    return location.definitions
