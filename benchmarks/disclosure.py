"""The disclosure audit against its release, with 30 days of ledger history: each day some
subjects join and some leave (one day a single one), the release follows the change rule against
the ledger's last publication (read back from a SQLite warehouse, as a release reads it), the
table and its ledger rows are published there, and the audit judges the release against that
same publication, as the `no_differencing` check does.
Census (adult.csv, sex × race × education with margins, the income share as a sensitive outcome)
and the demo's shape (workspace × region × age band × segment).

    python -m benchmarks.disclosure [--quick]
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import track
from rich.table import Table

from benchmarks.cohorts import ADULT, synthetic
from benchmarks.common import run_alone
from compliance_assets.privacy.cohorts import DisclosureRules, MeasureSpec, disclosure_audit, entries_of, other_measures, outcome_kinds, release_cohorts
from compliance_assets.privacy.ledger import ledger_rows, previous_entries
from compliance_assets.privacy.window import ledger_publications
from compliance_assets.storage.warehouse import Warehouse

DAYS = 30
K = 50
console = Console()


def census() -> tuple[pd.DataFrame, list[str], list[tuple[str, ...]], dict, DisclosureRules]:
    frame = pd.read_csv(ADULT, skipinitialspace=True)
    frame = frame.assign(respondent=np.arange(len(frame)), income_over_50k=frame["salary-class"].str.contains(">50K").astype(int))
    measures = {"subjects": MeasureSpec("count_subjects"), "share_income_over_50k": MeasureSpec("mean", "income_over_50k")}
    return frame, ["sex", "race", "education"], [("sex", "race"), ("education",), ()], measures, DisclosureRules(outcomes=("share_income_over_50k",))


def demo_shape(rows: int) -> tuple[pd.DataFrame, list[str], list[tuple[str, ...]], dict, DisclosureRules]:
    frame, dims, margins = synthetic(rows)
    return frame, dims, [tuple(m) for m in margins], {"subjects": MeasureSpec("count_subjects"), "mean_age": MeasureSpec("mean", "age")}, DisclosureRules()


def _day(frame: pd.DataFrame, rng: np.random.Generator, day: int) -> pd.DataFrame:
    """A day's changes: 0.2 % of the population leaves and as many join (copies of others with
    identities of their own); on day 7 a single subject joins."""
    changes = 1 if day == 7 else max(1, len(frame) // 500)
    leaving = rng.choice(len(frame), size=0 if day == 7 else changes, replace=False)
    joining = frame.iloc[rng.choice(len(frame), size=changes, replace=False)].assign(
        respondent=frame["respondent"].max() + 1 + np.arange(changes)
    )
    return pd.concat([frame.drop(frame.index[leaving]), joining], ignore_index=True)


def history(name: str, frame: pd.DataFrame, dims, margins, measures, rules, warehouse: Warehouse, days: int) -> dict:
    rng = np.random.default_rng(11)
    table = "".join(c if c.isalnum() else "_" for c in name)
    shown_measures = [m for m in measures if m != "subjects"]
    release_s, audit_s, carried, withheld = [], [], [], []
    for day in track(range(days), description=f"{name}: {days} days", console=console, transient=True):
        if day:
            frame = _day(frame, rng, day)
        started = time.perf_counter()
        window = warehouse.ledger(table, last=rules.window)
        previous, earlier = previous_entries(window, dims, list(measures)), ledger_publications(window, outcome_kinds(measures, rules), other_measures(measures, rules))
        release = release_cohorts(frame, dims, "respondent", measures, K, margins, rules=rules, previous=previous, earlier=earlier)
        release_s.append(time.perf_counter() - started)
        rows = ledger_rows(
            entries_of(release), dims, shown_measures, release=table, publication=uuid.uuid4().hex,
            published_at=pd.Timestamp("2026-01-01") + pd.Timedelta(days=day), register_version="bench", code_version="bench",
        )
        warehouse.stage(table, release.released)
        warehouse.publish(table, ledger=rows)
        started = time.perf_counter()
        audit = disclosure_audit(release.released, frame, dims, "respondent", K, margins, (), measures, rules, previous, earlier=earlier)
        audit_s.append(time.perf_counter() - started)
        assert audit.exposed.empty, f"{name} day {day}: the audit found exposures in the release"
        carried.append(int(rows["carried"].sum()))
        withheld.append(int((~rows["shown"] & (rows["subjects"] > 0)).sum()))
    return {
        "rows": len(frame),
        "cells": int((release.entries["grouped_by"] == ",".join(dims)).sum()),
        "days": days,
        "release_median_s": statistics.median(release_s),
        "audit_median_s": statistics.median(audit_s),
        "audit_max_s": max(audit_s),
        "ratio": statistics.median(audit_s) / statistics.median(release_s),
        "rows_carried_median": statistics.median(carried),
        "rows_withheld_median": statistics.median(withheld),
        "ledger_rows": len(warehouse.ledger(table)),
    }


def run(quick: bool) -> dict:
    days = 5 if quick else DAYS
    scenarios = {"census (adult.csv)": census(), f"demo shape, {'200 k' if quick else '640 k'} subjects": demo_shape(200_000 if quick else 640_000)}
    table = Table(title=f"Disclosure audit against its release, {days} days of ledger history (medians)")
    for column in ("release", "subjects", "cells", "release s", "audit s", "audit max s", "audit / release", "rows carried / day", "rows withheld / day", "ledger rows"):
        table.add_column(column, justify="left" if column == "release" else "right")
    results: dict = {"k": K, "days": days, "scenarios": {}}
    with tempfile.TemporaryDirectory() as folder:
        warehouse = Warehouse(f"sqlite:///{Path(folder) / 'warehouse.db'}")
        for name, (frame, dims, margins, measures, rules) in scenarios.items():
            figures = history(name, frame, dims, margins, measures, rules, warehouse, days)
            results["scenarios"][name] = figures
            table.add_row(
                name, f"{figures['rows']:,}", f"{figures['cells']:,}", f"{figures['release_median_s']:.3f}", f"{figures['audit_median_s']:.3f}",
                f"{figures['audit_max_s']:.3f}", f"{figures['ratio']:.2f}×", f"{figures['rows_carried_median']:g}", f"{figures['rows_withheld_median']:g}", f"{figures['ledger_rows']:,}",
            )
        warehouse.get_engine().dispose()
    console.print(table)
    census_figures = results["scenarios"]["census (adult.csv)"]
    met = all(s["ratio"] <= 2 for s in results["scenarios"].values()) and census_figures["audit_max_s"] < 5
    console.print(("[green]✓[/green] " if met else "[red]✗[/red] ") + "audit ≤ 2× its release, and under 5 s at the census size: "
                  + ", ".join(f"{s['ratio']:.2f}×" for s in results["scenarios"].values()) + f"; census audit at most {census_figures['audit_max_s']:.2f} s")
    results["targets_met"] = met
    return results


if __name__ == "__main__":
    run_alone("disclosure", run, __doc__)
