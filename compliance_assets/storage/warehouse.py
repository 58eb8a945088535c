"""The warehouse on SQLAlchemy: a SQLite file, PostgreSQL or any SQLAlchemy URL. Publication is
write-audit-publish: frames land in a staging table, and only `publish` (after the checks pass)
swaps them into the table readers see. No Dagster here: `resources.warehouse.WarehouseResource`
hands a run one of these, and tests and tools use it directly."""

from __future__ import annotations

import fcntl
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from compliance_assets.privacy.ledger import LEDGER_COLUMNS, LEDGER_TABLE
from compliance_assets.privacy.sql_source import declared_table
from compliance_assets.privacy.summaries import Measure, summary_columns, summary_query
from compliance_assets.storage.table_reads import read_query
from compliance_assets.storage.engine import create_engine_for
from compliance_assets.storage.table_writes import write_table

STAGING_PREFIX = "staging__"
QUARANTINE_PREFIX = "quarantine__"
QUARANTINED_AT = "_quarantined_at"  # when a quarantined row was set aside: its retention counts from it
LOADED_DAYS_COLUMN = "_loaded_days"  # in a partitioned source's quarantine: the days of the run that left the row
MATCH_BATCH = 1_000  # values in one IN list
LONG_LIST = 10 * MATCH_BATCH  # more candidates than this are matched in one scan, not a scan per IN list


def _text_of(column: sa.ColumnElement) -> sa.ColumnElement:
    """A column as text, so string values can be compared with it whatever its type."""
    return column if isinstance(column.type, sa.String) else sa.cast(column, sa.String)


