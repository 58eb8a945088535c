"""Erasure (Art. 17): delete the located subject's rows everywhere (or empty their identifying
columns where the register says anonymise), leaves first and the subject source last, one
transaction per table; doing it twice changes nothing, so a resumed run simply finishes. Sources the register keeps under Art. 17(3) are reported with their reason.

Before anything is deleted the subject goes on the suppression list, so that the next import of
the same export does not bring them back."""

from __future__ import annotations

from compliance_assets.privacy.normalise import NORMALISATION_VERSION
from compliance_assets.register import Register
from compliance_assets.rights.locate import locations
from compliance_assets.rights.suppression_list import SuppressionList, digests, erased_values
from compliance_assets.resources.keys import PseudonymisationKeyResource
from compliance_assets.storage.warehouse import Warehouse


def suppress(register: Register, keys: PseudonymisationKeyResource, plan: dict, identifier: str, request_id: str) -> int:
    """Lists the subject's identifier and the values other sources refer to it by, each keyed
    in its list scope; returns how many entries are new."""
    listed = SuppressionList(keys.vault.get_engine())
    added = 0
    for list_scope, (listing, values, scopes) in erased_values(register, plan, identifier).items():
        keyed = digests(values, scopes, listing.kind, listing.default_region, keys.suppression_key(list_scope)).dropna()
        added += listed.add(list_scope, keyed, request_id, keys.fingerprint, NORMALISATION_VERSION)
    return added


def erase(register: Register, warehouse: Warehouse, vault, plan: dict) -> dict:
    """Carries out a plan; returns rows deleted per table and the exceptions honoured."""
    deleted: dict[str, int] = {}
    for domain, versions in plan["pseudonyms"].items():
        deleted[f"vault:{domain}"] = vault.forget(domain, sorted(set(versions.values())))
    todo, kept = locations(register, plan)
    anonymised: dict[str, int] = {}
    for step in todo:
        if step.emptied:
            anonymised[step.table] = warehouse.empty_columns_where(step.table, step.column, step.values, list(step.emptied))
        else:
            deleted[step.table] = deleted.get(step.table, 0) + warehouse.delete_where(step.table, step.column, step.values, step.also)
    return {"deleted": deleted, "anonymised": anonymised, "kept": kept}
