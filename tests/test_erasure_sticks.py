"""Erasure sticks: a subject erased through the request path is not brought back by the next run
of the same export, nor by a spelling of their identifier that normalises alike; the suppression
list that stops them holds no raw identifier."""

from __future__ import annotations

import pandas as pd
import pytest
from dagster import DagsterEventType, DagsterInstance, materialize
from hypothesis import given
from hypothesis import strategies as st

from compliance_demo.definitions import build_definitions
from compliance_demo.sources import DemoSourceResource
from compliance_assets.tiers import Tier, table_name
from compliance_assets.factories.raw import raw_asset
from compliance_assets.privacy.normalise import NORMALISATION_VERSION
from compliance_assets.register import load_register
from compliance_assets.privacy.pseudonymise import derive_suppression_key
from compliance_assets.rights.suppression_list import SuppressionList, digests, listings
from compliance_assets.resources.requests import PrivacyRequests
from tests.conftest import REPO, small_run_config
from tests.helpers import resource, run_job
from tests.test_erasure import DERIVED_TABLES_EXEMPT, _cells, _serve, _subject, _tables

MASTER = bytes(range(32))
FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def _confusable(value: str) -> str:
    """The same identifier as a careless import spells it: fullwidth, a zero-width space, blanks."""
    return "\u00a0" + "".join(FULLWIDTH.get(c, c) for c in value[:3]) + "\u200b" + value[3:] + " "


def _suppressed(result, asset: str) -> tuple[int, int]:
    (materialization,) = [
        e.event_specific_data.materialization for e in result.all_events
        if e.event_type == DagsterEventType.ASSET_MATERIALIZATION and e.event_specific_data.materialization.asset_key.to_user_string() == asset
    ]
    metadata = materialization.metadata
    return metadata["subjects_suppressed_after_erasure"].value, metadata["rows_suppressed_after_erasure"].value


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_an_erased_subject_is_not_imported_again(backend, local_env, request):
    if backend == "postgresql":
        request.getfixturevalue("pg_env")
    defs = build_definitions()
    assert run_job(defs=defs).success
    warehouse, vault, audit = resource(defs, "warehouse"), resource(defs, "pseudonym_vault"), resource(defs, "audit_trail")
    email, scope, ids = _subject(warehouse, 17)
    events = warehouse.read_table(table_name(Tier.RAW, "engagement_events"))
    own_events = int(events["customer_id"].isin(ids).sum())
    request_id = PrivacyRequests(vault).submit("erasure", "customers", email, scope)
    assert _serve(defs, request_id).success
    erased = PrivacyRequests(vault).get(request_id)
    assert erased.outcome["suppression_entries_added"] >= 1 + len(set(ids))
    pseudonyms = {p for versions in erased.plan["pseudonyms"].values() for p in versions.values()}
    traces = {email, *erased.plan["spellings"], *ids, *pseudonyms}

    again = run_job(defs=defs)  # the same seed: the same export, the erased subject in it
    assert again.success
    subjects, rows = _suppressed(again, "customers")
    assert subjects == 1 and rows >= erased.outcome["deleted"]["raw__customers"] > 0
    subjects, rows = _suppressed(again, "engagement_events")  # counted on arrival, before retention drops any
    assert (subjects, rows >= own_events) == ((1, True) if own_events else (0, True))
    assert _suppressed(again, "consent_records") == (0, 0)  # kept under Art. 17(3): not on any list

    after = _tables(warehouse.get_engine())
    for name, frame in after.items():
        if name not in DERIVED_TABLES_EXEMPT:
            assert not (_cells(frame) & traces), f"{name} holds the erased subject again"
    vault_tables = _tables(vault.get_engine())
    for name, frame in vault_tables.items():
        if name != "privacy_requests":  # sealed identifiers and nonces are bytes: only the text is compared
            text = frame[[c for c in frame.columns if not frame[c].map(lambda v: isinstance(v, bytes | memoryview)).any()]]
            assert not (_cells(text) & traces), f"vault table {name} holds the erased subject again"
    listed = vault_tables["erasure_suppression"]
    cells = " ".join(_cells(listed))
    assert not any(trace in cells for trace in {email, email.casefold(), *ids}), "the suppression list holds a raw identifier"
    assert listed["digest"].str.fullmatch(r"[0-9a-f]{32}").all() and set(listed["request_id"]) == {request_id}
    assert not set(listed["digest"]) & pseudonyms  # a list entry is not a pseudonym

    ingested = audit.records()
    ingested = ingested[ingested["event_type"] == "ingestion"].iloc[-5:]
    assert any('"subjects_suppressed_after_erasure": 1' in details for details in ingested["details"])

    # A later export spells them another way: still the erased subject, still not kept.
    register = load_register(REPO / "register")
    people = DemoSourceResource(**small_run_config()["resources"]["demo_source"]["config"]).people()
    mask = people["customer_id"].isin(ids)
    fresh_ids = pd.Series([f"cus_{9_000_000 + i:07d}" for i in range(len(people))], index=people.index)  # on no list
    respelled = people.assign(
        email=people["email"].where(~mask, people["email"].map(_confusable, na_action="ignore")), customer_id=people["customer_id"].where(~mask, fresh_ids)
    )
    result = materialize(
        [raw_asset(register, "customers", lambda context: respelled)],
        resources={k: defs.resources[k] for k in ("warehouse", "audit_trail", "pseudonym_keys")},
        instance=DagsterInstance.get(),
    )
    assert result.success
    (materialization,) = result.asset_materializations_for_node("customers")
    assert materialization.metadata["subjects_suppressed_after_erasure"].value == 1
    assert not (_cells(warehouse.read_table(table_name(Tier.RAW, "customers"))) & (traces | set(fresh_ids[mask])))


