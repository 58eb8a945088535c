"""Key rotation: move every pseudonym of every domain to a new key version, then destroy the old.

Order makes it resumable: first the pseudonymised tables are re-keyed in place (the vault still
holds every old mapping, so the old→new map can always be rebuilt), then the vault's mappings
move to the new version, batch by batch. Each batch is one transaction, so a run killed at any
point leaves every row on exactly one version, and a rerun continues where it stopped. The old
version is destroyed only after verification finds nothing left on it.

A rotation is also how pseudonyms move to a new normalisation (`NORMALISATION_VERSION`): the new
version records it, and the vault's identifiers are normalised again before they are keyed. Two
spellings that now normalise alike become one subject: one of their rows is re-keyed, the others
are deleted, and the next materialisation recomputes that subject's features from every record."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from compliance_assets.tiers import KEY_VERSION, Tier, table_name
from compliance_assets.privacy.normalise import normalise, normalise_as_is
from compliance_assets.privacy.pseudonymise import pseudonymise, scoped
from compliance_assets.register import Register
from compliance_assets.resources.audit import AuditTrailResource
from compliance_assets.resources.keys import PseudonymisationKeyResource
from compliance_assets.resources.vault import PseudonymVaultResource
from compliance_assets.storage.warehouse import Warehouse

VERIFY_SAMPLE = 1_000
Progress = Callable[[str, int, int], None]


@dataclass
class RotationReport:
    old_version: int
    new_version: int
    old_normalisation: int = 1
    new_normalisation: int = 1
    rows_rekeyed: dict[str, int] = field(default_factory=dict)
    rows_merged: dict[str, int] = field(default_factory=dict)
    mappings_moved: dict[str, int] = field(default_factory=dict)
    subjects_merged: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    completed: bool = False


Renormaliser = Callable[[pd.Series], pd.Series]


def rekey_map(mappings: pd.DataFrame, new_key: bytes, renormalise: Renormaliser | None = None) -> pd.DataFrame:
    """old pseudonym → new pseudonym, from decrypted mappings (pseudonym, scope, identifier).
    With `renormalise`, identifiers are normalised again first (a value that no longer
    normalises keeps its stored form) and the map holds them as the vault will keep them."""
    scope = mappings["scope"].astype("string") if mappings["scope"].notna().any() else None
    identifiers = mappings["identifier"].astype("string")
    if renormalise is not None:
        identifiers = renormalise(identifiers).fillna(identifiers)
    new = pseudonymise(scoped(identifiers, scope), new_key)
    return pd.DataFrame(
        {"old": mappings["pseudonym"].to_numpy(), "new": new.to_numpy(), "scope": mappings["scope"].to_numpy(), "identifier": identifiers.to_numpy(dtype=object)}
    )


def renormaliser(register: Register, domain: str) -> Renormaliser:
    """How this code normalises a domain's identifiers: by its subject sources' kind, or, when
    they differ in kind, with the cleaning every kind shares."""
    subjects = {
        (subject.kind, subject.default_region)
        for name, feature_set in register.feature_sets.items()
        if register.domain_of(name) == domain and (subject := register.sources[feature_set.subject_source].subject) is not None
    }
    if len(subjects) == 1:
        ((kind, region),) = subjects
        return lambda values: normalise(values, kind, region)
    return normalise_as_is


def _tables_by_domain(register: Register) -> dict[str, list[tuple[str, str]]]:
    by_domain: dict[str, list[tuple[str, str]]] = {}
    for name, feature_set in register.feature_sets.items():
        by_domain.setdefault(register.domain_of(name), []).append((table_name(Tier.PSEUDONYMISED, name), feature_set.subject_key))
    return by_domain


def rotate_keys(
    register: Register,
    warehouse: Warehouse,
    vault: PseudonymVaultResource,
    keys: PseudonymisationKeyResource,
    audit: AuditTrailResource,
    *,
    actor: str,
    batch_rows: int = 5_000,
    pause_seconds: float = 0.0,
    progress: Progress | None = None,
) -> RotationReport:
    active = vault.active_version(keys.fingerprint)
    pending = vault.pending_version(keys.fingerprint)
    report = RotationReport(active.version, pending.version, active.normalisation, pending.normalisation)
    normalisation = {"from": active.normalisation, "to": pending.normalisation}
    audit.append("key_rotation_started", actor, None, {"from": active.version, "to": pending.version, "normalisation": normalisation})
    domains = sorted(set(vault.domains()) | set(_tables_by_domain(register)))
    renormalising = active.normalisation != pending.normalisation
    maps = {
        domain: rekey_map(vault.decrypted(domain, active.version), keys.key_for(domain, pending), renormaliser(register, domain) if renormalising else None)
        for domain in domains
    }
    for domain, moving in maps.items():
        report.subjects_merged[domain] = len(moving) - int(moving["new"].nunique())

    for domain, tables in _tables_by_domain(register).items():
        merged = maps[domain]["new"].duplicated()
        for table, subject_key in tables:
            if not warehouse.has_table(table):
                continue
            if merged.any():  # a pseudonym is unique in its table: one row per merged subject moves
                report.rows_merged[table] = warehouse.delete_where(table, subject_key, maps[domain].loc[merged, "old"].tolist(), {KEY_VERSION: active.version})
            report.rows_rekeyed[table] = warehouse.rekey(
                table, subject_key, KEY_VERSION, maps[domain].loc[~merged, ["old", "new"]], active.version, pending.version,
                batch_rows=batch_rows, pause_seconds=pause_seconds,
                on_batch=(lambda done, total, t=table: progress(t, done, total)) if progress else None,
            )
    for domain in domains:
        moving = maps[domain]
        for start in range(0, len(moving), batch_rows):
            vault.move_to_version(domain, active.version, pending.version, moving.iloc[start : start + batch_rows])
            if progress:
                progress(f"vault:{domain}", min(start + batch_rows, len(moving)), len(moving))
            if pause_seconds:
                time.sleep(pause_seconds)
        report.mappings_moved[domain] = len(moving)

    report.problems = verify_rotation(register, warehouse, vault, keys, active.version, pending.version)
    if report.problems:
        audit.append(
            "key_rotation_unverified", actor, None, {"from": active.version, "to": pending.version, "normalisation": normalisation, "problems": report.problems}
        )
        return report
    vault.complete_rotation(active.version, pending.version)
    report.completed = True
    audit.append(
        "key_rotation_completed", actor, None,
        {
            "from": active.version, "to": pending.version, "normalisation": normalisation, "rows_rekeyed": report.rows_rekeyed,
            "rows_merged": report.rows_merged, "mappings_moved": report.mappings_moved, "subjects_merged": report.subjects_merged, "destroyed": active.version,
        },
    )
    return report


def verify_rotation(
    register: Register,
    warehouse: Warehouse,
    vault: PseudonymVaultResource,
    keys: PseudonymisationKeyResource,
    old: int,
    new: int,
) -> list[str]:
    """Nothing may remain on the old version, and new pseudonyms must recompute from the vault."""
    problems = []
    for domain, tables in _tables_by_domain(register).items():
        for table, _ in tables:
            if warehouse.has_table(table):
                left = warehouse.count_where(table, KEY_VERSION, old)
                if left:
                    problems.append(f"{table}: {left} row(s) still on key version {old} (no vault mapping to re-key them)")
    for domain in vault.domains():
        left = vault.count(domain, old)
        if left:
            problems.append(f"vault domain '{domain}': {left} mapping(s) still on key version {old}")
        sample = vault.decrypted(domain, new).head(VERIFY_SAMPLE)
        if len(sample):
            recomputed = rekey_map(sample, keys.key_for(domain, vault.key_version(new)))
            wrong = int((recomputed["new"] != sample["pseudonym"].to_numpy()).sum())
            if wrong:
                problems.append(f"vault domain '{domain}': {wrong} of {len(sample)} sampled pseudonyms do not recompute")
    return problems
