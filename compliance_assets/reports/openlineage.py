"""The register's lineage as OpenLineage run events, one per asset, built from openlineage-python's
own facet classes: each table's schema (with data category and identifier role per column) and its
column lineage, where `masking: true` marks the columns a keyed HMAC or an aggregation made
non-identifying. Catalogues (Marquez, DataHub, OpenMetadata) read these over the OpenLineage HTTP
transport. The package ships no JSON schemas, so `validate_events` re-reads every event through the
client's generated classes, whose `_schemaURL` names the spec version each facet follows."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from datetime import datetime
from enum import Enum

import attr
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import BaseFacet, column_lineage_dataset, documentation_dataset, job_type_job, schema_dataset
from openlineage.client.serde import Serde
from openlineage.client.uuid import generate_static_uuid

from compliance_assets.tiers import KEY_VERSION, Tier, table_name
from compliance_assets.privacy.cohorts import GROUPED_BY
from compliance_assets.register import Register
from compliance_assets.register.models import CohortRelease, FeatureSet, RawSource

PRODUCER = "urn:compliance-assets"
COLUMN_TYPES = {"string": "STRING", "integer": "BIGINT", "float": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE", "datetime": "TIMESTAMP"}
FACETS: dict[str, type[BaseFacet]] = {
    "schema": schema_dataset.SchemaDatasetFacet,
    "columnLineage": column_lineage_dataset.ColumnLineageDatasetFacet,
    "documentation": documentation_dataset.DocumentationDatasetFacet,
    "jobType": job_type_job.JobTypeJobFacet,
}
Transformation = column_lineage_dataset.Transformation


def tier_of(register: Register, name: str) -> Tier:
    entry = register.entry(name)
    return Tier.RAW if isinstance(entry, RawSource) else Tier.PSEUDONYMISED if isinstance(entry, FeatureSet) else Tier.AGGREGATE


def _columns(register: Register, name: str) -> list[tuple[str, str, str, str]]:
    """(name, type, data category, description) of each column the asset publishes."""
    entry = register.entry(name)
    if isinstance(entry, RawSource):
        return [(c, s.type, s.category, f"{s.description} (identifier: {s.identifier.value})") for c, s in entry.columns.items()]
    if isinstance(entry, FeatureSet):
        out = [
            (entry.subject_key, "string", "user.unique_id.pseudonymous", f"Keyed HMAC-SHA256 pseudonym, domain '{register.domain_of(name)}'"),
            (KEY_VERSION, "integer", "system.operations", "Key version the pseudonym was made with"),
        ]
        return out + [(f, s.type, s.category, f"{s.extraction} (identifier: {s.identifier})") for f, s in entry.features.items()]
    features = register.feature_sets[entry.source].features
    out = [(d, features[d].type, features[d].category, f"Cohort dimension from {entry.source}.{d}") for d in entry.dimensions]
    out.append((GROUPED_BY, "string", "system.operations", "Dimensions the row is grouped by; a margin row leaves the others empty"))
    return out + [(m, register.measure_type(name, m), "system.operations", spec.description) for m, spec in entry.measures.items()]


def column_transformations(register: Register, name: str) -> dict[str, list[tuple[str, str, Transformation]]]:
    """Per output column, its inputs as (asset, column, transformation). The same sources as the
    assets' `dagster/column_lineage`; what the register adds is how each column was made."""
    entry = register.entry(name)
    if isinstance(entry, RawSource):
        return {}
    if isinstance(entry, FeatureSet):
        subject = register.sources[entry.subject_source].subject
        hmac = Transformation(
            type="DIRECT", subtype="TRANSFORMATION", masking=True,
            description=f"keyed HMAC-SHA256 pseudonym of the normalised identifier (domain '{register.domain_of(name)}')",
        )
        out = {entry.subject_key: [(entry.subject_source, subject.column, hmac)]}
        for feature, spec in entry.features.items():
            made = Transformation(type="DIRECT", subtype="TRANSFORMATION", masking=False, description=spec.extraction)
            out[feature] = [(ref.split(".")[0], ref.split(".")[1], made) for ref in spec.sources]
        return out
    assert isinstance(entry, CohortRelease)
    source = register.feature_sets[entry.source]
    out = {d: [(entry.source, d, Transformation(type="DIRECT", subtype="IDENTITY", masking=False, description="cohort dimension"))] for d in entry.dimensions}
    for measure, spec in entry.measures.items():
        column = spec.column or source.subject_key
        what = "count of distinct subjects" if spec.aggregation == "count_subjects" else f"{spec.aggregation} over the cohort"
        aggregated = Transformation(
            type="DIRECT", subtype="AGGREGATION", masking=True,
            description=f"{what}, published only for cohorts of at least k = {register.activity_of(name).k_anonymity} subjects",
        )
        out[measure] = [(entry.source, column, aggregated)]
    return out


def _grouping(register: Register, name: str, namespace: str) -> list[column_lineage_dataset.InputField]:
    entry = register.entry(name)
    if not isinstance(entry, CohortRelease):
        return []
    source = table_name(Tier.PSEUDONYMISED, entry.source)
    grouped = Transformation(type="INDIRECT", subtype="GROUP_BY", masking=True, description="rows grouped into cohorts")
    return [column_lineage_dataset.InputField(namespace=namespace, name=source, field=d, transformations=[grouped]) for d in entry.dimensions]


