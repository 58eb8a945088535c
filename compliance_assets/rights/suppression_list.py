"""The suppression list: the subjects erased, so that the next import of a source export does not
bring them back (Art. 17). An entry is a keyed hash of a normalised identifier in its list scope
(the source, and the client workspace where the register scopes subjects; or the column other
sources refer to the subject by), never the identifier. It is kept for as long as the source may
still deliver the subject, so it has no retention clock of its own.

The key is derived from the master secret under its own HKDF label and not from a key version,
so rotating pseudonym keys leaves the list intact. A changed master secret or normalisation
would leave entries that cannot be recognised: ingestion then refuses to run rather than let an
erased subject back in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from compliance_assets.privacy.normalise import NORMALISATION_VERSION, missing_mask, normalise
from compliance_assets.privacy.pseudonymise import pseudonymise, scoped
from compliance_assets.register import Register
from compliance_assets.resources.keys import PseudonymisationKeyResource
from compliance_assets.storage.engine import ensure_tables

AS_IS = "customer_id"  # the identifier kind of ids we issue ourselves: cleaned, compared exactly


@dataclass(frozen=True)
class Listing:
    """How a raw source's rows meet one list: `column` normalised as `kind`, scoped by `scope`."""

    list_scope: str
    column: str
    kind: str
    default_region: str | None = None
    scope: str | None = None


def _reference_listing(register: Register, reference: str) -> Listing:
    """The list of a referenced column ('customers.customer_id'): normalised as the subject's
    identifier when it is that column, else as an id we issue (cleaned, compared exactly)."""
    target, column = reference.split(".")
    subject = register.sources[target].subject
    if subject is not None and subject.column == column:
        return Listing(reference, column, subject.kind, subject.default_region)
    return Listing(reference, column, AS_IS)


def listings(register: Register, source_name: str) -> list[Listing]:
    """The lists a raw source's rows are checked against: its subject's, those of its columns
    other sources refer to, and the one its own reference points at. None when the register
    keeps the source under an Art. 17(3) exception."""
    source = register.sources[source_name]
    if source.erasure.action == "keep":
        return []
    out: list[Listing] = []
    if source.subject is not None:
        subject = source.subject
        out.append(Listing(source_name, subject.column, subject.kind, subject.default_region, subject.scope))
    referenced = {other.subject_reference for other in register.sources.values() if other.subject_reference}
    out += [_reference_listing(register, reference) for reference in sorted(referenced) if reference.split(".")[0] == source_name]
    if source.subject_reference:
        out.append(_reference_listing(register, source.subject_reference))
    return list({listing.list_scope: listing for listing in out}.values())


def digests(values: pd.Series, scopes: pd.Series | None, kind: str, default_region: str | None, key: bytes) -> pd.Series:
    """Each value's entry, aligned with `values`; missing where the value names no subject."""
    normalised = normalise(values.astype("string"), kind, default_region)
    named = ~missing_mask(normalised)
    out = pd.Series(pd.NA, index=values.index, dtype="string")
    if named.any():
        scope = scopes.astype("string").fillna("")[named] if scopes is not None else None
        out[named] = pseudonymise(scoped(normalised[named], scope), key).to_numpy()
    return out


def erased_values(register: Register, plan: dict, identifier: str) -> dict[str, tuple[Listing, pd.Series, pd.Series | None]]:
    """What an erasure lists, per list scope: the identifier as requested and as stored, in the
    subject's scope, and every value other sources refer to the subject by."""
    source_name = plan["source"]
    subject = register.sources[source_name].subject
    out: dict[str, tuple[Listing, pd.Series, pd.Series | None]] = {}
    if subject is not None:
        spellings = pd.Series([identifier, *plan["spellings"]], dtype="string")
        scopes = pd.Series([plan["scope"]] * len(spellings), dtype="string") if subject.scope else None
        out[source_name] = (Listing(source_name, subject.column, subject.kind, subject.default_region, subject.scope), spellings, scopes)
    for column, values in plan["references"].items():
        listing = _reference_listing(register, f"{source_name}.{column}")
        out[listing.list_scope] = (listing, pd.Series(values, dtype="string"), None)
    return out


_metadata = sa.MetaData()
entries = sa.Table(
    "erasure_suppression",
    _metadata,
    sa.Column("list_scope", sa.String(160), primary_key=True),
    sa.Column("digest", sa.String(32), primary_key=True),
    sa.Column("request_id", sa.String(36), nullable=False),  # the erasure that listed it
    sa.Column("master_fingerprint", sa.String(32), nullable=False),
    sa.Column("normalisation", sa.Integer, nullable=False),
    sa.Column("listed_at", sa.DateTime, nullable=False),
)


