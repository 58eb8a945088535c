"""Names shared by the factories: tiers, tags and warehouse tables."""

from __future__ import annotations

import re
from enum import StrEnum


class Tier(StrEnum):
    RAW = "raw"
    PSEUDONYMISED = "pseudonymised"
    AGGREGATE = "aggregate"


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