def _dataset_facets(register: Register, name: str, namespace: str) -> dict[str, BaseFacet]:
    fields = [
        schema_dataset.SchemaDatasetFacetFields(name=c, type=COLUMN_TYPES.get(t, t), description=f"{description}; data category {category}", ordinal_position=i)
        for i, (c, t, category, description) in enumerate(_columns(register, name), start=1)
    ]
    facets: dict[str, BaseFacet] = {
        "schema": schema_dataset.SchemaDatasetFacet(fields=fields, producer=PRODUCER),
        "documentation": documentation_dataset.DocumentationDatasetFacet(description=register.entry(name).description, producer=PRODUCER),
    }
    lineage = column_transformations(register, name)
    if lineage:
        facets["columnLineage"] = column_lineage_dataset.ColumnLineageDatasetFacet(
            fields={
                column: column_lineage_dataset.Fields(
                    inputFields=[
                        column_lineage_dataset.InputField(namespace=namespace, name=table_name(tier_of(register, asset), asset), field=field, transformations=[how])
                        for asset, field, how in inputs
                    ]
                )
                for column, inputs in lineage.items()
            },
            dataset=_grouping(register, name, namespace),
            producer=PRODUCER,
        )
    return facets


def lineage_events(register: Register, namespace: str, at: datetime) -> list[RunEvent]:
    """One COMPLETE run event per asset: the asset as a job, its upstream tables as inputs and its
    table, with schema and column lineage, as the output. Run ids derive from `at` and the asset."""
    events = []
    for name in register.asset_names:
        inputs = sorted({asset for refs in column_transformations(register, name).values() for asset, _, _ in refs})
        events.append(
            RunEvent(
                eventType=RunState.COMPLETE,
                eventTime=at.isoformat(),
                run=Run(runId=str(generate_static_uuid(at, f"{namespace}/{name}".encode()))),
                job=Job(
                    namespace=namespace,
                    name=name,
                    facets={"jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="DAGSTER", jobType="ASSET", producer=PRODUCER)},
                ),
                inputs=[InputDataset(namespace=namespace, name=table_name(tier_of(register, a), a)) for a in inputs],
                outputs=[OutputDataset(namespace=namespace, name=table_name(tier_of(register, name), name), facets=_dataset_facets(register, name, namespace))],
                producer=PRODUCER,
            )
        )
    return events


def to_json(events: list[RunEvent]) -> list[dict]:
    return [Serde.to_dict(event) for event in events]


class InvalidLineage(ValueError):
    pass


def _build(hint: object, value: object, key: str | None = None) -> object:
    """`value` (parsed JSON) as an instance of the client class `hint` names; facets by their key."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _build(options[0], value, key)
    if origin is list:
        if not isinstance(value, list):
            raise InvalidLineage(f"{key}: expected a list, found {value!r}")
        return [_build(typing.get_args(hint)[0], v, key) for v in value]
    if origin is dict:
        if not isinstance(value, dict):
            raise InvalidLineage(f"{key}: expected an object, found {value!r}")
        return {k: _build(typing.get_args(hint)[1], v, k) for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, BaseFacet) and key in FACETS:
        hint = FACETS[key]
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            raise InvalidLineage(f"{key}: {value!r} is not one of {', '.join(m.value for m in hint)}") from None
    if isinstance(hint, type) and attr.has(hint):
        if not isinstance(value, dict):
            raise InvalidLineage(f"{key}: expected an object for {hint.__name__}, found {value!r}")
        hints = typing.get_type_hints(hint)
        known = {a.name: a for a in attr.fields(hint)}
        unknown = set(value) - set(known)
        if unknown:
            raise InvalidLineage(f"{hint.__name__} has no field(s) {', '.join(sorted(unknown))}")
        if "_schemaURL" in known and value.get("_schemaURL") != hint._get_schema():
            raise InvalidLineage(f"{key}: _schemaURL {value.get('_schemaURL')!r} is not {hint.__name__}'s {hint._get_schema()!r}")
        arguments = {a.alias: _build(hints[a.name], value[a.name], a.name) for a in known.values() if a.init and a.name in value}
        try:
            return hint(**arguments)
        except (TypeError, ValueError) as error:
            raise InvalidLineage(f"{hint.__name__}: {error}") from None
    if hint in (str, int, float, bool) and not isinstance(value, hint):
        raise InvalidLineage(f"{key}: expected {hint.__name__}, found {value!r}")
    return value


def validate_events(events: list[Mapping]) -> None:
    """Each event, read back through openlineage-python's RunEvent and facet classes, must give the
    same JSON: every field known to the client, every required one present, every facet's
    `_schemaURL` the one of the spec version its class was generated from."""
    for position, event in enumerate(events):
        try:
            rebuilt = Serde.to_dict(_build(RunEvent, dict(event), "event"))
        except InvalidLineage as error:
            raise InvalidLineage(f"event {position}: {error}") from None
        if rebuilt != event:
            raise InvalidLineage(f"event {position} does not read back as it was written")
