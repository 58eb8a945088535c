"""Runs a compiled suite on a DataFrame with Great Expectations (ephemeral context, no analytics,
no progress bars) and summarises the outcome without any of the offending values: GX's
`partial_unexpected_list` holds raw data, and it stays in this module."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import pandas as pd

from compliance_assets.contracts.suites import ExpectationSpec


@dataclass(frozen=True)
class ExpectationOutcome:
    spec: ExpectationSpec
    success: bool
    unexpected_rows: int
    rows: int
    observed: str | None  # only for table-level expectations (column names, dtype names)


@dataclass(frozen=True)
class ContractOutcome:
    outcomes: list[ExpectationOutcome]

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]


@cache
def _batch_definition():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints each batch by hashing the whole frame, twice per validation (a third of its
    # time on a million rows); nothing here reads the fingerprint.
    pandas_execution_engine.HASH_THRESHOLD = 0
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("compliance_warehouse").add_dataframe_asset(name="staged")
    return asset.add_batch_definition_whole_dataframe("whole_table")


def validate(frame: pd.DataFrame, suite_name: str, specs: Sequence[ExpectationSpec]) -> ContractOutcome:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    batch_definition = _batch_definition()
    suite = gx.ExpectationSuite(name=suite_name)
    for index, spec in enumerate(specs):
        if spec.column is None or spec.column in frame.columns:  # else the column-set expectation reports it
            suite.add_expectation(getattr(gxe, spec.expectation)(**spec.kwargs, meta={"spec": index}))
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format="SUMMARY")
    by_index = {r.expectation_config.meta["spec"]: r for r in result.results}
    outcomes = []
    for index, spec in enumerate(specs):
        found = by_index.get(index)
        if found is None:
            outcomes.append(ExpectationOutcome(spec, False, len(frame), len(frame), "column missing"))
            continue
        if _raised(found.exception_info):  # e.g. a range test on a column of text: a failure, not a crash
            outcomes.append(ExpectationOutcome(spec, False, len(frame), len(frame), "could not run on this column"))
            continue
        details = found.result or {}
        observed = details.get("observed_value") if spec.column is None or spec.expectation.endswith("OfType") else None
        outcomes.append(
            ExpectationOutcome(
                spec,
                bool(found.success),
                int(details.get("unexpected_count") or 0),
                int(details.get("element_count") or len(frame)),
                None if observed is None else str(observed),
            )
        )
    return ContractOutcome(outcomes)


def _raised(info: object) -> bool:
    """GX nests exception info per metric; any raised exception means the expectation did not run."""
    if not isinstance(info, dict):
        return False
    return bool(info.get("raised_exception")) or any(_raised(v) for v in info.values())
