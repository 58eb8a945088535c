"""What a feature transform receives: its subjects keyed by their pseudonyms, and the raw sources
it may read, each limited to the columns its feature registry names. Raw identifiers never reach
it: the subject's identifier and every column that joins a source to the subject arrive as the
subject's pseudonym, and any other direct identifier as a keyed pseudonym of its own, so a
`print` in a transform cannot put a person's id into Dagster's logs."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from compliance_assets.privacy.summaries import Count, Measure, summarise_frame, summary_columns

Read = Callable[[str, list[str]], pd.DataFrame]
Summarise = Callable[[str, str, Mapping[str, Measure]], pd.DataFrame]
KeyValues = Callable[[str, str, pd.Series], pd.Series]


@dataclass(frozen=True)
class SubjectKeys:
    """How a source's identifying columns become pseudonyms before a transform sees them.

    `references[source]` is the column joining that source to the subject: it arrives as
    `subject_key`, each value replaced by its subject's pseudonym through `owners` (referred value
    → pseudonym); rows of no subject of the feature set are left out. Each column in
    `keyed[source]` arrives with its values keyed by `key_values(source, column, values)`, and
    the columns in `hidden[source]` (the identifier a pseudonym was keyed from) not at all."""

    subject_key: str
    references: Mapping[str, str]
    owners: pd.Series
    keyed: Mapping[str, Sequence[str]] = field(default_factory=dict)
    key_values: KeyValues | None = None
    hidden: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def visible(self, name: str, columns: Sequence[str]) -> list[str]:
        """The columns of source `name` as the transform sees them."""
        reference = self.references.get(name)
        return [self.subject_key if column == reference else column for column in columns if column not in self.hidden.get(name, ())]

    def owned(self, by: pd.Series) -> pd.Series:
        """The pseudonym of each referred value; missing where it refers to no subject here."""
        return by.map(self.owners).astype("string")

    def protect(self, name: str, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame` of source `name` as the transform may see it."""
        frame = frame.drop(columns=[c for c in self.hidden.get(name, ()) if c in frame])
        reference = self.references.get(name)
        if reference is not None and reference in frame:
            frame[reference] = self.owned(frame[reference])
            frame = frame.loc[frame[reference].notna()].rename(columns={reference: self.subject_key}).reset_index(drop=True)
        for column in self.keyed.get(name, ()):
            if column in frame and self.key_values is not None:
                frame[column] = self.key_values(name, column, frame[column])
        return frame


class SourceTables(Mapping[str, pd.DataFrame]):
    """The raw sources of one feature set. `tables[name]` reads a source's permitted columns whole,
    on first use; `tables.summary(name, by, measures)` gives one row per key, grouped where the
    rows are when `summarise` is given (the warehouse pushes aggregations down), so a source of
    millions of events never has to reach the step. A column the registry does not name is
    refused either way. With `keys`, identifying columns arrive as pseudonyms (`SubjectKeys`):
    a summary by the subject key is grouped by the raw join column where the rows are, then each
    group is given its subject's pseudonym and the groups of one subject are added up."""

    def __init__(
        self,
        owner: str,
        permitted: Mapping[str, Sequence[str]],
        read: Read,
        summarise: Summarise | None = None,
        already_read: Mapping[str, pd.DataFrame] | None = None,
        keys: SubjectKeys | None = None,
    ) -> None:
        self._owner = owner
        self._permitted = permitted
        self._read = read
        self._summarise = summarise
        self._keys = keys
        self._frames: dict[str, pd.DataFrame] = dict(already_read or {})

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._frames:
            frame = self._read(name, list(self._columns_of(name)))
            self._frames[name] = self._keys.protect(name, frame) if self._keys else frame
        return self._frames[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._permitted)

    def __len__(self) -> int:
        return len(self._permitted)

    def _columns_of(self, name: str) -> Sequence[str]:
        if name not in self._permitted:
            raise KeyError(f"'{name}' is not a source of '{self._owner}': its feature registry names {sorted(self._permitted)}")
        return self._permitted[name]

    def _visible(self, name: str) -> list[str]:
        if name in self._frames:
            return list(self._frames[name].columns)
        columns = self._columns_of(name)
        return self._keys.visible(name, columns) if self._keys else list(columns)

    def summary(self, name: str, by: str, measures: Mapping[str, Measure]) -> pd.DataFrame:
        """One row per non-missing `by` value of source `name`, with each of `measures`, in no set order."""
        permitted = self._visible(name)
        refused = [c for c in summary_columns(by, measures) if c not in permitted]
        if refused:
            raise KeyError(
                f"'{self._owner}' may not read {refused} of '{name}': its feature registry names {list(permitted)} "
                "(register/features.yaml, each feature's sources)"
            )
        keyed = self._keys.keyed.get(name, ()) if self._keys else ()
        read_off = [m for measure in measures.values() for m in measure.columns() if m in keyed and not isinstance(measure, Count)]
        if read_off:
            raise KeyError(f"'{self._owner}' may not read the values of {read_off} of '{name}': they identify people; group or count by them instead")
        if self._summarise is None or name in self._frames:
            return summarise_frame(self[name], by, measures)
        reference = self._keys.references.get(name) if self._keys else None
        if reference is None or by != self._keys.subject_key:
            summary = self._summarise(name, by, measures)
            return self._keys.protect(name, summary) if self._keys else summary
        grouped = self._summarise(name, reference, measures)
        grouped[reference] = self._keys.owned(grouped[reference])
        grouped = grouped.loc[grouped[reference].notna()].rename(columns={reference: by})
        added = {measure_name: "sum" if isinstance(measure, Count) else "max" for measure_name, measure in measures.items()}
        return grouped.groupby(by, sort=False).agg(added).reset_index().astype(grouped.dtypes.to_dict())

    def clear(self) -> None:
        """Lets the sources read so far go (millions of events are not needed to stage the features)."""
        self._frames.clear()


@dataclass(frozen=True)
class FeatureInputs:
    """The transform's inputs. `subjects`: the subject source's permitted rows (rows without an
    identifier are quarantined before this), keyed by `subject_key`, the subject's pseudonym,
    with the subject's identifier and every column other sources join on removed; one person
    imported twice is two rows with one pseudonym. `sources`: every raw source the feature set
    reads, joined to the subjects by `subject_key` (see `SourceTables`)."""

    subjects: pd.DataFrame
    sources: SourceTables
    subject_key: str
    run_date: pd.Timestamp
