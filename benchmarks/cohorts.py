"""k-anonymous cohort release (primary and complementary suppression, distinct subjects counted
per cohort and per margin) against the floor, a plain pandas groupby-size of the same frame, and
against the peer, pyCANON merely measuring k of it (full mode only: it needs its own venv).

    python -m benchmarks.cohorts [--quick]
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from benchmarks import pycanon_peer
from benchmarks.common import postgres_databases, run_alone
from compliance_assets.privacy.cohorts import MeasureSpec, release_cohorts
from compliance_assets.privacy.sql_source import SqlSource
from compliance_assets.storage.warehouse import Warehouse

ADULT = Path(os.environ.get("COMPLIANCE_CENSUS_CSV", Path(__file__).resolve().parents[1].parent / "shared" / "data" / "adult.csv"))
MEASURES = {"subjects": MeasureSpec("count_subjects"), "mean_age": MeasureSpec("mean", "age")}
console = Console()


def adult_scaled(times: int) -> tuple[pd.DataFrame, list[str], list[list[str]]]:
    """adult.csv repeated `times` times, every row its own respondent."""
    frame = pd.read_csv(ADULT, skipinitialspace=True, usecols=["age", "sex", "race", "education"])
    frame = pd.concat([frame] * times, ignore_index=True)
    frame["respondent"] = np.arange(len(frame))
    return frame, ["sex", "race", "education"], [["sex", "race"], ["education"], []]


def synthetic(rows: int, seed: int = 3) -> tuple[pd.DataFrame, list[str], list[list[str]]]:
    """Skewed dimensions (workspace × region × age band × segment), one row per subject."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "workspace": pd.Categorical(rng.zipf(1.6, rows) % 40),
            "region": pd.Categorical(rng.integers(0, 5, rows)),
            "age_band": pd.Categorical(np.minimum(rng.gamma(3, 1.2, rows).astype(int), 5)),
            "segment": pd.Categorical(rng.choice(3, rows, p=[0.2, 0.3, 0.5])),
            "age": rng.integers(18, 90, rows),
            "respondent": np.arange(rows),
        }
    )
    return frame, ["workspace", "region", "age_band", "segment"], [["workspace"], ["workspace", "region"]]


def pseudonym_keyed(rows: int) -> tuple[pd.DataFrame, list[str], list[list[str]], Callable[[], None]]:
    """The synthetic frame keyed as our feature tables are, by 32-hex-character pseudonyms, and
    how to give it fresh key objects before each timing (Python caches a string's hash in it)."""
    frame, dims, margins = synthetic(rows)
    digests = np.frombuffer(np.random.default_rng(5).bytes(16 * rows), dtype="S16")

    def fresh_keys() -> None:
        frame["respondent"] = pd.Series(digests).map(bytes.hex).astype("string")

    fresh_keys()
    return frame, dims, margins, fresh_keys


def _seconds(function, before: Callable[[], None] | None = None) -> float:
    best = float("inf")
    for _ in range(2):
        if before:
            before()
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def pushed_down(warehouse: Warehouse, frame: pd.DataFrame, dims: list[str], margins: list[list[str]], expected: pd.DataFrame) -> dict:
    """The same release grouped by PostgreSQL (the frame loaded as a table first, not timed)
    against PostgreSQL's own plain GROUP BY count(*) of the table."""
    table = "bench_cohort_source"
    warehouse.replace_table(table, frame)
    engine = warehouse.get_engine()
    with engine.begin() as connection:
        connection.execute(sa.text(f"ANALYZE {table}"))
    keys = ", ".join(f'"{d}"' for d in dims)

    def group_by_count() -> None:
        with engine.connect() as connection:
            connection.execute(sa.text(f"SELECT {keys}, count(*) FROM {table} GROUP BY {keys}")).fetchall()

    floor = _seconds(group_by_count)
    release = None

    def full() -> None:
        nonlocal release
        release = release_cohorts(SqlSource(engine, table), dims, "respondent", MEASURES, 50, margins)

    ours = _seconds(full)
    assert sorted(release.released["subjects"]) == sorted(expected["subjects"]), "the pushed-down release differs from pandas'"
    return {"group_by_count_s": floor, "release_s": ours, "ratio": ours / floor}


