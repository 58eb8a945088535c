"""Reads a fingerprint's inputs from Dagster: the deployed asset graph (keys, dependencies and the
privacy metadata the factories attach) and the latest materialisations (row counts)."""

from __future__ import annotations

from collections.abc import Iterable

from dagster import AssetKey, DagsterInstance

from compliance_assets.dpia.fingerprint import Fingerprint, covered_assets, fingerprint_of
from compliance_assets.dpia.approvals import approval_of
from compliance_assets.dpia.review import Controls, ReviewState, review_state
from compliance_assets.factories.naming import ACTIVITY_TAG, CATEGORY_COLUMN_TAG, DOMAIN_TAG, PUBLISHED_ROWS, TIER_TAG

ROW_COUNT = "dagster/row_count"


def _value(metadata, key: str, default):
    entry = metadata.get(key)
    if entry is None:
        return default
    return getattr(entry, "value", entry)


def asset_records(asset_graph) -> dict[str, dict]:
    """Per privacy-tier asset of a repository's (or Definitions') asset graph, what a DPIA covers."""
    records = {}
    for key in asset_graph.get_all_asset_keys():
        node = asset_graph.get(key)
        if TIER_TAG not in node.tags:
            continue
        schema = node.metadata.get("dagster/column_schema")
        schema = getattr(schema, "schema", schema)
        records[key.to_user_string()] = {
            "tier": node.tags[TIER_TAG],
            "activity": node.tags.get(ACTIVITY_TAG, ""),
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
            "columns": {c.name: c.tags.get(CATEGORY_COLUMN_TAG, "") for c in schema.columns} if schema is not None else {},
            "column_sources": _value(node.metadata, "privacy/column_sources", {}),
            "model_version": str(_value(node.metadata, "privacy/model_version", node.code_version or "")),
            "sub_processors": _value(node.metadata, "privacy/sub_processors", []),
            "automated_decisions": _value(node.metadata, "privacy/automated_decisions", {}),
        }
    return records


def latest_rows(instance: DagsterInstance, names: Iterable[str]) -> dict[str, int]:
    """Row counts from each asset's latest materialisation, in one query (assets never
    materialised are left out)."""
    events = instance.get_latest_materialization_events([AssetKey.from_user_string(n) for n in names])
    rows = {}
    for key, event in events.items():
        materialization = event.asset_materialization if event is not None else None
        if materialization is None:
            continue
        for count in (PUBLISHED_ROWS, ROW_COUNT):  # a partition's rows are not the table's scale
            if count in materialization.metadata:
                rows[key.to_user_string()] = int(materialization.metadata[count].value)
                break
    return rows


def current_fingerprints(asset_graph, instance: DagsterInstance | None, activities: Iterable[str]) -> dict[str, Fingerprint]:
    records = asset_records(asset_graph)
    out = {}
    for activity in activities:
        rows = latest_rows(instance, covered_assets(records, activity)) if instance is not None else None
        out[activity] = fingerprint_of(activity, records, rows)
    return out


def deployed_controls(repository_def) -> Controls:
    """The checks, pseudonymisation domains, jobs, schedules and sensors a mitigation can point at."""
    graph = repository_def.asset_graph
    checks = frozenset(f"{key.asset_key.to_user_string()}.{key.name}" for key in graph.asset_check_keys)
    domains = frozenset(graph.get(key).tags[DOMAIN_TAG] for key in graph.get_all_asset_keys() if DOMAIN_TAG in graph.get(key).tags)
    return Controls(
        checks=checks,
        pseudonymisation_domains=domains,
        jobs=frozenset(job.name for job in repository_def.get_all_jobs()),
        schedules=frozenset(s.name for s in repository_def.schedule_defs),
        sensors=frozenset(s.name for s in repository_def.sensor_defs),
    )


def review_states(asset_graph, instance: DagsterInstance | None, register, store, activities: Iterable[str]) -> dict[str, ReviewState]:
    """Per activity, the deployed state against the newer of the repository's pin and the
    deployment's latest approval (`store` may be None: the pin alone, as in the deploy gate)."""
    fingerprints = current_fingerprints(asset_graph, instance, activities)
    return {
        activity: review_state(fingerprint, approval_of(register.directory, store, activity))
        for activity, fingerprint in fingerprints.items()
    }
