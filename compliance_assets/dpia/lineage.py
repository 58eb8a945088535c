"""Reads a fingerprint's inputs from Dagster: the deployed asset graph (keys, dependencies and the
privacy metadata the factories attach) and the latest materialisations (row and subject counts,
rows of minors)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from dagster import AssetKey, DagsterInstance

from compliance_assets.register.ages import ROWS_UNDER_16, ROWS_UNDER_18
from compliance_assets.dpia.fingerprint import Fingerprint, covered_assets, fingerprint_of
from compliance_assets.dpia.approvals import approval_of
from compliance_assets.dpia.review import Controls, ReviewState, review_state
from compliance_assets.tiers import ACTIVITY_TAG, CATEGORY_COLUMN_TAG, DOMAIN_TAG, PUBLISHED_ROWS, TIER_TAG

ROW_COUNT = "dagster/row_count"
SUBJECTS = "subjects"  # a feature set's distinct pseudonyms at its materialisation


def _value(metadata, key: str, default):
    entry = metadata.get(key)
    if entry is None:
        return default
    return getattr(entry, "value", entry)


def asset_records(asset_graph, register) -> dict[str, dict]:
    """Per privacy-tier asset of a repository's (or Definitions') asset graph, what a DPIA covers.
    Sub-processors and automated decisions are the register's: the asset pages show them as Markdown."""
    records = {}
    for key in asset_graph.get_all_asset_keys():
        node = asset_graph.get(key)
        if TIER_TAG not in node.tags:
            continue
        schema = node.metadata.get("dagster/column_schema")
        schema = getattr(schema, "schema", schema)
        activity = register.activities.get(node.tags.get(ACTIVITY_TAG, ""))
        records[key.to_user_string()] = {
            "tier": node.tags[TIER_TAG],
            "activity": node.tags.get(ACTIVITY_TAG, ""),
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
            "columns": {c.name: c.tags.get(CATEGORY_COLUMN_TAG, "") for c in schema.columns} if schema is not None else {},
            "column_sources": _value(node.metadata, "privacy/column_sources", {}),
            "model_version": str(_value(node.metadata, "privacy/model_version", node.code_version or "")),
            "sub_processors": [s.model_dump(mode="json") for s in activity.sub_processors] if activity else [],
            "automated_decisions": activity.automated_decisions.model_dump(mode="json") if activity else {},
        }
    return records


def latest_measures(instance: DagsterInstance, names: Iterable[str]) -> dict[str, dict]:
    """What each asset's latest materialisation counted, in one query: rows, subjects (a feature
    set's), rows of subjects under 18 and 16 (a raw source with an age), and when (assets never
    materialised, or whose materialisation counted nothing, are left out)."""
    events = instance.get_latest_materialization_events([AssetKey.from_user_string(n) for n in names])
    out = {}
    for key, event in events.items():
        materialization = event.asset_materialization if event is not None else None
        if materialization is None:
            continue
        metadata = materialization.metadata
        measured = {}
        for count in (PUBLISHED_ROWS, ROW_COUNT):  # a partition's rows are not the table's scale
            if count in metadata:
                measured["rows"] = int(metadata[count].value)
                break
        for field, entry in (("subjects", SUBJECTS), ("under_18", ROWS_UNDER_18), ("under_16", ROWS_UNDER_16)):
            if entry in metadata:
                measured[field] = int(metadata[entry].value)
        if measured:
            out[key.to_user_string()] = {**measured, "at": datetime.fromtimestamp(event.timestamp, tz=timezone.utc).isoformat(timespec="seconds")}
    return out


def current_fingerprints(asset_graph, instance: DagsterInstance | None, register, activities: Iterable[str]) -> dict[str, Fingerprint]:
    records = asset_records(asset_graph, register)
    out = {}
    for activity in activities:
        measured = latest_measures(instance, covered_assets(records, activity)) if instance is not None else None
        out[activity] = fingerprint_of(activity, records, measured)
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
    fingerprints = current_fingerprints(asset_graph, instance, register, activities)
    return {
        activity: review_state(fingerprint, approval_of(register.directory, store, activity))
        for activity, fingerprint in fingerprints.items()
    }
