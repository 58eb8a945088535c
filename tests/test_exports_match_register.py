"""Every export says what the register says: the Fides export, the RoPA, the AI processing schedule
and each DPIA, read back as written, are compared field by field with the facts derived from the
register, for every activity of the demo and the census; a wrong export is caught, by the plain
function and by the governance reports' blocking check in a real run."""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance

from compliance_demo.definitions import build_definitions
from compliance_assets.dpia.lineage import review_states
from compliance_assets.jobs import dpia as dpia_job
from compliance_assets.register import load_register
from compliance_assets.reports.ai_schedule import fides_export, schedule_entries
from compliance_assets.reports.crosscheck import DPIA, FIDES, ROPA, SCHEDULE, Exports, covering, expected_facts, export_mismatches
from compliance_assets.reports.dpia import dpia_facts
from compliance_assets.reports.ropa import ropa_entries
from tests.conftest import REPO

CENSUS = "census_statistics"
REGISTER = load_register(REPO / "register")


def written(register) -> Exports:
    """The exports as the reports asset writes them, read back from their serialised form."""
    defs = build_definitions(register)
    states = review_states(defs.resolve_asset_graph(), None, register, None, sorted(register.dpias))
    return Exports(
        fides=yaml.safe_load(yaml.safe_dump(fides_export(register), sort_keys=False)),
        ropa=json.loads(json.dumps(ropa_entries(register))),
        schedule=json.loads(json.dumps(schedule_entries(register))),
        dpias=json.loads(json.dumps({key: dpia_facts(register, state) for key, state in states.items()})),
    )


@pytest.fixture(scope="module")
def exports() -> Exports:
    return written(REGISTER)


@pytest.mark.parametrize("activity", sorted(REGISTER.activities))
def test_every_export_agrees_with_the_register(exports, activity):
    assert [m for m in export_mismatches(REGISTER, exports) if m.activity == activity] == []
    assert ROPA in covering(REGISTER)[activity]


def test_each_activity_is_held_by_the_exports_it_belongs_in():
    assert covering(REGISTER) == {
        "engagement_analytics": {ROPA, FIDES, SCHEDULE, DPIA},
        "census_statistics": {ROPA, FIDES, SCHEDULE, DPIA},
        "consent_management": {ROPA},
        "site_search": {ROPA},
    }


def test_the_census_export_declares_its_special_category(exports):
    facts = expected_facts(REGISTER, CENSUS)
    assert facts["special_categories"] == ["user.demographic.race_ethnicity"]
    assert facts["special_category_basis"] == "Archiving, research and statistics (with a basis in law)"
    (system,) = [s for s in exports.fides["system"] if s["fides_key"] == CENSUS]
    declaration = system["privacy_declarations"][0]
    assert declaration["processes_special_category_data"] is True
    assert declaration["special_category_legal_basis"] == facts["special_category_basis"]


def _census_system(exports: Exports) -> dict:
    return next(s for s in exports.fides["system"] if s["fides_key"] == CENSUS)


def test_a_wrong_field_in_any_export_is_named(exports):
    exports = copy.deepcopy(exports)
    _census_system(exports)["privacy_declarations"][0]["processes_special_category_data"] = False
    next(e for e in exports.ropa if e["activity"] == "engagement_analytics")["fields"]["retention"]["value"]["user.behavior"]["period"] = "24 months"
    next(e for e in exports.schedule if e["activity"] == CENSUS)["special_category_basis"] = None
    exports.dpias["engagement_analytics"]["sub_processors"].pop()
    found = {(m.activity, m.export, m.field) for m in export_mismatches(REGISTER, exports)}
    assert found == {
        (CENSUS, FIDES, "privacy_declarations[0].processes_special_category_data"),
        ("engagement_analytics", ROPA, "fields.retention"),
        (CENSUS, SCHEDULE, "special_category_basis"),
        ("engagement_analytics", DPIA, "sub_processors[*].name"),
        ("engagement_analytics", DPIA, "sub_processors[*].country"),
        ("engagement_analytics", DPIA, "sub_processors[*].transfer_basis (outside the EEA)"),
    }


def test_a_missing_record_is_a_mismatch(exports):
    wrong = Exports(exports.fides, [e for e in exports.ropa if e["activity"] != "site_search"], exports.schedule, exports.dpias)
    (mismatch,) = export_mismatches(REGISTER, wrong)
    assert (mismatch.activity, mismatch.export, mismatch.field) == ("site_search", ROPA, "(record)")


def test_the_governance_reports_fail_on_a_wrong_export(local_env, monkeypatch):
    def without_special_categories(register):
        export = fides_export(register)
        for system in export["system"]:
            system["privacy_declarations"][0].update(processes_special_category_data=False, special_category_legal_basis=None)
        return export

    monkeypatch.setattr(dpia_job, "fides_export", without_special_categories)
    result = build_definitions().resolve_job_def("governance_reports").execute_in_process(instance=DagsterInstance.get(), raise_on_error=False)
    assert not result.success
    (evaluation,) = [e.event_specific_data for e in result.all_events if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION]
    assert evaluation.check_name == dpia_job.EXPORTS_CHECK and evaluation.passed is False
    report = evaluation.metadata["report"].value
    assert f"| {CENSUS} | {FIDES} | `privacy_declarations[0].processes_special_category_data` | False | True |" in report
    assert f"| {CENSUS} | {FIDES} | `privacy_declarations[0].special_category_legal_basis` | None | Archiving, research and statistics (with a basis in law) |" in report
    assert "engagement_analytics" not in report, "an activity without special categories is unaffected"
