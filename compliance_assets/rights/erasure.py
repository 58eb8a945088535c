"""Erasure (Art. 17): delete the located subject's rows everywhere, leaves first and the subject
source last, one transaction per table; deleting twice deletes nothing, so a resumed run simply
finishes. Sources the register keeps under Art. 17(3) are reported with their reason."""

from __future__ import annotations

from compliance_assets.register import Register
from compliance_assets.rights.locate import locations
from resources.warehouse import WarehouseResource


def erase(register: Register, warehouse: WarehouseResource, vault, plan: dict) -> dict:
    """Carries out a plan; returns rows deleted per table and the exceptions honoured."""
    deleted: dict[str, int] = {}
    for domain, versions in plan["pseudonyms"].items():
        deleted[f"vault:{domain}"] = vault.forget(domain, sorted(set(versions.values())))
    todo, kept = locations(register, plan)
    for step in todo:
        deleted[step.table] = deleted.get(step.table, 0) + warehouse.delete_where(step.table, step.column, step.values, step.also)
    return {"deleted": deleted, "kept": kept}
