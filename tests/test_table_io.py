"""Tables in and out of the warehouse. The direct read gives the frame that pandas' read_sql
through SQLAlchemy gives, and the direct SQLite write stores what to_sql stores, for every column
type our frames are written with, with and without missing values; PostgreSQL's COPY keeps empty
text apart from NULL."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from unittest.mock import patch

import numpy as np
import pandas as pd
import psycopg2.errors
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance_assets.storage.table_reads import _read_direct, _read_generic, read_query
from compliance_assets.storage.table_writes import NULL_MARKER, write_table
from compliance_assets.storage.warehouse import Warehouse
from tests.conftest import fresh_postgres_databases, postgres_url
from tests.helpers import indexed_columns


@pytest.fixture(scope="module")
def warehouse(each_warehouse) -> Warehouse:
    return each_warehouse


def _maybe(values):
    return st.one_of(st.none(), values)


COLUMNS = {
    "text": ("string", _maybe(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12))),  # PostgreSQL text holds no NUL
    "label": ("str", _maybe(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12))),  # pandas 3's default: NaN marks a missing one
    "count": ("Int64", _maybe(st.integers(-(2**63), 2**63 - 1))),
    "amount": ("Float64", _maybe(st.floats(allow_nan=False, allow_infinity=False, width=64))),
    "flag": ("boolean", _maybe(st.booleans())),
    "at": ("datetime64[us]", _maybe(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)))),
    "at_ns": ("datetime64[ns]", _maybe(st.integers(-(2**62), 2**62).map(lambda n: pd.Timestamp(n, unit="ns")))),
    "day": ("datetime64[s]", st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1))),
    "plain_count": ("int64", st.integers(-(2**63), 2**63 - 1)),
    "ratio": ("float64", st.one_of(st.just(float("nan")), st.floats(allow_nan=False, allow_infinity=False))),
    "active": ("bool", st.booleans()),
}


@st.composite
def frames(draw) -> pd.DataFrame:
    rows = draw(st.integers(0, 25))
    names = draw(st.lists(st.sampled_from(sorted(COLUMNS)), min_size=1, max_size=len(COLUMNS), unique=True))
    return pd.DataFrame(
        {name: pd.Series(draw(st.lists(COLUMNS[name][1], min_size=rows, max_size=rows)), dtype=COLUMNS[name][0]) for name in names}
    )


def _both_reads(warehouse: Warehouse, frame: pd.DataFrame, columns: list[str] | None = None):
    with warehouse.begin() as connection:
        frame.to_sql("t", connection, if_exists="replace", index=False)
    table = sa.Table("t", sa.MetaData(), autoload_with=warehouse.get_engine())
    selected = [table.c[c] for c in columns] if columns else list(table.columns)
    with warehouse.get_engine().connect() as connection:
        return read_query(connection, sa.select(*selected)), _read_generic(connection, sa.select(*selected), selected)


@settings(max_examples=60, deadline=None)
@given(frame=frames())
def test_the_direct_read_equals_read_sql(warehouse, frame):
    fast, generic = _both_reads(warehouse, frame)
    pd.testing.assert_frame_equal(fast, generic)
    pd.testing.assert_series_equal(warehouse.read_table("t", limit=0).dtypes, fast.dtypes)  # what schema checks judge
    with patch("compliance_assets.storage.table_reads.READ_CHUNK_ROWS", 4):  # rows fetched a batch at a time give the same frame
        pd.testing.assert_frame_equal(warehouse.read_table("t"), fast)


@pytest.mark.postgres
def test_a_server_error_in_a_later_batch_reaches_the_reader_and_stops_the_fetcher(tmp_path_factory):
    """On PostgreSQL the next batch is fetched in a thread: an error the server raises only when
    the fifth row is computed (the third fetch) is raised in the reader, and no fetcher outlives it."""
    database = f"ca_reads_{uuid.uuid4().hex[:10]}"
    with fresh_postgres_databases(database):
        engine = sa.create_engine(postgres_url(database))
        value = sa.literal_column("1 / (x - 5)", sa.Integer).label("v")
        query = sa.select(value).select_from(sa.text("generate_series(1, 10) AS x"))
        with engine.connect() as connection, patch("compliance_assets.storage.table_reads.READ_CHUNK_ROWS", 2):
            with pytest.raises(psycopg2.errors.DivisionByZero):
                _read_direct(connection, query, [sa.Column("v", sa.Integer)])
        assert not [t for t in threading.enumerate() if t.name == "warehouse-read-prefetch"]
        engine.dispose()


@pytest.mark.postgres
def test_a_whole_read_from_postgresql_needs_no_fetcher_and_gives_the_streamed_frame(tmp_path_factory):
    """A summary is read whole (PostgreSQL may then plan it in parallel): the client already holds
    the result, so no batch is fetched in a thread, and the frame is the streamed read's."""
    database = f"ca_reads_{uuid.uuid4().hex[:10]}"
    with fresh_postgres_databases(database):
        engine = sa.create_engine(postgres_url(database))
        query = sa.select(sa.literal_column("x", sa.Integer).label("v")).select_from(sa.text("generate_series(1, 10) AS x"))
        columns = [sa.Column("v", sa.Integer)]
        with engine.connect() as connection, patch("compliance_assets.storage.table_reads.READ_CHUNK_ROWS", 3):
            streamed = _read_direct(connection, query, columns)
            with patch("compliance_assets.storage.table_reads._prefetched_batches", side_effect=AssertionError("a whole result needs no fetcher")):
                whole = _read_direct(connection, query, columns, streamed=False)
        pd.testing.assert_frame_equal(whole, streamed)
        assert whole["v"].tolist() == list(range(1, 11))
        engine.dispose()


