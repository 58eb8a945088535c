"""Key rotation: move every pseudonym of every domain to a new key version, then destroy the old.

Order makes it resumable: first the pseudonymised tables are re-keyed in place (the vault still
holds every old mapping, so the old→new map can always be rebuilt), then the vault's mappings
move to the new version, batch by batch. Each batch is one transaction, so a run killed at any
point leaves every row on exactly one version, and a rerun continues where it stopped. The old
version is destroyed only after verification finds nothing left on it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from compliance_assets.factories.naming import KEY_VERSION, Tier, table_name
from compliance_assets.privacy.pseudonymise import pseudonymise, scoped
from compliance_assets.register import Register
from resources.audit import AuditTrailResource
from resources.keys import PseudonymisationKeyResource
from resources.vault import PseudonymVaultResource
from resources.warehouse import WarehouseResource

VERIFY_SAMPLE = 1_000
Progress = Callable[[str, int, int], None]


@dataclass
class RotationReport:
    old_version: int
    new_version: int
    rows_rekeyed: dict[str, int] = field(default_factory=dict)
    mappings_moved: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    completed: bool = False


def rekey_map(mappings: pd.DataFrame, new_key: bytes) -> pd.DataFrame:
    """old pseudonym → new pseudonym, from decrypted mappings (pseudonym, scope, identifier)."""
    scope = mappings["scope"].astype("string") if mappings["scope"].notna().any() else None
    new = pseudonymise(scoped(mappings["identifier"].astype("string"), scope), new_key)
    return pd.DataFrame(
        {"old": mappings["pseudonym"].to_numpy(), "new": new.to_numpy(), "scope": mappings["scope"].to_numpy(), "identifier": mappings["identifier"].to_numpy()}
    )


def _tables_by_domain(register: Register) -> dict[str, list[tuple[str, str]]]:
    by_domain: dict[str, list[tuple[str, str]]] = {}
    for name, feature_set in register.feature_sets.items():
        by_domain.setdefault(register.domain_of(name), []).append((table_name(Tier.PSEUDONYMISED, name), feature_set.subject_key))
    return by_domain


def rotate_keys(
    register: Register,
    warehouse: WarehouseResource,
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
    report = RotationReport(active.version, pending.version)
    audit.append("key_rotation_started", actor, None, {"from": active.version, "to": pending.version})
    domains = sorted(set(vault.domains()) | set(_tables_by_domain(register)))
    maps = {domain: rekey_map(vault.decrypted(domain, active.version), keys.key_for(domain, pending)) for domain in domains}

    for domain, tables in _tables_by_domain(register).items():
        for table, subject_key in tables:
            if not warehouse.has_table(table):
                continue
            report.rows_rekeyed[table] = warehouse.rekey(
                table, subject_key, KEY_VERSION, maps[domain][["old", "new"]], active.version, pending.version,
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
        audit.append("key_rotation_unverified", actor, None, {"from": active.version, "to": pending.version, "problems": report.problems})
        return report
    vault.complete_rotation(active.version, pending.version)
    report.completed = True
    audit.append(
        "key_rotation_completed", actor, None,
        {"from": active.version, "to": pending.version, "rows_rekeyed": report.rows_rekeyed, "mappings_moved": report.mappings_moved, "destroyed": active.version},
    )
    return report


def verify_rotation(
    register: Register,
    warehouse: WarehouseResource,
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
