"""Dagster asset and check factories driven by the register."""

from compliance_assets.factories.previews import acknowledge_previews

acknowledge_previews()