def test_sqlite_may_sort_on_more_than_one_thread(sqlite_warehouse):
    """Indexing a published table and grouping a summary sort; SQLite uses no helper thread for
    that unless a connection allows it (its default is none)."""
    with sqlite_warehouse.get_engine().connect() as connection:
        assert connection.exec_driver_sql("PRAGMA threads").scalar_one() >= 1


def test_a_selection_of_columns_keeps_its_order(warehouse):
    frame = pd.DataFrame({"a": pd.Series(["x", None], dtype="string"), "b": pd.Series([1, 2], dtype="Int64"), "c": [True, False]})
    fast, generic = _both_reads(warehouse, frame, ["c", "a"])
    assert list(fast.columns) == ["c", "a"]
    pd.testing.assert_frame_equal(fast, generic)



@settings(max_examples=30, deadline=None)
@given(
    purposes=st.lists(_maybe(st.sampled_from(["marketing", "analytics", "Analytics", ""])), min_size=0, max_size=60),
    asked=st.sampled_from(["marketing", "analytics", "absent"]),
)
def test_a_read_of_the_rows_equal_to_a_value_is_the_whole_read_filtered(warehouse, purposes, asked):
    """What the consent read asks the database for: the rows of one purpose, typed as the whole
    read types them (none of another case, empty text or missing value slips in)."""
    frame = pd.DataFrame({"id": pd.Series([f"c{i}" for i in range(len(purposes))], dtype="string"), "purpose": pd.Series(purposes, dtype="string")})
    warehouse.replace_table("consent_like", frame)
    whole = warehouse.read_table("consent_like", ["purpose", "id"])
    chosen = warehouse.read_table("consent_like", ["purpose", "id"], where={"purpose": asked})
    expected = whole.loc[whole["purpose"].eq(asked).fillna(False)].reset_index(drop=True)
    pd.testing.assert_frame_equal(chosen.sort_values("id", ignore_index=True), expected.sort_values("id", ignore_index=True))


