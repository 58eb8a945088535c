"""Every asset carries its privacy facts, and the graph matches a reviewed snapshot (as in
dagster-open-platform): a change to keys, lineage, tiers, tags or checks shows up in review.
Regenerate with UPDATE_SNAPSHOTS=1 after an intended change."""

from __future__ import annotations

import json
import os
import subprocess
import sys


from compliance_demo.definitions import build_definitions
from compliance_assets.register import load_register
from compliance_assets.tiers import CATEGORY_COLUMN_TAG, IDENTIFIER_COLUMN_TAG, TIER_TAG, required_checks
from tests.conftest import REPO
from tests.helpers import run_job

SNAPSHOT = REPO / "tests" / "snapshots" / "asset_graph.json"
JOBS_SNAPSHOT = REPO / "tests" / "snapshots" / "jobs.json"


def _graph_snapshot(defs) -> dict:
    graph = defs.resolve_asset_graph()
    snapshot = {}
    for spec in sorted(_personal_specs(defs), key=lambda s: s.key.to_user_string()):
        key = spec.key
        schema = spec.metadata["dagster/column_schema"]
        snapshot[key.to_user_string()] = {
            "group": spec.group_name,
            "deps": sorted(d.asset_key.to_user_string() for d in spec.deps),
            "tags": dict(sorted(spec.tags.items())),
            "kinds": sorted(spec.kinds),
            "owners": list(spec.owners),
            "checks": sorted(
                (c.name, c.blocking) for c in (graph.get_check_spec(ck) for ck in graph.get_check_keys_for_assets({key}))
            ),
            "columns": {c.name: dict(sorted(c.tags.items())) for c in schema.columns},
        }
    return json.loads(json.dumps(snapshot))


def _personal_specs(defs) -> list:
    return [spec for spec in defs.resolve_all_asset_specs() if TIER_TAG in spec.tags]


def test_governance_assets_hold_no_personal_data_and_carry_their_facts(local_env):
    defs = build_definitions()
    governance = [spec for spec in defs.resolve_all_asset_specs() if TIER_TAG not in spec.tags]
    assert sorted(s.key.to_user_string() for s in governance) == ["compliance_reports", "dpia/census_statistics", "dpia/engagement_analytics"]
    for spec in governance:
        assert spec.group_name == "dpia" and spec.owners and spec.kinds and spec.description
        assert not spec.deps, "a report reads the register, the code and Dagster's records, never a table of personal data"


def test_every_asset_carries_its_privacy_facts(local_env):
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    register = load_register(REPO / "register")
    for spec in _personal_specs(defs):
        tier = spec.tags[TIER_TAG]
        assert spec.group_name == tier
        assert spec.owners and spec.kinds and spec.code_version and spec.description
        assert {"privacy/activity", "privacy/legal-basis", "privacy/data-use"} <= set(spec.tags)
        columns = spec.metadata["dagster/column_schema"].columns
        assert columns and all({CATEGORY_COLUMN_TAG, IDENTIFIER_COLUMN_TAG} <= set(c.tags) for c in columns)
        checks = [graph.get_check_spec(k) for k in graph.get_check_keys_for_assets({spec.key})]
        assert set(required_checks(register, spec.key.to_user_string())) == {c.name for c in checks}
        assert all(c.blocking for c in checks)
    client_checked = {
        spec.key.to_user_string()
        for spec in _personal_specs(defs)
        if any(graph.get_check_spec(k).name == "client_isolation" for k in graph.get_check_keys_for_assets({spec.key}))
    }
    assert client_checked == {"engagement_cohorts", "region_cohorts"}  # processor activities; not the census


