"""What a feature transform receives: its subjects with their pseudonyms, and the raw sources it
may read, each limited to the columns its feature registry names."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from compliance_assets.privacy.summaries import Measure, summarise_frame, summary_columns

Read = Callable[[str, list[str]], pd.DataFrame]
Summarise = Callable[[str, str, Mapping[str, Measure]], pd.DataFrame]


class SourceTables(Mapping[str, pd.DataFrame]):
    """The raw sources of one feature set. `tables[name]` reads a source's permitted columns whole,
    on first use; `tables.summary(name, by, measures)` gives one row per key, grouped where the
    rows are when `summarise` is given (the warehouse pushes aggregations down), so a source of
    millions of events never has to reach the step. A column the registry does not name is
    refused either way."""

    def __init__(
        self,
        owner: str,
        permitted: Mapping[str, Sequence[str]],
        read: Read,
        summarise: Summarise | None = None,
        already_read: Mapping[str, pd.DataFrame] | None = None,
    ) -> None:
        self._owner = owner
        self._permitted = permitted
        self._read = read
        self._summarise = summarise
        self._frames: dict[str, pd.DataFrame] = dict(already_read or {})

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._frames:
            self._frames[name] = self._read(name, list(self._columns_of(name)))
        return self._frames[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._permitted)

    def __len__(self) -> int:
        return len(self._permitted)

    def _columns_of(self, name: str) -> Sequence[str]:
        if name not in self._permitted:
            raise KeyError(f"'{name}' is not a source of '{self._owner}': its feature registry names {sorted(self._permitted)}")
        return self._permitted[name]

    def summary(self, name: str, by: str, measures: Mapping[str, Measure]) -> pd.DataFrame:
        """One row per non-missing `by` value of source `name`, with each of `measures`, in no set order."""
        permitted = self._columns_of(name)
        refused = [c for c in summary_columns(by, measures) if c not in permitted]
        if refused:
            raise KeyError(
                f"'{self._owner}' may not read {refused} of '{name}': its feature registry names {list(permitted)} "
                "(register/features.yaml, each feature's sources)"
            )
        if self._summarise is None or name in self._frames:
            return summarise_frame(self[name], by, measures)
        return self._summarise(name, by, measures)

    def clear(self) -> None:
        """Lets the sources read so far go (millions of events are not needed to stage the features)."""
        self._frames.clear()


@dataclass(frozen=True)
class FeatureInputs:
    """The subjects with their pseudonym already attached (rows without an identifier are
    quarantined before this), and every raw source the feature set reads."""

    subjects: pd.DataFrame
    sources: SourceTables
    subject_key: str
    run_date: pd.Timestamp
