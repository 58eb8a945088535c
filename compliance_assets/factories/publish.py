"""Write-audit-publish: a frame is staged, its blocking checks are evaluated on what was staged,
and it replaces the published table only when every check passed. Dagster writes an asset before
separate check steps run; doing the three steps in one place is what keeps failing data out."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime

import pandas as pd
from dagster import AssetCheckResult, AssetExecutionContext, MaterializeResult, MetadataValue

from compliance_assets.dpia.approvals import approval_of
from compliance_assets.factories.checks import evaluate_dpia
from compliance_assets.tiers import CHECKS_SECONDS, PUBLISHED_ROWS
from compliance_assets.factories.staged import StagedTable
from compliance_assets.register import Register
from compliance_assets.storage.warehouse import Warehouse

Evaluation = Callable[[StagedTable], AssetCheckResult]


def record_processing(context: AssetExecutionContext, event_type: str, details: Mapping[str, object]) -> None:
    """Every publication, blocked publication and ingestion goes to the audit trail."""
    context.resources.audit_trail.append(
        event_type,
        actor=f"dagster-run:{context.run.run_id}",
        details={"asset": context.asset_key.to_user_string(), **details},
    )


def dpia_evaluation(context: AssetExecutionContext, register: Register, activity: str) -> Evaluation:
    """The `dpia_approved` check: judged when the staged table is, from the DPIA store and the pin."""

    def evaluate(staged: StagedTable) -> AssetCheckResult:
        store = context.resources.dpia_reviews
        approved = approval_of(register.directory, store, activity) is not None
        return evaluate_dpia(context.asset_key, activity, approved, store.blocking(activity))

    return evaluate


def audit_staged(context: AssetExecutionContext, warehouse: Warehouse, staging: str, evaluations: Sequence[Evaluation]) -> list[AssetCheckResult]:
    """The blocking checks, judged on what the warehouse holds in staging (its types, its rows),
    not on the frame that was written: read back once if a check needs the rows in Python."""
    staged = StagedTable(warehouse, staging)
    return [evaluate(staged) for evaluate in evaluations]


def stage_check_publish(
    context: AssetExecutionContext,
    warehouse: Warehouse,
    table: str,
    frames: pd.DataFrame | Iterable[pd.DataFrame],
    evaluations: Sequence[Evaluation],
    metadata: Mapping[str, object],
    indexed: Sequence[str] = (),
    days: tuple[str, datetime, datetime] | None = None,
    unique: Sequence[str] = (),
    after_staging: Callable[[int], Mapping[str, object]] | None = None,
    ledger: pd.DataFrame | None = None,
    keep_rejected: bool = False,
) -> Iterator[AssetCheckResult | MaterializeResult]:
    """`frames` is one frame or an iterable of chunks, staged as they come. `after_staging(rows)`, when
    given, runs once everything is staged and adds to `metadata` (counts a chunked source only
    knows at its end). `days` = (clock column, start, end) publishes a partition: only those days'
    rows are replaced. The materialisation says how long its blocking checks took, so their cost
    is plotted beside the row count. `indexed` are the columns rows are looked up by; those also in
    `unique` get a unique index (a feature table's pseudonym). `ledger` rows (a cohort release's
    entries, of its day when it is partitioned) are recorded in the publication's own transaction.
    A blocked publication's staging copy stays for inspection only where `keep_rejected` (the raw
    tier, whose retention and erasure cover it); elsewhere it may hold what a check found (an
    e-mail address in a feature table) with no clock on it, so it is dropped before the run ends."""
    table_rows = None
    with warehouse.exclusive(table):
        staging, rows = warehouse.stage(table, frames)
        metadata = {**metadata, **(after_staging(rows) if after_staging else {})}
        swapped_in = days is None or not warehouse.has_table(table)  # else its rows are copied, and indexes would be wasted
        with warehouse.indexing_staged(table, indexed if swapped_in else (), unique):
            started = time.perf_counter()
            results = audit_staged(context, warehouse, staging, evaluations)
            checks_seconds = time.perf_counter() - started
        failed = [r.check_name for r in results if not r.passed]
        if not failed and days:
            table_rows = warehouse.publish_days(table, *days, indexed=indexed, unique=unique, ledger=ledger)
        elif not failed:
            warehouse.publish(table, indexed, unique, ledger=ledger)
        elif not keep_rejected:
            warehouse.drop_table(staging)
    outcome = {"table": table, "rows": rows, "checks": {r.check_name: r.passed for r in results}}
    if failed:
        record_processing(context, "publication_blocked", outcome)
        context.log.error(
            f"Not published: blocking check(s) {', '.join(failed)} failed. '{table}' keeps its last good data; "
            + (f"the rejected rows stay in '{staging}' for inspection." if keep_rejected else "the rejected rows were deleted, as this tier keeps no rejected copy.")
        )
        yield from results
        return
    record_processing(context, "publication", outcome)
    yield MaterializeResult(
        metadata={
            "dagster/row_count": MetadataValue.int(rows),
            "dagster/table_name": MetadataValue.text(table),
            **({PUBLISHED_ROWS: MetadataValue.int(table_rows)} if table_rows is not None else {}),
            CHECKS_SECONDS: MetadataValue.float(round(checks_seconds, 3)),
            **metadata,
        },
        check_results=results,
    )
