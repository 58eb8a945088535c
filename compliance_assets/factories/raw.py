"""Raw tier: personal data as it arrives, conformed to the register's declared columns."""


from collections.abc import Callable
from datetime import timedelta

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, Failure, MetadataValue, asset

from compliance_assets.contracts.suites import suite_for
from compliance_assets.factories.checks import CONTRACT, RETENTION, blocking_specs, evaluate_contract, evaluate_retention
from compliance_assets.factories.metadata import asset_facts, column
from compliance_assets.factories.errors import withheld_messages
from compliance_assets.factories.naming import Tier, table_name
from compliance_assets.factories.partitions import partitions_of, window_of, within
from compliance_assets.factories.publish import record_processing, stage_check_publish
from compliance_assets.privacy.conform import REASON_COLUMN, conform
from compliance_assets.privacy.retention import past_retention
from compliance_assets.privacy.minimisation import missing_columns, unregistered_columns
from compliance_assets.register import Register

Loader = Callable[[AssetExecutionContext], pd.DataFrame]


def raw_asset_arguments(
    register: Register,
    name: str,
    load: Loader,
    *,
    required_resource_keys: set[str] | frozenset[str] = frozenset(),
    kinds: set[str] | None = None,
) -> dict[str, object]:
    """The `@asset` arguments of a raw asset: its facts, resources and blocking check specs."""
    source = register.sources[name]
    checks = [CONTRACT] + ([RETENTION] if source.retention_clock else [])
    return {
        **asset_facts(
            register, name, Tier.RAW,
            [column(c, s.type, s.category, s.identifier.value, s.description) for c, s in source.columns.items()],
            transform=load, kinds=kinds,
        ),
        "required_resource_keys": {"warehouse", "audit_trail", *required_resource_keys},
        "check_specs": blocking_specs(AssetKey(name), checks, partitions_of(register, name)),
        "output_required": False,
    }


def raw_asset(
    register: Register,
    name: str,
    load: Loader,
    *,
    required_resource_keys: set[str] | frozenset[str] = frozenset(),
    kinds: set[str] | None = None,
) -> AssetsDefinition:
    """A raw asset whose columns, categories and identifiers come from `sources.yaml`.

    `load(context)` returns the arriving frame; a column the register does not declare fails the
    run (we may not hold what we have not recorded), and rows with unreadable values are
    quarantined with their reason. Rows already past their retention on arrival fail the blocking
    `retention` check, unless the register says to drop them (then they are counted and audited)."""
    source = register.sources[name]
    table = table_name(Tier.RAW, name)
    types = {c: spec.type for c, spec in source.columns.items()}
    clock = source.retention_clock
    periods = register.retention_periods(name)
    contract = suite_for(register, name)

    @asset(**raw_asset_arguments(register, name, load, required_resource_keys=required_resource_keys, kinds=kinds))
    def _raw(context: AssetExecutionContext):
        with withheld_messages(f"the loader of '{name}'"):
            arriving = load(context)
        undeclared = unregistered_columns(arriving, source.columns)
        absent = missing_columns(arriving, source.columns)
        if undeclared or absent:
            raise Failure(
                description=f"'{name}' does not match register/sources.yaml (sources.{name}.columns)",
                metadata={"undeclared_columns": ", ".join(undeclared) or "-", "missing_columns": ", ".join(absent) or "-"},
            )
        clean, rejected = conform(arriving[list(source.columns)], types)
        now = pd.Timestamp.now(tz="UTC").tz_localize(None)
        expired = 0
        if clock:
            findings = past_retention(clean, clock, periods, now)
            unclocked = clean.loc[findings.unclocked].astype("string").assign(**{REASON_COLUMN: f"{clock}: missing, so its retention cannot be judged"})
            rejected = pd.concat([rejected, unclocked], ignore_index=True)
            keep = ~findings.unclocked
            if source.past_retention_on_arrival == "drop":
                expired = int(findings.expired.sum())
                keep &= ~findings.expired
            clean = clean.loc[keep].reset_index(drop=True)
        window = window_of(context) if source.partitions else None
        if window:
            elsewhere = ~within(clean[source.event_time], window)
            loaded_days = f"{window[0]:%Y-%m-%d} to {window[1] - timedelta(days=1):%Y-%m-%d}"
            stray = clean.loc[elsewhere].astype("string").assign(**{REASON_COLUMN: f"{source.event_time}: not in the days this run loads ({loaded_days})"})
            rejected = pd.concat([rejected, stray], ignore_index=True)
            clean = clean.loc[~elsewhere].reset_index(drop=True)
        warehouse = context.resources.warehouse
        if len(rejected):
            quarantine = warehouse.quarantine(name, rejected, loaded_days if window else None)
            context.log.warning(f"{len(rejected)} row(s) of '{name}' could not be ingested; kept with their reason in '{quarantine}'")
        if expired:
            context.log.info(f"{expired} arriving row(s) of '{name}' were already past retention and were not kept")
        record_processing(context, "ingestion", {"table": table, "rows": len(clean), "quarantined_rows": len(rejected), "rows_dropped_past_retention": expired})
        yield from stage_check_publish(
            context,
            warehouse,
            table,
            clean,
            [
                lambda staged: evaluate_contract(AssetKey(name), staged.contract_in_place(name, contract)),
                *([lambda staged: evaluate_retention(AssetKey(name), staged.retention_in_place(clock, periods, now), clock, periods)] if clock else []),
            ],
            {
                "quarantined_rows": MetadataValue.int(len(rejected)),
                "rows_dropped_past_retention": MetadataValue.int(expired),
            },
            register.lookup_columns(name),
            days=(source.event_time, *window) if window else None,
        )

    return _raw
