"""Plugin overhead where users feel it: loading a code location with N register-driven assets against
the same N plain `@asset`s, and one tick of the DPIA sensor over a graph of 2N assets.

The load is measured twice. As Dagster loads a location (a fresh process: imports, definitions,
every job resolved, the repository snapshot the webserver receives), so a reload's fixed costs are
in it on both sides. And as definitions built in a warm process, where only the per-asset work is
left: there, the same N assets written by hand with every argument ours carry tell what the
plugin itself adds apart from what Dagster charges for those arguments.

    python -m benchmarks.definitions [--quick]
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from dagster import AssetMaterialization, Definitions, DagsterInstance, ResourceDefinition, asset, build_sensor_context
from rich.console import Console
from rich.table import Table

from benchmarks.common import run_alone
from benchmarks.location_load import no_rows, plain_location, register_driven_location

console = Console()
ACTIVITY = "bench_activity"


def _register(folder: Path, sources: int) -> Path:
    """A register with one activity (and its DPIA) and `sources` raw sources of five columns."""
    demo = yaml.safe_load((Path(__file__).resolve().parents[1] / "register" / "activities.yaml").read_text())["activities"]["engagement_analytics"]
    demo.pop("consent_source")
    demo["legal_basis"] = "Legitimate interests"
    (folder / "activities.yaml").write_text(yaml.safe_dump({"activities": {ACTIVITY: demo}}))
    columns = {
        "customer_id": {"type": "string", "category": "user.unique_id", "identifier": "direct", "description": "Contact id"},
        "event_type": {"type": "string", "category": "user.behavior", "description": "What happened"},
        "occurred_at": {"type": "datetime", "category": "user.behavior", "description": "When"},
        "ip_address": {"type": "string", "category": "user.device.ip_address", "identifier": "direct", "description": "Client IP"},
        "workspace_id": {"type": "string", "category": "system.operations", "description": "Tenant"},
    }
    body = {f"events_{i:04d}": {"activity": ACTIVITY, "description": f"Event stream {i}", "event_time": "occurred_at", "columns": columns} for i in range(sources)}
    (folder / "sources.yaml").write_text(yaml.safe_dump({"sources": body}))
    (folder / "features.yaml").write_text("feature_sets: {}\n")
    (folder / "cohorts.yaml").write_text("cohorts: {}\n")
    dpia = yaml.safe_load((Path(__file__).resolve().parents[1] / "register" / "dpia" / "engagement_analytics.yaml").read_text())
    dpia["activity"] = ACTIVITY
    (folder / "dpia").mkdir()
    (folder / "dpia" / f"{ACTIVITY}.yaml").write_text(yaml.safe_dump(dpia))
    return folder


def _register_driven(register_dir: Path) -> Definitions:
    defs = register_driven_location(register_dir)
    defs.get_repository_def().asset_graph.get_all_asset_keys()
    return defs


def _plain(count: int, checks: bool = False) -> Definitions:
    defs = plain_location(count, checks)
    defs.get_repository_def().asset_graph.get_all_asset_keys()
    return defs


def _location_load(kind: str, count: int, register_dir: Path) -> dict:
    """One load of the location in a fresh process (imports included)."""
    command = [sys.executable, "-W", "ignore", "-m", "benchmarks.location_load", kind, str(count), str(register_dir)]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])


def _hand_written_arguments(register_dir: Path) -> list[dict]:
    """The `@asset` arguments our raw factory passes, computed once and outside any timing: what a
    user writing the same assets by hand would type out (metadata, tags, owners, kinds,
    partitions, freshness, pool, code version, resource keys and the blocking check specs)."""
    from compliance_assets.factories.raw import raw_asset_arguments
    from compliance_assets.register import load_register

    register = load_register(register_dir)
    return [raw_asset_arguments(register, name, no_rows) for name in register.sources]


def _hand_written(arguments: list[dict]) -> Definitions:
    """The same assets as the register-driven ones, declared with literal `@asset` arguments."""

    def build(kwargs: dict):
        @asset(**kwargs)
        def _events(context):
            """A hand-written asset."""

        return _events

    resources = {key: ResourceDefinition.none_resource() for key in ("warehouse", "audit_trail", "pseudonym_keys")}
    defs = Definitions(assets=[build(kwargs) for kwargs in arguments], resources=resources)
    defs.get_repository_def().asset_graph.get_all_asset_keys()
    return defs


def _interleaved_best(measures: dict[str, Callable[[], float]], repeats: int = 5) -> dict[str, float]:
    """Each measure's fastest of `repeats`, taken in turn (one of each, then again), so a slow spell
    of a shared machine falls on all of them rather than on whichever ran then."""
    best = {name: float("inf") for name in measures}
    for _ in range(repeats):
        for name, measure in measures.items():
            best[name] = min(best[name], measure())
    return best


def _timed(function: Callable[[], object]) -> Callable[[], float]:
    def measure() -> float:
        started = time.perf_counter()
        function()
        return time.perf_counter() - started

    return measure


def _sensor_tick(defs: Definitions, instance: DagsterInstance) -> float:
    sensor = defs.resolve_sensor_def("dpia_review")
    with contextlib.ExitStack() as stack:  # each resource's own Dagster context closed after the tick
        resources = {key: stack.enter_context(defs.resources[key].process_config_and_initialize_cm()) for key in ("dpia_reviews", "audit_trail")}
        context = stack.enter_context(build_sensor_context(instance=instance, definitions=defs, resources=resources))
        started = time.perf_counter()
        result = sensor(context)
        seconds = time.perf_counter() - started
    assert len(result.run_requests) == 1  # never approved: one review
    return seconds


def run(quick: bool) -> dict:
    assets = 50 if quick else 500
    with tempfile.TemporaryDirectory(prefix="bench-definitions-") as tmp:
        folder = Path(tmp)
        os.environ.update({"COMPLIANCE_DATA_DIR": str(folder / "data"), "COMPLIANCE_DEV_KEY_DIR": str(folder / "keys")})
        for name in ("COMPLIANCE_WAREHOUSE_URL", "COMPLIANCE_VAULT_URL"):
            os.environ.pop(name, None)
        small, large = (folder / "small"), (folder / "large")
        small.mkdir(), large.mkdir()
        _register(small, assets)
        _register(large, 2 * assets)
        loads: dict[str, list[dict]] = {"register-driven": [], "plain": []}

        def load(kind: str) -> float:
            loads[kind].append(_location_load(kind, assets, small))
            return loads[kind][-1]["seconds"]

        _interleaved_best({kind: functools.partial(load, kind) for kind in loads})
        location_ours, location_plain = (min(loads[kind], key=lambda figures: figures["seconds"]) for kind in loads)
        arguments = _hand_written_arguments(small)
        built = _interleaved_best(
            {
                "ours": _timed(lambda: _register_driven(small)),
                "plain": _timed(lambda: _plain(assets)),
                "hand_checked": _timed(lambda: _plain(assets, checks=True)),
                "hand_written": _timed(lambda: _hand_written(arguments)),
            }
        )
        ours, plain, hand_checked, hand_written = built["ours"], built["plain"], built["hand_checked"], built["hand_written"]
        defs = _register_driven(large)
        (folder / "instance").mkdir()
        (folder / "instance" / "dagster.yaml").touch()  # an empty one: the defaults, said out loud
        with DagsterInstance.local_temp(tempdir=str(folder / "instance")) as instance:
            for i in range(2 * assets):
                instance.report_runless_asset_event(AssetMaterialization(f"events_{i:04d}", metadata={"dagster/row_count": 1000 + i}))
            tick = min(_sensor_tick(defs, instance) for _ in range(3))
    figures = {
        "assets": assets,
        "location_load_register_driven_s": round(location_ours["seconds"], 3),
        "location_load_plain_s": round(location_plain["seconds"], 3),
        "location_load_ratio": round(location_ours["seconds"] / location_plain["seconds"], 2),
        "location_load_register_driven": location_ours,
        "location_load_plain": location_plain,
        "register_driven_load_s": round(ours, 3),
        "plain_load_s": round(plain, 3),
        "overhead_ratio": round(ours / plain, 2),
        "overhead_target": 1.5,
        "plain_with_checks_load_s": round(hand_checked, 3),
        "overhead_vs_hand_checked": round(ours / hand_checked, 2),
        "hand_written_equivalents_load_s": round(hand_written, 3),
        "overhead_vs_hand_written_equivalents": round(ours / hand_written, 2),
        "sensor_assets": 2 * assets,
        "dpia_sensor_tick_s": round(tick, 3),
        "dpia_sensor_target_s": 1.0,
    }
    table = Table(title=f"Code location load ({assets} assets) and one DPIA sensor tick ({2 * assets} assets)")
    for column in ("measure", "seconds", "vs plain"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    location_ratio = location_ours["seconds"] / location_plain["seconds"]
    table.add_row(
        f"Location load in a fresh process (imports, definitions, the UI's snapshot): {assets} register-driven assets",
        f"{location_ours['seconds']:.3f}", f"{location_ratio:.2f}× (target ≤ 1.5×)",
    )
    table.add_row(f"The same: {assets} plain @asset", f"{location_plain['seconds']:.3f}", "1.00×")
    table.add_row(f"Definitions built in a warm process: {assets} register-driven assets (register, factories, checks, jobs, sensors)", f"{ours:.3f}", f"{ours / plain:.2f}× (target ≤ 1.5×)")
    table.add_row(f"{assets} plain @asset", f"{plain:.3f}", "1.00×")
    table.add_row(f"{assets} plain @asset with the same two blocking check specs", f"{hand_checked:.3f}", f"{hand_checked / plain:.2f}×")
    table.add_row(f"{assets} hand-written @asset with our arguments (metadata, tags, partitions, checks)", f"{hand_written:.3f}", f"{hand_written / plain:.2f}× (ours: {ours / hand_written:.2f}× of it)")
    table.add_row(f"DPIA sensor tick over {2 * assets} assets", f"{tick:.3f}", "target < 1 s")
    console.print(table)
    return figures


if __name__ == "__main__":
    run_alone("definitions", run, __doc__)
