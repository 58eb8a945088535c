"""GDPR compliance as code for Dagster.

The public API for teams building their own code location: load the register, declare assets
per tier with the factories, and build the location around them with its resources and folders
(`build_location`, or the `ComplianceLocation` component from a `defs.yaml`). Every exported
name is documented in docs/api.md."""

from compliance_assets.component import ComplianceLocation
from compliance_assets.factories.aggregate import cohort_asset
from compliance_assets.factories.checks import K_ANONYMITY, MINIMISATION, NO_DIFFERENCING, NO_DIRECT_IDENTIFIERS
from compliance_assets.factories.pseudonymised import pseudonymised_asset
from compliance_assets.factories.raw import raw_asset
from compliance_assets.location import Folders, build_location, local_resources
from compliance_assets.pipelines.feature_inputs import FeatureInputs, SourceTables
from compliance_assets.privacy.summaries import Count, Latest
from compliance_assets.register import Register, RegisterError, load_register
from compliance_assets.resources.audit import AuditTrailResource
from compliance_assets.resources.dpia_reviews import DpiaReviewsResource
from compliance_assets.resources.keys import PseudonymisationKeyResource
from compliance_assets.resources.vault import PseudonymVaultResource
from compliance_assets.resources.warehouse import WarehouseResource
from compliance_assets.tiers import Tier, table_name

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

