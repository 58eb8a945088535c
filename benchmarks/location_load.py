"""One code location loaded as Dagster loads it, in a fresh process: the module's imports, its
definitions, and the repository snapshot the webserver receives, serialised. The definitions
benchmark runs it once per sample, so each load pays what a reload in the UI pays.

    python -m benchmarks.location_load plain|register-driven ASSETS REGISTER_DIR

Prints one JSON line of seconds. Only Dagster is imported before a location is built: the plain
location must not pay for the register's libraries."""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


def plain_location(count: int, checks: bool = False):
    """`count` plain assets; with `checks`, each also declares the two blocking checks ours carry."""
    from dagster import AssetCheckSpec, Definitions, asset

    def build(i: int):
        name = f"events_{i:04d}"
        specs = [AssetCheckSpec(c, asset=name, blocking=True) for c in ("contract", "retention")] if checks else None

        @asset(name=name, group_name="raw", check_specs=specs)
        def _events():
            """A plain asset."""

        return _events

    return Definitions(assets=[build(i) for i in range(count)])


def no_rows(context):
    import pandas as pd

    return pd.DataFrame()


def register_driven_location(register_dir: Path):
    """A location built by the plugin from a register: its assets, checks, jobs, sensors, schedules."""
    from compliance_assets import Folders, build_location, load_register, local_resources, raw_asset

    register = load_register(register_dir)
    data = register_dir.parent / ".data"
    return build_location(
        register, [raw_asset(register, name, no_rows) for name in register.sources], resources=local_resources(data), folders=Folders.under(data)
    )


def load(kind: str, count: int, register_dir: Path) -> dict[str, float]:
    from dagster import Definitions

    imported = time.perf_counter()
    defs = plain_location(count) if kind == "plain" else register_driven_location(register_dir)
    Definitions.validate_loadable(defs)  # every job resolved, as a load does: a location that fails here fails in the UI
    built = time.perf_counter()
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster_shared.serdes import serialize_value

    snapshot = serialize_value(RepositorySnap.from_def(defs.get_repository_def()))
    done = time.perf_counter()
    return {"seconds": done - STARTED, "dagster_import_s": imported - STARTED, "snapshot_s": done - built, "snapshot_mb": len(snapshot) / 1e6}


if __name__ == "__main__":
    kind, count, register_dir = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    print(json.dumps(load(kind, count, register_dir)))
