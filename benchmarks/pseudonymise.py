"""Pseudonymisation throughput: our engine against the obvious per-row HMAC, the pure-Python floor
and the machine's C-level ceiling, on event-shaped data (10 events per subject) and on all-distinct
identifiers. Each measurement runs in its own process, so its peak RSS is its own.

    python -m benchmarks.pseudonymise [--quick]
"""

from __future__ import annotations

import argparse
import hmac
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from hashlib import sha256

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from benchmarks.common import Timer, openssl_hash_rate, peak_rss_mb, write_results
from compliance_assets.privacy.pseudonymise import PSEUDONYM_BYTES, derive_domain_key, pseudonymise_stream

KEY = derive_domain_key(b"benchmark-master-secret-32-bytes!!", "benchmark")
CHUNK_ROWS = 1_000_000
console = Console()


def identifiers(ids: np.ndarray) -> pd.Series:
    return "user" + pd.Series(ids).astype(str) + "@example.com"


def chunks(rows: int, distinct: int, chunk_rows: int, generation: Timer, seed: int = 1) -> Iterator[pd.Series]:
    """Event-shaped identifiers in arrival order, generated chunk by chunk (never all at once)."""
    rng = np.random.default_rng(seed)
    for start in range(0, rows, chunk_rows):
        with generation.running():
            n = min(chunk_rows, rows - start)
            ids = np.arange(start, start + n) if distinct >= rows else rng.integers(0, distinct, n)
            chunk = identifiers(ids)
        yield chunk


def naive(rows: int, distinct: int, chunk_rows: int) -> float:
    work, generation = Timer(), Timer()
    for chunk in chunks(rows, distinct, chunk_rows, generation):
        with work.running():
            chunk.map(lambda v: hmac.new(KEY, v.encode(), sha256).hexdigest())
    return work.seconds


def engine(rows: int, distinct: int, chunk_rows: int) -> float:
    generation = Timer()
    started = time.perf_counter()
    produced = sum(len(out) for out in pseudonymise_stream(chunks(rows, distinct, chunk_rows, generation), KEY))
    assert produced == rows
    return time.perf_counter() - started - generation.seconds


def floor(rows: int, distinct: int, chunk_rows: int) -> float:
    """hmac.digest in a loop over the pre-encoded distinct values: the least Python can do."""
    work = Timer()
    if distinct >= rows:
        for start in range(0, rows, chunk_rows):
            encoded = [v.encode() for v in identifiers(np.arange(start, min(rows, start + chunk_rows)))]
            with work.running():
                for value in encoded:
                    hmac.digest(KEY, value, sha256)[:PSEUDONYM_BYTES]
    else:
        encoded = [v.encode() for v in identifiers(np.arange(distinct))]
        with work.running():
            for value in encoded:
                hmac.digest(KEY, value, sha256)[:PSEUDONYM_BYTES]
    return work.seconds


METHODS = {"naive": naive, "engine": engine, "floor": floor}


def measure(method: str, rows: int, distinct: int, chunk_rows: int) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.pseudonymise", "--worker", method, "--rows", str(rows), "--distinct", str(distinct), "--chunk-rows", str(chunk_rows)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run(quick: bool) -> dict:
    rows = 200_000 if quick else 10_000_000
    chunk_rows = 50_000 if quick else CHUNK_ROWS
    scenarios = {"10 events per subject": rows // 10, "all distinct": rows}
    message_bytes = len(identifiers(np.array([rows // 2])).iloc[0])
    hash_rate = openssl_hash_rate(message_bytes, seconds=1 if quick else 3)
    ceiling = hash_rate / 2 if hash_rate else None  # an HMAC costs two compressions
    results: dict = {"rows": rows, "chunk_rows": chunk_rows, "message_bytes": message_bytes, "ceiling_rows_per_s": ceiling, "scenarios": {}}
    table = Table(title=f"Pseudonymisation, {rows:,} rows (chunks of {chunk_rows:,})")
    for column in ("scenario", "method", "rows/s", "vs naive", "peak RSS MB"):
        table.add_column(column, justify="right" if column != "scenario" and column != "method" else "left")
    for scenario, distinct in scenarios.items():
        measured = {m: measure(m, rows, distinct, chunk_rows) for m in METHODS}
        naive_rate = rows / measured["naive"]["seconds"]
        entry = {}
        for method, figures in measured.items():
            rate = rows / figures["seconds"]
            entry[method] = {**figures, "rows_per_s": rate}
            table.add_row(scenario, method, f"{rate:,.0f}", f"{rate / naive_rate:.1f}×", f"{figures['peak_rss_mb']:,.0f}")
        if ceiling:
            table.add_row(scenario, "C ceiling (openssl ÷ 2)", f"{ceiling * rows / distinct:,.0f}", f"{ceiling * rows / distinct / naive_rate:.1f}×", "-")
        entry["engine_vs_naive"] = entry["engine"]["rows_per_s"] / naive_rate
        entry["engine_time_vs_floor"] = measured["engine"]["seconds"] / measured["floor"]["seconds"]
        entry["fraction_of_ceiling"] = (entry["engine"]["rows_per_s"] / (ceiling * rows / distinct)) if ceiling else None
        results["scenarios"][scenario] = entry
    console.print(table)
    events, distinct_case = results["scenarios"]["10 events per subject"], results["scenarios"]["all distinct"]
    verdicts = [
        (f"engine ≥ 5× naive at 10 events per subject: {events['engine_vs_naive']:.1f}×", events["engine_vs_naive"] >= 5),
        (f"all distinct: engine time ≤ 1.3× the pure-Python floor: {distinct_case['engine_time_vs_floor']:.2f}×", distinct_case["engine_time_vs_floor"] <= 1.3),
        (f"peak RSS of the chunked engine ≤ 1,500 MB: {max(s['engine']['peak_rss_mb'] for s in results['scenarios'].values()):,.0f} MB",
         max(s["engine"]["peak_rss_mb"] for s in results["scenarios"].values()) <= 1500),
    ]
    if ceiling:
        verdicts.append((f"all distinct: {distinct_case['fraction_of_ceiling']:.0%} of the C-level HMAC ceiling ({ceiling:,.0f}/s for {message_bytes}-byte messages)", True))
    for text, ok in verdicts:
        console.print(("[green]✓[/green] " if ok else "[red]✗[/red] ") + text)
    results["targets_met"] = all(ok for _, ok in verdicts)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, seconds: proves the benchmark runs")
    parser.add_argument("--worker", choices=sorted(METHODS))
    parser.add_argument("--rows", type=int)
    parser.add_argument("--distinct", type=int)
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS)
    args = parser.parse_args()
    if args.worker:
        seconds = METHODS[args.worker](args.rows, args.distinct, args.chunk_rows)
        print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb()}))
        return
    write_results("pseudonymise", run(args.quick))


if __name__ == "__main__":
    main()
