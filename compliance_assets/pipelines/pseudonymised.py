"""The preparation of a feature set's subjects before its transform runs, and the finishing of its
output. Pseudonyms come first: rows without an identifier are set aside, the rest keyed with the
domain key, a subject id duplicated with conflicting values set aside too (one row per subject),
the subjects without consent withdrawn, and only then the inputs built, with the
subject's identifier and the join keys replaced by pseudonyms, so no raw identifier reaches a
team's feature code."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import pandas as pd

from compliance_assets.pipelines.feature_inputs import FeatureInputs, Read, SourceTables, SubjectKeys, Summarise
from compliance_assets.privacy.conform import REASON_COLUMN
from compliance_assets.privacy.normalise import missing_mask, normalise, normalise_as_is
from compliance_assets.privacy.pseudonymise import pseudonymise, scoped
from compliance_assets.register import FeatureSet, IdentifierRole, Register
from compliance_assets.tiers import KEY_VERSION

DomainKey = Callable[[str], tuple[int, bytes]]


@dataclass(frozen=True)
class Subjects:
    """The subject source's rows with their normalised identifiers (aligned on the index) and,
    where the register scopes subjects, the scope each identifier is keyed in."""

    people: pd.DataFrame
    identifiers: pd.Series
    scope: pd.Series | None = None

    def only(self, kept: pd.Series) -> Subjects:
        return Subjects(self.people.loc[kept], self.identifiers[kept], self.scope[kept] if self.scope is not None else None)


def direct_identifier_columns(register: Register, sources: list[str]) -> dict[str, list[str]]:
    return {
        name: [c for c, spec in register.sources[name].columns.items() if spec.identifier is IdentifierRole.DIRECT]
        for name in sources
        if name in register.sources
    }


def referenced_columns(register: Register, source_name: str) -> list[str]:
    """Columns of `source_name` that other sources refer to its subjects by (its join keys)."""
    references = (source.subject_reference for source in register.sources.values() if source.subject_reference)
    return sorted({column for target, column in (r.split(".") for r in references) if target == source_name})


def source_assets(feature_set: FeatureSet) -> list[str]:
    """The raw sources a feature set reads: its subject source and every source a feature names."""
    names = {feature_set.subject_source}
    for feature in feature_set.features.values():
        names.update(ref.split(".")[0] for ref in feature.sources)
    return sorted(names)


def identified(register: Register, name: str, people: pd.DataFrame) -> tuple[Subjects, pd.DataFrame]:
    """The subject source's rows with a normalised identifier, and those without one, with their
    reason, for quarantine: a row no pseudonym can be keyed for cannot be a subject."""
    subject = register.sources[register.feature_sets[name].subject_source].subject
    identifiers = normalise(people[subject.column], subject.kind, subject.default_region)
    missing = missing_mask(identifiers)
    rejected = people.loc[missing].astype("string").assign(**{REASON_COLUMN: f"{subject.column}: missing or empty identifier"})
    people = people.loc[~missing].copy()
    scope = people[subject.scope].astype("string") if subject.scope else None
    return Subjects(people, identifiers[~missing], scope), rejected


def keyed(subjects: Subjects, subject_key: str, domain_key: bytes) -> Subjects:
    """`subjects` with their pseudonym in `subject_key`: one person imported twice, however their
    identifier was written, shares one pseudonym."""
    people = subjects.people.copy()
    people[subject_key] = pseudonymise(scoped(subjects.identifiers, subjects.scope), domain_key)
    return replace(subjects, people=people)


@dataclass(frozen=True)
class SetAside:
    """Rows of the subject source kept out of the feature set, with their reason; how many
    subject ids were duplicated with conflicting values; and how many rows were merged into a
    subject another row already names (its identifier spelled otherwise, another join key)."""

    rows: pd.DataFrame
    duplicated_ids: int = 0
    merged_rows: int = 0


def one_row_per_subject(subjects: Subjects, subject_key: str, aliases: Sequence[str]) -> tuple[Subjects, SetAside]:
    """The keyed subjects, each with rows that agree. Rows of one subject that differ only in
    `aliases` (the identifier's spelling, the join keys other sources refer to it by) are one
    person imported twice: they stay, so every join key still finds its subject, and the
    transform sees the subject once. Rows of one subject that disagree on anything else are all
    set aside with the reason: which one is true is not ours to guess."""
    people = subjects.people
    keys = people[subject_key]
    repeated = keys.duplicated(keep=False)
    rejected = people.iloc[:0].drop(columns=[subject_key]).astype("string").assign(**{REASON_COLUMN: pd.Series(dtype="string")})
    if not repeated.any():
        return subjects, SetAside(rejected)
    compared = [c for c in people.columns if c not in (*aliases, subject_key)]
    versions = people.loc[repeated, [subject_key, *compared]].astype("string").fillna("\x00").drop_duplicates()[subject_key].value_counts()
    conflicting = keys.isin(versions.index[versions > 1])
    merged = int((keys[~conflicting].duplicated(keep="first")).sum())
    if not conflicting.any():
        return subjects, SetAside(rejected, merged_rows=merged)
    rejected = people.loc[conflicting].drop(columns=[subject_key]).astype("string").assign(**{REASON_COLUMN: f"{aliases[0]}: subject id duplicated with conflicting values"})
    return subjects.only(~conflicting), SetAside(rejected.reset_index(drop=True), int(keys[conflicting].nunique()), merged)


def consenting_only(subjects: Subjects, subject_key: str, join: str, consenting_ids: pd.Series | pd.Index | Sequence[str]) -> tuple[Subjects, pd.Index]:
    """The keyed subjects who consent, and the pseudonyms of those who do not. One person imported
    twice shares a pseudonym: a missing consent on any record wins."""
    people = subjects.people
    without = pd.Index(people.loc[~people[join].isin(consenting_ids), subject_key].unique())
    return subjects.only(~people[subject_key].isin(without)), without


def subject_keys(register: Register, name: str, permitted: Mapping[str, list[str]], people: pd.DataFrame, key_values) -> SubjectKeys:
    """How the feature set's inputs arrive keyed: the subject source without the identifier and
    join keys its pseudonym stands for; each other source joined to it through the pseudonym of
    the subject its join key names; every other direct identifier a transform may read, keyed
    on its own."""
    feature_set = register.feature_sets[name]
    subject_key, subject_source = feature_set.subject_key, feature_set.subject_source
    joined_on = referenced_columns(register, subject_source)
    known = [people[[c, subject_key]].dropna().drop_duplicates(c).set_index(c)[subject_key] for c in joined_on if c in people]
    owners = pd.concat(known) if known else pd.Series(dtype="string")
    references: dict[str, str] = {}
    for source in permitted:
        reference = register.sources[source].subject_reference if source in register.sources else None
        if reference and reference.split(".")[0] == subject_source:
            references[source] = reference.split(".")[1]
    identifying = direct_identifier_columns(register, list(permitted))
    keyed_columns = {
        source: [c for c in identifying.get(source, []) if c in permitted[source] and c != references.get(source) and c not in joined_on]
        for source in permitted
        if source != subject_source
    }
    keyed_columns[subject_source] = [
        c for c in identifying.get(subject_source, []) if c in permitted[subject_source] and c not in joined_on and c != register.sources[subject_source].subject.column
    ]
    hidden = {subject_source: [c for c in dict.fromkeys([register.sources[subject_source].subject.column, *joined_on]) if c in permitted[subject_source]]}
    return SubjectKeys(subject_key, references, owners[~owners.index.duplicated()], keyed_columns, key_values, hidden)


def keyed_values(domain_key: DomainKey, domain: str, source: str, column: str, values: pd.Series) -> pd.Series:
    """Another direct identifier, keyed under its own key of the domain: a transform can still
    group or count by it, and it joins nothing outside this feature set."""
    normalised = normalise_as_is(values)
    named = ~missing_mask(normalised)
    out = pd.Series(pd.NA, index=values.index, dtype="string")
    if named.any():
        out[named] = pseudonymise(normalised[named], domain_key(f"{domain}/{source}.{column}")[1]).to_numpy()
    return out


def feature_inputs(
    register: Register,
    name: str,
    permitted: Mapping[str, list[str]],
    people: pd.DataFrame,
    domain_key: DomainKey,
    read: Read,
    summarise: Summarise | None,
    run_date: pd.Timestamp,
) -> FeatureInputs:
    """What the transform receives: the keyed subjects with their identifier and join keys
    removed, and the sources it reads (`permitted`: the columns its registry names in each),
    each arriving keyed by `SubjectKeys` as it is read."""
    feature_set = register.feature_sets[name]
    domain = register.domain_of(name)
    keys = subject_keys(register, name, permitted, people, lambda source, column, values: keyed_values(domain_key, domain, source, column, values))
    subjects = keys.protect(feature_set.subject_source, people).drop_duplicates(subset=[feature_set.subject_key], ignore_index=True)
    sources = SourceTables(
        name,
        {source: permitted[source] for source in source_assets(feature_set)},
        read,
        summarise,
        already_read={feature_set.subject_source: subjects},
        keys=keys,
    )
    return FeatureInputs(subjects=subjects, sources=sources, subject_key=feature_set.subject_key, run_date=run_date)


def with_key_version(features: pd.DataFrame, key_version: int) -> pd.DataFrame:
    """The transform's output with the key version its pseudonyms were made with, second (after
    the subject key), whatever the transform put there: rotation moves it."""
    features = features.drop(columns=[KEY_VERSION], errors="ignore")
    features.insert(min(1, len(features.columns)), KEY_VERSION, key_version)
    return features
