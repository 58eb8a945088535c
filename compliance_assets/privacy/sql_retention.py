"""The retention judgement of `retention.past_retention`, counted by the database on a table in
one scan: a raw table's audit then needs none of its rows in memory."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import pandas as pd
import sqlalchemy as sa

from compliance_assets.privacy.retention import RetentionSummary
from compliance_assets.privacy.sql_source import declared_table


def past_retention_in_table(
    connection: sa.Connection, table_name: str, clock: str, periods: Mapping[str, timedelta], now: pd.Timestamp
) -> RetentionSummary:
    """As `past_retention(frame, …).summary()` on the table's rows: a value is past retention when
    its row's clock is more than its column's period before `now` and the value is not null."""
    table = declared_table(connection, table_name, [clock, *periods])
    times = table.c[clock]
    cutoffs = {period: (now - pd.Timedelta(period)).to_pydatetime() for period in set(periods.values())}
    over = {column: (times < cutoffs[period]) & table.c[column].is_not(None) for column, period in periods.items()}
    # Cheap scans instead of one that weighs every condition on every row: all rows are counted
    # with one comparison each; the conditions are weighed only on rows older than the newest
    # cutoff, the only ones any period can have expired, and only if the first scan found any.
    newest = max(cutoffs.values()) if cutoffs else None
    overall = connection.execute(
        sa.select(
            sa.func.count().label("rows"),
            sa.func.count(times).label("clocked"),
            sa.func.min(times).label("oldest"),
            sa.func.min(times if newest is None else sa.case((times >= newest, times))).label("oldest_recent"),
        ).select_from(table)
    ).one()
    older = None
    if newest is not None and overall.oldest is not None and pd.Timestamp(overall.oldest) < pd.Timestamp(newest):
        expired = sa.or_(*over.values())
        older = connection.execute(
            sa.select(
                _rows_where(expired).label("expired"),
                sa.func.min(sa.case((~expired, times))).label("oldest_kept"),
                *(_rows_where(condition).label(f"over_{i}") for i, condition in enumerate(over.values())),
            )
            .select_from(table)
            .where(times < newest)
        ).one()
    kept = [moment for moment in (overall.oldest_recent, older and older.oldest_kept) if moment is not None]
    oldest = min(pd.Timestamp(moment) for moment in kept) if kept else None
    return RetentionSummary(
        rows=int(overall.rows),
        expired=int(older.expired) if older else 0,
        unclocked=int(overall.rows) - int(overall.clocked),
        per_column={column: int(older._mapping[f"over_{i}"]) if older else 0 for i, column in enumerate(over)},
        oldest_kept_days=None if oldest is None else float((now - oldest) / pd.Timedelta(days=1)),
    )


def _rows_where(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)
