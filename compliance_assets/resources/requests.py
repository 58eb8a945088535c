"""Data-subject requests as data: one row per erasure, access or portability request, kept in the
vault's database beside the other material that can re-identify a person. The subject's
identifier, and the erasure plan derived from it, are sealed with the vault key; Dagster only ever
sees the request id."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from compliance_assets.resources.vault import PseudonymVaultResource
from compliance_assets.storage.engine import ensure_tables

KINDS = ("erasure", "access", "portability")
_metadata = sa.MetaData()
requests = sa.Table(
    "privacy_requests",
    _metadata,
    sa.Column("request_id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("scope", sa.String(256), nullable=True),
    sa.Column("nonce", sa.LargeBinary, nullable=False),
    sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    sa.Column("plan_nonce", sa.LargeBinary, nullable=True),
    sa.Column("plan_ciphertext", sa.LargeBinary, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # pending | queued | running | erased | done | failed
    sa.Column("run_key", sa.String(80), nullable=True),  # the run that serves it, once queued
    sa.Column("outcome", sa.Text, nullable=True),  # JSON, no identifiers
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False),
    sa.Index("ix_privacy_requests_status", "status"),
)


@dataclass(frozen=True)
class PrivacyRequest:
    request_id: str
    kind: str
    source: str
    scope: str | None
    identifier: str
    status: str
    plan: dict | None
    outcome: dict | None


def run_key_for(request_ids: list[str]) -> str:
    """A lone request's run key is its id; a batch's names its first and last request."""
    return request_ids[0] if len(request_ids) == 1 else f"{request_ids[0]}..{request_ids[-1]}"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class PrivacyRequests:
    """The request table, through the vault resource (its engine and its sealing key)."""

    def __init__(self, vault: PseudonymVaultResource):
        self._vault = vault
        self._engine = vault.get_engine()
        ensure_tables(self._engine, _metadata)

    def submit(self, kind: str, source: str, identifier: str, scope: str | None) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown request kind '{kind}'; one of {', '.join(KINDS)}")
        if not identifier.strip():
            raise ValueError("a request needs the subject's identifier")
        request_id = str(uuid.uuid4())
        nonce, ciphertext = self._vault.seal_text(identifier, f"request|{request_id}")
        now = _now()
        with self._engine.begin() as connection:
            connection.execute(
                requests.insert().values(
                    request_id=request_id, kind=kind, source=source, scope=scope, nonce=nonce, ciphertext=ciphertext,
                    status="pending", created_at=now, changed_at=now,
                )
            )
        return request_id

    def with_status(self, *statuses: str) -> list[str]:
        with self._engine.connect() as connection:
            query = sa.select(requests.c.request_id).where(requests.c.status.in_(statuses)).order_by(requests.c.created_at)
            return list(connection.execute(query).scalars())

    def queue_pending(self, per_run: int) -> dict[str, list[str]]:
        """Gives every pending request a run, at most `per_run` requests to a run in the order they
        were filed, and returns every queued run's requests by run key. The keys are stored with the
        requests in the same transaction, so a tick that dies before Dagster launched its runs is
        repaired by the next one (which asks for the same keys again: Dagster launches each key once)."""
        with self._engine.begin() as connection:
            pending = list(connection.execute(
                sa.select(requests.c.request_id).where(requests.c.status == "pending").order_by(requests.c.created_at, requests.c.request_id)
            ).scalars())
            for start in range(0, len(pending), per_run):
                batch = pending[start : start + per_run]
                key = run_key_for(batch)
                connection.execute(
                    requests.update().where(requests.c.request_id.in_(batch)).values(status="queued", run_key=key, changed_at=_now())
                )
            queued = connection.execute(
                sa.select(requests.c.run_key, requests.c.request_id).where(requests.c.status == "queued").order_by(requests.c.created_at, requests.c.request_id)
            ).all()
        runs: dict[str, list[str]] = {}
        for key, request_id in queued:
            runs.setdefault(key, []).append(request_id)
        return runs

    def get(self, request_id: str) -> PrivacyRequest:
        with self._engine.connect() as connection:
            row = connection.execute(sa.select(requests).where(requests.c.request_id == request_id)).mappings().first()
        if row is None:
            raise LookupError(f"no privacy request '{request_id}'")
        plan = None
        if row["plan_ciphertext"] is not None:
            plan = json.loads(self._vault.open_text(row["plan_nonce"], row["plan_ciphertext"], f"plan|{request_id}"))
        return PrivacyRequest(
            request_id=request_id,
            kind=row["kind"],
            source=row["source"],
            scope=row["scope"],
            identifier=self._vault.open_text(row["nonce"], row["ciphertext"], f"request|{request_id}"),
            status=row["status"],
            plan=plan,
            outcome=json.loads(row["outcome"]) if row["outcome"] else None,
        )

    def save_plan(self, request_id: str, plan: dict) -> None:
        """Persisted before anything is deleted: a resumed run needs the join keys the first run
        found, because the rows it found them in may be gone."""
        nonce, ciphertext = self._vault.seal_text(json.dumps(plan), f"plan|{request_id}")
        self._update(request_id, plan_nonce=nonce, plan_ciphertext=ciphertext, status="running")

    def finish(self, request_id: str, status: str, outcome: dict) -> None:
        self._update(request_id, status=status, outcome=json.dumps(outcome, sort_keys=True))

    def _update(self, request_id: str, **values) -> None:
        with self._engine.begin() as connection:
            connection.execute(requests.update().where(requests.c.request_id == request_id).values(changed_at=_now(), **values))
