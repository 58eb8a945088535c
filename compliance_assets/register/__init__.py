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
from compliance_assets.register.register import Register, load_register

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