@settings(max_examples=30, deadline=None)
@given(kinds=st.lists(_maybe(st.sampled_from(["open", "click", "", "convert"])), min_size=100, max_size=300))
def test_a_repetitive_text_column_holds_each_value_once_and_reads_the_same(warehouse, kinds):
    """Values repeat as in an event type (at most 5 distinct in 100); ids keep the driver's own strings."""
    frame = pd.DataFrame({"kind": pd.Series(kinds, dtype="string"), "event_id": pd.Series([f"evt_{i}" for i in range(len(kinds))], dtype="string")})
    fast, generic = _both_reads(warehouse, frame)
    pd.testing.assert_frame_equal(fast, generic)
    present = [value for value in fast["kind"].array._ndarray if isinstance(value, str)]
    assert len({id(value) for value in present}) == len(set(present))  # one object per distinct value
    assert fast["event_id"].nunique() == len(kinds)

def test_a_type_the_fast_path_does_not_know_goes_through_sqlalchemy(warehouse):
    columns, values = "day DATE, price NUMERIC(10, 2)", "'2026-11-30', 1.25"
    if warehouse.dialect == "postgresql":  # SQLite has no zoned timestamps
        columns, values = columns + ", at TIMESTAMP WITH TIME ZONE", values + ", '2026-11-30 10:00:00+01:00'"
    with warehouse.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS dated")
        connection.exec_driver_sql(f"CREATE TABLE dated ({columns})")
        connection.exec_driver_sql(f"INSERT INTO dated VALUES ({values})")
    read = warehouse.read_table("dated")
    table = sa.Table("dated", sa.MetaData(), autoload_with=warehouse.get_engine())
    with warehouse.get_engine().connect() as connection:
        pd.testing.assert_frame_equal(read, _read_generic(connection, sa.select(*table.columns), list(table.columns)))
    assert read["price"].iloc[0] == Decimal("1.25")  # SQLAlchemy's Numeric, not the driver's float


def _stored(warehouse: Warehouse, name: str) -> tuple[list, list]:
    with warehouse.get_engine().connect() as connection:
        cursor = connection.connection.cursor()
        declared = [tuple(row) for row in cursor.execute(f"PRAGMA table_info('{name}')").fetchall()]
        rows = [tuple(row) for row in cursor.execute(f'SELECT * FROM "{name}"').fetchall()]
        cursor.close()
    return declared, rows


@settings(max_examples=60, deadline=None)
@given(frame=frames())
def test_the_direct_sqlite_write_stores_what_to_sql_stores(sqlite_warehouse, frame):
    with sqlite_warehouse.begin() as connection:
        write_table(connection, "direct", frame)
        frame.to_sql("reference", connection, if_exists="replace", index=False)
    assert _stored(sqlite_warehouse, "direct") == _stored(sqlite_warehouse, "reference")


@settings(max_examples=60, deadline=None)
@given(frame=frames(), rows_per_piece=st.integers(1, 4))
def test_every_direct_write_stores_what_to_sql_stores(warehouse, frame, rows_per_piece):
    """On each dialect: the table written directly (SQLite's executemany, PostgreSQL's COPY, its
    data sent in pieces) reads back as the table pandas' own INSERTs wrote."""
    with warehouse.begin() as connection, patch("compliance_assets.storage.table_writes.ROWS_PER_PIECE", rows_per_piece):
        write_table(connection, "direct", frame)
        frame.to_sql("reference", connection, if_exists="replace", index=False)
    direct, reference = warehouse.read_table("direct"), warehouse.read_table("reference")
    pd.testing.assert_frame_equal(direct, reference)


@pytest.fixture(scope="module")
def sqlite_warehouse(tmp_path_factory) -> Warehouse:
    return Warehouse(f"sqlite:///{tmp_path_factory.mktemp('writes') / 'warehouse.db'}")


ESCAPED_BY_COPY = st.sampled_from(["\\", "\t", "\n", "\r", "\\.", "a\\Nb", "\\\\N", "x\ty"])
texts = st.lists(st.one_of(st.none(), st.just(""), st.just(NULL_MARKER), ESCAPED_BY_COPY, st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=6)), min_size=1, max_size=8)


