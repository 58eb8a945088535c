"""The transform's inputs live in the Dagster-free `compliance_assets.pipelines`; kept importable
here because feature code written against this path must keep working."""

from compliance_assets.pipelines.feature_inputs import FeatureInputs, KeyValues, Read, SourceTables, SubjectKeys, Summarise

__all__ = ["FeatureInputs", "KeyValues", "Read", "SourceTables", "SubjectKeys", "Summarise"]
