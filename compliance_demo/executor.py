"""How the code location's runs execute: Dagster's default executor (a process per step, or one
process with `in_process`), whose step processes fork from a server that has already imported
the heavy libraries.

Spawned step processes each imported Dagster, pandas, SQLAlchemy, the factories and Great
Expectations (2.3 s alone, paid on the first contract check) again: the demo pipeline run with
`dagster job execute` took 49 s, 24 s with its steps forked from the preloaded server. The modules
are libraries only, never a code location, so no definitions (and no secret they read) are built
before a step asks for them. A run's own `start_method` or `in_process` config is honoured as is."""

from collections.abc import Mapping

from dagster import multi_or_in_process_executor

PRELOADED_MODULES = (
    "great_expectations",
    "compliance_assets.factories.raw",
    "compliance_assets.factories.pseudonymised",
    "compliance_assets.factories.aggregate",
    "compliance_assets.jobs.dpia",
    "compliance_assets.resources.warehouse",
)


def with_preloading(config: Mapping[str, object]) -> Mapping[str, object]:
    """Multiprocess config without a start method gets the preloading forkserver."""
    multiprocess = config.get("multiprocess")
    if not isinstance(multiprocess, Mapping) or multiprocess.get("start_method"):
        return config
    return {"multiprocess": {**multiprocess, "start_method": {"forkserver": {"preload_modules": list(PRELOADED_MODULES)}}}}


# `configured` with a function is Dagster's public way to derive an executor whose config is
# rewritten before the real one reads it; the schema is the original executor's own.
preloaded_multi_or_in_process_executor = multi_or_in_process_executor.configured(
    with_preloading, name="preloaded_multi_or_in_process", config_schema=multi_or_in_process_executor.config_schema.as_field()
)
