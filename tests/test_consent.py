"""Consent-aware pipelines: the latest consent record decides, withdrawn subjects never reach an
asset whose legal basis is consent, and the blocking check proves it."""

from __future__ import annotations

import pandas as pd
from dagster import AssetKey
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance_demo.definitions import build_definitions
from compliance_assets.factories.checks import evaluate_consent
from compliance_assets.tiers import Tier
from compliance_assets.privacy.consent import consenting_subjects
from compliance_assets.privacy.normalise import normalise
from compliance_assets.privacy.pseudonymise import pseudonymise, scoped
from tests.helpers import check_outcomes, published, run_job

PURPOSE = "analytics.reporting.campaign_insights"
T0 = pd.Timestamp("2026-01-01")


def _records(rows):
    return pd.DataFrame(rows, columns=["customer_id", "purpose", "status", "recorded_at"])


def test_latest_record_decides_and_later_records_do_not_count_yet():
    records = _records(
        [
            ("a", PURPOSE, "granted", T0),
            ("b", PURPOSE, "granted", T0),
            ("b", PURPOSE, "withdrawn", T0 + pd.Timedelta(days=2)),
            ("c", PURPOSE, "withdrawn", T0),
            ("c", PURPOSE, "granted", T0 + pd.Timedelta(days=1)),
            ("d", "marketing.communications.email", "granted", T0),
            ("e", PURPOSE, "granted", T0 + pd.Timedelta(days=10)),
        ]
    )
    at = T0 + pd.Timedelta(days=5)
    assert set(consenting_subjects(records, "customer_id", PURPOSE, at)) == {"a", "c"}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcde"), st.booleans(), st.integers(0, 30)), max_size=40), st.integers(0, 30))
def test_consent_is_the_last_word_before_the_moment(events, day):
    """Whatever order the records come in: a withdrawal stamped the same instant as a grant wins."""
    records = _records([(s, PURPOSE, "granted" if g else "withdrawn", T0 + pd.Timedelta(days=d)) for s, g, d in events])
    at = T0 + pd.Timedelta(days=day)
    expected = set()
    for subject in "abcde":
        days = [d for s, _, d in events if s == subject and d <= day]
        if days and all(g for s, g, d in events if s == subject and d == max(days)):
            expected.add(subject)
    assert set(consenting_subjects(records, "customer_id", PURPOSE, at)) == expected
    assert set(consenting_subjects(records.iloc[::-1], "customer_id", PURPOSE, at)) == expected


def test_withdrawn_contacts_are_absent_and_the_check_passes(local_env):
    result = run_job()
    assert result.success
    assert check_outcomes(result)[("customer_features", "consent")] is True
    defs = build_definitions()
    customers = published(Tier.RAW, "customers", defs)
    consent = published(Tier.RAW, "consent_records", defs)
    consenting = set(consenting_subjects(consent, "customer_id", PURPOSE, pd.Timestamp.now()))
    withdrawn = customers.loc[~customers["customer_id"].isin(consenting) & customers["email"].fillna("").str.strip().ne("")]
    assert len(withdrawn) > 0
    keys = defs.resources["pseudonym_keys"]
    with keys.process_config_and_initialize_cm() as resolved:
        _, key = resolved.domain_key("engagement")
    emails = normalise(withdrawn["email"], "email")
    expected_absent = set(pseudonymise(scoped(emails, withdrawn["workspace_id"].astype("string")), key))
    features = published(Tier.PSEUDONYMISED, "customer_features", defs)
    assert not expected_absent & set(features["subject_pseudonym"])


def test_consent_check_fails_on_a_subject_without_consent():
    frame = pd.DataFrame({"subject_pseudonym": ["p1", "p2", "p3"]})
    failing = evaluate_consent(AssetKey("f"), frame, "subject_pseudonym", pd.Index(["p2"]), PURPOSE)
    assert not failing.passed
    assert failing.metadata["subjects_without_consent_present"].value == 1
    assert "p2" in failing.metadata["example_offender"].value
    assert evaluate_consent(AssetKey("f"), frame, "subject_pseudonym", pd.Index(["zz"]), PURPOSE).passed
