"""The identifier scan (`find_identifiers`) on the frames it judges before a publication: a
feature table of the demo's shape, and a table with a free-text column whose values are mostly
distinct, the scan's worst case. Each figure is the best of three runs."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from compliance_assets.privacy.detection import find_identifiers, known_values
from compliance_assets.privacy.pseudonymise import derive_domain_key, pseudonymise

WORDS = "the order arrived late please call back about invoice delivery refund address status thanks".split()


def feature_frame(rows: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = pd.Series([f"cus_{i:07d}" for i in range(rows)], dtype="string")
    return pd.DataFrame(
        {
            "subject_pseudonym": pseudonymise(ids, derive_domain_key(b"benchmark-master-secret-32-bytes!!", "benchmark")),
            "key_version": 1,
            "workspace_id": pd.Series(rng.choice(["ws_acme", "ws_globex", "ws_initech"], rows), dtype="string"),
            "age_band": pd.Series(rng.choice(["18-24", "25-34", "35-44", "45-54", "55-64", "65+"], rows), dtype="string"),
            "region": pd.Series(rng.choice(["north", "south", "east", "west", "southwest"], rows), dtype="string"),
            "opens_90d": rng.integers(0, 40, rows),
            "clicks_90d": rng.integers(0, 10, rows),
            "days_since_last_engagement": rng.integers(0, 400, rows),
            "engagement_segment": pd.Series(rng.choice(["active", "lapsing", "dormant"], rows), dtype="string"),
        }
    )


def text_frame(rows: int, seed: int = 11) -> pd.DataFrame:
    """Free-text notes, ~1 in 200 carrying an identifier, beside an order number and an amount."""
    rng = np.random.default_rng(seed)
    words = rng.choice(WORDS, size=(rows, 8))
    notes = pd.Series([" ".join(row) for row in words], dtype="string") + " #" + pd.Series(rng.integers(0, 10**6, rows)).astype("string")
    carrying = rng.random(rows) < 0.005
    notes[carrying] = notes[carrying] + " reach me at jane.doe@example.org or +44 20 7946 0958"
    return pd.DataFrame(
        {
            "note": notes,
            "order": pd.Series(rng.integers(10**5, 10**7, rows)).astype("string"),
            "amount": pd.Series(np.round(rng.random(rows) * 1000, 2)).astype("string"),
        }
    )


def _best_of(repeats: int, work) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def run(quick: bool = False) -> dict:
    features = feature_frame(7_000 if quick else 70_000)
    texts = text_frame(20_000 if quick else 200_000)
    known = {"customers.customer_id": known_values(pd.Series([f"cus_{i:07d}" for i in range(0, 140_000, 2)]))}
    results = {
        "feature_rows": len(features),
        "feature_seconds": round(_best_of(3, lambda: find_identifiers(features, known)), 3),
        "text_rows": len(texts),
        "text_seconds": round(_best_of(3, lambda: find_identifiers(texts, known)), 3),
    }
    print("| frame | rows | scan (best of 3) |\n|---|---|---|")
    print(f"| feature table | {results['feature_rows']:,} | {results['feature_seconds']:.3f} s |")
    print(f"| free text | {results['text_rows']:,} | {results['text_seconds']:.3f} s |")
    return results


if __name__ == "__main__":
    run()
