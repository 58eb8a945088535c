"""The demo code location: the one entry point `workspace.yaml`, `dg` and `dagster` load.

A broken register raises RegisterError here, so the location refuses to load rather than run
without its rules."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job

from resources import environment
from compliance_demo import features, sources
from compliance_assets.factories.aggregate import cohort_asset
from compliance_assets.factories.pseudonymised import pseudonymised_asset
from compliance_assets.factories.raw import raw_asset
from compliance_assets.location import build_location, supplying
from compliance_assets.register import Register, load_register
from compliance_demo.executor import preloaded_multi_or_in_process_executor
from sensors.schedules import pipeline_schedule

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


def build_demo_jobs(assets: list) -> tuple[list, list]:
    """The demo's jobs and the nightly pipeline schedule, each only if the location holds its assets:
    a location built from another register's assets loads without them (a job selecting assets
    nobody supplies would fail the location's load)."""
    jobs, schedules = [], []
    demo_assets = supplying(assets, EMAIL_MARKETING_ASSETS)
    if demo_assets:
        demo_pipeline = define_asset_job(
            "demo_pipeline",
            selection=AssetSelection.assets(*demo_assets),
            description="The email-marketing demo end to end: raw → pseudonymised → cohorts (k ≥ 50). "
            "A partition (or range) loads those days of events; a run without one loads their whole export.",
        )
        jobs.append(demo_pipeline)
        schedules.append(pipeline_schedule(demo_pipeline, partitioned=any(d.partitions_def is not None for d in demo_assets)))
    census_assets = supplying(assets, CENSUS_ASSETS)
    if census_assets:
        jobs.append(
            define_asset_job(
                "census_release",
                selection=AssetSelection.assets(*census_assets),
                description="Census cohorts by sex, race and education from adult.csv, k ≥ 50.",
            )
        )
    return jobs, schedules


def build_definitions(register: Register | None = None, assets: list | None = None) -> Definitions:
    """The demo location: the demo's assets (or `assets`), its jobs and sources, on the plugin's location."""
    register = register or load_register(environment.register_dir())
    assets = assets if assets is not None else build_assets(register)
    jobs, schedules = build_demo_jobs(assets)
    return build_location(
        register, assets, jobs=jobs, schedules=schedules,
        resources={
            **environment.resources(),
            "demo_source": sources.DemoSourceResource(),
            "census_file": sources.CensusFileResource(path=environment.census_path()),
        },
        folders=environment.folders(),
        executor=preloaded_multi_or_in_process_executor,
        sensor_interval_seconds=environment.sensor_interval_seconds(),
        prune_dagster_runs=True,
    )


defs = build_definitions()