CUSTOMERS = next(listing for listing in listings(load_register(REPO / "register"), "customers") if listing.list_scope == "customers")
CONTACT_IDS = next(listing for listing in listings(load_register(REPO / "register"), "engagement_events"))


@given(
    local=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._", min_size=1, max_size=12).filter(lambda s: s[0] not in "._"),
    domain=st.sampled_from(["example.com", "mail.example.org", "x.io"]),
    workspace=st.sampled_from(["ws_01", "ws_02"]),
    shout=st.booleans(),
)
def test_the_suppression_key_is_stable_under_the_normaliser(local, domain, workspace, shout):
    """Confusable spellings of an erased address (case, fullwidth forms, zero-width and no-break
    spaces) are the listed subject; the same address in another workspace is not."""
    key = derive_suppression_key(MASTER, CUSTOMERS.list_scope, NORMALISATION_VERSION)
    email = f"{local}@{domain}"
    spellings = [email, _confusable(email), f"  {email.upper() if shout else email}\u00ad"]
    keyed = digests(pd.Series(spellings), pd.Series([workspace] * 3), CUSTOMERS.kind, None, key)
    assert keyed.nunique() == 1 and keyed.notna().all()
    elsewhere = digests(pd.Series([email]), pd.Series(["ws_99"]), CUSTOMERS.kind, None, key)
    assert elsewhere.iloc[0] != keyed.iloc[0]


@given(number=st.integers(0, 9_999_999))
def test_a_contact_id_is_listed_whatever_its_digits(number):
    key = derive_suppression_key(MASTER, CONTACT_IDS.list_scope, NORMALISATION_VERSION)
    contact = f"cus_{number:07d}"
    keyed = digests(pd.Series([contact, _confusable(contact)]), None, CONTACT_IDS.kind, None, key)
    assert keyed.nunique() == 1
    other_list = derive_suppression_key(MASTER, "customers", NORMALISATION_VERSION)
    assert digests(pd.Series([contact]), None, CONTACT_IDS.kind, None, other_list).iloc[0] != keyed.iloc[0]


def test_entries_keyed_under_another_master_secret_stop_the_ingestion(local_env):
    """They cannot be recognised, so nothing is ingested rather than an erased subject let back in."""
    defs = build_definitions()
    SuppressionList(resource(defs, "pseudonym_vault").get_engine()).add("customers", ["0" * 32], "an-old-request", "another-secret", NORMALISATION_VERSION)
    people = DemoSourceResource(**small_run_config()["resources"]["demo_source"]["config"]).people()
    result = materialize(
        [raw_asset(load_register(REPO / "register"), "customers", lambda context: people)],
        resources={k: defs.resources[k] for k in ("warehouse", "audit_trail", "pseudonym_keys")},
        instance=DagsterInstance.get(),
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert "1 erased subject(s) on the 'customers' suppression list were listed under another master secret" in str(failure.event_specific_data.error)
    assert not resource(defs, "warehouse").has_table(table_name(Tier.RAW, "customers"))
