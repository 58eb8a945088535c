"""Normalisation: every spelling of one identifier (fullwidth digits, zero-width characters,
surrounding blanks, compatibility forms) names one subject, for every identifier kind, and a run
with such spellings counts each person once."""

from __future__ import annotations

import pandas as pd
import phonenumbers
import pytest
from dagster import DagsterInstance
from hypothesis import given
from hypothesis import strategies as st

from compliance_demo.definitions import build_definitions
from compliance_demo import features
from resources.environment import register_dir
from compliance_assets.tiers import Tier
from compliance_assets.factories.pseudonymised import pseudonymised_asset
from compliance_assets.factories.raw import raw_asset
from compliance_assets.privacy.normalise import normalise
from compliance_assets.privacy.pseudonymise import derive_domain_key
from compliance_assets.register import load_register
from compliance_assets.vault.rotation import rekey_map
from tests.helpers import published

FORMAT_CHARACTERS = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e"]
BLANKS = [" ", "\t", "\u00a0", "\u3000", "\u2002", "\n"]
FULLWIDTH = str.maketrans({**{chr(ord("0") + d): chr(0xFF10 + d) for d in range(10)}, **{chr(ord("A") + i): chr(0xFF21 + i) for i in range(26)}})
REGIONS = ["DE", "FR", "GB", "US", "IT", "ES", "NL", "IN", "BR", "JP"]

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.", min_size=1, max_size=20)
emails = st.builds(lambda local, domain: f"{local}@{domain}.org", st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,15}", fullmatch=True), st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True))


@st.composite
def confusable(draw, value: str) -> str:
    """`value` as a person or a system may have typed it: fullwidth, with format characters
    inside, with blanks around."""
    if draw(st.booleans()):
        value = value.translate(FULLWIDTH)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(value)))
        value = value[:at] + draw(st.sampled_from(FORMAT_CHARACTERS)) + value[at:]
    blanks = st.text(alphabet=BLANKS, max_size=3)
    return draw(blanks) + value + draw(blanks)


def _one(value: str, kind: str, region: str | None = None) -> object:
    return normalise(pd.Series([value], dtype="string"), kind, region).iloc[0]


@given(st.text(max_size=30), st.sampled_from(["email", "customer_id"]))
def test_normalisation_is_idempotent(value, kind):
    once = _one(value, kind)
    assert _one(once, kind) == once


@given(st.sampled_from(REGIONS), st.data())
def test_phone_normalisation_is_idempotent(region, data):
    number = phonenumbers.format_number(phonenumbers.example_number(region), phonenumbers.PhoneNumberFormat.NATIONAL)
    once = _one(data.draw(confusable(number)), "phone", region)
    assert once is not pd.NA and _one(once, "phone", region) == once


@given(ids, st.data())
def test_confusable_ids_are_one_id(value, data):
    assert _one(data.draw(confusable(value)), "customer_id") == _one(value, "customer_id") == value


@given(emails, st.data())
def test_confusable_emails_are_one_email(email, data):
    assert _one(data.draw(confusable(email)), "email") == email


@given(st.sampled_from(REGIONS), st.data())
def test_confusable_phone_numbers_are_one_number(region, data):
    example = phonenumbers.example_number(region)
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    assert _one(data.draw(confusable(national)), "phone", region) == e164


@pytest.mark.parametrize(
    ("spelling", "kind"),
    [
        ("ｃｕｓ＿００４２", "customer_id"),  # fullwidth letters, digits and low line
        ("cus_0042\u2060", "customer_id"),
        ("ﬁona@example.org", "email"),  # the ligature is two letters
        ("FIONA@EXAMPLE.ORG", "email"),
    ],
)
def test_compatibility_forms_fold_to_their_plain_spelling(spelling, kind):
    assert _one(spelling, kind) == ("cus_0042" if kind == "customer_id" else "fiona@example.org")


def test_a_new_normalisation_merges_confusable_spellings_on_rotation():
    stored = pd.DataFrame({"pseudonym": ["a" * 32, "b" * 32, "c" * 32], "scope": [None] * 3, "identifier": ["adult-000001", "adult-０００００1", "adult-000002"]})
    moved = rekey_map(stored, derive_domain_key(b"k" * 32, "d", 2), lambda values: normalise(values, "customer_id"))
    assert moved["identifier"].tolist() == ["adult-000001", "adult-000001", "adult-000002"]
    assert moved["new"].nunique() == 2 and moved["new"].iloc[0] == moved["new"].iloc[1]


def _with_confusable_copies(context) -> pd.DataFrame:
    """The census, and four of its respondents exported again under other spellings of their id."""
    frame = context.resources.census_file.read()
    again = frame.iloc[:4].copy()
    first, second, third, fourth = frame["respondent_id"].iloc[:4]
    again["respondent_id"] = [
        first.translate(FULLWIDTH),
        second[:3] + "\u200b" + second[3:],
        "\u00a0" + third + " ",
        "\ufeff" + fourth[:6] + "\u00ad" + fourth[6:],
    ]
    return pd.concat([frame, again], ignore_index=True)


def _one_row_per_subject(inputs) -> pd.DataFrame:
    return features.census_features(inputs).drop_duplicates(inputs.subject_key)


@pytest.mark.parametrize("warehouse", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_confusable_spellings_of_an_id_are_one_subject_in_a_run(warehouse, local_env, census_csv, request):
    """Through Dagster: the raw tier keeps the four spellings, the pseudonymised tier counts them
    as the respondents they are, not as four more."""
    if warehouse == "postgresql":
        request.getfixturevalue("pg_env")
    register = load_register(register_dir())
    assets = [
        raw_asset(register, "census_respondents", _with_confusable_copies, required_resource_keys={"census_file"}),
        pseudonymised_asset(register, "census_features", _one_row_per_subject),
    ]
    defs = build_definitions(register, assets=assets)
    result = defs.resolve_job_def("census_release").execute_in_process(instance=DagsterInstance.get(), raise_on_error=False)
    assert result.success
    respondents = len(pd.read_csv(census_csv))
    assert len(published(Tier.RAW, "census_respondents", defs)) == respondents + 4
    (materialization,) = result.asset_materializations_for_node("census_features")
    assert materialization.metadata["subjects"].value == respondents
    assert materialization.metadata["normalisation_version"].value == 2
    assert len(published(Tier.PSEUDONYMISED, "census_features", defs)) == respondents
