"""Helpers for running the demo for real and reading what it published."""

from __future__ import annotations

import pandas as pd
from dagster import DagsterEventType, DagsterInstance, Definitions, ExecuteInProcessResult

from compliance_assets.definitions import build_definitions
from compliance_assets.factories.naming import Tier, table_name
from resources.warehouse import WarehouseResource
from tests.conftest import small_run_config


def run_job(job: str = "demo_pipeline", defs: Definitions | None = None, **demo_overrides) -> ExecuteInProcessResult:
    defs = defs or build_definitions()
    return defs.resolve_job_def(job).execute_in_process(
        run_config=small_run_config(**demo_overrides), instance=DagsterInstance.get(), raise_on_error=False
    )


def warehouse_of(defs: Definitions | None = None) -> WarehouseResource:
    """The warehouse as a run would see it (EnvVar-configured URLs resolved)."""
    return resource(defs or build_definitions(), "warehouse")


def published(tier: Tier, name: str, defs: Definitions | None = None) -> pd.DataFrame:
    return warehouse_of(defs).read_table(table_name(tier, name))


def check_outcomes(result: ExecuteInProcessResult) -> dict[tuple[str, str], bool]:
    return {
        (e.event_specific_data.asset_key.to_user_string(), e.event_specific_data.check_name): e.event_specific_data.passed
        for e in result.all_events
        if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    }


def materialized(result: ExecuteInProcessResult) -> set[str]:
    return {
        e.event_specific_data.materialization.asset_key.to_user_string()
        for e in result.all_events
        if e.event_type == DagsterEventType.ASSET_MATERIALIZATION
    }


def executed_steps(result: ExecuteInProcessResult) -> set[str]:
    return {e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_START}


def resource(defs: Definitions, key: str):
    """A resource as a run gets it, for the resources that have no nested resources."""
    return defs.resources[key].process_config_and_initialize()
