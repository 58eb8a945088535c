"""Erasure (Art. 17) walked from the register: find the subject in its raw source, derive its
pseudonyms in every domain and key version, then delete its rows everywhere they can be: the
pseudonymised tables, the vault, every raw source that refers to it, and the staging and
quarantine copies of each. Register exceptions (Art. 17(3)) are honoured and reported.

The plan (join keys and pseudonyms) is computed once and persisted before any delete, so a run
killed half-way resumes with the same plan even though the rows it was found in are gone. Each
table is deleted in its own transaction and deleting twice deletes nothing: the steps are
idempotent, and the subject source goes last."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from compliance_assets.factories.naming import Tier, table_name
from compliance_assets.privacy.normalise import normalise
from compliance_assets.privacy.pseudonymise import pseudonymise, scoped
from compliance_assets.register import Register
from resources.keys import PseudonymisationKeyResource
from resources.warehouse import QUARANTINE_PREFIX, STAGING_PREFIX, WarehouseResource


@dataclass(frozen=True)
class Deletion:
    table: str
    column: str
    values: list[str]
    also: dict[str, str]


def plan_erasure(
    register: Register,
    warehouse: WarehouseResource,
    keys: PseudonymisationKeyResource,
    source_name: str,
    identifier: str,
    scope: str | None,
) -> dict:
    """What identifies the subject in each table: the stored spellings of its identifier, the
    values other sources refer to it by, and its pseudonym per domain and live key version."""
    source = register.sources[source_name]
    subject = source.subject
    if subject is None:
        raise ValueError(f"source '{source_name}' has no subject identifier in the register, so it cannot be searched")
    wanted = normalise(pd.Series([identifier]), subject.kind, subject.default_region).iloc[0]
    if pd.isna(wanted) or wanted == "":
        raise ValueError(f"the identifier given is not a valid {subject.kind}")
    referenced = sorted({ref.split(".")[1] for s in register.sources.values() if s.subject_reference and s.subject_reference.split(".")[0] == source_name for ref in [s.subject_reference]})
    columns = [subject.column, *([subject.scope] if subject.scope else []), *referenced]
    raw = table_name(Tier.RAW, source_name)
    found = warehouse.read_table(raw, list(dict.fromkeys(columns))) if warehouse.has_table(raw) else pd.DataFrame(columns=columns)
    match = normalise(found[subject.column], subject.kind, subject.default_region) == wanted
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


def deletions(register: Register, plan: dict) -> tuple[list[Deletion], list[dict]]:
    """Every delete the plan implies, leaves first, and the exceptions the register declares."""
    source_name = plan["source"]
    subject = register.sources[source_name].subject
    out: list[Deletion] = []
    kept: list[dict] = []
    for feature_set_name, feature_set in register.feature_sets.items():
        if feature_set.subject_source != source_name:
            continue
        values = sorted(plan["pseudonyms"].get(register.domain_of(feature_set_name), {}).values())
        table = table_name(Tier.PSEUDONYMISED, feature_set_name)
        out += [Deletion(t, feature_set.subject_key, values, {}) for t in (table, STAGING_PREFIX + table)]
        for column, values in plan["references"].items():
            out.append(Deletion(QUARANTINE_PREFIX + feature_set_name, column, values, {}))
    for name, source in register.sources.items():
        if not source.subject_reference or source.subject_reference.split(".")[0] != source_name:
            continue
        if source.erasure.action == "keep":
            kept.append({"source": name, "reason": source.erasure.reason})
            continue
        values = plan["references"][source.subject_reference.split(".")[1]]
        table = table_name(Tier.RAW, name)
        column = _referring_column(register, name)
        out += [Deletion(t, column, values, {}) for t in (table, STAGING_PREFIX + table, QUARANTINE_PREFIX + name)]
    also = {subject.scope: plan["scope"]} if subject.scope else {}
    table = table_name(Tier.RAW, source_name)
    for t in (STAGING_PREFIX + table, QUARANTINE_PREFIX + source_name, table):
        out.append(Deletion(t, subject.column, plan["spellings"], also))
    return out, kept


def _referring_column(register: Register, source_name: str) -> str:
    """The column of `source_name` that holds the reference (named like the referenced column)."""
    source = register.sources[source_name]
    referenced = source.subject_reference.split(".")[1]
    if referenced in source.columns:
        return referenced
    raise ValueError(f"source '{source_name}' refers to {source.subject_reference} but has no column '{referenced}'")


def erase(register: Register, warehouse: WarehouseResource, vault, plan: dict) -> dict:
    """Carries out a plan; returns rows deleted per table and the exceptions honoured."""
    deleted: dict[str, int] = {}
    for domain, versions in plan["pseudonyms"].items():
        deleted[f"vault:{domain}"] = vault.forget(domain, sorted(set(versions.values())))
    todo, kept = deletions(register, plan)
    for step in todo:
        deleted[step.table] = deleted.get(step.table, 0) + warehouse.delete_where(step.table, step.column, step.values, step.also)
    return {"deleted": deleted, "kept": kept}
