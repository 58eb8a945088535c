"""Writing a frame as a warehouse table, replacing any table of that name.

pandas' `to_sql` creates the table, so its column types are pandas' own on every dialect. What
differs is how the rows travel:
- Rows are prepared column by column (timestamps formatted in one vectorised step as SQLAlchemy
  would format each), not value by value through SQLAlchemy or pandas.
- **PostgreSQL**: one COPY in CSV. A missing value is sent as the unquoted marker `\\N`, so an
  empty string stays an empty string and a one-column row of NULL is still a row; a frame holding
  the marker as text goes by INSERT.
- **SQLite**: the driver's `executemany`: 1 M events are staged in ~3 s instead of ~8 s.
Other dialects, and frames with other column types, use `to_sql` as it is."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import sqlalchemy as sa

from resources.copy_stream import ROWS_PER_PIECE, CopyStream

WRITE_CHUNK_ROWS = 50_000
NULL_MARKER = "\\N"


def write_table(connection: sa.Connection, name: str, frame: pd.DataFrame, append: bool = False) -> None:
    """Replaces `name` with `frame`, or with `append` adds its rows to the table a first frame created."""
    dialect = connection.dialect.name
    direct = frame.columns.is_unique and all(_inserted_directly(frame[c].dtype) for c in frame.columns)
    if direct and (dialect == "sqlite" or (dialect == "postgresql" and not _holds_null_marker(frame))):
        if not append:
            frame.iloc[:0].to_sql(name, connection, if_exists="replace", index=False)
        (_insert_into_sqlite if dialect == "sqlite" else _copy_into_postgres)(connection, name, frame)
        return
    frame.to_sql(name, connection, if_exists="append" if append else "replace", index=False, chunksize=WRITE_CHUNK_ROWS)


def _holds_null_marker(frame: pd.DataFrame) -> bool:
    """A text value spelled like the marker would arrive as NULL: such a frame goes by INSERT."""
    return any((frame[c].astype("string") == NULL_MARKER).any() for c in frame.columns if pd.api.types.is_string_dtype(frame[c]))


def _copy_into_postgres(connection: sa.Connection, name: str, frame: pd.DataFrame) -> None:
    """One COPY in CSV, the rows prepared column by column as for SQLite (timestamps formatted in one
    step, a missing value as the unquoted marker): an order of magnitude faster than INSERTs, and
    ~3x faster than handing COPY the Python values `to_sql` builds for every row. The text is
    formatted a piece at a time while the server parses the piece before (`CopyStream`)."""
    quoted = ", ".join(f'"{c}"' for c in frame.columns)
    pieces = (_csv_text(frame.iloc[start : start + ROWS_PER_PIECE]) for start in range(0, len(frame), ROWS_PER_PIECE))
    with connection.connection.cursor() as cursor:
        cursor.copy_expert(f'COPY "{name}" ({quoted}) FROM STDIN WITH (FORMAT csv, NULL \'{NULL_MARKER}\')', CopyStream(pieces))


def _csv_text(rows: pd.DataFrame) -> str:
    columns = []
    for column in rows.columns:
        values = _stored_values(rows[column])
        columns.append(np.where(pd.isna(values), NULL_MARKER, values))
    buffer = io.StringIO()
    csv.writer(buffer).writerows(zip(*columns))
    return buffer.getvalue()


def _inserted_directly(dtype) -> bool:
    if isinstance(dtype, (pd.StringDtype, pd.BooleanDtype, pd.Int64Dtype, pd.Float64Dtype)):
        return True
    if isinstance(dtype, np.dtype):
        if dtype.kind == "M":  # timestamps without a zone; nanoseconds are floored to SQLAlchemy's microseconds, as to_sql does
            return np.datetime_data(dtype)[0] in ("s", "ms", "us", "ns")
        return dtype.kind in "biuf"
    return False


def _insert_into_sqlite(connection: sa.Connection, name: str, frame: pd.DataFrame) -> None:
    columns = [_stored_values(frame[c]) for c in frame.columns]
    placeholders = ", ".join("?" for _ in columns)
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(f'INSERT INTO "{name}" VALUES ({placeholders})', zip(*columns))
    finally:
        cursor.close()


def _stored_values(column: pd.Series) -> np.ndarray:
    """The Python values SQLAlchemy would bind for `column`; None where a value is missing."""
    if column.dtype.kind == "M":
        stamps = column.to_numpy()
        if not len(stamps):  # NumPy's replace cannot size an empty text array
            return np.empty(0, dtype=object)
        text = _spaced(np.datetime_as_string(stamps, unit="us")).astype(object)
        text[np.isnat(stamps)] = None
        return text
    return column.astype(object).where(column.notna(), None).to_numpy(dtype=object)


def _spaced(iso: np.ndarray) -> np.ndarray:
    """ISO text with a space for its 'T', as SQLAlchemy writes a timestamp. With four-digit years
    every 'T' is the eleventh character: it is overwritten in place, in half the time of a
    search-and-replace over every string."""
    characters = iso.view(np.uint32).reshape(len(iso), -1)
    separators = characters[:, 10] == ord("T")
    if np.count_nonzero(separators) != np.count_nonzero(iso != "NaT"):  # a year of more or fewer digits
        return np.char.replace(iso, "T", " ")
    characters[separators, 10] = ord(" ")
    return iso
