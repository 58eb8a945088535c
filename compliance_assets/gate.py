"""The deploy gate: what CI runs before a deploy. It loads the register and the definitions,
verifies every personal-data asset carries the checks its tier requires, and runs the pipeline's
blocking checks against a staging sample in a throw-away environment. Every violation is listed;
any violation fails the gate."""

from __future__ import annotations

import importlib
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dagster import AssetKey, DagsterEventType, DagsterInstance, Definitions

from compliance_assets.dpia.lineage import deployed_controls, review_states
from compliance_assets.dpia.review import missing_controls
from compliance_assets.tiers import TIER_TAG, required_checks
from compliance_assets.location import local_resources
from compliance_assets.register import Register, RegisterError, load_register



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
            continue
        checks = [graph.get_check_spec(ck) for ck in graph.get_check_keys_for_assets({key})]
        present = {c.name for c in checks if c.blocking}
        required = set(required_checks(register, key.to_user_string()))
        missing = required - present
        if missing:
            out.append(Violation("checks", key.to_user_string(), f"tier '{tier}' requires blocking checks: {', '.join(sorted(missing))}"))
    return out


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


def staging(defs: Definitions, folder: Path) -> Definitions:
    """The location with the plugin's resources on a throw-away warehouse, vault and keys under
    `folder`, so the sample touches nothing real; the team's own resources stay as they are."""
    return Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        jobs=defs.jobs,
        schedules=defs.schedules,
        sensors=defs.sensors,
        resources={**(defs.resources or {}), **local_resources(folder)},
        executor=defs.executor,
        loggers=defs.loggers,
        metadata=defs.metadata,
    )


def sample_violations(module: str, jobs: Sequence[str], run_config: dict) -> list[Violation]:
    """Runs the jobs on a staging sample; each failed blocking check or failed step is a violation."""
    out: list[Violation] = []
    with tempfile.TemporaryDirectory(prefix="compliance-gate-") as folder:
        defs = staging(_load_definitions(module), Path(folder))
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


def definitions_in(module: object) -> Definitions:
    """A module's `defs`: a Definitions, or (a dg project's) a function decorated with
    `dagster.components.definitions` that builds one."""
    defs = getattr(module, "defs", None)
    if callable(defs) and not isinstance(defs, Definitions):
        defs = defs()
    if not isinstance(defs, Definitions):
        raise LookupError(f"module '{getattr(module, '__name__', module)}' has no `defs` (a dagster Definitions)")
    return defs


def _load_definitions(module: str) -> Definitions:
    """Imports (or re-imports, so the current environment applies) a module's `defs`."""
    return definitions_in(importlib.reload(sys.modules[module]) if module in sys.modules else importlib.import_module(module))


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
