"""Finding a data subject everywhere the register says it can be: its raw source (by the
normalised identifier and scope), every raw source that refers to it, its pseudonym per domain and
live key version in the pseudonymised tier and the vault, and the staging and quarantine copies of
each. Erasure and access both start from this plan.

The plan is plain data (join keys and pseudonyms), persisted sealed with the request before
anything is changed, so a run killed half-way resumes with the same plan even though the rows it
was found in may be gone."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from compliance_assets.tiers import Tier, table_name
from compliance_assets.privacy.normalise import normalise
from compliance_assets.privacy.pseudonymise import pseudonymise, scoped
from compliance_assets.register import Register
from compliance_assets.resources.keys import PseudonymisationKeyResource
from compliance_assets.storage.warehouse import Warehouse, QUARANTINE_PREFIX, STAGING_PREFIX


@dataclass(frozen=True)
class Location:
    """Where a subject's rows are: `table` rows whose `column` is one of `values` (and `also`)."""

    table: str
    column: str
    values: list[str]
    also: dict[str, str]
    source: str  # the register entry the table belongs to
    emptied: tuple[str, ...] = ()  # anonymise these columns instead of deleting the rows


class ScopeCache:
    """A raw source's rows of one scope with their identifiers normalised, read once for all the
    requests a run serves (a backlog names the same few scopes again and again)."""

    def __init__(self) -> None:
        self._frames: dict[tuple[str, str | None], tuple[pd.DataFrame, pd.Series]] = {}

    def rows(self, key: tuple[str, str | None], read) -> tuple[pd.DataFrame, pd.Series]:
        if key not in self._frames:
            self._frames[key] = read()
        return self._frames[key]


def locate_subject(
    register: Register,
    warehouse: Warehouse,
    keys: PseudonymisationKeyResource,
    source_name: str,
    identifier: str,
    scope: str | None,
    cache: ScopeCache | None = None,
) -> dict:
    """What identifies the subject in each table: the stored spellings of its identifier, the
    values other sources refer to it by, and its pseudonym per domain and live key version.
    With a `cache`, rows deleted since their scope was read may be found again: erasing them
    twice changes nothing."""
    if source_name not in register.sources:
        raise LookupError(f"no source '{source_name}' in the register")
    source = register.sources[source_name]
    subject = source.subject
    if subject is None:
        raise ValueError(f"source '{source_name}' has no subject identifier in the register, so it cannot be searched")
    wanted = normalise(pd.Series([identifier]), subject.kind, subject.default_region).iloc[0]
    if pd.isna(wanted) or wanted == "":
        raise ValueError(f"the identifier given is not a valid {subject.kind}")
    referenced = sorted(set(_referrers(register, source_name).values()))
    columns = list(dict.fromkeys([subject.column, *([subject.scope] if subject.scope else []), *referenced]))
    raw = table_name(Tier.RAW, source_name)

    def read() -> tuple[pd.DataFrame, pd.Series]:
        if not warehouse.has_table(raw):
            found = pd.DataFrame(columns=columns)
        elif subject.scope:  # exact, so a safe narrowing before normalising in Python (indexed)
            found = warehouse.select_where(raw, subject.scope, [scope], columns=columns).reindex(columns=columns)
        else:
            found = warehouse.read_table(raw, columns)
        return found, normalise(found[subject.column], subject.kind, subject.default_region)

    found, normalised = (cache or ScopeCache()).rows((source_name, scope), read)
    match = normalised == wanted
    if subject.scope:
        match &= found[subject.scope].astype("string") == scope
    rows = found.loc[match.fillna(False)]
    scoped_identifier = scoped(pd.Series([wanted], dtype="string"), pd.Series([scope], dtype="string") if subject.scope else None)
    pseudonyms: dict[str, dict[str, str]] = {}
    for feature_set_name, feature_set in register.feature_sets.items():
        if feature_set.subject_source != source_name:
            continue
        domain = register.domain_of(feature_set_name)
        for version in keys.vault.key_versions():
            if version.salt is not None and version.master_fingerprint == keys.fingerprint:
                key = keys.key_for(domain, version)
                pseudonyms.setdefault(domain, {})[str(version.version)] = pseudonymise(scoped_identifier, key).iloc[0]
    return {
        "source": source_name,
        "scope": scope,
        "spellings": sorted(rows[subject.column].dropna().astype(str).unique().tolist()),
        "references": {c: sorted(rows[c].dropna().astype(str).unique().tolist()) for c in referenced},
        "pseudonyms": pseudonyms,
        "subject_rows": int(len(rows)),
    }


def locations(register: Register, plan: dict, honour_exceptions: bool = True) -> tuple[list[Location], list[dict]]:
    """Every place the plan finds the subject, leaves first (the order erasure deletes in), and
    the sources an erasure keeps under the register's exceptions."""
    source_name = plan["source"]
    subject = register.sources[source_name].subject
    out: list[Location] = []
    kept: list[dict] = []
    for feature_set_name, feature_set in register.feature_sets.items():
        if feature_set.subject_source != source_name:
            continue
        values = sorted(plan["pseudonyms"].get(register.domain_of(feature_set_name), {}).values())
        table = table_name(Tier.PSEUDONYMISED, feature_set_name)
        out += [Location(t, feature_set.subject_key, values, {}, feature_set_name) for t in (table, STAGING_PREFIX + table)]
        for column, values in plan["references"].items():
            out.append(Location(QUARANTINE_PREFIX + feature_set_name, column, values, {}, feature_set_name))
    for name, column in _referrers(register, source_name).items():
        source = register.sources[name]
        if source.erasure.action == "keep" and honour_exceptions:
            kept.append({"source": name, "reason": source.erasure.reason})
            continue
        values = plan["references"][column]
        table = table_name(Tier.RAW, name)
        emptied = tuple(source.erasure.columns) if source.erasure.action == "anonymise" and honour_exceptions else ()
        out += [Location(t, column, values, {}, name, emptied) for t in (table, STAGING_PREFIX + table)]
        out.append(Location(QUARANTINE_PREFIX + name, column, values, {}, name))
    also = {subject.scope: plan["scope"]} if subject.scope else {}
    table = table_name(Tier.RAW, source_name)
    for t in (STAGING_PREFIX + table, QUARANTINE_PREFIX + source_name, table):
        out.append(Location(t, subject.column, plan["spellings"], also, source_name))
    return out, kept


def _referrers(register: Register, source_name: str) -> dict[str, str]:
    """Sources that refer to `source_name`'s subjects, with the column holding the reference
    (named like the column it refers to)."""
    out = {}
    for name, source in register.sources.items():
        if not source.subject_reference:
            continue
        target, column = source.subject_reference.split(".")
        if target != source_name:
            continue
        if column not in source.columns:
            raise ValueError(f"source '{name}' refers to {source.subject_reference} but has no column '{column}'")
        out[name] = column
    return out


def plan_pseudonyms(plan: dict) -> list[str]:
    """Every pseudonym of the subject, over all domains and key versions, in the plan's order."""
    return [p for versions in plan["pseudonyms"].values() for p in versions.values()]
