"""A code location whose feature transform leaks emails, for tests that need a failing check run
through the `dagster` CLI."""

from compliance_demo.definitions import build_assets, build_definitions
from compliance_demo.features import customer_features
from compliance_assets.factories.pseudonymised import FeatureInputs, pseudonymised_asset
from compliance_assets.register import load_register
from tests.conftest import REPO
from tests.helpers import raw_values


def leaking_email(inputs: FeatureInputs):
    """A transform sees no email, so this one fetches the raw tier's behind the factory's back, or
    (where it cannot reach that warehouse: the deploy gate's staging run) writes addresses of its
    own, as one copied from a lookup table would arrive."""
    features = customer_features(inputs)
    try:
        emails = raw_values("customers", "email").str.strip().tolist()
    except Exception:  # noqa: BLE001 - no raw tier where this process looks
        emails = []
    emails += [f"contact{number}@example.org" for number in range(len(features))]
    features["region"] = features["region"].where(features.index % 50 != 0, emails[: len(features)])
    return features


register = load_register(REPO / "register")
defs = build_definitions(
    register,
    [
        *(a for a in build_assets(register) if a.key.to_user_string() != "customer_features"),
        pseudonymised_asset(register, "customer_features", leaking_email),
    ],
)