def run(quick: bool) -> dict:
    rows = 200_000 if quick else 10_000_000
    size = "200 k" if quick else "10 M"
    scenarios = {
        "adult.csv ×1" if quick else "adult.csv ×30": (*adult_scaled(1 if quick else 30), None),
        f"synthetic {size}": (*synthetic(rows), None),
        f"synthetic {size}, pseudonym keys": pseudonym_keyed(rows),
    }
    table = Table(title="Cohort release at k = 50 (best of 2)")
    for column in ("frame", "rows", "cells", "released", "suppressed (2nd)", "groupby-size s", "release s", "ratio", "pyCANON k s"):
        table.add_column(column, justify="left" if column == "frame" else "right")
    pushed = Table(title="The same release grouped by PostgreSQL (push-down), against its own GROUP BY count(*)")
    for column in ("frame", "GROUP BY count(*) s", "release s", "ratio"):
        pushed.add_column(column, justify="left" if column == "frame" else "right")
    results: dict = {"k": 50, "scenarios": {}}
    for name, (frame, dims, margins, fresh_keys) in scenarios.items():
        floor = _seconds(lambda: frame.groupby(dims, observed=True).size())
        release = None

        def full() -> None:
            nonlocal release
            release = release_cohorts(frame, dims, "respondent", MEASURES, 50, margins)

        ours = _seconds(full, fresh_keys)
        stats = release.stats
        ratio = ours / floor
        peer = sql = None
        if not quick and not fresh_keys:  # the keys do not change what pyCANON or PostgreSQL measure
            with console.status(f"pyCANON measuring k of {name}"):
                peer = pycanon_peer.k_anonymity_seconds(frame, dims)
        results["scenarios"][name] = {"rows": len(frame), "groupby_size_s": floor, "release_s": ours, "ratio": ratio, "pycanon": peer, **stats}
        if not fresh_keys:
            with console.status(f"loading {name} into PostgreSQL and releasing it there"), postgres_databases(f"bench_cohorts_{uuid.uuid4().hex[:8]}") as (url,):
                warehouse = Warehouse(url)
                results["scenarios"][name]["postgresql"] = sql = pushed_down(warehouse, frame, dims, margins, release.released)
                warehouse.get_engine().dispose()
        table.add_row(
            name, f"{len(frame):,}", f"{stats['cohorts_total']:,}", f"{stats['cohorts_released']:,}",
            f"{stats['cohorts_suppressed_secondary']:,}", f"{floor:.3f}", f"{ours:.3f}", f"{ratio:.1f}×",
            f"{peer['seconds']:.3f} (k={peer['k']})" if peer else "-" if fresh_keys else "full mode",
        )
        if sql:
            pushed.add_row(name, f"{sql['group_by_count_s']:.3f}", f"{sql['release_s']:.3f}", f"{sql['ratio']:.1f}×")
    console.print(table)
    console.print(pushed)
    worst = max(s["ratio"] for s in results["scenarios"].values())
    met = worst <= 2
    console.print(("[green]✓[/green] " if met else "[red]✗[/red] ") + f"release ≤ 2× the plain groupby-size: worst {worst:.1f}×")
    peers = [(s["release_s"], s["pycanon"]["seconds"]) for s in results["scenarios"].values() if s["pycanon"]]
    if peers:
        faster = all(ours < theirs for ours, theirs in peers)
        console.print(("[green]✓[/green] " if faster else "[red]✗[/red] ") + "full release faster than pyCANON measuring k: "
                      + ", ".join(f"{theirs / ours:.1f}×" for ours, theirs in peers))
        met = met and faster
    results["targets_met"] = met
    return results


if __name__ == "__main__":
    run_alone("cohorts", run, __doc__)
