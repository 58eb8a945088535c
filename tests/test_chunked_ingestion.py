"""A raw loader may hand its export in chunks, each conformed and staged as it comes: the
published table, the quarantine and the run's metadata are what the same rows in one frame
give, and a chunk that breaks the register fails the run with nothing published."""

from __future__ import annotations

import numpy as np
import pandas as pd
from dagster import DagsterInstance, materialize

from compliance_demo.definitions import build_definitions
from compliance_demo import synthetic
from compliance_demo.sources import DemoSourceResource
from resources.environment import register_dir
from compliance_assets.storage.warehouse import QUARANTINED_AT
from compliance_assets.tiers import Tier, table_name
from compliance_assets.factories.raw import raw_asset
from compliance_assets.register import load_register
from tests.conftest import small_run_config
from tests.helpers import check_outcomes, published, warehouse_of

DEMO = DemoSourceResource(**small_run_config()["resources"]["demo_source"]["config"])


def _events() -> pd.DataFrame:
    """The demo's events with a few unreadable timestamps and rows missing their clock, spread out."""
    events = synthetic.engagement_events(DEMO.size(), DEMO.reference_time(), DEMO.people()).astype({"occurred_at": "object"})
    events.loc[[5, 9_000, 30_000], "occurred_at"] = "not a time"
    events.loc[[7, 20_000], "occurred_at"] = None
    return events


def _materialize(load, instance: DagsterInstance):
    register = load_register(register_dir())
    defs = build_definitions()
    asset = raw_asset(register, "engagement_events", load)
    resources = {k: defs.resources[k] for k in ("warehouse", "audit_trail", "pseudonym_keys")}
    return materialize([asset], resources=resources, instance=instance, raise_on_error=False)


def _by_event(frame: pd.DataFrame) -> pd.DataFrame:
    """Chunks set rows aside chunk by chunk, so the quarantine's row order differs (and each run
    stamps its own time)."""
    return frame.drop(columns=[QUARANTINED_AT]).sort_values("event_id").reset_index(drop=True)


def test_chunks_publish_and_quarantine_what_one_frame_does(local_env):
    events = _events()
    instance = DagsterInstance.get()
    whole = _materialize(lambda context: events, instance)
    assert whole.success and all(check_outcomes(whole).values())
    as_one = published(Tier.RAW, "engagement_events")
    quarantined_once = warehouse_of().read_table("quarantine__engagement_events")

    chunks = np.array_split(np.arange(len(events)), 7)
    chunked = _materialize(lambda context: (events.iloc[rows].reset_index(drop=True) for rows in chunks), instance)
    assert chunked.success and all(check_outcomes(chunked).values())
    pd.testing.assert_frame_equal(published(Tier.RAW, "engagement_events"), as_one)
    pd.testing.assert_frame_equal(_by_event(warehouse_of().read_table("quarantine__engagement_events")), _by_event(quarantined_once))
    assert len(quarantined_once) == 5

    (first,), (second,) = (r.asset_materializations_for_node("engagement_events") for r in (whole, chunked))
    for key in ("dagster/row_count", "quarantined_rows", "rows_dropped_past_retention"):
        assert first.metadata[key] == second.metadata[key], key
    assert second.metadata["dagster/row_count"].value == len(as_one)


def test_a_chunk_with_an_undeclared_column_fails_the_run_and_publishes_nothing(local_env):
    events = _events().iloc[:2_000]

    def drifting(context):
        yield events.iloc[:1_000]
        yield events.iloc[1_000:].assign(email="someone@example.com")

    result = _materialize(drifting, DagsterInstance.get())
    assert not result.success
    failure = result.failure_data_for_node("engagement_events").error
    assert "does not match register/sources.yaml" in failure.message and "someone@example.com" not in str(failure)
    assert not warehouse_of().has_table(table_name(Tier.RAW, "engagement_events"))


def test_a_loader_that_hands_nothing_fails_clearly(local_env):
    result = _materialize(lambda context: iter(()), DagsterInstance.get())
    assert not result.success
    assert "nothing to stage for 'raw__engagement_events'" in str(result.failure_data_for_node("engagement_events").error)
