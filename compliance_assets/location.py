"""A code location built from a register: the assets a team declares with the factories, plus
everything the register asks of the location around them (the DPIA reports and their review and
approval jobs, the RoPA and the other governance reports, data-subject requests, retention, key
rotation, consent withdrawal, their sensors and schedules, and the resources they use).

    from compliance_assets import build_location, load_register, raw_asset

    register = load_register("register")
    defs = build_location(register, [raw_asset(register, "customers", load_customers), ...])

Nothing here knows the demo: `compliance_assets/definitions.py` adds its own jobs and resources."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dagster import AssetKey, AssetSelection, Definitions, ScheduleDefinition, define_asset_job

from compliance_assets import environment
from compliance_assets.jobs.dpia import CodeLocation, build_dpia_approval_job, build_dpia_assets, build_dpia_review_job, build_reports_asset
from compliance_assets.jobs.executor import preloaded_multi_or_in_process_executor
from compliance_assets.jobs.key_rotation import build_key_rotation_job
from compliance_assets.jobs.mapping_retention import build_mapping_retention_job
from compliance_assets.jobs.privacy_requests import (
    COHORT_REFRESH_JOB,
    build_privacy_request_job,
    build_privacy_request_sensor,
    build_submit_request_job,
)
from compliance_assets.jobs.retention import build_retention_job
from compliance_assets.register import Register
from sensors.consent_withdrawal import build_consent_withdrawal_sensor, consent_based_assets
from sensors.dpia_review import build_dpia_review_sensor
from sensors.schedules import mapping_retention_schedule, reports_schedule, retention_schedule


def supplying(assets: Sequence, names: Sequence[str]) -> list:
    """The definitions among `assets` that supply any of `names`: how a location holds only some of
    its register's assets. Such a location still loads (its jobs and sensors ask only for what it
    defines), and the deploy gate names the gap."""
    return [d for d in assets if any(k.to_user_string() in names for k in d.keys)]


def build_governance_assets(register: Register, location: CodeLocation) -> list:
    """The DPIA report per DPIA document and the governance reports: no personal data."""
    reports = environment.reports_dir()
    return [*build_dpia_assets(register, reports, location), build_reports_asset(register, reports, location)]


def build_location(
    register: Register,
    assets: Sequence,
    *,
    jobs: Sequence = (),  # JobDefinition, or what define_asset_job returns
    schedules: Sequence[ScheduleDefinition] = (),
    resources: Mapping[str, object] | None = None,
) -> Definitions:
    """`assets` (from the factories) with the register's governance assets, privacy jobs, sensors,
    schedules and resources; `jobs`, `schedules` and `resources` are the team's own, added beside ours."""
    location = CodeLocation()
    # The refresh jobs and the sensors that launch them ask only for what the location defines.
    defined = {key for definition in assets for key in definition.keys}
    dpia_review = build_dpia_review_job(register)
    governance_reports = define_asset_job(
        "governance_reports",
        selection=AssetSelection.groups("dpia"),
        description="Every DPIA report, the RoPA, the AI processing schedule and the checklist.",
    )
    vault = environment.pseudonym_vault()
    mapping_retention = build_mapping_retention_job(register)
    requests = build_privacy_request_job(register)
    retention = build_retention_job(register)
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
        assets=[*assets, *build_governance_assets(register, location)],
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
            build_dpia_approval_job(register, environment.reports_dir(), location),
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
            build_dpia_review_sensor(register, dpia_review, environment.sensor_interval_seconds()),
        ],
        executor=preloaded_multi_or_in_process_executor,
        resources={
            "warehouse": environment.warehouse(),
            "pseudonym_vault": vault,
            "pseudonym_keys": environment.pseudonym_keys(vault),
            "audit_trail": environment.audit_trail(),
            "dpia_reviews": environment.dpia_reviews(),
            **(resources or {}),
        },
    )
    return location.definitions
