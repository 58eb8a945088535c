"""Re-identification: the only way to read an identifier back from a pseudonym. It needs an actor
and a purpose the register allows for the domain, and every attempt, refused or not, is audited."""

from __future__ import annotations

from compliance_assets.register import Register
from compliance_assets.resources.audit import AuditTrailResource
from compliance_assets.resources.vault import PseudonymVaultResource


class ReidentificationRefused(PermissionError):
    pass


def allowed_purposes(register: Register, domain: str) -> set[str]:
    purposes: set[str] = set()
    for key, activity in register.activities.items():
        if (activity.pseudonymisation_domain or key) == domain:
            purposes.update(activity.reidentification_purposes)
    return purposes


def reidentify(
    register: Register,
    vault: PseudonymVaultResource,
    audit: AuditTrailResource,
    *,
    domain: str,
    pseudonym: str,
    purpose: str,
    actor: str,
) -> str:
    if not actor.strip():
        raise ValueError("re-identification needs the actor who asks for it")
    allowed = allowed_purposes(register, domain)
    details = {"domain": domain, "purpose": purpose}
    if purpose not in allowed:
        audit.append("reidentification_refused", actor, pseudonym, {**details, "reason": "purpose not allowed"})
        raise ReidentificationRefused(
            f"purpose '{purpose}' is not allowed to re-identify in domain '{domain}' "
            f"(allowed: {', '.join(sorted(allowed)) or 'none'}); the attempt was audited"
        )
    mapping = vault.lookup(domain, pseudonym)
    if mapping is None:
        audit.append("reidentification_not_found", actor, pseudonym, details)
        raise LookupError(f"no mapping for pseudonym '{pseudonym}' in domain '{domain}' (expired or erased?)")
    audit.append("reidentification", actor, pseudonym, {**details, "key_version": int(mapping["key_version"])})
    return str(mapping["identifier"])
