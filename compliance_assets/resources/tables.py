"""Resources that keep their own tables in a database named by URL (the audit trail, DPIA reviews)."""

from __future__ import annotations

import sqlalchemy as sa
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from compliance_assets.storage.engine import create_engine_for, ensure_tables


class OwnTablesResource(ConfigurableResource):
    """Connects lazily and creates the subclass's tables on first use."""

    url: str = Field(description="SQLAlchemy URL of the database holding the tables")
    _engine: sa.Engine | None = PrivateAttr(default=None)

    def table_metadata(self) -> sa.MetaData:
        raise NotImplementedError

    def get_engine(self) -> sa.Engine:
        if self._engine is None:


            self._engine = create_engine_for(self.url)
            ensure_tables(self._engine, self.table_metadata())
        return self._engine
