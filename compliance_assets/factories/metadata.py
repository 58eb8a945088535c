"""The privacy facts each asset carries in the Dagster UI: tags, column schema with per-column
data category, identifier role and retention, sub-processors and automated decisions as Markdown,
column lineage and a code version."""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from datetime import timedelta
from collections.abc import Callable, Mapping, Sequence

from dagster import AssetKey, BackfillPolicy, FreshnessPolicy, MetadataValue, TableColumn, TableColumnDep, TableColumnLineage, TableSchema

from compliance_assets.tiers import (
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
from compliance_assets.factories.partitions import partitions_of
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


@functools.lru_cache(maxsize=None)
def _source(function: Callable) -> bytes:
    """A transform's source, read once per process (many assets share one loader)."""
    try:
        return inspect.getsource(function).encode()
    except (OSError, TypeError):
        return repr(function).encode()


def _digest(*parts: object) -> str:
    """Functions by their source, everything else by its JSON."""
    digest = hashlib.sha256()
    for part in parts:
        if part is None:
            continue
        if callable(part):
            digest.update(_source(part))
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def code_version(register: Register, asset_name: str, transform: Callable | None) -> str:
    """Changes when the asset's register entry or its transform's source changes (Dagster's staleness)."""
    entry = register.entry(asset_name)
    activity = register.activity_of(asset_name)
    return _digest(entry.model_dump(mode="json"), activity.model_dump(mode="json"), transform)


def model_version(transform: Callable | None, model: object = None) -> str:
    """Changes when what computes the asset changes (its transform, or the shape of a release),
    not when register facts do: a DPIA review tells the two apart."""
    return _digest(transform, model)


def sub_processors_markdown(activity: ProcessingActivity) -> str:
    if not activity.sub_processors:
        return "No sub-processors."
    rows = [
        f"| {s.name} | {s.service} | {s.country} | {'EU/EEA' if s.in_eea else (s.transfer_basis.value if s.transfer_basis else 'none')} |"
        for s in activity.sub_processors
    ]
    return "| sub-processor | service | country | transfer safeguard |\n|---|---|---|---|\n" + "\n".join(rows)


def automated_decisions_markdown(activity: ProcessingActivity) -> str:
    decisions = activity.automated_decisions
    if not decisions.present:
        return "No automated decisions with legal or similarly significant effect (Art. 22)."
    return (
        f"**Automated decisions (Art. 22):** {decisions.description or 'not described'}\n\n"
        f"- **Basis:** {decisions.art22_basis.value if decisions.art22_basis else 'none'}\n"
        f"- **Human oversight:** {decisions.human_oversight or 'none recorded'}"
    )


def with_retention(register: Register, name: str, columns: Sequence[TableColumn]) -> tuple[list[TableColumn], str]:
    """Each column's retention period beside its category: in its schema description, and as a
    Markdown table (the schema view shows descriptions, not tags, in a narrow column)."""
    out, rows = [], []
    for c in columns:
        category = c.tags.get(CATEGORY_COLUMN_TAG, "")
        retention = register.column_retention(name, c.name, category)
        period = retention.period if retention else "none declared"
        out.append(TableColumn(name=c.name, type=c.type, description=f"{c.description}. Retention: {period} ({category})", tags=c.tags, constraints=c.constraints))
        rows.append(f"| `{c.name}` | {category} | {c.tags.get(IDENTIFIER_COLUMN_TAG, '')} | {period} | {retention.reason if retention else ''} |")
    return out, "| column | data category | identifier | retention | why |\n|---|---|---|---|---|\n" + "\n".join(rows)


def schema(columns: Sequence[TableColumn]) -> TableSchema:
    return TableSchema(columns=list(columns))


WAREHOUSE_POOL = "warehouse"  # limited in dagster.yaml (concurrency.pools)
# Published tiers are refreshed by the nightly jobs: a day and a bit is late, two days is stale.
PUBLISHED_FRESHNESS = FreshnessPolicy.time_window(fail_window=timedelta(days=2), warn_window=timedelta(hours=26))


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
    model: object = None,
    column_sources: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, object]:
    """The `@asset` arguments every tier shares: what the Dagster UI shows on the asset page."""
    entry = register.entry(name)
    activity = register.activities[entry.activity]
    columns, retention_table = with_retention(register, name, columns)
    return {
        "name": name,
        "group_name": tier.value,
        "description": f"{entry.description}\n\nActivity: {activity.name}. Purpose: {activity.purpose} {note}".strip(),
        "owners": activity.owners,
        "kinds": kinds or {"pandas", "sql"},
        "tags": {**privacy_tags(tier, entry.activity, activity), **(tags or {})},
        "code_version": code_version(register, name, transform),
        "pool": WAREHOUSE_POOL,
        "freshness_policy": None if tier is Tier.RAW else PUBLISHED_FRESHNESS,
        "partitions_def": partitions_of(register, name),
        "backfill_policy": BackfillPolicy.single_run(),  # a range of days is one run; the tiers above run once after it
        "metadata": {
            "dagster/column_schema": schema(columns),
            "dagster/table_name": table_name(tier, name),
            "privacy/legal_basis": activity.legal_basis.value,
            "privacy/model_version": model_version(transform, model),
            "privacy/column_sources": MetadataValue.json({c: list(refs) for c, refs in (column_sources or {}).items()}),
            "privacy/column_retention": MetadataValue.md(retention_table),
            "privacy/sub_processors": MetadataValue.md(sub_processors_markdown(activity)),
            "privacy/automated_decisions": MetadataValue.md(automated_decisions_markdown(activity)),
            **(metadata or {}),
        },
    }
