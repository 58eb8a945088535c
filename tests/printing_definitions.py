"""A code location whose customer feature transform prints every input it is handed, every column
and every value, as a debugging transform would: for the test that none of it is a raw identifier."""

import pandas as pd

from compliance_demo.definitions import build_assets, build_definitions
from compliance_demo.features import customer_features
from compliance_assets.factories.pseudonymised import FeatureInputs, pseudonymised_asset
from compliance_assets.privacy.summaries import Count, Latest
from compliance_assets.register import load_register
from tests.conftest import REPO

PRINTED = "printed input"


def _print(label: str, frame: pd.DataFrame) -> None:
    print(f"{PRINTED} {label}: {list(frame.columns)}")
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", None, "display.max_colwidth", None):
        print(frame.to_string())


def printing_every_input(inputs: FeatureInputs) -> pd.DataFrame:
    _print("subjects", inputs.subjects)
    summary = inputs.sources.summary("engagement_events", inputs.subject_key, {"events": Count(), "latest": Latest("occurred_at")})
    _print("summary of engagement_events", summary)  # grouped in the warehouse
    for name in inputs.sources:
        _print(name, inputs.sources[name])
    features = customer_features(inputs)  # now summarised from the frame read above
    _print("features", features)
    return features


register = load_register(REPO / "register")
defs = build_definitions(
    register,
    [
        *(a for a in build_assets(register) if a.key.to_user_string() != "customer_features"),
        pseudonymised_asset(register, "customer_features", printing_every_input),
    ],
)
