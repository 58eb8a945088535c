"""The references a user reads say what the code does: the register reference is the one the
models write, and the API reference names every exported name and every component field."""

from __future__ import annotations

import compliance_assets
from compliance_assets.component import ComplianceLocation
from compliance_assets.register.reference import reference
from tests.conftest import REPO


def test_the_register_reference_is_the_one_the_models_write():
    assert (REPO / "docs" / "register.md").read_text() == reference(), "run: python -m compliance_assets.register.reference > docs/register.md"


def test_every_register_field_says_what_it_means():
    undescribed = [line.split("|")[1].strip() for line in reference().splitlines() if line.startswith("| `") and line.rstrip().endswith("|  |")]
    assert not undescribed, undescribed


def test_the_api_reference_names_every_export_and_component_field():
    api = (REPO / "docs" / "api.md").read_text()
    assert not [name for name in compliance_assets.__all__ if f"`{name}" not in api]
    assert not [field for field in ComplianceLocation.model_fields if f"`{field}`" not in api]
