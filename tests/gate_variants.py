"""Code locations with one privacy gap each, chosen by $GATE_VARIANT, for the deploy-gate tests."""

import os

from dagster import AssetsDefinition, asset

from compliance_demo.definitions import build_assets, build_definitions
from compliance_assets.register import load_register
from tests.conftest import REPO

register = load_register(REPO / "register")
assets: list[AssetsDefinition] = build_assets(register)
variant = os.environ.get("GATE_VARIANT", "")

if variant == "unchecked_tier":
    assets = [a for a in assets if a.key.to_user_string() != "region_cohorts"]

    @asset(name="region_cohorts", group_name="aggregate", tags={"privacy/tier": "aggregate"}, deps=["customer_features"])
    def region_cohorts_without_checks() -> None:
        """An aggregate published without its blocking checks."""

    assets.append(region_cohorts_without_checks)
elif variant == "unregistered_consumer":

    @asset(deps=["customer_features"])
    def churn_scores() -> None:
        """Reads pseudonymised personal data without being recorded in the register."""

    assets.append(churn_scores)
elif variant == "missing_asset":
    assets = [a for a in assets if a.key.to_user_string() != "search_logs"]

defs = build_definitions(register, assets)
