"""The OpenLineage export: one run event per asset built from openlineage-python's facets, the same
column lineage the assets carry in Dagster, `masking: true` exactly where a keyed HMAC or an
aggregation transformed a column, validated by reading it back through the client's classes, and
written beside the other reports by the governance reports asset."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from dagster import DagsterInstance

from compliance_demo.definitions import build_definitions
from compliance_assets.reports.openlineage import InvalidLineage, lineage_events, to_json, validate_events
from compliance_assets.register import load_register
from tests.conftest import REPO

REGISTER = load_register(REPO / "register")
AT = datetime(2026, 12, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return json.loads(json.dumps(to_json(lineage_events(REGISTER, "compliance_assets", AT))))


def _output(events: list[dict], table: str) -> dict:
    return next(o for e in events for o in e["outputs"] if o["name"] == table)


def _masking(events: list[dict], table: str) -> dict[str, list[tuple[str, bool]]]:
    fields = _output(events, table)["facets"]["columnLineage"]["fields"]
    return {c: [(f"{i['name']}.{i['field']}", t["masking"]) for i in f["inputFields"] for t in i["transformations"]] for c, f in fields.items()}


def test_every_asset_has_an_event_that_the_client_reads_back(events):
    assert [e["job"]["name"] for e in events] == REGISTER.asset_names
    validate_events(events)
    schema = _output(events, "raw__census_respondents")["facets"]["schema"]
    assert schema["_schemaURL"] == "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
    race = next(f for f in schema["fields"] if f["name"] == "race")
    assert race["description"].endswith("data category user.demographic.race_ethnicity")
    assert "columnLineage" not in _output(events, "raw__census_respondents")["facets"], "raw data arrives from outside"


def test_masking_marks_the_hmac_and_the_aggregations(events):
    features = _masking(events, "pseudonymised__census_features")
    assert features["subject_pseudonym"] == [("raw__census_respondents.respondent_id", True)]
    assert features["race"] == [("raw__census_respondents.race", False)]
    cohorts = _masking(events, "aggregate__census_cohorts")
    assert cohorts["subjects"] == [("pseudonymised__census_features.subject_pseudonym", True)]
    assert cohorts["share_income_over_50k"] == [("pseudonymised__census_features.income_over_50k", True)]
    assert cohorts["race"] == [("pseudonymised__census_features.race", False)]
    grouping = _output(events, "aggregate__census_cohorts")["facets"]["columnLineage"]["dataset"]
    assert {(g["field"], g["transformations"][0]["subtype"], g["transformations"][0]["masking"]) for g in grouping} == {
        ("sex", "GROUP_BY", True), ("race", "GROUP_BY", True), ("education", "GROUP_BY", True)
    }


def test_the_lineage_is_the_one_the_assets_carry(local_env, events):
    specs = {s.key.to_user_string(): s for s in build_definitions().resolve_all_asset_specs()}
    for name in REGISTER.asset_names:
        carried = specs[name].metadata["privacy/column_sources"].value
        facets = _output(events, next(o["name"] for e in events if e["job"]["name"] == name for o in e["outputs"]))["facets"]
        exported = {c: sorted(f"{i['name'].split('__', 1)[1]}.{i['field']}" for i in f["inputFields"]) for c, f in facets.get("columnLineage", {}).get("fields", {}).items()}
        assert exported == {c: sorted(refs) for c, refs in carried.items()}, name


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda e: e["outputs"][0]["facets"]["schema"].update(_schemaURL="https://openlineage.io/spec/facets/1-0-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"), "_schemaURL"),
        (lambda e: e["outputs"][0]["facets"]["schema"]["fields"][0].update(colour="red"), "no field"),
        (lambda e: e["job"].pop("name"), "name"),
        (lambda e: e.update(eventType="FINISHED"), "FINISHED"),
    ],
)
def test_an_invalid_event_is_refused(events, spoil, message):
    spoilt = copy.deepcopy(events[0])
    spoil(spoilt)
    with pytest.raises(InvalidLineage, match=message):
        validate_events([spoilt])


def test_the_governance_reports_write_it(local_env):
    result = build_definitions().resolve_job_def("governance_reports").execute_in_process(instance=DagsterInstance.get())
    (reports,) = result.asset_materializations_for_node("compliance_reports")
    written = json.loads((Path(reports.metadata["reports_folder"].value) / "openlineage.json").read_text())
    assert reports.metadata["openlineage_events"].value == len(written) == len(REGISTER.asset_names)
    validate_events(written)
