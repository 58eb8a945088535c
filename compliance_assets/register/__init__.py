"""The register as code: YAML in the repository, validated into pydantic models at load time."""

from compliance_assets.register.loader import RegisterError, RegisterProblem
from compliance_assets.register.models import (
    CohortRelease,
    Column,
    Feature,
    FeatureSet,
    IdentifierRole,
    ProcessingActivity,
    RawSource,
)
from compliance_assets.register.load import load_register
from compliance_assets.register.register import Register

__all__ = [
    "CohortRelease",
    "Column",
    "Feature",
    "FeatureSet",
    "IdentifierRole",
    "ProcessingActivity",
    "RawSource",
    "Register",
    "RegisterError",
    "RegisterProblem",
    "load_register",
]
