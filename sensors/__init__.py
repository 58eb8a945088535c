"""Dagster sensors and schedules: what the daemon runs without a click."""
