"""The mapping vault and re-identification: sealed identifiers, purpose-bound and audited reads,
mapping retention; and the keyed, checkpointed audit trail that records them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from dagster import DagsterInstance
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance_demo.definitions import build_definitions
from compliance_assets.tiers import Tier
from compliance_assets.privacy.sealing import associated_data, open_one
from compliance_assets.register import load_register
from compliance_assets.vault.reidentification import ReidentificationRefused, reidentify
from compliance_assets.resources.vault import mappings
from tests.conftest import REPO, run_cli
from tests.helpers import published, resource, run_job

ALLOWED = "essential.legal_obligation"
FORBIDDEN = "marketing.advertising.profiling"


@pytest.fixture
def demo(local_env):
    assert run_job().success
    defs = build_definitions()
    raw = published(Tier.RAW, "customers", defs)
    features = published(Tier.PSEUDONYMISED, "customer_features", defs)
    return defs, raw, features


def _events(audit, event_type):
    records = audit.records()
    return records[records["event_type"] == event_type]


def test_reidentification_needs_an_allowed_purpose_and_is_audited(demo):
    defs, raw, features = demo
    register = load_register(REPO / "register")
    vault, audit = resource(defs, "pseudonym_vault"), resource(defs, "audit_trail")
    pseudonym = features["subject_pseudonym"].iloc[0]

    with pytest.raises(ReidentificationRefused, match="not allowed"):
        reidentify(register, vault, audit, domain="engagement", pseudonym=pseudonym, purpose=FORBIDDEN, actor="mallory@example.com")
    refused = _events(audit, "reidentification_refused")
    assert refused[["actor", "subject"]].values.tolist() == [["mallory@example.com", pseudonym]]

    identifier = reidentify(register, vault, audit, domain="engagement", pseudonym=pseudonym, purpose=ALLOWED, actor="dpo@example.com")
    assert identifier in set(raw["email"].str.strip().str.casefold())
    granted = _events(audit, "reidentification")
    assert granted[["actor", "subject"]].values.tolist() == [["dpo@example.com", pseudonym]]
    assert identifier not in audit.records().to_string()

    with pytest.raises(ValueError, match="actor"):
        reidentify(register, vault, audit, domain="engagement", pseudonym=pseudonym, purpose=ALLOWED, actor=" ")


def test_reidentify_cli_refuses_and_answers(demo):
    _, raw, features = demo
    pseudonym = features["subject_pseudonym"].iloc[3]
    base = ["compliance_assets", "reidentify", "--domain", "engagement", "--pseudonym", pseudonym, "--actor", "dpo@example.com"]
    refused = run_cli(*base, "--purpose", FORBIDDEN)
    assert refused.returncode == 2 and "not allowed" in refused.stdout
    answered = run_cli(*base, "--purpose", ALLOWED)
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.strip() in set(raw["email"].str.strip().str.casefold())


def test_vault_holds_no_identifier_in_clear_and_binds_ciphertexts_to_rows(demo):
    defs, raw, _ = demo
    vault = resource(defs, "pseudonym_vault")
    database = sa.engine.make_url(vault.url).database
    content = open(database, "rb").read()
    for email in raw["email"].dropna().str.strip().str.casefold().head(200):
        if email:
            assert email.encode() not in content
    with vault.get_engine().connect() as connection:
        first, second = connection.execute(sa.select(mappings).limit(2)).mappings().all()
    key = vault._sealing_key()
    assert "@" in open_one(key, first["nonce"], first["ciphertext"], associated_data(first["domain"], first["key_version"], first["pseudonym"]))
    with pytest.raises(InvalidTag):
        open_one(key, first["nonce"], first["ciphertext"], associated_data(second["domain"], second["key_version"], second["pseudonym"]))


def test_vault_lives_apart_from_the_warehouse(demo):
    defs, _, _ = demo
    warehouse, vault = resource(defs, "warehouse"), resource(defs, "pseudonym_vault")
    assert warehouse.url != vault.url
    assert "pseudonym_mappings" not in sa.inspect(warehouse.get_engine()).get_table_names()


def test_mappings_expire_after_their_retention(demo):
    defs, _, features = demo
    vault = resource(defs, "pseudonym_vault")
    retention = load_register(REPO / "register").activities["engagement_analytics"].pseudonym_mapping_retention.duration
    assert retention == timedelta(days=90)
    stale = features["subject_pseudonym"].head(10).tolist()
    with vault.get_engine().begin() as connection:
        connection.execute(
            mappings.update().where(mappings.c.pseudonym.in_(stale)).values(last_seen_at=datetime.now() - retention - timedelta(days=1))
        )
    before = vault.count("engagement")
    assert vault.purge_expired("engagement", datetime.now() - retention) == 10
    assert vault.count("engagement") == before - 10
    assert vault.lookup("engagement", stale[0]) is None


def test_audit_trail_detects_edit_deletion_and_swap(demo):
    defs, _, _ = demo
    audit = resource(defs, "audit_trail")
    for n in range(5):
        audit.append("test_event", "tester", f"p{n}", {"n": n})
    assert audit.verify() is None
    table = sa.table("audit__trail", sa.column("seq"), sa.column("details"), sa.column("subject"))
    engine = audit.get_engine()
    total = len(audit.records())

    with engine.begin() as connection:
        connection.execute(table.update().where(table.c.seq == 3).values(details='{"n": 99}'))
    assert str(audit.verify()).startswith("audit record 3:") and "edited" in str(audit.verify())
    with engine.begin() as connection:
        connection.execute(table.delete().where(table.c.seq >= 3))
    audit.append("test_event", "tester")  # the chain alone continues from record 2...
    assert audit.verify() is None
    assert audit.verify(DagsterInstance.get()).seq == 3  # ...the heads the demo run checkpointed do not

    for n in range(3):
        audit.append("test_event", "tester", f"q{n}")
    last = len(audit.records())
    with engine.begin() as connection:
        connection.execute(table.delete().where(table.c.seq == last - 1))
    assert f"audit record {last - 1}:" in str(audit.verify())
    with engine.begin() as connection:
        connection.execute(table.update().where(table.c.seq == last).values(seq=last - 1))
    assert "does not follow" in str(audit.verify())
    assert total > 0


def test_mapping_retention_job_purges_and_audits(demo):
    from dagster import DagsterInstance, DefaultScheduleStatus

    defs, _, features = demo
    vault = resource(defs, "pseudonym_vault")
    stale = features["subject_pseudonym"].head(7).tolist()
    with vault.get_engine().begin() as connection:
        connection.execute(mappings.update().where(mappings.c.pseudonym.in_(stale)).values(last_seen_at=datetime.now() - timedelta(days=91)))
    before = vault.count("engagement")
    result = defs.resolve_job_def("mapping_retention").execute_in_process(instance=DagsterInstance.get())
    assert result.success
    assert vault.count("engagement") == before - 7
    (output,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    assert output.event_specific_data.metadata["deleted/engagement"].value == 7
    purges = resource(defs, "audit_trail").records().query("event_type == 'mapping_retention_purge'")
    assert len(purges) == 2  # engagement and census_statistics domains
    schedule = defs.resolve_schedule_def("daily_mapping_retention")
    assert schedule.default_status == DefaultScheduleStatus.RUNNING


def test_verify_audit_cli_reports_intact_and_broken_chains(demo):
    defs, _, _ = demo
    intact = run_cli("compliance_assets", "verify-audit")
    assert intact.returncode == 0 and "chain verified; matches" in intact.stdout
    audit = resource(defs, "audit_trail")
    with audit.get_engine().begin() as connection:
        connection.execute(sa.text("UPDATE audit__trail SET actor = 'someone-else' WHERE seq = 2"))
    broken = run_cli("compliance_assets", "verify-audit")
    assert broken.returncode == 1 and "audit record 2" in broken.stdout and "edited" in broken.stdout


@pytest.fixture(scope="module")
def vault_on_each(each_warehouse):
    """A vault on each dialect the upsert is written for (its tables beside the warehouse's)."""
    from compliance_assets.resources.secrets import generate_secret
    from compliance_assets.resources.vault import PseudonymVaultResource

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEST_VAULT_KEY", generate_secret())
        yield PseudonymVaultResource(url=each_warehouse.url, vault_key_env="TEST_VAULT_KEY")


def test_a_repeated_mapping_keeps_when_it_was_first_seen_and_moves_when_it_was_last_seen(vault_on_each, monkeypatch):
    """The upsert goes to the driver (SQLite's executemany, PostgreSQL's COPY): it must store
    what SQLAlchemy stores."""
    vault = vault_on_each
    pseudonyms, identifiers = pd.Series(["a" * 32, "b" * 32]), pd.Series(["one@example.com", "two@example.com"])
    first, later = datetime(2026, 11, 1, 8, 30, 15, 123456), datetime(2026, 11, 30, 9, 0, 0, 1)
    monkeypatch.setattr("compliance_assets.resources.vault.ROWS_PER_PIECE", 1)  # COPY's data sent in more than one piece
    monkeypatch.setattr("compliance_assets.resources.vault._now", lambda: first)
    assert vault.store("d", 1, pseudonyms, identifiers, pd.Series(["ws", None])) == 2
    monkeypatch.setattr("compliance_assets.resources.vault._now", lambda: later)
    vault.store("d", 1, pseudonyms.head(1), identifiers.head(1), None)
    with vault.get_engine().connect() as connection:
        rows = {r["pseudonym"]: r for r in connection.execute(sa.select(mappings).where(mappings.c.domain == "d")).mappings()}
    assert (rows["a" * 32]["first_seen_at"], rows["a" * 32]["last_seen_at"]) == (first, later)
    assert (rows["b" * 32]["first_seen_at"], rows["b" * 32]["last_seen_at"]) == (first, first)
    assert (rows["a" * 32]["scope"], rows["b" * 32]["scope"]) == ("ws", None)
    assert vault.lookup("d", "b" * 32)["identifier"] == "two@example.com"


@settings(max_examples=25, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(st.none() | st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8), st.text(max_size=12)),
        min_size=1,
        max_size=6,
    )
)
def test_any_scope_and_identifier_come_back_as_stored(vault_on_each, pairs):
    """Text COPY escapes: a backslash, a tab, a line break or the NULL marker in a scope is kept."""
    domain = f"d{uuid.uuid4().hex[:8]}"
    pseudonyms = pd.Series([f"{i:032x}" for i in range(len(pairs))])
    scopes, identifiers = pd.Series([s for s, _ in pairs], dtype="string"), pd.Series([i for _, i in pairs], dtype="string")
    assert vault_on_each.store(domain, 1, pseudonyms, identifiers, scopes) == len(pairs)
    for pseudonym, (scope, identifier) in zip(pseudonyms, pairs, strict=True):
        found = vault_on_each.lookup(domain, pseudonym)
        assert (found["scope"], found["identifier"]) == (scope, identifier)