@settings(max_examples=40, deadline=None)
@given(first=texts, second=st.none() | st.just(1))
def test_empty_text_null_and_the_marker_survive_the_warehouse(warehouse, first, second):
    """One column or two: a lone NULL in a one-column row, an empty string, a value spelled like
    COPY's NULL marker and values holding what COPY escapes all come back as they were written."""
    frame = pd.DataFrame({"text": pd.Series(first, dtype="string")})
    if second is not None:
        frame["count"] = pd.Series(range(len(first)), dtype="Int64")
    warehouse.replace_table("texts", frame)
    pd.testing.assert_frame_equal(warehouse.read_table("texts"), frame)


@settings(max_examples=30, deadline=None)
@given(frame=frames(), cuts=st.lists(st.integers(0, 25), max_size=3))
def test_a_table_staged_in_chunks_holds_what_it_holds_staged_whole(warehouse, frame, cuts):
    bounds = [0, *sorted(min(c, len(frame)) for c in cuts), len(frame)]
    chunks = [frame.iloc[a:b].reset_index(drop=True) for a, b in zip(bounds, bounds[1:])]
    staging, rows = warehouse.stage("whole", frame)
    whole = warehouse.read_table(staging)
    staging, chunked_rows = warehouse.stage("chunked", iter(chunks))
    assert rows == chunked_rows == len(frame)
    pd.testing.assert_frame_equal(warehouse.read_table(staging), whole)


def test_staging_nothing_is_refused_rather_than_keeping_an_earlier_staged_table(warehouse):
    warehouse.stage("earlier", pd.DataFrame({"a": [1]}))
    with pytest.raises(ValueError, match="nothing to stage for 'earlier'"):
        warehouse.stage("earlier", iter([]))


@pytest.mark.parametrize("name", ["looked_up", "a_table_whose_name_is_long_enough_to_cut_index_names"])
def test_a_table_is_published_indexed_on_its_lookup_columns_publication_after_publication(warehouse, name):
    """The indexes built while the checks run come with the swap; each build's names are its own
    (cut to PostgreSQL's 63 characters), so the next staging table is indexed while the published
    one still holds the last ones. The subject's index is unique where asked."""
    columns = ["subject_pseudonym_of_the_row", "at"]
    for value in range(3):
        warehouse.stage(name, pd.DataFrame({columns[0]: [f"s{value}"], "at": [datetime(2026, 1, 1)], "other": [value]}))
        with warehouse.indexing_staged(name, columns, unique=columns[:1]):
            assert warehouse.read_table(f"staging__{name}")["other"].tolist() == [value]
        warehouse.publish(name, columns, unique=columns[:1])
        assert indexed_columns(warehouse, name) == [("at",), (columns[0],)]
        assert indexed_columns(warehouse, name, unique=True) == [(columns[0],)]
    warehouse.stage(name, pd.DataFrame({columns[0]: ["s3"], "at": [datetime(2026, 1, 2)], "other": [3]}))
    warehouse.publish(name, columns, unique=columns[:1])  # not indexed while checked: the swap builds them
    assert indexed_columns(warehouse, name, unique=True) == [(columns[0],)]
    assert indexed_columns(warehouse, name) == [("at",), (columns[0],)]
    assert warehouse.read_table(name)["other"].tolist() == [3]


def test_a_table_indexed_beside_its_checks_is_published_with_statistics_on_postgresql(warehouse):
    """Fresh from COPY, a PostgreSQL table has no statistics, and the planner guesses a quarter of
    the table for a 50-value `IN` list: on 10 M events, the next steps' lookups scanned the table
    instead of using its index."""
    if warehouse.dialect != "postgresql":
        pytest.skip("SQLite's planner uses an index without statistics")
    warehouse.stage("analysed", pd.DataFrame({"subject": [f"s{i}" for i in range(5_000)]}))
    with warehouse.indexing_staged("analysed", ["subject"]):
        pass
    warehouse.publish("analysed", ["subject"])
    asked = ", ".join(f"'s{i}'" for i in range(0, 5_000, 100))  # 50 values, as a check asks
    with warehouse.get_engine().connect() as connection:
        described = connection.execute(sa.text("SELECT count(*) FROM pg_stats WHERE tablename = 'analysed'")).scalar_one()
        plan = " ".join(connection.execute(sa.text(f"EXPLAIN SELECT subject FROM analysed WHERE subject IN ({asked})")).scalars())
    assert described == 1
    assert int(re.search(r"rows=(\d+)", plan).group(1)) == 50, plan  # without statistics: 1,250 of the 5,000