def test_asset_pages_read_as_markdown_with_retention_per_column(local_env):
    specs = {s.key.to_user_string(): s for s in _personal_specs(build_definitions())}
    customers = specs["customers"].metadata
    assert "| Postmark (ActiveCampaign, LLC) | Email delivery and open/click tracking | US | SCCs |" in customers["privacy/sub_processors"].value
    assert "| Hetzner Online GmbH | Hosting of the warehouse and the orchestrator | DE | EU/EEA |" in customers["privacy/sub_processors"].value
    assert customers["privacy/automated_decisions"].value.startswith("No automated decisions")
    email = next(c for c in customers["dagster/column_schema"].columns if c.name == "email")
    assert email.description.endswith("Retention: 90 days (user.contact.email)")
    assert "| `email` | user.contact.email | direct | 90 days | Raw contact data is kept 90 days after import |" in customers["privacy/column_retention"].value
    events = specs["engagement_events"].metadata["privacy/column_retention"].value
    assert "| `customer_id` | user.unique_id | direct | 12 months |" in events, "a source's own retention entry wins over the activity's"
    features = specs["census_features"].metadata["privacy/column_retention"].value
    assert "| `race` | user.demographic.race_ethnicity | quasi | 5 years |" in features


def test_no_direct_identifier_column_past_the_raw_tier(local_env):
    for spec in _personal_specs(build_definitions()):
        if spec.tags[TIER_TAG] != "raw":
            roles = {c.tags[IDENTIFIER_COLUMN_TAG] for c in spec.metadata["dagster/column_schema"].columns}
            assert "direct" not in roles, spec.key


def test_asset_graph_matches_snapshot(local_env):
    current = _graph_snapshot(build_definitions())
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n")
    assert SNAPSHOT.exists(), "no snapshot yet: run with UPDATE_SNAPSHOTS=1"
    assert current == json.loads(SNAPSHOT.read_text()), "asset graph changed: review, then UPDATE_SNAPSHOTS=1"


def _jobs_snapshot(defs) -> dict:
    """Every job with the assets it selects, and what its schedules and sensors start."""
    repository = defs.get_repository_def()
    jobs = {}
    for job in sorted(repository.get_all_jobs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        layer = job.asset_layer
        jobs[job.name] = {
            "assets": sorted(k.to_user_string() for k in layer.executable_asset_keys) if layer else [],
            "ops": sorted(node.name for node in job.graph.nodes) if not (layer and layer.executable_asset_keys) else [],
            "schedules": sorted(s.name for s in repository.schedule_defs if s.job_name == job.name),
            "sensors": sorted(s.name for s in repository.sensor_defs if job.name in {t.job_name for t in s.targets}),
        }
    return jobs


def test_every_job_selects_what_the_snapshot_says(local_env):
    current = _jobs_snapshot(build_definitions())
    if os.environ.get("UPDATE_SNAPSHOTS"):
        JOBS_SNAPSHOT.write_text(json.dumps(current, indent=2) + "\n")
    assert JOBS_SNAPSHOT.exists(), "no snapshot yet: run with UPDATE_SNAPSHOTS=1"
    assert current == json.loads(JOBS_SNAPSHOT.read_text()), "a job's selection changed: review, then UPDATE_SNAPSHOTS=1"


def test_materialisations_carry_column_lineage(local_env):
    result = run_job()
    assert result.success
    (features,) = result.asset_materializations_for_node("customer_features")
    lineage = features.metadata["dagster/column_lineage"].value.deps_by_column
    assert [(d.asset_key.to_user_string(), d.column_name) for d in lineage["age_band"]] == [("customers", "birth_date")]
    assert [(d.asset_key.to_user_string(), d.column_name) for d in lineage["subject_pseudonym"]] == [("customers", "email")]
    (cohorts,) = result.asset_materializations_for_node("engagement_cohorts")
    cohort_lineage = cohorts.metadata["dagster/column_lineage"].value.deps_by_column
    assert [(d.asset_key.to_user_string(), d.column_name) for d in cohort_lineage["opens"]] == [("customer_features", "opens_90d")]
    assert cohorts.metadata["cohorts_released"].value > 0
    assert cohorts.metadata["min_released_cohort_size"].value >= 50


def test_code_version_follows_register_and_transform(local_env, tmp_path):
    import shutil

    from compliance_assets.register import load_register

    before = {s.key.to_user_string(): s.code_version for s in _personal_specs(build_definitions())}
    copy = tmp_path / "register"
    shutil.copytree(REPO / "register", copy)
    path = copy / "cohorts.yaml"
    path.write_text(path.read_text().replace("dimensions: [workspace_id, region]", "dimensions: [workspace_id, region, age_band]"))
    after = {s.key.to_user_string(): s.code_version for s in _personal_specs(build_definitions(load_register(copy)))}
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"region_cohorts"}


