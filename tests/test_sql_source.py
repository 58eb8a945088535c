"""Cohort releases grouped in the warehouse (SQL) give what grouping the same table in pandas
gives, on SQLite and on PostgreSQL: level tables, releases, recounts and differencing audits."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance_assets.privacy.cohorts import FrameSource, MeasureSpec, differencing_exposures, recount, release_cohorts
from compliance_assets.privacy.sql_source import SqlSource, _one_row_per_subject
from compliance_assets.storage.warehouse import Warehouse

DIMS = ["region", "band"]
MEASURES = {
    "subjects": MeasureSpec("count_subjects"),
    "amount": MeasureSpec("sum", "amount"),
    "share_flagged": MeasureSpec("mean", "flagged"),
    "flagged": MeasureSpec("sum", "flagged"),
    "mean_score": MeasureSpec("mean", "score"),
}
LEVELS = [("region", "band"), ("region",), ("band",), ()]

rows = st.lists(
    st.tuples(
        st.sampled_from(["north", "south", "Ouest", "é", None]),
        st.one_of(st.none(), st.integers(0, 3)),
        st.integers(0, 40),  # subject: repeated, as events are
        st.one_of(st.none(), st.integers(-5, 100)),
        st.one_of(st.none(), st.booleans()),
        st.one_of(st.none(), st.floats(0, 1, allow_nan=False)),
        st.sampled_from(["ws_a", "ws_b"]),
    ),
    max_size=300,
)


def _frame(data, one_row_per_subject: bool = False, missing_subject: bool = False) -> pd.DataFrame:
    """Event-shaped rows (subjects repeat), or a feature table's (every row its own subject); with
    `missing_subject`, the first row has none."""
    frame = pd.DataFrame(data, columns=["region", "band", "subject", "amount", "flagged", "score", "tenant"])
    if one_row_per_subject:
        frame["subject"] = range(len(frame))
    if missing_subject and len(frame):
        frame["subject"] = frame["subject"].astype(object).where(frame.index > 0, None)
    return frame.astype({"region": "string", "band": "Int64", "subject": "string", "amount": "Int64", "flagged": "boolean", "score": "Float64", "tenant": "string"})


@contextmanager
def _both(warehouse: Warehouse, frame: pd.DataFrame, held_unique: bool = False) -> Iterator[tuple[FrameSource, SqlSource]]:
    """The same table as the warehouse holds it: read back into memory, and queried in place;
    `held_unique` indexes its subject column unique, as the pseudonymised tier publishes it."""
    table = f"source_{uuid.uuid4().hex[:8]}"
    warehouse.replace_table(table, frame)
    if held_unique:
        with warehouse.begin() as connection:
            connection.execute(sa.text(f'CREATE UNIQUE INDEX "ux_{table}" ON "{table}" (subject)'))
    try:
        yield FrameSource(warehouse.read_table(table)), SqlSource(warehouse.get_engine(), table)
    finally:
        with warehouse.begin() as connection:
            connection.execute(sa.text(f'DROP TABLE "{table}"'))


def _assert_same(warehouse: Warehouse, frame: pd.DataFrame, k: int, held_unique: bool = False) -> None:
    with _both(warehouse, frame, held_unique) as (in_memory, in_sql):
        _assert_same_counts(in_memory, in_sql, k, check_dtype=len(frame) > 0)  # pandas types an empty grouping as object


def _assert_same_counts(in_memory: FrameSource, in_sql: SqlSource, k: int, check_dtype: bool) -> None:
    if check_dtype:  # rows to rank
        for column in ("amount", "score"):
            got, expected = (
                source.top_contributions(DIMS, "subject", column).sort_values(DIMS, na_position="last", ignore_index=True) for source in (in_sql, in_memory)
            )
            pdt.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9, check_dtype=False)
    for expected, got in zip(in_memory.level_tables(DIMS, LEVELS, "subject", MEASURES), in_sql.level_tables(DIMS, LEVELS, "subject", MEASURES), strict=True):
        pdt.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9, check_dtype=check_dtype)
    margins = [("region",), ()]
    expected_release = release_cohorts(in_memory, DIMS, "subject", MEASURES, k, margins)
    release = release_cohorts(in_sql, DIMS, "subject", MEASURES, k, margins)
    pdt.assert_frame_equal(release.released, expected_release.released, check_exact=False, rtol=1e-9, check_dtype=check_dtype)
    pdt.assert_frame_equal(release.suppressed, expected_release.suppressed, check_dtype=check_dtype)
    assert (release.released["subjects"] >= k).all()
    for column in ("subject", "tenant"):
        pdt.assert_frame_equal(recount(release.released, in_sql, DIMS, column), recount(release.released, in_memory, DIMS, column), check_dtype=check_dtype)
    primary_only = release_cohorts(in_memory, DIMS, "subject", MEASURES, k).released
    with_margins = pd.concat([primary_only, release_cohorts(in_memory, ["region"], "subject", MEASURES, k).released], ignore_index=True)
    pdt.assert_frame_equal(
        differencing_exposures(with_margins, in_sql, DIMS, "subject", k, [("region",)]),
        differencing_exposures(with_margins, in_memory, DIMS, "subject", k, [("region",)]),
        check_dtype=check_dtype,
    )


@pytest.fixture(scope="module")
def sqlite_warehouse():
    with tempfile.TemporaryDirectory() as folder:
        yield Warehouse(f"sqlite:///{Path(folder) / 'warehouse.db'}")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=rows, k=st.integers(2, 6), one_row_per_subject=st.booleans(), missing_subject=st.booleans(), held_unique=st.booleans())
def test_grouping_in_sqlite_equals_grouping_in_pandas(sqlite_warehouse, data, k, one_row_per_subject, missing_subject, held_unique):
    """`held_unique` only where every row is its own subject (else the index cannot be built)."""
    frame = _frame(data, one_row_per_subject, missing_subject)
    _assert_same(sqlite_warehouse, frame, k, held_unique and one_row_per_subject)


@pytest.mark.postgres
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=rows, k=st.integers(2, 6), one_row_per_subject=st.booleans(), missing_subject=st.booleans(), held_unique=st.booleans())
def test_grouping_in_postgres_equals_grouping_in_pandas(pg_databases, data, k, one_row_per_subject, missing_subject, held_unique):
    frame = _frame(data, one_row_per_subject, missing_subject)
    warehouse = Warehouse(pg_databases.warehouse_url)
    try:
        _assert_same(warehouse, frame, k, held_unique and one_row_per_subject)
    finally:
        warehouse.get_engine().dispose()  # an engine per example: its pooled connections would pile up on the server


def test_a_missing_table_or_column_is_named(sqlite_warehouse):
    with pytest.raises(LookupError, match="'absent' does not exist"):
        SqlSource(sqlite_warehouse.get_engine(), "absent").level_tables(DIMS, LEVELS, "subject", MEASURES)
    with _both(sqlite_warehouse, _frame([("north", 1, 1, 1, True, 0.5, "ws_a")])) as (_, in_sql):
        with pytest.raises(KeyError, match=r"no column\(s\) \['nope'\]"):
            in_sql.level_tables(DIMS, LEVELS, "subject", {"x": MeasureSpec("sum", "nope")})


@pytest.mark.parametrize(
    "subjects, index, one_per_subject, counted",
    [
        (["a", "b", "c"], "CREATE UNIQUE INDEX {name} ON {table} (subject)", True, False),  # the database's word: no count
        (["a", "b", None], "CREATE UNIQUE INDEX {name} ON {table} (subject)", False, False),  # unique, but a row without a subject
        (["a", "b", "c"], "CREATE INDEX {name} ON {table} (subject)", True, True),
        (["a", "a", "b"], "CREATE UNIQUE INDEX {name} ON {table} (subject) WHERE subject <> 'a'", False, True),  # partial: holds only some rows
    ],
)
def test_a_row_per_subject_is_taken_from_the_database_only_where_it_holds_every_row_unique(each_warehouse, subjects, index, one_per_subject, counted):
    """A release sums its margins from cells only for a table with a row per subject. A unique
    index on the subject column proves it without counting; a partial one proves nothing."""
    table = f"source_{uuid.uuid4().hex[:8]}"
    each_warehouse.replace_table(table, pd.DataFrame({"subject": pd.Series(subjects, dtype="string"), "region": ["north"] * 3}))
    engine = each_warehouse.get_engine()
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    try:
        with each_warehouse.begin() as connection:
            connection.execute(sa.text(index.format(name=f'"ix_{table}"', table=f'"{table}"')))
        sa.event.listen(engine, "before_cursor_execute", record)
        with engine.connect() as connection:
            assert _one_row_per_subject(connection, sa.table(table, sa.column("subject")), "subject") is one_per_subject
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
        with each_warehouse.begin() as connection:
            connection.execute(sa.text(f'DROP TABLE "{table}"'))
    assert any("count(DISTINCT" in statement for statement in statements) is counted
