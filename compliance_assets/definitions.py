"""The demo code location: the one entry point `workspace.yaml` and `dagster` load.

A broken register raises RegisterError here, so the location refuses to load rather than run
without its rules."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job

from compliance_assets import environment
from compliance_assets.demo import features, sources
from compliance_assets.factories.aggregate import cohort_asset
from compliance_assets.factories.pseudonymised import pseudonymised_asset
from compliance_assets.factories.raw import raw_asset
from compliance_assets.jobs.executor import preloaded_multi_or_in_process_executor
from compliance_assets.jobs.key_rotation import build_key_rotation_job
from compliance_assets.jobs.mapping_retention import build_mapping_retention_job
from compliance_assets.jobs.privacy_requests import (
    COHORT_REFRESH_JOB,
    build_privacy_request_job,
    build_privacy_request_sensor,
    build_submit_request_job,
)
from compliance_assets.register import Register, load_register
from sensors.consent_withdrawal import build_consent_withdrawal_sensor, consent_based_assets
from compliance_assets.jobs.dpia import CodeLocation, build_dpia_approval_job, build_dpia_assets, build_dpia_review_job, build_reports_asset
from compliance_assets.jobs.retention import build_retention_job
from sensors.dpia_review import build_dpia_review_sensor
from sensors.schedules import mapping_retention_schedule, pipeline_schedule, reports_schedule, retention_schedule

EMAIL_MARKETING_ASSETS = [
    "customers",
    "engagement_events",
    "consent_records",
    "search_logs",
    "customer_features",
    "engagement_cohorts",
    "region_cohorts",
]
CENSUS_ASSETS = ["census_respondents", "census_features", "census_cohorts"]


def build_assets(register: Register) -> list:
    demo = {"demo_source"}
    return [
        raw_asset(register, "customers", sources.load_customers, required_resource_keys=demo),
        # The largest export, on the run's longest path: its step starts first, the other raw steps beside it.
        raw_asset(register, "engagement_events", sources.load_engagement_events, required_resource_keys=demo, op_tags={"dagster/priority": "1"}),
        raw_asset(register, "consent_records", sources.load_consent_records, required_resource_keys=demo),
        raw_asset(register, "search_logs", sources.load_search_logs, required_resource_keys=demo),
        pseudonymised_asset(register, "customer_features", features.customer_features),
        cohort_asset(register, "engagement_cohorts"),
        cohort_asset(register, "region_cohorts"),
        raw_asset(register, "census_respondents", sources.load_census, required_resource_keys={"census_file"}),
        pseudonymised_asset(register, "census_features", features.census_features),
        cohort_asset(register, "census_cohorts"),
    ]


def build_governance_assets(register: Register, location: CodeLocation) -> list:
    """The DPIA report per DPIA document and the governance reports: no personal data."""
    reports = environment.reports_dir()
    return [*build_dpia_assets(register, reports, location), build_reports_asset(register, reports, location)]


def build_definitions(register: Register | None = None, assets: list | None = None) -> Definitions:
    register = register or load_register(environment.register_dir())
    dpia_review = build_dpia_review_job(register)
    location = CodeLocation()
    assets = assets if assets is not None else build_assets(register)
    demo_assets = [d for d in assets if any(k.to_user_string() in EMAIL_MARKETING_ASSETS for k in d.keys)]
    demo_pipeline = define_asset_job(
        "demo_pipeline",
        # what is defined: a gap is the deploy gate's to name, not a failure to load the schedule
        selection=AssetSelection.assets(*demo_assets),
        description="The email-marketing demo end to end: raw → pseudonymised → cohorts (k ≥ 50). "
        "A partition (or range) loads those days of events; a run without one loads their whole export.",
    )
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
        selection=AssetSelection.assets(*[k for keys in consent_based_assets(register).values() for k in keys]),
        description="Recompute consent-based assets and their cohorts (after a consent withdrawal).",
    )
    cohort_refresh = define_asset_job(
        COHORT_REFRESH_JOB,
        selection=AssetSelection.assets(*register.cohorts),
        description="Recompute cohort tables (e.g. after an erasure), with every blocking check.",
    )
    location.definitions = Definitions(
        assets=[*assets, *build_governance_assets(register, location)],
        jobs=[
            demo_pipeline,
            define_asset_job(
                "census_release",
                selection=AssetSelection.assets(*CENSUS_ASSETS),
                description="Census cohorts by sex, race and education from adult.csv, k ≥ 50.",
            ),
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
            pipeline_schedule(demo_pipeline, partitioned=any(d.partitions_def is not None for d in demo_assets)),
            mapping_retention_schedule(mapping_retention),
            retention_schedule(retention),
            reports_schedule(governance_reports),
        ],
        sensors=[
            build_privacy_request_sensor(requests, cohort_refresh, register),
            build_consent_withdrawal_sensor(register, consent_refresh),
            build_dpia_review_sensor(register, dpia_review, environment.sensor_interval_seconds()),
        ],
        executor=preloaded_multi_or_in_process_executor,
        resources={
            "warehouse": environment.warehouse(),
            "pseudonym_vault": vault,
            "pseudonym_keys": environment.pseudonym_keys(vault),
            "audit_trail": environment.audit_trail(),
            "dpia_reviews": environment.dpia_reviews(),
            "demo_source": sources.DemoSourceResource(),
            "census_file": sources.CensusFileResource(path=environment.census_path()),
        },
    )
    return location.definitions


defs = build_definitions()
