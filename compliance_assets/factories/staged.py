"""A staged table as the blocking checks see it. Checks that judge rows in Python read it once,
on first use; checks that can be judged in the warehouse (a raw table's contract and retention)
ask the database and never bring the rows into memory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property

import pandas as pd

from compliance_assets.contracts.suites import ExpectationSpec
from compliance_assets.contracts.validation import ContractOutcome, validate_table
from compliance_assets.privacy.retention import RetentionSummary
from compliance_assets.privacy.sql_retention import past_retention_in_table
from compliance_assets.storage.warehouse import Warehouse


class StagedTable:
    def __init__(self, warehouse: Warehouse, name: str):
        self.warehouse = warehouse
        self.name = name

    @cached_property
    def frame(self) -> pd.DataFrame:
        """Every row, typed from the table's declared columns."""
        return self.warehouse.read_table(self.name)

    @cached_property
    def schema(self) -> pd.DataFrame:
        """The columns without rows, typed exactly as `frame` is."""
        if "frame" in self.__dict__:
            return self.frame.iloc[:0]
        return self.warehouse.read_table(self.name, limit=0)

    @cached_property
    def rows(self) -> int:
        return len(self.frame) if "frame" in self.__dict__ else self.warehouse.row_count(self.name)

    def contract_in_place(self, suite_name: str, specs: Sequence[ExpectationSpec]) -> ContractOutcome:
        return validate_table(self.warehouse.url, self.name, self.schema, self.rows, suite_name, specs)

    def retention_in_place(self, clock: str, periods: Mapping[str, timedelta], now: pd.Timestamp) -> RetentionSummary:
        with self.warehouse.begin() as connection:
            return past_retention_in_table(connection, self.name, clock, periods, now)
