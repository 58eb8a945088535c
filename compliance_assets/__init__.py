"""GDPR compliance as code for Dagster.

Public API for teams building their own code location: load the register, declare assets per
tier with the factories, and wire the resources. Names resolve lazily so that `resources` (which
uses the privacy engines) and this package can import each other's modules without a cycle."""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "K_ANONYMITY": "compliance_assets.factories.checks",
    "MINIMISATION": "compliance_assets.factories.checks",
    "NO_DIRECT_IDENTIFIERS": "compliance_assets.factories.checks",
    "NO_DIFFERENCING": "compliance_assets.factories.checks",
    "FeatureInputs": "compliance_assets.factories.feature_inputs",
    "SourceTables": "compliance_assets.factories.feature_inputs",
    "Count": "compliance_assets.privacy.summaries",
    "Latest": "compliance_assets.privacy.summaries",
    "pseudonymised_asset": "compliance_assets.factories.pseudonymised",
    "cohort_asset": "compliance_assets.factories.aggregate",
    "raw_asset": "compliance_assets.factories.raw",
    "Tier": "compliance_assets.factories.naming",
    "build_location": "compliance_assets.location",
    "table_name": "compliance_assets.factories.naming",
    "Register": "compliance_assets.register",
    "RegisterError": "compliance_assets.register",
    "load_register": "compliance_assets.register",
    "PseudonymisationKeyResource": "resources.keys",
    "WarehouseResource": "resources.warehouse",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'compliance_assets' has no attribute '{name}'")
    return getattr(import_module(_EXPORTS[name]), name)
