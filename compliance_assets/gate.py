"""The deploy gate: what CI runs before a deploy. It loads the register and the definitions,
verifies every personal-data asset carries the checks its tier requires, and runs the pipeline's
blocking checks against a staging sample in a throw-away environment. Every violation is listed;
any violation fails the gate."""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dagster import AssetKey, DagsterEventType, DagsterInstance, Definitions

from compliance_assets.dpia.lineage import deployed_controls, review_states
from compliance_assets.dpia.review import missing_controls
from compliance_assets.factories.checks import CONTRACT, DPIA_APPROVED, K_ANONYMITY, MINIMISATION, NO_DIFFERENCING, NO_DIRECT_IDENTIFIERS, RETENTION
from compliance_assets.factories.naming import TIER_TAG, Tier
from compliance_assets.register import Register, RegisterError, load_register
from resources.secrets import generate_secret

REQUIRED_CHECKS = {
    Tier.RAW.value: {CONTRACT},
    Tier.PSEUDONYMISED.value: {MINIMISATION, NO_DIRECT_IDENTIFIERS, CONTRACT},
    Tier.AGGREGATE.value: {MINIMISATION, NO_DIRECT_IDENTIFIERS, K_ANONYMITY, NO_DIFFERENCING, CONTRACT},
}


@dataclass(frozen=True)
class Violation:
    rule: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.where}: {self.detail}"


def register_violations(directory: Path) -> tuple[Register | None, list[Violation]]:
    try:
        return load_register(directory), []
    except RegisterError as exc:
        return None, [Violation("register", str(p.file) + (f":{p.line}" if p.line else ""), str(p).split(": ", 1)[-1]) for p in exc.problems]


def definition_violations(defs: Definitions, register: Register) -> list[Violation]:
    """Every asset in the register is defined, carries its tier, and has the tier's blocking checks;
    no asset downstream of personal data escapes the register."""
    out: list[Violation] = []
    graph = defs.resolve_asset_graph()
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}
    personal = {key for key, spec in specs.items() if TIER_TAG in spec.tags}
    for name in register.asset_names:
        if AssetKey(name) not in specs:
            out.append(Violation("coverage", name, "in the register but not defined in the code location"))
    for key, spec in specs.items():
        tier = spec.tags.get(TIER_TAG)
        upstream_personal = {d.asset_key for d in spec.deps} & personal
        if tier is None:
            if upstream_personal:
                out.append(Violation("coverage", key.to_user_string(), f"reads personal data ({', '.join(k.to_user_string() for k in sorted(upstream_personal))}) but is not in the register"))
            continue
        if key.to_user_string() not in register.asset_names:
            out.append(Violation("coverage", key.to_user_string(), "tagged as a privacy tier but not in the register"))
        checks = [graph.get_check_spec(ck) for ck in graph.get_check_keys_for_assets({key})]
        present = {c.name for c in checks if c.blocking}
        name = key.to_user_string()
        required = REQUIRED_CHECKS.get(tier, set()) | _clock_checks(register, name) | ({DPIA_APPROVED} if register.guarded_by_dpia(name) else set())
        missing = required - present
        if missing:
            out.append(Violation("checks", key.to_user_string(), f"tier '{tier}' requires blocking checks: {', '.join(sorted(missing))}"))
    return out


def _clock_checks(register: Register, name: str) -> set[str]:
    """A raw source with a retention clock must prove its rows are within retention."""
    source = register.sources.get(name)
    return {RETENTION} if source is not None and source.retention_clock else set()


def dpia_violations(defs: Definitions, register: Register) -> list[Violation]:
    """The deployed code must be the state the DPO approved (the pin in register/dpia/approved/),
    and every mitigation the DPIA relies on must exist in the code location."""
    repository = defs.get_repository_def()
    controls = deployed_controls(repository)
    out = []
    for activity, state in review_states(repository.asset_graph, None, register, None, sorted(register.dpias)).items():
        for change in state.changes:
            out.append(Violation("dpia", activity, f"{change.text} Review, then: python -m compliance_assets dpia approve {activity} --pin ..."))
        for name, control in missing_controls(register.dpias[activity], controls).items():
            out.append(Violation("dpia", f"{activity}.mitigations.{name}", f"its control {control.kind} '{control.target}' is not in the code location"))
    return out


@contextmanager
def staging_environment() -> Iterator[Path]:
    """A throw-away warehouse, vault, Dagster home and keys, so the sample touches nothing real."""
    keep = {k: os.environ.get(k) for k in ("COMPLIANCE_DATA_DIR", "COMPLIANCE_MASTER_KEY", "COMPLIANCE_VAULT_KEY", "COMPLIANCE_WAREHOUSE_URL", "COMPLIANCE_VAULT_URL")}
    with tempfile.TemporaryDirectory(prefix="compliance-gate-") as folder:
        os.environ.update({"COMPLIANCE_DATA_DIR": folder, "COMPLIANCE_MASTER_KEY": generate_secret(), "COMPLIANCE_VAULT_KEY": generate_secret()})
        os.environ.pop("COMPLIANCE_WAREHOUSE_URL", None)
        os.environ.pop("COMPLIANCE_VAULT_URL", None)
        try:
            yield Path(folder)
        finally:
            for key, value in keep.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def sample_violations(module: str, jobs: Sequence[str], run_config: dict) -> list[Violation]:
    """Runs the jobs on a staging sample; each failed blocking check or failed step is a violation."""
    out: list[Violation] = []
    with staging_environment():
        defs = _load_definitions(module)
        instance = DagsterInstance.ephemeral()
        for job_name in jobs:
            result = defs.resolve_job_def(job_name).execute_in_process(run_config=run_config, instance=instance, raise_on_error=False)
            for event in result.all_events:
                if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION and not event.event_specific_data.passed:
                    evaluation = event.event_specific_data
                    out.append(Violation("sample", f"{evaluation.asset_key.to_user_string()}.{evaluation.check_name}", "blocking check failed on the staging sample"))
                elif event.event_type == DagsterEventType.STEP_FAILURE and "blocking asset check" not in event.event_specific_data.error.message:
                    out.append(Violation("sample", f"{job_name}.{event.step_key}", event.event_specific_data.error.message.strip().splitlines()[-1]))
    return out


def _load_definitions(module: str) -> Definitions:
    """Imports (or re-imports, so the current environment applies) a module's `defs`."""
    loaded = importlib.reload(sys.modules[module]) if module in sys.modules else importlib.import_module(module)
    return loaded.defs


def run_gate(register_dir: Path, module: str, jobs: Sequence[str], run_config: dict) -> list[Violation]:
    register, violations = register_violations(register_dir)
    if register is None:
        return violations
    try:
        defs = _load_definitions(module)
    except Exception as exc:  # noqa: BLE001 - a code location that cannot load fails the gate
        return [Violation("definitions", module, f"{type(exc).__name__}: {exc}")]
    violations += definition_violations(defs, register)
    if violations:
        return violations
    return dpia_violations(defs, register) + sample_violations(module, jobs, run_config)
