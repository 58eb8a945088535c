"""DPIA decisions and reviews in the warehouse: which fingerprint a DPO approved, and which changes
wait for a review. The blocking `dpia_approved` check reads the open reviews; the sensor opens and
(when a change is reverted) closes them; the approval job records decisions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from pydantic import Field

from compliance_assets.resources.tables import OwnTablesResource

from compliance_assets.dpia.approvals import Decision
from compliance_assets.dpia.fingerprint import Fingerprint

REVIEW_REQUIRED = "review_required"
REJECTED = "rejected"
BLOCKING = (REVIEW_REQUIRED, REJECTED)
APPROVE, REJECT = "approve", "reject"

_metadata = sa.MetaData()
decisions = sa.Table(
    "dpia__decisions",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("activity", sa.String(64), nullable=False, index=True),
    sa.Column("identity", sa.String(24), nullable=False),
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("approver", sa.String(256), nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("decided_at", sa.DateTime, nullable=False),
)
reviews = sa.Table(
    "dpia__reviews",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("activity", sa.String(64), nullable=False),
    sa.Column("identity", sa.String(24), nullable=False),
    sa.Column("status", sa.String(24), nullable=False),  # review_required | rejected | approved | reverted | superseded
    sa.Column("changes", sa.Text, nullable=False),  # JSON list of {kind, text}
    sa.Column("opened_at", sa.DateTime, nullable=False),
    sa.Column("closed_at", sa.DateTime, nullable=True),
    sa.Column("closed_by", sa.String(256), nullable=True),
    sa.UniqueConstraint("activity", "identity", name="uq_dpia_review_state"),
)


@dataclass(frozen=True)
class Review:
    review_id: int
    activity: str
    identity: str
    status: str
    changes: list[dict]
    opened_at: datetime
    closed_by: str | None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class DpiaReviewsResource(OwnTablesResource):
    url: str = Field(description="SQLAlchemy URL of the database holding DPIA decisions and reviews (the warehouse)")

    def table_metadata(self) -> sa.MetaData:
        return _metadata

    def latest_approval(self, activity: str) -> Decision | None:
        query = (
            sa.select(decisions)
            .where(decisions.c.activity == activity, decisions.c.decision == APPROVE)
            .order_by(decisions.c.id.desc())
            .limit(1)
        )
        with self.get_engine().connect() as connection:
            row = connection.execute(query).mappings().first()
        if row is None:
            return None
        return Decision(activity, Fingerprint.from_json(json.loads(row["fingerprint"])), row["decision"], row["approver"], row["comment"], row["decided_at"])

    def decide(self, fingerprint: Fingerprint, decision: str, approver: str, comment: str) -> int:
        """Records a DPO decision on the current state; approving pins it and closes its reviews,
        rejecting keeps them blocking. Returns how many reviews it closed or marked."""
        if decision not in (APPROVE, REJECT):
            raise ValueError(f"decision must be '{APPROVE}' or '{REJECT}', not '{decision}'")
        now = _now()
        with self.get_engine().begin() as connection:
            connection.execute(
                decisions.insert().values(
                    activity=fingerprint.activity, identity=fingerprint.identity, fingerprint=json.dumps(fingerprint.to_json(), sort_keys=True),
                    decision=decision, approver=approver, comment=comment, decided_at=now,
                )
            )
            open_ = sa.and_(reviews.c.activity == fingerprint.activity, reviews.c.status.in_(BLOCKING))
            if decision == APPROVE:
                values = {"status": "approved", "closed_at": now, "closed_by": approver}
            else:
                values = {"status": REJECTED, "closed_by": approver}
            return connection.execute(reviews.update().where(open_).values(**values)).rowcount

    def open_review(self, activity: str, identity: str, changes: list[dict]) -> tuple[int, bool]:
        """One review per state: returns (review id, whether this call opened it). Older open
        reviews of the activity are superseded, since the new state's diff includes theirs."""
        now = _now()
        with self.get_engine().begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('dpia__reviews'))"))
            connection.execute(
                reviews.update()
                .where(reviews.c.activity == activity, reviews.c.identity != identity, reviews.c.status.in_(BLOCKING))
                .values(status="superseded", closed_at=now)
            )
            row = connection.execute(sa.select(reviews).where(reviews.c.activity == activity, reviews.c.identity == identity)).mappings().first()
            if row is not None:
                if row["status"] in BLOCKING:
                    return row["id"], False
                connection.execute(
                    reviews.update().where(reviews.c.id == row["id"]).values(status=REVIEW_REQUIRED, changes=json.dumps(changes), opened_at=now, closed_at=None, closed_by=None)
                )
                return row["id"], True
            result = connection.execute(
                reviews.insert().values(activity=activity, identity=identity, status=REVIEW_REQUIRED, changes=json.dumps(changes), opened_at=now)
            )
            return int(result.inserted_primary_key[0]), True

    def close_reverted(self, activity: str, actor: str) -> int:
        """The deployed state is back to the approved one: its open reviews have nothing left to review."""
        with self.get_engine().begin() as connection:
            return connection.execute(
                reviews.update()
                .where(reviews.c.activity == activity, reviews.c.status == REVIEW_REQUIRED)
                .values(status="reverted", closed_at=_now(), closed_by=actor)
            ).rowcount

    def reviews(self, activity: str | None = None, statuses: tuple[str, ...] | None = None) -> list[Review]:
        query = sa.select(reviews).order_by(reviews.c.id)
        if activity is not None:
            query = query.where(reviews.c.activity == activity)
        if statuses is not None:
            query = query.where(reviews.c.status.in_(statuses))
        with self.get_engine().connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [
            Review(r["id"], r["activity"], r["identity"], r["status"], json.loads(r["changes"]), r["opened_at"], r["closed_by"])
            for r in rows
        ]

    def blocking(self, activity: str) -> list[Review]:
        return self.reviews(activity, BLOCKING)