@pytest.mark.parametrize(
    "subjects, indexed, unique, error",
    [
        (["s"], ["no_such_column"], [], "no_such_column"),
        (["s", "s"], ["subject"], ["subject"], "(?i)unique"),  # a subject twice: the checks say so, the index cannot
    ],
)
def test_an_index_that_cannot_be_built_fails_the_publication_not_the_checks(warehouse, subjects, indexed, unique, error):
    """Built beside the checks, a failed index lets them finish (rows a unique index refuses fail
    the contract's uniqueness expectation, which says which); the publication builds it again and
    fails, and the table is not swapped in."""
    warehouse.stage("unindexable", pd.DataFrame({"subject": subjects}))
    checked = []
    with warehouse.indexing_staged("unindexable", indexed, unique):
        checked.append(True)
    assert checked == [True]
    with pytest.raises(sa.exc.DBAPIError, match=error):
        warehouse.publish("unindexable", indexed, unique)
    assert not warehouse.has_table("unindexable")
    assert warehouse.read_table("staging__unindexable")["subject"].tolist() == subjects


def test_a_table_replaced_by_rows_the_database_refuses_keeps_its_rows(warehouse):
    """Replacing is one transaction, its DROP and CREATE included: quarantined rows from earlier
    days, kept by replacing the table with them plus the new ones, are not lost to a failed write."""
    warehouse.replace_table("kept", pd.DataFrame({"reason": ["first day"]}))
    with pytest.raises(pd.errors.DatabaseError, match="dict"):
        warehouse.replace_table("kept", pd.DataFrame({"reason": pd.Series([{"not": "text"}], dtype=object)}))
    assert warehouse.read_table("kept")["reason"].tolist() == ["first day"]


_ANY_TIME = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999_999))
# A few days or decades from one time: the column spans few enough days for the characters' table.
_NEAR_TIMES = st.builds(
    lambda start, offsets: [None if o is None else start + min(o, datetime.max - start) for o in offsets],  # never past year 9999
    _ANY_TIME,
    st.lists(_maybe(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20_000))), max_size=40),
)


@settings(max_examples=200, deadline=None)
@given(values=st.one_of(_NEAR_TIMES, st.lists(_maybe(_ANY_TIME), max_size=40)))
def test_timestamps_are_spelled_as_sqlalchemy_spells_them(values):
    """Whatever the years and however many days the column spans (the characters' table, or
    NumPy's `datetime_as_string` for years outside 1000-9999 and spans of centuries); NULL where
    a time is missing."""
    from sqlalchemy.dialects import sqlite

    from compliance_assets.storage.table_writes import _stored_values

    spelled = sqlite.DATETIME().bind_processor(sqlite.dialect())
    stamps = pd.Series(values, dtype="datetime64[us]")
    assert list(_stored_values(stamps)[0]) == [None if v is None else spelled(v) for v in values]


def test_a_year_past_9999_and_a_column_of_missing_times_are_spelled_too():
    from compliance_assets.storage.table_writes import _stored_values

    stamps = pd.Series(np.array(["2026-01-01T10:00:00.000001", "NaT", "10000-01-01T00:00:00"], dtype="datetime64[us]"))
    assert list(_stored_values(stamps)[0]) == ["2026-01-01 10:00:00.000001", None, "10000-01-01 00:00:00.000000"]
    assert list(_stored_values(stamps.iloc[:2])[0]) == ["2026-01-01 10:00:00.000001", None]
    assert list(_stored_values(stamps.iloc[1:2])[0]) == [None]
