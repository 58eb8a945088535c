"""The tiers and their policy: which blocking checks each asset carries, and the names of the
tags and warehouse tables they share. The factories, the deploy gate and the tests read the policy
here, so a tier's rules are written once."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compliance_assets.register import Register


class Tier(StrEnum):
    RAW = "raw"
    PSEUDONYMISED = "pseudonymised"
    AGGREGATE = "aggregate"


MINIMISATION = "minimisation"
NO_DIRECT_IDENTIFIERS = "no_direct_identifiers"
K_ANONYMITY = "k_anonymity"
CLIENT_ISOLATION = "client_isolation"
CONSENT = "consent"
NO_DIFFERENCING = "no_differencing"
RETENTION = "retention"
CONTRACT = "contract"
DPIA_APPROVED = "dpia_approved"
QUARANTINE = "quarantine"

TIER_CHECKS: dict[Tier, tuple[str, ...]] = {
    Tier.RAW: (CONTRACT, QUARANTINE),
    Tier.PSEUDONYMISED: (MINIMISATION, NO_DIRECT_IDENTIFIERS, CONTRACT, QUARANTINE),
    Tier.AGGREGATE: (MINIMISATION, NO_DIRECT_IDENTIFIERS, K_ANONYMITY, NO_DIFFERENCING, CONTRACT),
}


def required_checks(register: Register, name: str) -> list[str]:
    """Every blocking check the register's asset `name` must carry: its tier's, and those its entry
    asks for (a retention clock, consent as the legal basis, a client tenant, a DPIA)."""
    if name in register.sources:
        tier, extra = Tier.RAW, [RETENTION] if register.sources[name].retention_clock else []
    elif name in register.feature_sets:
        activity = register.activities[register.feature_sets[name].activity]
        tier, extra = Tier.PSEUDONYMISED, [CONSENT] if activity.legal_basis.value == "Consent" and activity.consent_source else []
    else:
        cohort = register.cohorts[name]
        tenant = register.tenant_of(cohort.activity, register.feature_sets[cohort.source])
        tier, extra = Tier.AGGREGATE, [CLIENT_ISOLATION] if tenant else []
    return [*TIER_CHECKS[tier], *extra, *([DPIA_APPROVED] if register.guarded_by_dpia(name) else [])]


KEY_VERSION = "key_version"
PUBLISHED_ROWS = "published_table_rows"  # a partition's run: rows of the whole table after it (dagster/row_count is the partition's)
CHECKS_SECONDS = "privacy/checks_seconds"  # what the blocking checks cost this materialisation, plotted over runs
TIER_TAG = "privacy/tier"
ACTIVITY_TAG = "privacy/activity"
DOMAIN_TAG = "privacy/domain"
LEGAL_BASIS_TAG = "privacy/legal-basis"
DATA_USE_TAG = "privacy/data-use"
CATEGORY_COLUMN_TAG = "privacy/category"
IDENTIFIER_COLUMN_TAG = "privacy/identifier"


def table_name(tier: Tier, asset_name: str) -> str:
    """Tiers are table-name prefixes so the same layout works on SQLite and PostgreSQL."""
    return f"{tier.value}__{asset_name}"


def tag_value(text: str) -> str:
    """Dagster tag values allow letters, digits, '-', '_' and '.' only."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-").lower()[:63]
