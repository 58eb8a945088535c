"""Raw tier: personal data as it arrives, conformed to the register's declared columns."""


from collections.abc import Callable

import pandas as pd
from dagster import AssetExecutionContext, AssetsDefinition, Failure, MaterializeResult, MetadataValue, asset

from compliance_assets.factories.metadata import asset_facts, column
from compliance_assets.factories.errors import withheld_messages
from compliance_assets.factories.naming import Tier, table_name
from compliance_assets.factories.publish import record_processing
from compliance_assets.privacy.conform import conform
from compliance_assets.privacy.minimisation import missing_columns, unregistered_columns
from compliance_assets.register import Register

Loader = Callable[[AssetExecutionContext], pd.DataFrame]


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
    quarantined with their reason."""
    source = register.sources[name]
    table = table_name(Tier.RAW, name)
    types = {c: spec.type for c, spec in source.columns.items()}

    @asset(
        **asset_facts(
            register, name, Tier.RAW,
            [column(c, s.type, s.category, s.identifier.value, s.description) for c, s in source.columns.items()],
            transform=load, kinds=kinds,
        ),
        required_resource_keys={"warehouse", "audit_trail", *required_resource_keys},
    )
    def _raw(context: AssetExecutionContext) -> MaterializeResult:
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
        warehouse = context.resources.warehouse
        warehouse.replace_table(table, clean)
        if len(rejected):
            quarantine = warehouse.quarantine(name, rejected)
            context.log.warning(f"{len(rejected)} row(s) of '{name}' had unreadable values; kept in '{quarantine}'")
        record_processing(context, "ingestion", {"table": table, "rows": len(clean), "quarantined_rows": len(rejected)})
        return MaterializeResult(
            metadata={
                "dagster/row_count": MetadataValue.int(len(clean)),
                "quarantined_rows": MetadataValue.int(len(rejected)),
            }
        )

    return _raw