@settings(max_examples=50, deadline=None)
@given(values=st.lists(st.tuples(st.text(max_size=20), st.text(max_size=20)), max_size=30))
def test_each_sealed_value_has_its_own_nonce_and_opens_only_with_its_own_associated_data(values):
    """Nonces drawn in one call and cut into pieces: one per value, none repeated, each of the
    right length; a ciphertext opens to its plaintext under its own associated data only."""
    from compliance_assets.privacy.sealing import NONCE_BYTES, seal_all

    key = bytes(range(32))
    plaintexts, contexts = [p for p, _ in values], [f"row-{i}|{c}" for i, (_, c) in enumerate(values)]
    sealed = seal_all(key, plaintexts, contexts)
    assert len(sealed) == len(values)
    assert len({nonce for nonce, _ in sealed}) == len(sealed)
    assert all(len(nonce) == NONCE_BYTES for nonce, _ in sealed)
    for i, (nonce, ciphertext) in enumerate(sealed):
        assert open_one(key, nonce, ciphertext, contexts[i]) == plaintexts[i]
        if len(sealed) > 1:
            with pytest.raises(InvalidTag):
                open_one(key, nonce, ciphertext, contexts[(i + 1) % len(sealed)])
    with pytest.raises(ValueError):
        seal_all(key, plaintexts + ["one more"], contexts)