class Warehouse:
    """Where the tiers' tables live. Tables are named by the plugin; this only moves frames.

    `push_down_aggregations`: cohort releases and their audits, and feature transforms' per-key
    summaries, group in the warehouse (one GROUP BY per level) instead of reading the source
    table into the step's memory."""

    def __init__(self, url: str, push_down_aggregations: bool = True):
        self.url = url
        self.push_down_aggregations = push_down_aggregations
        self._engine: sa.Engine | None = None
        self._held: set[tuple[int, str]] = set()  # (thread, name) of the `exclusive` blocks open

    @property
    def dialect(self) -> str:
        return sa.engine.make_url(self.url).get_backend_name()

    def get_engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = create_engine_for(self.url)
        return self._engine

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        with self.get_engine().begin() as connection:
            yield connection

    @contextmanager
    def _begin_schema_change(self) -> Iterator[sa.Connection]:
        """One transaction that holds its DDL too. Python's sqlite3 opens a transaction only before
        a row change, so on SQLite a swap's DROP, RENAME and CREATE INDEX each committed on their
        own (an index that failed left the new table swapped in), as did a replacement's DROP and
        CREATE (rows the driver refused left the table empty); there it is begun explicitly,
        IMMEDIATE, so that it waits for another writer rather than fail on an outdated snapshot."""
        with self.get_engine().begin() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield connection

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """One writer at a time for `name`'s write-audit-publish, across runs and processes: two runs
        materialising the same asset would otherwise share its staging table. A PostgreSQL
        session lock or a file lock beside a SQLite file; either dies with its process. Re-entrant
        within a thread: a release holds it from reading the ledger to publishing, and the
        publication inside takes it again."""
        mine = (threading.get_ident(), name)
        if mine in self._held:
            yield
            return
        self._held.add(mine)
        try:
            with self._exclusive(name):
                yield
        finally:
            self._held.discard(mine)

    @contextmanager
    def _exclusive(self, name: str) -> Iterator[None]:
        engine = self.get_engine()
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                key = {"key": f"wap:{name}"}
                connection.execute(sa.text("SELECT pg_advisory_lock(hashtext(:key))"), key)
                connection.commit()
                try:
                    yield
                finally:
                    connection.execute(sa.text("SELECT pg_advisory_unlock(hashtext(:key))"), key)
                    connection.commit()
        elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            folder = Path(engine.url.database).with_suffix(".locks")
            folder.mkdir(exist_ok=True)
            with open(folder / f"{name}.lock", "w") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        else:
            yield

    def has_table(self, name: str) -> bool:
        return sa.inspect(self.get_engine()).has_table(name)

    def read_table(
        self, name: str, columns: list[str] | None = None, limit: int | None = None, where: Mapping[str, object] | None = None
    ) -> pd.DataFrame:
        """`where` keeps the rows whose columns equal these values, chosen in the database: only
        they reach Python (half a demo's consent records, those of the purpose a feature set serves).
        `limit=0` gives the table's columns typed as a full read types them, without its rows."""
        if not self.has_table(name):
            raise LookupError(f"table '{name}' does not exist in the warehouse: materialise its asset first")
        table = sa.Table(name, sa.MetaData(), autoload_with=self.get_engine())
        selected = [table.c[c] for c in columns] if columns else list(table.columns)
        query = sa.select(*selected).where(*(table.c[column] == value for column, value in (where or {}).items())).limit(limit)
        with self.get_engine().connect() as connection:
            return read_query(connection, query)

    def summarise(self, name: str, by: str, measures: Mapping[str, Measure]) -> pd.DataFrame:
        """One row per `by` value of `name` with its `measures`, grouped in one query: only the
        summary reaches Python (`privacy.summaries.summarise_frame` gives the same on a frame)."""
        table = declared_table(self.get_engine(), name, summary_columns(by, measures))
        with self.get_engine().connect() as connection:
            return read_query(connection, summary_query(table, by, measures), streamed=False)

    def _matching(self, name: str, column: str, values: list, also: dict[str, object] | None, as_text: bool = False):
        """(table, one WHERE clause per batch of values) for rows whose `column` is one of
        `values` and whose `also` columns equal theirs; None when the table cannot hold any.
        `as_text` compares the column's text, for values that are strings whatever its type."""
        if not values:
            return None
        try:
            table = declared_table(self.get_engine(), name, [column, *(also or {})])
        except (LookupError, KeyError):  # no such table or column: it cannot hold any
            return None
        key = table.c[column]
        if as_text:
            key = _text_of(key)
        clauses = []
        for start in range(0, len(values), MATCH_BATCH):
            condition = key.in_(values[start : start + MATCH_BATCH])
            for other, value in (also or {}).items():
                condition &= table.c[other] == value
            clauses.append(condition)
        return table, clauses

    def present_values(self, name: str, column: str, candidates: pd.Index) -> pd.Index:
        """Which of `candidates` (text) occur in `column` of `name`: asked in SQL a batch at a time,
        so a check need not read a raw table's column into memory. A long list goes into a
        temporary table that one scan of `name` is matched against: reading the column's distinct
        values instead took 58 s for 10 M events' IP addresses on SQLite, the match 4 s."""
        values = [str(v) for v in candidates]
        if len(values) > LONG_LIST:
            return candidates[candidates.isin(self._present_in_one_scan(name, column, values))]
        matching = self._matching(name, column, values, None, as_text=True)
        if matching is None:
            return candidates[:0]
        table, clauses = matching
        key = _text_of(table.c[column])
        with self.get_engine().connect() as connection:
            found = {value for clause in clauses for value in connection.execute(sa.select(key).where(clause).distinct()).scalars()}
        return candidates[candidates.isin(found)]

    def _present_in_one_scan(self, name: str, column: str, values: list[str]) -> set[str]:
        try:
            table = declared_table(self.get_engine(), name, [column])
        except (LookupError, KeyError):
            return set()
        key = _text_of(table.c[column])
        asked = sa.Table(f"candidates_{uuid.uuid4().hex[:12]}", sa.MetaData(), sa.Column("value", sa.String), prefixes=["TEMPORARY"])
        with self.get_engine().begin() as connection:
            asked.create(connection)
            connection.execute(asked.insert(), [{"value": value} for value in dict.fromkeys(values)])
            found = set(connection.execute(sa.select(key).where(key.in_(sa.select(asked.c.value))).distinct()).scalars())
            asked.drop(connection)
        return found

    def delete_where(self, name: str, column: str, values: list, also: dict[str, object] | None = None) -> int:
        """Deletes the matching rows in one transaction; returns how many went."""
        matching = self._matching(name, column, values, also)
        if matching is None:
            return 0
        table, clauses = matching
        with self.begin() as connection:
            return sum(connection.execute(table.delete().where(clause)).rowcount for clause in clauses)

    def empty_columns_where(self, name: str, column: str, values: list, emptied: list[str]) -> int:
        """Sets `emptied` to NULL in the matching rows, in one transaction; returns how many changed."""
        matching = self._matching(name, column, values, None)
        if matching is None:
            return 0
        table, clauses = matching
        with self.begin() as connection:
            return sum(connection.execute(table.update().where(clause).values({c: None for c in emptied})).rowcount for clause in clauses)

    def select_where(
        self, name: str, column: str, values: list, also: dict[str, object] | None = None, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """The matching rows, with only `columns` (those the table has) when given."""
        matching = self._matching(name, column, values, also)
        if matching is None:
            return pd.DataFrame(columns=list(columns or []))
        table, clauses = matching
        selected = [table.c[c] for c in columns if c in table.c] if columns else [table]
        with self.get_engine().connect() as connection:
            parts = [pd.read_sql(sa.select(*selected).where(clause), connection) for clause in clauses]
        return pd.concat(parts, ignore_index=True)

    def purge_expired(
        self, name: str, clock: str, rules: list[tuple[datetime, list[str]]], batch_rows: int = 10_000
    ) -> int:
        """Deletes rows whose `clock` is before a rule's cutoff while one of the rule's columns
        holds a value, `batch_rows` at a time, each batch its own short transaction so concurrent
        writers wait for one batch at most. Returns how many rows went. A table dropped meanwhile
        (a staged table its run published) has nothing left to delete."""
        if not self.has_table(name):
            return 0
        try:
            table = sa.Table(name, sa.MetaData(), autoload_with=self.get_engine())
        except sa.exc.NoSuchTableError:
            return 0
        deleted = 0
        for cutoff, columns in rules:
            expired = (table.c[clock] < cutoff) & sa.or_(*(table.c[c].is_not(None) for c in columns))
            while True:
                batch = sa.select(table.c[clock]).where(expired).limit(batch_rows)
                try:
                    with self.begin() as connection:
                        gone = connection.execute(table.delete().where(expired & table.c[clock].in_(batch))).rowcount
                except sa.exc.DBAPIError:
                    if self.has_table(name):
                        raise
                    return deleted
                deleted += gone
                if gone == 0:
                    break
        return deleted

    def purge_quarantine(self, name: str, cutoff: datetime, batch_rows: int = 10_000) -> int:
        """Deletes the rows of quarantine `name` set aside before `cutoff`; a quarantine written
        before rows carried that time loses every row, as none can show it may stay."""
        table = QUARANTINE_PREFIX + name
        if not self.has_table(table):
            return 0
        if QUARANTINED_AT not in {c["name"] for c in sa.inspect(self.get_engine()).get_columns(table)}:
            return self.empty_table(table)
        return self.purge_expired(table, QUARANTINED_AT, [(cutoff, [QUARANTINED_AT])], batch_rows)

    def empty_table(self, name: str) -> int:
        """Deletes every row (the table and its schema stay); returns how many went."""
        if not self.has_table(name):
            return 0
        table = sa.Table(name, sa.MetaData(), autoload_with=self.get_engine())
        with self.begin() as connection:
            return connection.execute(table.delete()).rowcount

    def oldest(self, name: str, column: str) -> datetime | None:
        if not self.has_table(name):
            return None
        table = sa.Table(name, sa.MetaData(), autoload_with=self.get_engine())
        with self.get_engine().connect() as connection:
            return connection.execute(sa.select(sa.func.min(table.c[column]).label(column))).scalar_one()

    def count_where(self, name: str, column: str, value: object) -> int:
        table = sa.table(name, sa.column(column))
        with self.get_engine().connect() as connection:
            query = sa.select(sa.func.count()).select_from(table).where(table.c[column] == value)
            return int(connection.execute(query).scalar_one())

    def rekey(
        self,
        name: str,
        key_column: str,
        version_column: str,
        mapping: pd.DataFrame,
        old_version: int,
        new_version: int,
        *,
        batch_rows: int = 5_000,
        pause_seconds: float = 0.0,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> int:
        """Replaces pseudonyms in place (`mapping` has columns old/new), only on rows still on
        `old_version`: one transaction per batch, so it is idempotent and resumable."""
        engine = self.get_engine()
        q = engine.dialect.identifier_preparer.quote
        update = sa.text(
            f"UPDATE {q(name)} SET {q(key_column)} = m.new_pseudonym, {q(version_column)} = :new_version "
            f"FROM rekey_map m WHERE {q(name)}.{q(key_column)} = m.old_pseudonym AND {q(name)}.{q(version_column)} = :old_version"
        )
        updated = 0
        for start in range(0, len(mapping), batch_rows):
            batch = mapping.iloc[start : start + batch_rows]
            with engine.begin() as connection:
                connection.execute(sa.text("CREATE TEMP TABLE IF NOT EXISTS rekey_map (old_pseudonym VARCHAR(64) PRIMARY KEY, new_pseudonym VARCHAR(64))"))
                connection.execute(sa.text("DELETE FROM rekey_map"))
                connection.execute(
                    sa.text("INSERT INTO rekey_map (old_pseudonym, new_pseudonym) VALUES (:old, :new)"),
                    [{"old": o, "new": n} for o, n in zip(batch["old"], batch["new"], strict=True)],
                )
                updated += connection.execute(update, {"new_version": new_version, "old_version": old_version}).rowcount
            if on_batch:
                on_batch(min(start + batch_rows, len(mapping)), len(mapping))
            if pause_seconds:
                time.sleep(pause_seconds)
        return updated

    def replace_table(self, name: str, frame: pd.DataFrame) -> None:
        """Replaces `name` with `frame` in one transaction, its DROP and CREATE included."""
        with self._begin_schema_change() as connection:
            write_table(connection, name, frame)

    def stage(self, name: str, frames: pd.DataFrame | Iterable[pd.DataFrame]) -> tuple[str, int]:
        """Writes `frames` (one frame, or chunks of one table written as they come, so no more than
        a chunk is in memory) to the staging table of `name`; readers of `name` see nothing yet.
        Returns the staging table and the rows written."""
        staging = STAGING_PREFIX + name
        rows, chunks = 0, 0
        for frame in [frames] if isinstance(frames, pd.DataFrame) else frames:
            with self.begin() as connection:
                write_table(connection, staging, frame, append=chunks > 0)
            rows, chunks = rows + len(frame), chunks + 1
        if not chunks:  # else an earlier run's staging table would be audited and published
            raise ValueError(f"nothing to stage for '{name}': its source gave no frame")
        return staging, rows

    @contextmanager
    def indexing_staged(self, name: str, indexed: Sequence[str], unique: Sequence[str] = ()) -> Iterator[None]:
        """Builds the staging table's indexes on `indexed` (unique on those of them in `unique`) on
        a connection of their own while the body runs (the blocking checks, which only read the
        staged rows), so `publish` swaps in a table already indexed: on 10 M SQLite events the
        checks (5 s) and the two index builds (10 s) took 15 s one after the other, 12 s side by
        side. Waits for them on leaving, so nothing writes once the caller lets go of the table.
        An index that could not be built here is built again by `publish`, which then fails: rows
        that cannot take a unique index fail their checks, and a table whose checks failed is
        never published."""
        if not indexed:
            yield
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"index-{name}") as pool:  # its exit waits
            pool.submit(self._add_indexes, STAGING_PREFIX + name, name, indexed, unique)
            yield

    def _add_indexes(self, table: str, named_for: str, columns: Sequence[str], unique: Sequence[str]) -> None:
        """Indexes `table` on those of `columns` it has no index on yet, in one transaction. On
        PostgreSQL it also gathers the table's statistics: a table fresh from COPY has none until
        autovacuum comes by, and the planner then guesses a million matches for any `IN` list and
        scans the table instead of using the index (the next steps' identifier checks asked 10 M
        events for their released values in 0.45 s instead of 0.3 ms; ANALYZE takes 0.2 s)."""
        with self.begin() as connection:
            self._index_missing(connection, table, named_for, columns, unique)
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text(f"ANALYZE {_quote(connection.engine, table)}"))

    def _index_missing(self, connection: sa.Connection, table: str, named_for: str, columns: Sequence[str], unique: Sequence[str]) -> None:
        existing = sa.inspect(connection).get_indexes(table)
        for column in columns:
            wanted_unique = column in unique
            if not any(index["column_names"] == [column] and (index["unique"] or not wanted_unique) for index in existing):
                index = _quote(connection.engine, _index_name(named_for, column))
                kind = "UNIQUE INDEX" if wanted_unique else "INDEX"
                connection.execute(sa.text(f"CREATE {kind} {index} ON {_quote(connection.engine, table)} ({_quote(connection.engine, column)})"))

    def publish(self, name: str, indexed: Sequence[str] = (), unique: Sequence[str] = (), ledger: pd.DataFrame | None = None) -> None:
        """Atomically swaps the staging table of `name` into place, indexed on `indexed` (the
        columns erasure and retention look rows up by, so they do not scan the table), uniquely on
        those in `unique` (a feature table's pseudonym: the database then holds it to a row per
        subject): the indexes `indexing_staged` built come with it, and any missing are built in
        the same transaction. `ledger` rows (a cohort release's entries) are recorded in that
        transaction too, so the ledger never misses a publication nor holds one that failed."""
        engine = self.get_engine()
        staging = STAGING_PREFIX + name
        quoted_staging, quoted_name = _quote(engine, staging), _quote(engine, name)
        with self._begin_schema_change() as connection:
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {quoted_name}"))
            connection.execute(sa.text(f"ALTER TABLE {quoted_staging} RENAME TO {quoted_name}"))
            self._index_missing(connection, name, name, indexed, unique)
            if ledger is not None:
                _record_in_ledger(connection, ledger)

    def ledger(self, release: str, partition_key: str | None = None, last: int | None = None) -> pd.DataFrame:
        """The ledger's rows of one release, oldest publication first: of every partition (a
        daily release's days are one history to an attacker who keeps them all), or of one
        `partition_key`. With `last`, only the latest `last` publications' (a release reads its last
        one and a window before it, its neighbours' last one, not the whole ledger: a release of
        3,600 entries keeps 108,000 rows over 30 publications)."""
        if not self.has_table(LEDGER_TABLE):
            return pd.DataFrame(columns=LEDGER_COLUMNS)
        table = _ledger_table(sa.MetaData())
        mine = table.c.release == release
        if partition_key is not None:
            mine &= table.c.partition_key == partition_key
        query = sa.select(table).where(mine)
        if last is not None:
            latest = (
                sa.select(table.c.publication).where(mine).group_by(table.c.publication)
                .order_by(sa.func.max(table.c.published_at).desc(), sa.func.max(table.c.id).desc()).limit(last)
            )
            query = query.where(table.c.publication.in_(latest))
        with self.get_engine().connect() as connection:
            frame = pd.read_sql(query.order_by(table.c.published_at, table.c.id), connection)
        return frame[LEDGER_COLUMNS]

    def publications(self, release: str, partition_key: str | None = None) -> int:
        """How many publications of the release (of every partition, or of one) the ledger keeps."""
        if not self.has_table(LEDGER_TABLE):
            return 0
        table = _ledger_table(sa.MetaData())
        mine = table.c.release == release
        if partition_key is not None:
            mine &= table.c.partition_key == partition_key
        query = sa.select(sa.func.count(sa.distinct(table.c.publication))).where(mine)
        with self.get_engine().connect() as connection:
            return int(connection.execute(query).scalar_one())

    def publish_days(
        self,
        name: str,
        clock: str,
        start: datetime,
        end: datetime,
        indexed: Sequence[str] = (),
        unique: Sequence[str] = (),
        ledger: pd.DataFrame | None = None,
    ) -> int:
        """Replaces only the rows of `name` whose `clock` is in [start, end) with the staged rows,
        in one transaction (a partition's publication); the first publication is a whole swap.
        `ledger` rows (a partitioned cohort release's entries) are recorded in that transaction.
        Returns the rows the table then holds."""
        engine = self.get_engine()
        staging = STAGING_PREFIX + name
        try:
            published = [c["name"] for c in sa.inspect(engine).get_columns(name)]
        except sa.exc.NoSuchTableError:
            self.publish(name, indexed, unique, ledger=ledger)
            return self.row_count(name)
        staged = [c["name"] for c in sa.inspect(engine).get_columns(staging)]
        if sorted(staged) != sorted(published):
            raise ValueError(
                f"'{name}' now has columns {staged} but its published days have {published}: "
                "re-materialise every partition (a backfill of the whole range) to change its columns"
            )
        target = sa.table(name, *(sa.column(c, sa.DateTime()) if c == clock else sa.column(c) for c in published))
        source = sa.table(staging, *(sa.column(c) for c in published))
        with self._begin_schema_change() as connection:
            connection.execute(target.delete().where(target.c[clock] >= start, target.c[clock] < end))
            connection.execute(target.insert().from_select(published, sa.select(*(source.c[c] for c in published))))
            connection.execute(sa.text(f"DROP TABLE {_quote(engine, staging)}"))
            if ledger is not None:
                _record_in_ledger(connection, ledger)
        return self.row_count(name)

    def row_count(self, name: str) -> int:
        with self.get_engine().connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one())

    def quarantine(self, name: str, frame: pd.DataFrame | None, days: str | None = None, now: datetime | None = None) -> str:
        """Keeps the rows a run could not process, with their reason and when they were set aside
        (`QUARANTINED_AT`, which their retention counts from), for someone to fix. The quarantine
        holds the latest run's rows: a run with none empties it. A partition's run replaces only
        the rows an earlier run of the same `days` left."""
        table = QUARANTINE_PREFIX + name
        stamp = pd.Timestamp(now or datetime.now(UTC).replace(tzinfo=None))
        frames = [] if frame is None or not len(frame) else [frame.assign(**{QUARANTINED_AT: stamp})]
        with self.exclusive(table):
            if days is not None:
                frames = [f.assign(**{LOADED_DAYS_COLUMN: days}) for f in frames]
                if self.has_table(table):
                    earlier = self.read_table(table)
                    if LOADED_DAYS_COLUMN in earlier:
                        earlier = earlier.loc[earlier[LOADED_DAYS_COLUMN].astype("string") != days]
                    if len(earlier):
                        frames.insert(0, earlier.astype({c: "string" for c in earlier.columns if c != QUARANTINED_AT}))
            if frames:
                together = pd.concat(frames, ignore_index=True)
                if QUARANTINED_AT in together:
                    together[QUARANTINED_AT] = pd.to_datetime(together[QUARANTINED_AT])
                self.replace_table(table, together)
            else:
                self.drop_table(table)
        return table

    def drop_table(self, name: str) -> bool:
        """Drops `name` if it exists (a blocked publication's staging copy); says whether it did."""
        if not self.has_table(name):
            return False
        with self._begin_schema_change() as connection:
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {_quote(self.get_engine(), name)}"))
        return True








