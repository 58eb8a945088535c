"""The pseudonymisation engine: normalisation-equivalent inputs give one pseudonym, domains and
keys never link, missing identifiers are refused, and the output has a fixed format."""

from __future__ import annotations

import hmac
import re
from hashlib import sha256

import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from compliance_assets.privacy.normalise import missing_mask, normalise
from compliance_assets.privacy.pseudonymise import (
    PSEUDONYM_PATTERN,
    derive_domain_key,
    pseudonymise,
    pseudonymise_stream,
    scoped,
)
from compliance_assets.resources.secrets import KeyConfigurationError, decode_secret, generate_secret, read_secret

MASTER = b"m" * 32
identifiers = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != "")
emails = st.emails().map(str)
blank_padding = st.text(alphabet=" \t\n", max_size=3)


@given(email=emails, left=blank_padding, right=blank_padding, upper=st.booleans())
def test_normalisation_equivalent_emails_are_one_subject(email, left, right, upper):
    key = derive_domain_key(MASTER, "engagement")
    variant = left + (email.upper() if upper else email) + right
    values = normalise(pd.Series([email, variant]), "email")
    keyed = pseudonymise(values, key)
    assert keyed.iloc[0] == keyed.iloc[1]


@given(value=identifiers, domain_a=st.from_regex(r"[a-z]{1,12}", fullmatch=True), domain_b=st.from_regex(r"[a-z]{1,12}", fullmatch=True))
def test_domains_never_collide_on_the_same_input(value, domain_a, domain_b):
    if domain_a == domain_b:
        return
    values = pd.Series([value], dtype="string")
    a = pseudonymise(values, derive_domain_key(MASTER, domain_a)).iloc[0]
    b = pseudonymise(values, derive_domain_key(MASTER, domain_b)).iloc[0]
    assert a != b


@settings(max_examples=200)
@given(values=st.lists(identifiers, min_size=1, max_size=50))
def test_output_is_fixed_width_and_matches_a_plain_hmac(values):
    key = derive_domain_key(MASTER, "engagement")
    series = pd.Series(values, dtype="string")
    keyed = pseudonymise(series, key)
    assert keyed.str.fullmatch(PSEUDONYM_PATTERN).all()
    assert list(keyed.index) == list(series.index)
    expected = [hmac.new(key, v.encode(), sha256).hexdigest()[:32] for v in values]
    assert keyed.tolist() == expected


def test_same_key_same_pseudonym_and_different_key_different():
    values = pd.Series(["alice@example.com", "bob@example.com"], dtype="string")
    first = pseudonymise(values, derive_domain_key(MASTER, "d"))
    again = pseudonymise(values, derive_domain_key(MASTER, "d"))
    other = pseudonymise(values, derive_domain_key(b"x" * 32, "d"))
    rotated = pseudonymise(values, derive_domain_key(MASTER, "d", key_version=2))
    assert first.tolist() == again.tolist()
    assert not set(first) & set(other)
    assert not set(first) & set(rotated)


def test_scope_separates_the_same_identifier_at_two_clients():
    key = derive_domain_key(MASTER, "engagement")
    ids = pd.Series(["alice@example.com", "alice@example.com"], dtype="string")
    keyed = pseudonymise(scoped(ids, pd.Series(["ws_a", "ws_b"], dtype="string")), key)
    assert keyed.iloc[0] != keyed.iloc[1]


def test_missing_identifiers_are_flagged_and_refused():
    values = normalise(pd.Series([" a@b.de ", "", "   ", None]), "email")
    assert missing_mask(values).tolist() == [False, True, True, True]
    with pytest.raises(ValueError, match="quarantine"):
        pseudonymise(values, derive_domain_key(MASTER, "d"))


def test_short_secret_is_refused_without_echoing_it(monkeypatch):
    weak = "c2hvcnQ"  # base64 of "short"
    monkeypatch.setenv("TEST_WEAK_KEY", weak)
    with pytest.raises(KeyConfigurationError) as caught:
        read_secret("TEST_WEAK_KEY", None)
    assert weak not in str(caught.value)
    assert "at least 32" in str(caught.value)


def test_missing_secret_without_dev_file_is_an_error(monkeypatch):
    monkeypatch.delenv("TEST_ABSENT_KEY", raising=False)
    with pytest.raises(KeyConfigurationError, match=r"\$TEST_ABSENT_KEY is not set"):
        read_secret("TEST_ABSENT_KEY", None)


def test_dev_key_file_is_created_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_ABSENT_KEY", raising=False)
    path = tmp_path / "keys" / "master.key"
    first = read_secret("TEST_ABSENT_KEY", str(path))
    second = read_secret("TEST_ABSENT_KEY", str(path))
    assert first == second and len(first) >= 32
    assert path.stat().st_mode & 0o777 == 0o600


def test_generated_secrets_are_distinct_and_valid():
    a, b = generate_secret(), generate_secret()
    assert a != b and re.fullmatch(r"[A-Za-z0-9_-]+", a)
    assert len(decode_secret(a, "test")) == 32


