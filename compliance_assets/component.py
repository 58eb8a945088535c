"""`ComplianceLocation`: a team's code location from its register, declared in a `defs.yaml`.

    type: compliance_assets.ComplianceLocation
    attributes:
      register_dir: register                   # the register folder, from the project root
      data_dir: .data                          # SQLite files, reports, exports, development keys
      sources:
        stroke_patients: {loader: stroke_study.sources.load_patients}
      features:
        patient_features: stroke_study.features.patient_features
      pipeline_job: stroke_pipeline            # one job over every asset, raw to cohorts

`dg scaffold defs compliance_assets.ComplianceLocation <folder>` writes a starting `defs.yaml`.
It builds the same definitions as `build_location` from Python: the factories' assets with their
blocking checks, and the register's governance assets, jobs, sensors and schedules."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from pathlib import Path

from dagster import AssetSelection, Definitions, define_asset_job
from dagster.components import Component, ComponentLoadContext, Model, Resolvable, ScaffoldRequest, Scaffolder, scaffold_with
from pydantic import BaseModel, Field

from compliance_assets.factories.aggregate import cohort_asset
from compliance_assets.factories.pseudonymised import pseudonymised_asset
from compliance_assets.factories.raw import raw_asset
from compliance_assets.location import Folders, build_location, local_resources
from compliance_assets.register import load_register

STARTER = """\
type: compliance_assets.ComplianceLocation

attributes:
  # The register folder (activities.yaml, sources.yaml, features.yaml, cohorts.yaml), from the
  # project root. docs/register.md lists every field.
  register_dir: register
  # Where the SQLite warehouse and vault, the reports, the subjects' exports and development keys
  # live, from the project root. Set warehouse_url / vault_url for PostgreSQL.
  data_dir: .data
  # One loader per raw source in sources.yaml: a function (context) -> DataFrame, by dotted path.
  sources: {}
  # One transform per feature set in features.yaml, by dotted path (docs/api.md: the contract).
  features: {}
  # One job over every asset, raw to cohorts.
  pipeline_job: pipeline
"""


def imported(dotted: str, what: str) -> object:
    """The object at `module.attribute`, or an error that names the attribute in the defs.yaml."""
    module_name, _, attribute = dotted.rpartition(".")
    if not module_name:
        raise ValueError(f"{what}: '{dotted}' is not a dotted path (module.attribute)")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"{what}: cannot import '{dotted}' ({error})") from error


class SourceLoader(BaseModel):
    loader: str = Field(description="Dotted path of the function (context) -> DataFrame, or an iterator of DataFrames, that reads the source")
    resources: list[str] = Field(default_factory=list, description="Resource keys the loader uses (from `resources`)")


class ComplianceLocationScaffolder(Scaffolder):
    def scaffold(self, request: ScaffoldRequest) -> None:
        request.target_path.mkdir(parents=True, exist_ok=True)
        (request.target_path / "defs.yaml").write_text(STARTER, encoding="utf-8")


@scaffold_with(ComplianceLocationScaffolder)
class ComplianceLocation(Component, Resolvable, Model):
    """A code location built from a register: raw sources, pseudonymised feature sets and cohort
    releases with their blocking checks, plus the DPIA, reports, data-subject requests, retention
    and key rotation the register asks for."""

    register_dir: str = Field(description="The register folder, relative to the project root (or absolute)")
    data_dir: str = Field(default=".data", description="Folder (from the project root) for SQLite files, reports, exports and development keys")
    sources: dict[str, SourceLoader] = Field(default_factory=dict, description="Raw source name → its loader")
    features: dict[str, str] = Field(default_factory=dict, description="Feature set name → dotted path of its transform")
    cohorts: list[str] | None = Field(default=None, description="Cohort releases to build (default: every one in the register)")
    resources: str | None = Field(
        default=None, description="Dotted path of a mapping, or a function returning one, of the team's own resources (they may replace the plugin's)"
    )
    warehouse_url: str | None = Field(default=None, description="SQLAlchemy URL of the warehouse (default: SQLite under data_dir)")
    vault_url: str | None = Field(default=None, description="SQLAlchemy URL of the pseudonym vault, apart from the warehouse (default: SQLite under data_dir)")
    development_keys: bool = Field(
        default=True,
        description="Generate keys in files under data_dir/keys when COMPLIANCE_MASTER_KEY / COMPLIANCE_VAULT_KEY are unset; false in production",
    )
    pipeline_job: str | None = Field(default=None, description="Name of a job over every asset the location defines")
    prune_dagster_runs: bool = Field(default=False, description="Let the retention job delete this location's own finished runs past their period")
    sensor_interval_seconds: int = Field(default=60, description="How often the DPIA review sensor looks for changes")

    def build_defs(self, context: ComponentLoadContext) -> Definitions:
        root = Path(context.project_root)
        register = load_register(_within(root, self.register_dir))
        data = _within(root, self.data_dir)
        unknown = sorted(set(self.sources) - set(register.sources)) + sorted(set(self.features) - set(register.feature_sets))
        if unknown:
            raise ValueError(f"defs.yaml names {unknown}, which the register at {register.directory} does not hold")
        assets = [
            raw_asset(register, name, imported(spec.loader, f"sources.{name}.loader"), required_resource_keys=set(spec.resources))
            for name, spec in self.sources.items()
        ]
        assets += [pseudonymised_asset(register, name, imported(path, f"features.{name}")) for name, path in self.features.items()]
        assets += [cohort_asset(register, name) for name in (self.cohorts if self.cohorts is not None else register.cohorts)]
        jobs = [define_asset_job(self.pipeline_job, selection=AssetSelection.assets(*assets))] if self.pipeline_job and assets else []
        return build_location(
            register,
            assets,
            resources={**self._plugin_resources(data), **self._own_resources()},
            folders=Folders.under(data),
            jobs=jobs,
            sensor_interval_seconds=self.sensor_interval_seconds,
            prune_dagster_runs=self.prune_dagster_runs,
        )

    def _plugin_resources(self, data: Path) -> dict[str, object]:
        return local_resources(data, warehouse_url=self.warehouse_url, vault_url=self.vault_url, development_keys=self.development_keys)

    def _own_resources(self) -> Mapping[str, object]:
        if not self.resources:
            return {}
        found = imported(self.resources, "resources")
        own = found() if isinstance(found, Callable) else found
        if not isinstance(own, Mapping):
            raise ValueError(f"resources: '{self.resources}' is not a mapping of resource keys to resources")
        return own


def _within(root: Path, path: str) -> Path:
    given = Path(path).expanduser()
    return given if given.is_absolute() else root / given
