"""Which code location and register a command works on: named on the command line, or found in
the project of the current folder the way `dg` finds it."""

from __future__ import annotations

import importlib
import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from dagster import Definitions, JobDefinition

from compliance_assets.gate import definitions_in
from compliance_assets.location import FOLDERS_METADATA, REGISTER_METADATA, Folders
from compliance_assets.register import Register, RegisterError, load_register


class CliError(Exception):
    """A mistake the user can fix, said in one line."""


def project_module(folder: Path) -> str | None:
    """The code location module a project's `pyproject.toml` names: `[tool.dg.project]`'s
    `code_location_target_module` (or its `root_module`'s `definitions`), else `[tool.dagster]`'s
    `module_name`."""
    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file():
        return None
    tool = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {})
    project = tool.get("dg", {}).get("project", {})
    if project.get("code_location_target_module"):
        return project["code_location_target_module"]
    if project.get("root_module"):
        return f"{project['root_module']}.definitions"
    return tool.get("dagster", {}).get("module_name")


def _metadata_value(defs: Definitions, key: str):
    value = (defs.metadata or {}).get(key)
    return getattr(value, "value", value)


@dataclass
class Target:
    module: str
    register_override: Path | None = None
    _defs: Definitions | None = field(default=None, repr=False)

    @classmethod
    def resolve(cls, location: str | None, register: str | None) -> Target:
        module = location or project_module(Path.cwd())
        if not module:
            raise CliError("no code location: pass --location MODULE (the module whose `defs` is it), or run this in a dg project")
        return cls(module, Path(register) if register else None)

    @property
    def defs(self) -> Definitions:
        if self._defs is None:
            if os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())  # a project's own modules, as `dg` and `dagster` load them
            try:
                loaded = importlib.import_module(self.module)
            except RegisterError:
                raise
            except ModuleNotFoundError as error:
                raise CliError(f"code location module '{self.module}' not found ({error}); pass --location MODULE") from error
            try:
                self._defs = definitions_in(loaded)
            except LookupError as error:
                raise CliError(str(error.args[0])) from error
        return self._defs

    def register_dir(self) -> Path:
        if self.register_override is not None:
            return self.register_override
        recorded = _metadata_value(self.defs, REGISTER_METADATA)
        if not recorded:
            raise CliError(f"the code location '{self.module}' was not built with build_location: pass --register DIR")
        return Path(recorded)

    def register(self) -> Register:
        try:
            return load_register(self.register_dir())
        except RegisterError as error:
            raise CliError(f"the register at {self.register_dir()} does not load: {error}") from error

    def folders(self) -> Folders:
        recorded = _metadata_value(self.defs, FOLDERS_METADATA) or {}
        if not recorded:
            raise CliError(f"the code location '{self.module}' was not built with build_location: it names no reports folder")
        return Folders(reports=Path(recorded["reports"]), exports=Path(recorded["exports"]))

    def job(self, name: str) -> JobDefinition:
        names = sorted(self.defs.resolve_all_job_defs(), key=lambda j: j.name)
        if name not in {job.name for job in names}:
            shown = ", ".join(job.name for job in names if not job.name.startswith("__"))
            raise CliError(f"no job '{name}' in the code location '{self.module}': its jobs are {shown}")
        return self.defs.resolve_job_def(name)
