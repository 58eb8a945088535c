"""Identifier detection finds identifying values whatever their column is called and wherever in
a string they stand, and leaves ordinary values alone: a labelled corpus, every string of the
census, and a cohort table whose counts coincide with numeric record ids."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dagster import DagsterInstance

from compliance_demo.definitions import build_definitions
from resources.environment import register_dir
from compliance_assets.tiers import Tier
from compliance_assets.factories.raw import raw_asset
from compliance_assets.privacy.detection import find_identifiers, known_values
from compliance_assets.privacy.pseudonymise import derive_domain_key, pseudonymise
from compliance_assets.register import load_register
from compliance_assets.storage.warehouse import Warehouse
from tests.helpers import check_outcomes, materialized, published
from tests.identifier_corpus import PHONE_REGIONS, negatives, positives


def _detectors(frame: pd.DataFrame, known=None, carriers=(), region=None) -> set[tuple[str, str]]:
    return {(f.column, f.detector) for f in find_identifiers(frame, known, carriers, region)}


def test_each_pattern_is_found_in_a_renamed_column():
    frame = pd.DataFrame(
        {
            "note": ["contact: Jane.Doe@Example.org please", "fine"],
            "segment": ["+49 151 23456789", "active"],
            "bucket": ["192.168.10.7", "north"],
            "v6": ["2001:db8::8a2e:370:7334", "south"],
            "ref": ["DE89 3704 0044 0532 0130 00", "west"],
        }
    )
    assert _detectors(frame) == {
        ("note", "email"),
        ("segment", "phone_number"),
        ("bucket", "ip_address"),
        ("v6", "ip_address"),
        ("ref", "iban"),
    }


def test_known_raw_identifiers_are_found_in_any_column():
    frame = pd.DataFrame({"segment": ["cus_0000042", "active"], "n": [1, 2]})
    known = {"customers.customer_id": known_values(pd.Series(["cus_0000042", "cus_0000043"]))}
    (finding,) = find_identifiers(frame, known)
    assert (finding.column, finding.detector, finding.rows, finding.first_row) == ("segment", "known:customers.customer_id", 1, 0)


def test_invalid_iban_checksum_is_not_an_iban():
    assert _detectors(pd.DataFrame({"x": ["DE00370400440532013000"]})) == set()


def test_ordinary_feature_values_are_not_flagged():
    key = derive_domain_key(b"k" * 32, "d")
    frame = pd.DataFrame(
        {
            "subject_pseudonym": pseudonymise(pd.Series([f"user{i}@example.com" for i in range(200)], dtype="string"), key),
            "age_band": ["25-34", "65+"] * 100,
            "region": ["north", "south"] * 100,
            "day": ["2026-11-01", "2026-10-31"] * 100,
            "ratio": ["0.25", "1.5"] * 100,
            "postcode_prefix": ["10", "80"] * 100,
            "count": list(range(200)),
        }
    )
    assert _detectors(frame) == set()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("call +33 1 42 68 53 00", "phone_number"),
        ("tel: +44 20 7946 0958", "phone_number"),
        ("ring 0049 30 901820 before noon", "phone_number"),
        ("send it to jane.doe@example.org, not to me", "email"),
        ("login from 203.0.113.9 at 10:30", "ip_address"),
        ("login from [2001:db8::1]:443", "ip_address"),
        ("pay to DE89 3704 0044 0532 0130 00 by Friday", "iban"),
        ("IBAN:GB82WEST12345698765432.", "iban"),
    ],
)
def test_identifiers_inside_free_text_are_found(text, kind):
    assert _detectors(pd.DataFrame({"note": [text, "nothing here"]})) == {("note", kind)}


@pytest.mark.parametrize("region", [None, "DE", "US", "FR", "IT"])
def test_an_isbn_is_not_a_phone_number(region):
    books = pd.DataFrame({"ref": ["ISBN 978-3-16-148410-0", "978-0-306-40615-7", "ISBN-10: 0-306-40615-2", "9783161484100"]})
    assert _detectors(books, region=region) == set()


def test_every_identifier_of_the_corpus_is_found():
    """100 % recall, each example judged in its own row and in the region its register would give."""
    missed = [
        (example.text, example.kind, example.region)
        for example in positives()
        if (("c", example.kind) not in _detectors(pd.DataFrame({"c": [example.text]}), region=example.region))
    ]
    assert len(positives()) >= 300 and missed == []


@pytest.mark.parametrize("region", [None, *PHONE_REGIONS])
def test_no_negative_of_the_corpus_is_flagged(region):
    flagged = [(f.detector, f.first_row) for f in find_identifiers(pd.DataFrame({"c": negatives()}), region=region)]
    assert len(negatives()) >= 150 and flagged == []


@pytest.mark.parametrize("region", [None, "US", "FR"])
def test_no_string_of_the_census_is_flagged(census_csv, region):
    """Every cell of adult.csv, read as text (its numbers too)."""
    census = pd.read_csv(census_csv, dtype="string", skipinitialspace=True)
    assert find_identifiers(census, region=region) == []


def test_known_values_are_compared_only_where_an_identifier_could_be_carried():
    """A count of 354 beside a record numbered 354 is no leak; the same value as text, or in a
    declared carrier (a dimension), is."""
    known = {"patients.record_no": known_values(pd.Series([str(i) for i in range(1, 5_000)]))}
    cohort = pd.DataFrame({"age_band": ["25-34", "35-44"], "subjects": [354, 61], "mean_stay": [3.5, 4.0]})
    assert _detectors(cohort, known) == set()
    assert _detectors(cohort.assign(note=["354", "x"]), known) == {("note", "known:patients.record_no")}
    assert _detectors(cohort.assign(ward=[354, 12]), known, carriers=["ward"]) == {("ward", "known:patients.record_no")}


@given(st.emails())
def test_any_email_is_found(email):
    assert ("c", "email") in _detectors(pd.DataFrame({"c": [f"x {email} y"]}))


@given(st.ip_addresses())
def test_any_ip_address_is_found(ip):
    assert ("c", "ip_address") in _detectors(pd.DataFrame({"c": [str(ip)]}))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_warehouse_says_which_candidates_a_raw_column_holds(backend, tmp_path, request):
    """The identifier check asks the warehouse instead of reading raw columns: text and integer
    columns, a short list (IN batches) and a long one (matched against a temporary table) agree."""
    url = f"sqlite:///{tmp_path / 'wh.db'}" if backend == "sqlite" else request.getfixturevalue("pg_databases").warehouse_url
    warehouse = Warehouse(url)
    raw = pd.DataFrame({"customer_id": [f"cus_{i:07d}" for i in range(3_000)], "account": list(range(3_000))})
    warehouse.replace_table("raw__customers", raw)
    short = pd.Index(["cus_0000042", "active", "cus_9999999", "7"], dtype="string")
    assert warehouse.present_values("raw__customers", "customer_id", short).tolist() == ["cus_0000042"]
    assert warehouse.present_values("raw__customers", "account", short).tolist() == ["7"]
    long = pd.Index([f"cus_{i:07d}" for i in range(0, 24_000, 2)], dtype="string")
    assert warehouse.present_values("raw__customers", "customer_id", long).tolist() == [f"cus_{i:07d}" for i in range(0, 3_000, 2)]
    numbers = pd.Index([str(i) for i in range(2_990, 14_000)] + ["7", "7"], dtype="string")  # repeated candidates, an integer column
    assert warehouse.present_values("raw__customers", "account", numbers).tolist() == [str(i) for i in range(2_990, 3_000)] + ["7", "7"]
    assert warehouse.present_values("raw__absent", "customer_id", short).tolist() == []
    warehouse.get_engine().dispose()


def _numbered_respondents(context) -> pd.DataFrame:
    """The census as a source with numeric record numbers (1, 2, …) for ids."""
    frame = context.resources.census_file.read()
    frame["respondent_id"] = pd.Series(range(1, len(frame) + 1), index=frame.index).astype("string")
    return frame


@pytest.mark.parametrize("warehouse", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_counts_that_equal_numeric_ids_do_not_block_a_release(warehouse, local_env, census_csv, request):
    """Every count the cohort table publishes is some respondent's record number, and the key
    version of every feature row is respondent 1's: no_direct_identifiers passes on both tiers."""
    if warehouse == "postgresql":
        request.getfixturevalue("pg_env")
    register = load_register(register_dir())
    defs = build_definitions(register)
    assets = [raw_asset(register, "census_respondents", _numbered_respondents, required_resource_keys={"census_file"})]
    assets += [a for a in defs.assets if a.key.to_user_string() in ("census_features", "census_cohorts")]
    defs = build_definitions(register, assets=assets)
    result = defs.resolve_job_def("census_release").execute_in_process(instance=DagsterInstance.get(), raise_on_error=False)
    outcomes = check_outcomes(result)
    assert outcomes[("census_features", "no_direct_identifiers")] and outcomes[("census_cohorts", "no_direct_identifiers")]
    assert result.success and materialized(result) == {"census_respondents", "census_features", "census_cohorts"}
    counts = published(Tier.AGGREGATE, "census_cohorts", defs)["subjects"]
    assert counts.between(1, len(pd.read_csv(census_csv))).all()  # each of them a record number