LEDGER_KEPT = 30  # publications per release, of all its partitions together; older ones are deleted as a new one is recorded


def _ledger_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        LEDGER_TABLE,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("release", sa.String(200), nullable=False, index=True),
        sa.Column("partition_key", sa.String(200), nullable=False),
        sa.Column("publication", sa.String(64), nullable=False),
        sa.Column("published_at", sa.DateTime, nullable=False),
        sa.Column("grouped_by", sa.Text, nullable=False),
        sa.Column("entry", sa.Text, nullable=False),
        sa.Column("subjects", sa.BigInteger, nullable=False),
        sa.Column("shown", sa.Boolean, nullable=False),
        sa.Column("carried", sa.Boolean, nullable=False),
        sa.Column("measures", sa.Text),
        sa.Column("register_version", sa.String(64), nullable=False),
        sa.Column("code_version", sa.String(64), nullable=False),
    )


def _record_in_ledger(connection: sa.Connection, rows: pd.DataFrame) -> None:
    """Appends a publication's entries, and keeps the release's last `LEDGER_KEPT` publications,
    whatever day each was of: the audit reads only the latest, so a daily release keeps 30
    publications however many days it has, not 30 a day.
    Two releases published at once by parallel steps would both create the missing ledger table
    (PostgreSQL refuses the second): the lock `ensure_tables` takes serialises them until commit."""
    table = _ledger_table(sa.MetaData())
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('compliance_assets.ensure_tables'))"))
    table.create(connection, checkfirst=True)
    if not len(rows):
        return
    records = rows[LEDGER_COLUMNS].astype(object).where(rows[LEDGER_COLUMNS].notna(), None).to_dict("records")
    for record in records:
        record["published_at"] = pd.Timestamp(record["published_at"]).to_pydatetime()
    connection.execute(table.insert(), records)
    mine = table.c.release == records[0]["release"]
    recent = sa.select(table.c.publication).where(mine).group_by(table.c.publication).order_by(sa.func.max(table.c.published_at).desc()).limit(LEDGER_KEPT)
    kept = [row[0] for row in connection.execute(recent)]
    connection.execute(table.delete().where(mine, table.c.publication.not_in(kept)))


def _index_name(table: str, column: str) -> str:
    """Unique per build, within PostgreSQL's 63-character limit. An index keeps its name when its
    staging table is renamed into place (SQLite cannot rename an index), so each build's name is
    new: the next staging table's indexes are built while the published table still holds these.
    The suffix makes it unique, so a long name is cut, and stays readable."""
    return f"ix__{table}__{column}"[:53] + f"__{uuid.uuid4().hex[:8]}"


def _quote(engine: sa.Engine, name: str) -> str:
    return engine.dialect.identifier_preparer.quote(name)
