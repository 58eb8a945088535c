"""Dagster asset and check factories driven by the register."""
