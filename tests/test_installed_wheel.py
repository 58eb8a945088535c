"""The plugin as another team installs it: the wheel in a fresh virtual environment, with no
checkout on the path, and a team's own project (tests/team_project: its register, a loader and a
transform) that scaffolds the `ComplianceLocation` component with `dg scaffold defs`, passes
`dg check defs`, materialises on SQLite under its own folder and passes the deploy gate.

The fresh environment gets the plugin from the wheel alone; its third-party dependencies are the
ones this suite runs with, made visible through a path file rather than downloaded again (the
declared requirements are checked with `pip check`, and every imported package against them)."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import shutil
import site
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO

TEAM = REPO / "tests" / "team_project"


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert completed.returncode == 0, f"{' '.join(command)}\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    return completed


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("wheel")
    source = folder / "source"
    source.mkdir()
    shutil.copytree(REPO / "compliance_assets", source / "compliance_assets", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(folder / "dist"), str(source)], folder, env)
    (wheel,) = (folder / "dist").glob("compliance_assets-*.whl")
    venv = folder / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], folder, env)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], folder, env)
    (target,) = [Path(p) for p in _run([str(venv / "bin" / "python"), "-c", "import site; print(site.getsitepackages()[0])"], folder, env).stdout.split()]
    (target / "suite_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv


def _team_env(venv: Path, project: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("COMPLIANCE_", "PYTHONPATH"))}
    home = project / ".dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").touch()
    return {**env, "PATH": f"{venv / 'bin'}:{env['PATH']}", "VIRTUAL_ENV": str(venv), "DAGSTER_HOME": str(home), "COLUMNS": "200"}


def test_the_wheel_installs_one_package_with_its_requirements(fresh_venv, tmp_path):
    python = str(fresh_venv / "bin" / "python")
    env = _team_env(fresh_venv, tmp_path)
    where = _run([python, "-c", "import compliance_assets; print(compliance_assets.__file__)"], tmp_path, env).stdout.strip()
    assert str(fresh_venv) in where and str(REPO) not in where
    for name in ("resources", "sensors", "compliance_demo"):
        assert subprocess.run([python, "-c", f"import {name}"], cwd=tmp_path, env=env, capture_output=True).returncode != 0, name
    _run([python, "-m", "pip", "check"], tmp_path, env)
    assert (fresh_venv / "bin" / "compliance-assets").exists()


def test_every_imported_package_is_a_declared_requirement():
    declared = {_normalised(r.split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip()) for r in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]}
    providers = importlib.metadata.packages_distributions()
    imported: set[str] = set()
    for path in (REPO / "compliance_assets").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = {name for name in imported if name in providers and name != "compliance_assets" and name not in sys.stdlib_module_names}
    undeclared = {name: providers[name] for name in third_party if not {_normalised(d) for d in providers[name]} & declared}
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def _normalised(name: str) -> str:
    return name.lower().replace("_", "-")


def test_a_team_project_scaffolds_checks_materialises_and_passes_the_gate(fresh_venv, tmp_path):
    project = tmp_path / "library-study"
    shutil.copytree(TEAM, project)
    (project / "library_study" / "defs").mkdir()
    env = _team_env(fresh_venv, project)
    dg = str(fresh_venv / "bin" / "python")
    dg_cli = [dg, "-c", "import sys; from dagster_dg_cli.cli import main; sys.argv[0] = 'dg'; sys.exit(main())"]

    _run([*dg_cli, "scaffold", "defs", "compliance_assets.ComplianceLocation", "compliance"], project, env)
    defs_yaml = project / "library_study" / "defs" / "compliance" / "defs.yaml"
    text = defs_yaml.read_text()
    assert "type: compliance_assets.ComplianceLocation" in text
    defs_yaml.write_text(
        text.replace("  sources: {}", "  sources:\n    members: {loader: library_study.sources.load_members}").replace(
            "  features: {}", "  features:\n    member_features: library_study.features.member_features"
        )
    )
    checked = _run([*dg_cli, "check", "defs"], project, env)
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr

    cli = str(fresh_venv / "bin" / "compliance-assets")
    ran = _run([cli, "run", "pipeline"], project, env)
    assert "Run" in ran.stdout and "succeeded" in ran.stdout
    data = project / ".data"
    assert (data / "warehouse.db").is_file() and (data / "vault.db").is_file() and (data / "keys" / "master.key").is_file()
    assert not list(fresh_venv.rglob("warehouse.db")), "a team's data landed inside the installed package"
    gate = _run([cli, "check", "--job", "pipeline"], project, env)
    assert "Deploy gate passed" in " ".join(gate.stdout.split())
