"""Privacy engines: plain functions on DataFrames that know nothing of Dagster."""
