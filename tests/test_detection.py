"""Identifier detection finds identifying values whatever their column is called, and leaves the
pseudonymised tier's ordinary values alone."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance_assets.privacy.detection import find_identifiers, known_values
from compliance_assets.privacy.pseudonymise import derive_domain_key, pseudonymise
from resources.warehouse import WarehouseResource


def _detectors(frame: pd.DataFrame, known=None) -> set[tuple[str, str]]:
    return {(f.column, f.detector) for f in find_identifiers(frame, known)}


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
    warehouse = WarehouseResource(url=url)
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
