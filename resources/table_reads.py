"""Reading a warehouse table into a frame typed as its declared columns.

The general path is `pd.read_sql` through SQLAlchemy. On SQLite that path builds a Python
`datetime` from every stored timestamp string, row by row, which was most of a 1 M-row read; the
SQLite path fetches the stored values as they are and types each column in one vectorised step.
Both give the same frame (`tests/test_table_reads.py` holds them to it)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa

from compliance_assets.privacy.sql_source import pandas_dtype

# Declared types whose SQLite storage the fast path can type without SQLAlchemy's row processors.
# Not Numeric (SQLAlchemy hands back Decimal), Date or Time (Python objects, not a NumPy type).
_VECTORISED = (sa.DateTime, sa.Boolean, sa.Integer, sa.Float, sa.String)


def read_columns(connection: sa.Connection, columns: Sequence[sa.Column]) -> pd.DataFrame:
    if connection.dialect.name == "sqlite" and all(_vectorised(column.type) for column in columns):
        return _read_sqlite(connection, columns)
    return _read_generic(connection, columns)


def _vectorised(sql_type: sa.types.TypeEngine) -> bool:
    return isinstance(sql_type, _VECTORISED) and not (isinstance(sql_type, sa.Numeric) and not isinstance(sql_type, sa.Float))


def _read_generic(connection: sa.Connection, columns: Sequence[sa.Column]) -> pd.DataFrame:
    frame = pd.read_sql(sa.select(*columns), connection, dtype_backend="numpy_nullable")
    # SQLite keeps booleans as 0/1 integers, and a column without a value gives pandas nothing
    # to infer from (it guesses text): the reflected column type says what they are.
    declared = {column.name: _declared_dtype(column.type) for column in columns}
    retyped = {
        name: dtype for name, dtype in declared.items()
        if dtype != "object" and frame[name].dtype != dtype and (dtype == "boolean" or frame[name].isna().all())
    }
    return frame.astype(retyped) if retyped else frame


def _read_sqlite(connection: sa.Connection, columns: Sequence[sa.Column]) -> pd.DataFrame:
    query = str(sa.select(*columns).compile(dialect=connection.dialect))
    cursor = connection.connection.cursor()
    try:
        cursor.execute(query)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    stored = np.empty((len(rows), len(columns)), dtype=object)
    if rows:
        stored[:] = rows
    return pd.DataFrame(
        {column.name: _typed(stored[:, i], column.type) for i, column in enumerate(columns)},
        index=pd.RangeIndex(len(rows)),
    )


def _declared_dtype(sql_type: sa.types.TypeEngine) -> str:
    return "datetime64[us]" if isinstance(sql_type, sa.DateTime) else pandas_dtype(sql_type)


def _typed(values: np.ndarray, sql_type: sa.types.TypeEngine) -> pd.api.extensions.ExtensionArray:
    """One column as `_read_generic` types it."""
    if isinstance(sql_type, sa.DateTime):
        return pd.to_datetime(values, format="ISO8601").as_unit("us").array
    if isinstance(sql_type, sa.Boolean):
        return pd.array(values, dtype="Int64").astype("boolean")
    return pd.array(values, dtype=pandas_dtype(sql_type))
