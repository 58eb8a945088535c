"""The audit trail in the warehouse: append-only, chained with a MAC under a key the warehouse does
not hold, its head checkpointed in Dagster's event log. Subjects appear by pseudonym only."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa
from dagster import DagsterInstance
from pydantic import Field, PrivateAttr

from compliance_assets.resources.keys import AuditKeyResource
from compliance_assets.resources.tables import OwnTablesResource

from compliance_assets.audit.anchor import checkpoint, checkpoints
from compliance_assets.audit.chain import GENESIS, KEYED, ChainBreak, Head, Verification, chain_mac, verify_chain

AUDIT_TABLE = "audit__trail"
_metadata = sa.MetaData()
audit_trail = sa.Table(
    AUDIT_TABLE,
    _metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("subject", sa.String(128), nullable=True),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),  # the record's MAC from chain version 2 on
    sa.Column("chain_version", sa.SmallInteger, nullable=True),  # NULL: version 1, written before the column
)


def _add_chain_version(engine: sa.Engine) -> None:
    """Adds the chain version column to a trail created before it; its rows stay version 1."""
    for _ in range(2):
        if "chain_version" in {c["name"] for c in sa.inspect(engine).get_columns(AUDIT_TABLE)}:
            return
        try:
            with engine.begin() as connection:
                connection.execute(sa.text(f"ALTER TABLE {AUDIT_TABLE} ADD COLUMN chain_version SMALLINT"))
            return
        except (sa.exc.OperationalError, sa.exc.ProgrammingError):
            continue  # a parallel step added it first


class AuditTrailResource(OwnTablesResource):
    url: str = Field(description="SQLAlchemy URL of the database holding the audit trail (the warehouse)")
    audit_key: AuditKeyResource = Field(description="Holds the MAC key; the warehouse never sees it")
    _keyed_from: int | None = PrivateAttr(default=None)

    def table_metadata(self) -> sa.MetaData:
        return _metadata

    def get_engine(self) -> sa.Engine:
        if self._engine is None:
            engine = super().get_engine()
            _add_chain_version(engine)
        return self._engine

    def _instance(self) -> DagsterInstance | None:
        """The instance this resource runs under, when it keeps what it is given (not ephemeral)."""
        try:
            instance = self.get_resource_context().instance
        except Exception:  # noqa: BLE001 - not initialised by Dagster (a plain object in a tool or a test): no instance to checkpoint in
            instance = None
        return None if instance is None or instance.is_ephemeral else instance

    def append(self, event_type: str, actor: str, subject: str | None = None, details: dict | None = None) -> int:
        """Adds one record and returns its sequence number; concurrent writers are serialised. The
        new head is then checkpointed in the Dagster instance the resource runs under, if any."""
        key = self.audit_key.key()
        engine = self.get_engine()
        for _ in range(20):
            try:
                with engine.begin() as connection:
                    if engine.dialect.name == "postgresql":
                        connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('audit__trail'))"))
                    last = connection.execute(
                        sa.select(audit_trail.c.seq, audit_trail.c.hash).order_by(audit_trail.c.seq.desc()).limit(1)
                    ).first()
                    seq, previous = (last.seq + 1, last.hash) if last else (1, GENESIS)
                    record = {
                        "seq": seq,
                        "at": datetime.now(UTC).isoformat(),
                        "event_type": event_type,
                        "actor": actor,
                        "subject": subject,
                        "details": json.dumps(details or {}, sort_keys=True, default=str),
                    }
                    mac = chain_mac(key, previous, record)
                    connection.execute(audit_trail.insert().values(**record, prev_hash=previous, hash=mac, chain_version=KEYED))
                    keyed_from = self._first_keyed(connection)
                break
            except sa.exc.IntegrityError:
                continue
        else:
            raise RuntimeError("could not append to the audit trail: too many concurrent writers")
        instance = self._instance()
        if instance is not None:
            checkpoint(instance, Head(seq, mac, keyed_from))
        return seq

    def _first_keyed(self, connection: sa.Connection) -> int | None:
        """Where keying began: read once, since it never moves once a keyed record exists."""
        if self._keyed_from is None:
            self._keyed_from = connection.execute(sa.select(sa.func.min(audit_trail.c.seq)).where(audit_trail.c.chain_version == KEYED)).scalar()
        return self._keyed_from

    def records(self) -> pd.DataFrame:
        with self.get_engine().connect() as connection:
            return pd.read_sql(sa.select(audit_trail).order_by(audit_trail.c.seq), connection)

    def verification(self, instance: DagsterInstance | None = None) -> Verification:
        """The chain checked under the key, and against every head checkpointed in `instance`
        (by default the one this resource runs under)."""
        instance = instance or self._instance()
        heads = checkpoints(instance) if instance is not None else []
        with self.get_engine().connect() as connection:
            rows = connection.execute(sa.select(audit_trail).order_by(audit_trail.c.seq)).mappings()
            return verify_chain(rows, self.audit_key.key(), heads)

    def verify(self, instance: DagsterInstance | None = None) -> ChainBreak | None:
        """The first record not to be trusted, or None."""
        return self.verification(instance).problem
