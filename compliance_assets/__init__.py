"""GDPR compliance as code for Dagster.

The public API for teams building their own code location: load the register, declare assets
per tier with the factories, and build the location around them with its resources and folders
(`build_location`, or the `ComplianceLocation` component from a `defs.yaml`). Every exported
name is documented in docs/api.md."""

from importlib import import_module

_HOMES = {
    "AuditTrailResource": "compliance_assets.resources.audit",
    "ComplianceLocation": "compliance_assets.component",
    "Count": "compliance_assets.privacy.summaries",
    "DpiaReviewsResource": "compliance_assets.resources.dpia_reviews",
    "FeatureInputs": "compliance_assets.pipelines.feature_inputs",
    "Folders": "compliance_assets.location",
    "K_ANONYMITY": "compliance_assets.factories.checks",
    "Latest": "compliance_assets.privacy.summaries",
    "MINIMISATION": "compliance_assets.factories.checks",
    "NO_DIFFERENCING": "compliance_assets.factories.checks",
    "NO_DIRECT_IDENTIFIERS": "compliance_assets.factories.checks",
    "PseudonymVaultResource": "compliance_assets.resources.vault",
    "PseudonymisationKeyResource": "compliance_assets.resources.keys",
    "Register": "compliance_assets.register",
    "RegisterError": "compliance_assets.register",
    "SourceTables": "compliance_assets.pipelines.feature_inputs",
    "Tier": "compliance_assets.tiers",
    "WarehouseResource": "compliance_assets.resources.warehouse",
    "build_location": "compliance_assets.location",
    "cohort_asset": "compliance_assets.factories.aggregate",
    "load_register": "compliance_assets.register",
    "local_resources": "compliance_assets.location",
    "pseudonymised_asset": "compliance_assets.factories.pseudonymised",
    "raw_asset": "compliance_assets.factories.raw",
    "table_name": "compliance_assets.tiers",
}

__all__ = [
    "AuditTrailResource",
    "ComplianceLocation",
    "Count",
    "DpiaReviewsResource",
    "FeatureInputs",
    "Folders",
    "K_ANONYMITY",
    "Latest",
    "MINIMISATION",
    "NO_DIFFERENCING",
    "NO_DIRECT_IDENTIFIERS",
    "PseudonymVaultResource",
    "PseudonymisationKeyResource",
    "Register",
    "RegisterError",
    "SourceTables",
    "Tier",
    "WarehouseResource",
    "build_location",
    "cohort_asset",
    "load_register",
    "local_resources",
    "pseudonymised_asset",
    "raw_asset",
    "table_name",
]


def __getattr__(name: str) -> object:
    """Each export is imported on first use, so the Dagster-free `compliance_assets.pipelines`
    can be imported without loading Dagster through this package."""
    if name not in _HOMES:
        raise AttributeError(f"module 'compliance_assets' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
