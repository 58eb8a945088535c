"""Where the demo's raw data comes from: the synthetic generator and the census CSV file."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from dagster import AssetExecutionContext, ConfigurableResource, Failure
from pydantic import Field

from compliance_demo import synthetic
from compliance_assets.factories.partitions import rows_for


class DemoSourceResource(ConfigurableResource):
    """The synthetic email-marketing source: same seed, size and date give the same rows."""

    seed: int = Field(default=synthetic.DemoSize.seed, description="Random seed")
    customers: int = Field(default=synthetic.DemoSize.customers, ge=100, description="Contacts to generate")
    events_per_customer: float = Field(default=synthetic.DemoSize.events_per_customer, gt=0)
    as_of: str | None = Field(default=None, description="Reference date (YYYY-MM-DD); today when empty")

    def size(self) -> synthetic.DemoSize:
        return synthetic.DemoSize(customers=self.customers, events_per_customer=self.events_per_customer, seed=self.seed)

    def reference_time(self) -> pd.Timestamp:
        return pd.Timestamp(self.as_of) if self.as_of else pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()

    def people(self) -> pd.DataFrame:
        return synthetic.customers(self.size(), self.reference_time())

    def contacts(self) -> pd.DataFrame:
        """The contacts' ids and workspaces, which the other sources refer to: generated once per
        process for a size and date, not once for each source of the run (3 s each at 700,000)."""
        return _contacts(self.size(), self.reference_time())


@functools.lru_cache(maxsize=1)
def _contacts(size: synthetic.DemoSize, as_of: pd.Timestamp) -> pd.DataFrame:
    return synthetic.customers(size, as_of)[["customer_id", "workspace_id"]]


class CensusFileResource(ConfigurableResource):
    """The UCI Adult census extract; its path is configuration because it is not in the repo."""

    path: str = Field(description="Path to adult.csv (e.g. ../shared/data/adult.csv)")

    def read(self) -> pd.DataFrame:
        path = Path(self.path).expanduser()
        if not path.is_file():
            raise Failure(description=f"census file not found at '{path}' (set COMPLIANCE_CENSUS_CSV)")
        frame = pd.read_csv(path, skipinitialspace=True, na_values=["?"], dtype="string")
        frame.columns = [c.strip().replace("-", "_") for c in frame.columns]
        frame.insert(0, "respondent_id", "adult-" + pd.Series(range(1, len(frame) + 1)).astype("string").str.zfill(6))
        return frame


def load_customers(context: AssetExecutionContext) -> pd.DataFrame:
    return context.resources.demo_source.people()


def load_engagement_events(context: AssetExecutionContext) -> Iterator[pd.DataFrame]:
    """In chunks: the raw tier stages each as it comes, so a large export is never whole in memory."""
    source = context.resources.demo_source
    for chunk in synthetic.engagement_event_chunks(source.size(), source.reference_time(), source.contacts()):
        yield rows_for(context, chunk, "occurred_at")


def load_consent_records(context: AssetExecutionContext) -> pd.DataFrame:
    source = context.resources.demo_source
    return synthetic.consent_records(source.size(), source.reference_time(), source.contacts())


def load_search_logs(context: AssetExecutionContext) -> pd.DataFrame:
    source = context.resources.demo_source
    return rows_for(context, synthetic.search_logs(source.size(), source.reference_time(), source.contacts()), "searched_at")


def load_census(context: AssetExecutionContext) -> pd.DataFrame:
    return context.resources.census_file.read()
