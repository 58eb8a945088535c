"""The warehouse as a Dagster resource: configuration shown in the UI (the URL may be an EnvVar,
so credentials never show), and a `storage.warehouse.Warehouse` for each run."""

from __future__ import annotations

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field

from compliance_assets.storage.warehouse import Warehouse


class WarehouseResource(ConfigurableResource):
    """Where the tiers' tables live: a SQLAlchemy URL and where aggregations run."""

    url: str = Field(description="SQLAlchemy URL, e.g. sqlite:///.data/warehouse.db, postgresql://user@host/db (psycopg 3) or postgresql+psycopg2://…")
    push_down_aggregations: bool = Field(
        default=True,
        description="Cohort releases and their k-anonymity, differencing and client-isolation audits group in "
        "the warehouse (one GROUP BY per level), and feature transforms' per-key summaries of a raw source are "
        "one GROUP BY, instead of reading the source table into the step's memory.",
    )

    def create_resource(self, context: InitResourceContext) -> Warehouse:
        return Warehouse(self.url, self.push_down_aggregations)

    def open(self) -> Warehouse:
        """The same warehouse outside a run (a command line tool, a test)."""
        return Warehouse(self.url, self.push_down_aggregations)