def test_loading_the_code_location_prints_no_warnings(local_env):
    """The Dagster previews we rely on are acknowledged once (factories/previews.py), so a load or a
    run does not bury a real warning under two dozen repeats of theirs."""
    loaded = subprocess.run(
        [sys.executable, "-W", "default", "-c", "from compliance_demo.definitions import defs; defs.resolve_asset_graph()"],
        capture_output=True, text=True, cwd=REPO, check=True,
    )
    assert "Warning" not in loaded.stderr, loaded.stderr


def test_steps_fork_from_a_server_that_preloads_libraries_only(local_env):
    """Every run of the code location forks its steps from a server holding the heavy imports; that
    server must not build a code location (it would read secrets before any step asks for them)."""
    from compliance_demo.definitions import defs
    from compliance_demo.executor import PRELOADED_MODULES, preloaded_multi_or_in_process_executor, with_preloading

    assert defs.resolve_job_def("demo_pipeline").executor_def is preloaded_multi_or_in_process_executor
    preloading = {"forkserver": {"preload_modules": list(PRELOADED_MODULES)}}
    assert with_preloading({"multiprocess": {"max_concurrent": 2}}) == {"multiprocess": {"max_concurrent": 2, "start_method": preloading}}
    assert with_preloading({"in_process": {}}) == {"in_process": {}}, "a run's choice of one process stands"
    assert with_preloading({"multiprocess": {"start_method": {"spawn": {}}}}) == {"multiprocess": {"start_method": {"spawn": {}}}}
    imported = subprocess.run(
        [sys.executable, "-c", f"import sys; [__import__(m) for m in {list(PRELOADED_MODULES)!r}]; print(sorted(m for m in sys.modules if m.endswith('definitions') and m.startswith(('compliance_assets', 'tests'))))"],
        capture_output=True, text=True, cwd=REPO, check=True,
    )
    assert imported.stdout.strip() == "[]"


def test_the_largest_export_starts_first_when_steps_run_two_at_a_time(local_env):
    """The events are the run's longest path (raw → features → cohorts): with a process per step,
    their step is taken first, and the other raw steps run beside it instead of before it."""
    from compliance_demo.definitions import EMAIL_MARKETING_ASSETS, defs

    priorities = {name: int(defs.resolve_assets_def(name).op.tags.get("dagster/priority", 0)) for name in EMAIL_MARKETING_ASSETS}
    assert max(priorities, key=priorities.get) == "engagement_events"
    assert sorted(priorities.values())[-2] < priorities["engagement_events"]


def test_a_team_location_built_on_its_own_register_loads_without_the_demo(local_env, tmp_path):
    """`build_location` wires the register's jobs, sensors and reports around the assets a team
    defines, and the location loads as Dagster loads it (every job resolved) even when it defines
    only some of its register's assets: jobs select what is there, and the deploy gate names the
    rest. Importing it builds no demo location."""
    from dagster import Definitions

    from compliance_assets import Folders, build_location, load_register, local_resources, raw_asset

    register = load_register(REPO / "register")
    data = tmp_path / "team"
    defs = build_location(
        register, [raw_asset(register, "customers", lambda context: None), raw_asset(register, "consent_records", lambda context: None)],
        resources=local_resources(data), folders=Folders.under(data),
    )
    Definitions.validate_loadable(defs)
    jobs = {job.name for job in defs.get_repository_def().get_all_jobs()}
    assert {"privacy_request", "retention", "dpia_review", "dpia_approval", "consent_refresh", "cohort_refresh", "governance_reports"} <= jobs
    assert not jobs & {"demo_pipeline", "census_release"}
    assert defs.resolve_job_def("cohort_refresh").asset_layer.executable_asset_keys == set()
    imported = subprocess.run(
        [sys.executable, "-c", "import sys, compliance_assets.location; print(sorted(m for m in sys.modules if m.startswith(('compliance_demo', 'compliance_demo.definitions'))))"],
        capture_output=True, text=True, cwd=REPO, check=True,
    )
    assert imported.stdout.strip() == "[]"
