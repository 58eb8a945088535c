"""The order-critical steps of the raw and pseudonymised tiers as plain functions on DataFrames.

Nothing here imports Dagster: what the steps need from resources (the suppression list, the
domain keys, the warehouse) arrives as plain callables, so each step can be tested on a small
frame, and the factories are left with context, resources, metadata, logging and `Failure`."""