@dataclass(frozen=True)
class Listed:
    """One list scope's entries: digest → the erasure that listed it, and how many entries were
    keyed under another master secret or normalisation than the current ones."""

    erasures: dict[str, str]
    unrecognisable: int


class UnrecognisableEntries(RuntimeError):
    """The list holds entries keyed under another master secret or normalisation than this run's."""


class SuppressionList:
    """The list's table, in the vault's database beside the other material about erased subjects."""

    def __init__(self, engine: sa.Engine):
        self._engine = engine
        ensure_tables(engine, _metadata)

    def add(self, list_scope: str, listed: Iterable[str], request_id: str, fingerprint: str, normalisation: int) -> int:
        """Lists these digests; one already listed keeps its first erasure. Returns how many are new."""
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = [
            {"list_scope": list_scope, "digest": digest, "request_id": request_id, "master_fingerprint": fingerprint, "normalisation": normalisation, "listed_at": now}
            for digest in sorted(set(listed))
        ]
        if not rows:
            return 0
        if self._engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        count = sa.select(sa.func.count()).select_from(entries).where(entries.c.list_scope == list_scope)
        with self._engine.begin() as connection:
            before = connection.execute(count).scalar_one()
            connection.execute(insert(entries).on_conflict_do_nothing(), rows)
            return int(connection.execute(count).scalar_one() - before)

    def listed(self, list_scope: str, fingerprint: str, normalisation: int) -> Listed:
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(entries.c.digest, entries.c.request_id, entries.c.master_fingerprint, entries.c.normalisation).where(entries.c.list_scope == list_scope)
            ).all()
        current = {row.digest: row.request_id for row in rows if (row.master_fingerprint, row.normalisation) == (fingerprint, normalisation)}
        return Listed(current, len(rows) - len(current))


class ErasedOnArrival:
    """Holds back the rows of erased subjects as frames arrive, before they are conformed, so
    neither the table, its staging copy nor its quarantine ever holds them. The lists are read
    once; an entry keyed under another master secret or normalisation cannot be recognised, so
    the run fails rather than let that subject back in."""

    def __init__(self, name: str, lists: list[Listing], keys: PseudonymisationKeyResource, emptied: tuple[str, ...] | list[str] = ()) -> None:
        self._name, self._emptied, self._keys = name, list(emptied), keys
        self._lists: list[tuple[Listing, dict[str, str], bytes]] | None = None if lists else []
        self._pending = lists
        self.rows = 0
        self._erasures: set[str] = set()

    @property
    def subjects(self) -> int:
        """Distinct erasures met: one person listed by several identifiers counts once."""
        return len(self._erasures)

    def _loaded(self) -> list[tuple[Listing, dict[str, str], bytes]]:
        if self._lists is None:
            store = SuppressionList(self._keys.vault.get_engine())
            fingerprint = self._keys.fingerprint
            self._lists = []
            for listing in self._pending:
                listed = store.listed(listing.list_scope, fingerprint, NORMALISATION_VERSION)
                if listed.unrecognisable:
                    raise UnrecognisableEntries(
                        f"{listed.unrecognisable} erased subject(s) on the '{listing.list_scope}' suppression list were listed under "
                        f"another master secret or normalisation, so '{self._name}' cannot tell whether they arrive again; nothing was ingested"
                    )
                if listed.erasures:
                    self._lists.append((listing, listed.erasures, self._keys.suppression_key(listing.list_scope)))
        return self._lists

    def withheld(self, arriving: pd.DataFrame) -> pd.DataFrame:
        """`arriving` without the listed subjects' rows, or with their identifying columns emptied."""
        hit = pd.Series(False, index=arriving.index)
        for listing, erasures, key in self._loaded():
            scopes = arriving[listing.scope] if listing.scope else None
            keyed = digests(arriving[listing.column], scopes, listing.kind, listing.default_region, key)
            found = keyed.isin(list(erasures)).fillna(False).astype(bool)
            self._erasures.update(erasures[d] for d in keyed[found].unique())
            hit |= found
        if not hit.any():
            return arriving
        self.rows += int(hit.sum())
        if self._emptied:
            arriving = arriving.astype({column: "object" for column in self._emptied})
            arriving.loc[hit, self._emptied] = None
            return arriving
        return arriving.loc[~hit].reset_index(drop=True)