def test_phone_numbers_normalise_to_e164_before_keying():
    values = normalise(pd.Series(["+49 151 23456789", "0151 2345-6789", "(0151) 23456789", "not a number", "123"]), "phone", "DE")
    assert values.tolist()[:3] == ["+4915123456789"] * 3
    assert missing_mask(values).tolist() == [False, False, False, True, True]
    keyed = pseudonymise(values[:3], derive_domain_key(MASTER, "d"))
    assert keyed.nunique() == 1


@given(national=st.integers(min_value=15_100_000_000, max_value=15_199_999_999))
def test_any_spelling_of_a_german_mobile_number_is_one_subject(national):
    digits = str(national)
    spellings = pd.Series([f"0{digits}", f"+49{digits}", f"+49 {digits[:3]} {digits[3:]}", f"0049 {digits}"])
    values = normalise(spellings, "phone", "DE")
    assume(values.notna().all())
    assert values.nunique() == 1 and values.iloc[0] == f"+49{digits}"


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.text(min_size=1, max_size=12).filter(lambda s: s.strip() != ""), min_size=1, max_size=300),
    chunk_rows=st.integers(1, 80),
    cache_limit=st.integers(0, 50),
)
def test_streamed_pseudonyms_equal_whole_column_pseudonyms(values, chunk_rows, cache_limit):
    key = derive_domain_key(MASTER, "stream")
    series = pd.Series(values, dtype="string")
    chunks = [series.iloc[i : i + chunk_rows] for i in range(0, len(series), chunk_rows)]
    streamed = pd.concat(list(pseudonymise_stream(chunks, key, cache_limit=cache_limit)))
    assert streamed.tolist() == pseudonymise(series, key).tolist()
    assert list(streamed.index) == list(series.index)


def test_stream_falls_back_to_exact_keying_on_hash_collisions(monkeypatch):
    import compliance_assets.privacy.pseudonymise as engine

    monkeypatch.setattr(engine, "hash", lambda value: 0, raising=False)
    key = derive_domain_key(MASTER, "collide")
    chunks = [pd.Series(["a", "b", "a"]), pd.Series(["c", "a"])]
    streamed = [s.tolist() for s in pseudonymise_stream(chunks, key)]
    assert streamed == [pseudonymise(c, key).tolist() for c in chunks]
    assert streamed[0][0] != streamed[0][1]


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.sampled_from(["a", "b", "ab", "ba", "abc", "cab", "x", "yz"]), min_size=1, max_size=120),
    chunk_rows=st.integers(1, 30),
    cache_limit=st.integers(0, 12),
)
def test_streamed_pseudonyms_stay_exact_when_hashes_collide_often(values, chunk_rows, cache_limit):
    """A hash that collides for every pair of equally long values: each chunk is still keyed
    exactly, whatever the numbering thread has already numbered."""
    import compliance_assets.privacy.pseudonymise as engine

    key = derive_domain_key(MASTER, "collide")
    series = pd.Series(values, dtype="string")
    chunks = [series.iloc[i : i + chunk_rows] for i in range(0, len(series), chunk_rows)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "hash", len, raising=False)
        streamed = pd.concat(list(pseudonymise_stream(chunks, key, cache_limit=cache_limit)))
    assert streamed.tolist() == pseudonymise(series, key).tolist()


def test_a_column_longer_than_a_chunk_is_streamed_to_the_same_pseudonyms(monkeypatch):
    import compliance_assets.privacy.pseudonymise as engine

    key = derive_domain_key(MASTER, "long")
    column = pd.Series([f"user{i % 13}@example.com" for i in range(100)], index=range(500, 600), dtype="string", name="email")
    exact = pseudonymise(column, key)
    monkeypatch.setattr(engine, "STREAM_CHUNK_ROWS", 7)
    streamed = pseudonymise(column, key)
    pd.testing.assert_series_equal(streamed, exact)
    with pytest.raises(ValueError, match="quarantine"):
        pseudonymise(pd.concat([column, pd.Series([None], dtype="string")]), key)


def test_a_stream_closed_early_leaves_no_numbering_thread():
    import threading

    chunks = (pd.Series([f"user{i % 7}@example.com" for i in range(start, start + 10)]) for start in range(0, 1000, 10))
    stream = pseudonymise_stream(chunks, derive_domain_key(MASTER, "d"))
    assert len(next(stream)) == 10
    stream.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("pseudonym-numbering")]


def test_stream_refuses_identifiers_that_are_not_text():
    with pytest.raises(TypeError, match="text identifiers"):
        list(pseudonymise_stream([pd.Series(["a"]), pd.Series([7], dtype=object)], derive_domain_key(MASTER, "d")))


def test_stream_refuses_missing_identifiers():
    with pytest.raises(ValueError, match="quarantine"):
        list(pseudonymise_stream([pd.Series(["a"]), pd.Series(["b", None])], derive_domain_key(MASTER, "d")))
