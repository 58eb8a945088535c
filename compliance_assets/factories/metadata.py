"""The privacy facts each asset carries in the Dagster UI: tags, column schema with per-column
data category and identifier role, column lineage and a code version."""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Mapping, Sequence

from dagster import AssetKey, TableColumn, TableColumnDep, TableColumnLineage, TableSchema

from compliance_assets.factories.naming import (
    ACTIVITY_TAG,
    CATEGORY_COLUMN_TAG,
    DATA_USE_TAG,
    IDENTIFIER_COLUMN_TAG,
    LEGAL_BASIS_TAG,
    TIER_TAG,
    Tier,
    table_name,
    tag_value,
)
from compliance_assets.register import ProcessingActivity, Register

COLUMN_TYPES = {"string": "string", "integer": "int64", "float": "float64", "boolean": "bool", "date": "date", "datetime": "timestamp"}


def privacy_tags(tier: Tier, activity_key: str, activity: ProcessingActivity) -> dict[str, str]:
    return {
        TIER_TAG: tier.value,
        ACTIVITY_TAG: activity_key,
        LEGAL_BASIS_TAG: tag_value(activity.legal_basis.value),
        DATA_USE_TAG: activity.data_use,
    }


def column(name: str, type_: str, category: str, identifier: str, description: str) -> TableColumn:
    return TableColumn(
        name=name,
        type=COLUMN_TYPES.get(type_, type_),
        description=description,
        tags={CATEGORY_COLUMN_TAG: category, IDENTIFIER_COLUMN_TAG: identifier},
    )


def column_lineage(deps_by_column: Mapping[str, Sequence[str]]) -> TableColumnLineage:
    """From {'age_band': ['customers.birth_date']} to Dagster's column lineage."""
    return TableColumnLineage(
        deps_by_column={
            name: [TableColumnDep(asset_key=AssetKey(ref.split(".")[0]), column_name=ref.split(".")[1]) for ref in refs]
            for name, refs in deps_by_column.items()
        }
    )


def code_version(register: Register, asset_name: str, *functions: Callable | None) -> str:
    """Changes when the asset's register entry or its transform's source changes."""
    entry = register.entry(asset_name)
    activity = register.activity_of(asset_name)
    digest = hashlib.sha256()
    digest.update(json.dumps(entry.model_dump(mode="json"), sort_keys=True).encode())
    digest.update(json.dumps(activity.model_dump(mode="json"), sort_keys=True).encode())
    for function in functions:
        if function is not None:
            try:
                digest.update(inspect.getsource(function).encode())
            except (OSError, TypeError):
                digest.update(repr(function).encode())
    return digest.hexdigest()[:16]


def schema(columns: Sequence[TableColumn]) -> TableSchema:
    return TableSchema(columns=list(columns))


WAREHOUSE_POOL = "warehouse"  # limited in dagster.yaml (concurrency.pools)


def asset_facts(
    register: Register,
    name: str,
    tier: Tier,
    columns: Sequence[TableColumn],
    *,
    note: str = "",
    transform: Callable | None = None,
    kinds: set[str] | None = None,
    tags: Mapping[str, str] | None = None,
    metadata: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The `@asset` arguments every tier shares: what the Dagster UI shows on the asset page."""
    entry = register.entry(name)
    activity = register.activities[entry.activity]
    return {
        "name": name,
        "group_name": tier.value,
        "description": f"{entry.description}\n\nActivity: {activity.name}. Purpose: {activity.purpose} {note}".strip(),
        "owners": activity.owners,
        "kinds": kinds or {"pandas", "sql"},
        "tags": {**privacy_tags(tier, entry.activity, activity), **(tags or {})},
        "code_version": code_version(register, name, transform),
        "pool": WAREHOUSE_POOL,
        "metadata": {
            "dagster/column_schema": schema(columns),
            "dagster/table_name": table_name(tier, name),
            "privacy/legal_basis": activity.legal_basis.value,
            **(metadata or {}),
        },
    }
