"""The audit trail in the warehouse: append-only, hash-chained. Subjects appear by pseudonym only."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa
from pydantic import Field

from compliance_assets.resources.tables import OwnTablesResource

from compliance_assets.audit.chain import GENESIS, ChainBreak, chain_hash, first_break

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
    sa.Column("hash", sa.String(64), nullable=False),
)


class AuditTrailResource(OwnTablesResource):
    url: str = Field(description="SQLAlchemy URL of the database holding the audit trail (the warehouse)")

    def table_metadata(self) -> sa.MetaData:
        return _metadata

    def append(self, event_type: str, actor: str, subject: str | None = None, details: dict | None = None) -> int:
        """Adds one record and returns its sequence number. Concurrent writers are serialised."""
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
                    connection.execute(audit_trail.insert().values(**record, prev_hash=previous, hash=chain_hash(previous, record)))
                    return seq
            except sa.exc.IntegrityError:
                continue
        raise RuntimeError("could not append to the audit trail: too many concurrent writers")

    def records(self) -> pd.DataFrame:
        with self.get_engine().connect() as connection:
            return pd.read_sql(sa.select(audit_trail).order_by(audit_trail.c.seq), connection)

    def verify(self) -> ChainBreak | None:
        with self.get_engine().connect() as connection:
            rows = connection.execute(sa.select(audit_trail).order_by(audit_trail.c.seq)).mappings()
            return first_break(rows)
