"""The audit trail's heads, checkpointed in Dagster's event log: a store that whoever writes to the
warehouse does not reach. Each append records its head as an observation of the `audit_trail`
asset; the governance reports record the verified head in their materialisation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from dagster import AssetKey, AssetObservation, DagsterInstance, MetadataValue

from compliance_assets.audit.chain import Head

AUDIT_TRAIL_ASSET = AssetKey("audit_trail")
REPORTS_ASSET = "compliance_reports"  # the governance reports asset, whose materialisation shows the head
PAGE = 1_000


def head_metadata(head: Head) -> dict[str, MetadataValue]:
    """A MAC, a sequence number and where keying began: nothing secret, nothing about a subject."""
    metadata = {"audit_head_seq": MetadataValue.int(head.seq), "audit_head_mac": MetadataValue.text(head.mac)}
    if head.keyed_from is not None:
        metadata["audit_keyed_from"] = MetadataValue.int(head.keyed_from)
    return metadata


def head_from(metadata: Mapping[str, object]) -> Head | None:
    if "audit_head_seq" not in metadata or "audit_head_mac" not in metadata:
        return None
    keyed_from = metadata.get("audit_keyed_from")
    return Head(
        int(metadata["audit_head_seq"].value),
        str(metadata["audit_head_mac"].value),
        int(keyed_from.value) if keyed_from is not None else None,
    )


def checkpoint(instance: DagsterInstance, head: Head) -> None:
    instance.report_runless_asset_event(
        AssetObservation(asset_key=AUDIT_TRAIL_ASSET, metadata=head_metadata(head), description="head of the audit trail")
    )


def _events(instance: DagsterInstance, fetch, key: AssetKey) -> Iterator:
    cursor = None
    while True:
        page = fetch(key, limit=PAGE, cursor=cursor, ascending=True)
        yield from page.records
        if not page.has_more:
            return
        cursor = page.cursor


def checkpoints(instance: DagsterInstance) -> list[Head]:
    """Every head ever checkpointed: each must still match, or the trail was changed after it."""
    heads = []
    for record in _events(instance, instance.fetch_observations, AUDIT_TRAIL_ASSET):
        heads.append(head_from(record.asset_observation.metadata))
    for record in _events(instance, instance.fetch_materializations, AssetKey(REPORTS_ASSET)):
        heads.append(head_from(record.asset_materialization.metadata))
    return [h for h in heads if h is not None]
