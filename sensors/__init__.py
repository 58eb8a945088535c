"""Dagster sensors of the compliance plugin."""
