"""Cohort release with k-anonymity counted on distinct subjects, not rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

SUBJECTS = "subjects"


@dataclass(frozen=True)
class MeasureSpec:
    aggregation: str  # count_subjects | sum | mean
    column: str | None = None


@dataclass(frozen=True)
class CohortRelease:
    released: pd.DataFrame
    suppressed: pd.DataFrame
    k: int

    @property
    def stats(self) -> dict[str, int]:
        sizes = self.released[SUBJECTS] if SUBJECTS in self.released else pd.Series(dtype="int64")
        return {
            "cohorts_total": len(self.released) + len(self.suppressed),
            "cohorts_released": len(self.released),
            "cohorts_suppressed": len(self.suppressed),
            "subjects_covered": int(sizes.sum()),
            "subjects_suppressed": int(self.suppressed[SUBJECTS].sum()) if len(self.suppressed) else 0,
            "min_released_cohort_size": int(sizes.min()) if len(sizes) else 0,
        }


def count_subjects(frame: pd.DataFrame, dimensions: Sequence[str], subject: str) -> pd.DataFrame:
    """Distinct subjects per cohort; missing dimension values form a cohort of their own."""
    grouped = frame.groupby(list(dimensions), dropna=False, observed=True, sort=True)
    return grouped[subject].nunique().rename(SUBJECTS).reset_index()


def release_cohorts(
    frame: pd.DataFrame,
    dimensions: Sequence[str],
    subject: str,
    measures: Mapping[str, MeasureSpec],
    k: int,
) -> CohortRelease:
    """Aggregates `frame` per cohort and keeps only cohorts of at least `k` distinct subjects."""
    if k < 2:
        raise ValueError(f"k must be at least 2, got {k}")
    dims = list(dimensions)
    named: dict[str, pd.NamedAgg] = {}
    for name, spec in measures.items():
        if spec.aggregation == "count_subjects":
            named[name] = pd.NamedAgg(column=subject, aggfunc="nunique")
        elif spec.aggregation in ("sum", "mean"):
            named[name] = pd.NamedAgg(column=spec.column, aggfunc=spec.aggregation)
        else:
            raise ValueError(f"unknown aggregation '{spec.aggregation}' for measure '{name}'")
    named[SUBJECTS] = pd.NamedAgg(column=subject, aggfunc="nunique")
    table = frame.groupby(dims, dropna=False, observed=True, sort=True).agg(**named).reset_index()
    keep = table[SUBJECTS] >= k
    released = table.loc[keep].reset_index(drop=True)
    suppressed = table.loc[~keep, [*dims, SUBJECTS]].reset_index(drop=True)
    ordered = [*dims, *[m for m in measures if m != SUBJECTS], SUBJECTS] if SUBJECTS not in measures else [*dims, *measures]
    return CohortRelease(released=released[ordered], suppressed=suppressed, k=k)


def undersized_cohorts(
    released: pd.DataFrame,
    source: pd.DataFrame,
    dimensions: Sequence[str],
    subject: str,
    k: int,
) -> pd.DataFrame:
    """Released cohorts whose subjects, recounted from the source rather than trusted from the
    release, number fewer than k. Cohorts absent from the source count as zero subjects."""
    dims = list(dimensions)
    recount = count_subjects(source, dims, subject).rename(columns={SUBJECTS: "recounted_subjects"})
    keys = released[dims].drop_duplicates()
    joined = keys.merge(recount, on=dims, how="left")
    joined["recounted_subjects"] = joined["recounted_subjects"].fillna(0).astype("int64")
    return joined.loc[joined["recounted_subjects"] < k].reset_index(drop=True)
