"""The deploy gate fails a deploy for each kind of privacy gap, with a message that names it."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import REPO, run_cli


def _gate(*args: str, location: str | None = None, register=None, **env: str):
    """The gate as CI runs it on the demo (or on `location`), on the demo's staging sample."""
    chosen = [*(["--location", location] if location else []), *(["--register", str(register)] if register else [])]
    command = ["compliance_assets", *chosen, "check", "--job", "demo_pipeline", "--sample-config", "compliance_demo/gate_sample.yaml", *args]
    return run_cli(*command, env_overrides={"COLUMNS": "200", **env}, timeout=600)


def test_gate_passes_on_the_demo(local_env):
    completed = _gate()
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Deploy gate passed" in completed.stdout


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        ("features.yaml", "        necessity: Open rate is the first measure of a campaign's reach\n", "", "feature_sets.customer_features.features.opens_90d.necessity"),
        ("activities.yaml", "        country: US\n        transfer_basis: SCCs\n", "        country: US\n", "outside the EU/EEA, and has no transfer basis"),
        ("sources.yaml", "    activity: site_search", "    activity: site_serch", "unknown processing activity 'site_serch'"),
        ("activities.yaml", "      - name: Hetzner Online GmbH\n        service: Hosting of the warehouse and the orchestrator\n        country: DE\n", "      - name: Hetzner Online GmbH\n        service: Hosting of the warehouse and the orchestrator\n", "country"),
    ],
    ids=["undocumented-feature", "transfer-basis", "uncovered-asset", "sub-processor-country"],
)
def test_gate_fails_on_register_gaps(local_env, tmp_path, file, old, new, expected):
    register = tmp_path / "register"
    shutil.copytree(REPO / "register", register)
    path = register / file
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))
    completed = _gate(register=register, COMPLIANCE_REGISTER_DIR=str(register))
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "register" in completed.stdout and expected in completed.stdout.replace("\n", "")


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("unchecked_tier", "tier 'aggregate' requires blocking checks: client_isolation, contract, dpia_approved, k_anonymity, minimisation, no_differencing, no_direct_identifiers"),
        ("unregistered_consumer", "reads personal data (customer_features) but is not in the register"),
        ("missing_asset", "in the register but not defined in the code location"),
    ],
)
def test_gate_fails_on_definition_gaps(local_env, variant, expected):
    completed = _gate(location="tests.gate_variants", GATE_VARIANT=variant)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert expected in " ".join(completed.stdout.split())


def test_gate_fails_when_a_blocking_check_fails_on_the_sample(local_env):
    completed = _gate(location="tests.leaky_definitions")
    assert completed.returncode == 1
    assert "customer_features.no_direct_identifiers" in completed.stdout.replace("\n", "").replace(" ", "").replace("│", "")
    # The leaky transform is also a code change the DPO never approved: the gate says so.
    assert "The code that computes 'customer_features' changed" in " ".join(completed.stdout.replace("│", " ").split())