@pytest.mark.postgres
def test_runs_starting_at_once_on_a_new_vault_share_its_first_key_version(monkeypatch):
    """Runs launched together on an empty key ring each find no version and each insert version 1,
    or find the ring filled between their two reads: the losers must read the winner's version,
    not fail on the key ring's primary key nor find no active version."""
    import threading

    from compliance_assets.resources.secrets import generate_secret
    from compliance_assets.resources.vault import PseudonymVaultResource, key_ring
    from tests.conftest import fresh_postgres_databases, postgres_url

    monkeypatch.setenv("TEST_VAULT_KEY", generate_secret())
    name = f"ca_vault_race_{uuid.uuid4().hex[:10]}"
    with fresh_postgres_databases(name):
        vaults = [PseudonymVaultResource(url=postgres_url(name), vault_key_env="TEST_VAULT_KEY") for _ in range(4)]
        engines = [vault.get_engine() for vault in vaults]
        try:
            for _ in range(20):
                with engines[0].begin() as connection:
                    connection.execute(key_ring.delete())
                start, found, errors = threading.Barrier(len(vaults)), [], []

                def first_use(vault):
                    start.wait()
                    try:
                        found.append(vault.active_version("fingerprint"))
                    except Exception as error:  # noqa: BLE001 - the assertion names it
                        errors.append(error)

                threads = [threading.Thread(target=first_use, args=(vault,)) for vault in vaults]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                assert errors == []
                assert {(version.version, version.salt) for version in found} == {(1, found[0].salt)}
        finally:
            for engine in engines:
                engine.dispose()
