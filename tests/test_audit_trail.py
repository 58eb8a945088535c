"""The audit trail against someone with full write access to the warehouse (plain SQL on the audit
table, SQLite and PostgreSQL) but not the audit key nor Dagster's instance: every edit, deletion,
reordering, insertion or rebuilt chain is caught, at the first record it touched."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster import AssetKey, DagsterInstance, build_resources
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance_assets.audit.anchor import AUDIT_TRAIL_ASSET, REPORTS_ASSET, checkpoints
from compliance_assets.audit.chain import GENESIS, KEYED, UNKEYED, Head, chain_hash, chain_mac, derive_audit_key, verify_chain
from compliance_demo.definitions import build_definitions
from compliance_assets.resources.audit import AuditTrailResource
from compliance_assets.resources.keys import AuditKeyResource
from compliance_assets.resources.secrets import decode_secret, generate_secret
from tests.conftest import fresh_postgres_databases, postgres_url, run_cli
from tests.helpers import resource, run_job
from tests.test_no_personal_data_in_dagster import _instance_dump

SECRET_ENV = "TEST_AUDIT_SECRET"
KEY = derive_audit_key(b"k" * 32)
WRONG_KEY = derive_audit_key(b"w" * 32)
table = sa.table(
    "audit__trail", *(sa.column(c) for c in ("seq", "at", "event_type", "actor", "subject", "details", "prev_hash", "hash", "chain_version"))
)


# The chain on its own: random chains, random tamperings.


def build_chain(contents: list[dict], key: bytes = KEY, unkeyed: int = 0) -> list[dict]:
    """Records as the resource writes them; the first `unkeyed` as chain version 1 did."""
    records, previous = [], GENESIS
    for seq, content in enumerate(contents, 1):
        record = {"seq": seq, "at": f"2026-01-01T00:00:{seq:02d}", **content}
        version = UNKEYED if seq <= unkeyed else KEYED
        digest = chain_hash(previous, record) if version == UNKEYED else chain_mac(key, previous, record)
        records.append({**record, "prev_hash": previous, "hash": digest, "chain_version": None if version == UNKEYED else KEYED})
        previous = digest
    return records


def head_of(records: list[dict]) -> Head:
    keyed = [r["seq"] for r in records if r["chain_version"] == KEYED]
    return Head(records[-1]["seq"], records[-1]["hash"], min(keyed) if keyed else None)


def rehashed(records: list[dict], key: bytes | None, version: int | None) -> list[dict]:
    """The whole chain rebuilt from its contents: with SHA-256 (key None) or an HMAC under `key`."""
    out, previous = [], GENESIS
    for record in records:
        digest = chain_hash(previous, record) if key is None else chain_mac(key, previous, record)
        out.append({**record, "prev_hash": previous, "hash": digest, "chain_version": version})
        previous = digest
    return out


contents = st.fixed_dictionaries(
    {
        "event_type": st.sampled_from(["erasure", "publication", "reidentification", "retention_purge"]),
        "actor": st.text(min_size=1, max_size=12),
        "subject": st.none() | st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
        "details": st.dictionaries(st.text(max_size=5), st.integers(), max_size=3).map(lambda d: json.dumps(d, sort_keys=True)),
    }
)


def tamper(kind: str, records: list[dict], data, keep_last: bool = False) -> tuple[list[dict], int]:
    """(the tampered trail in sequence order, the first record it makes untrustworthy)."""
    n = len(records)
    at = data.draw(st.integers(1, n - 1 if keep_last else n), label="at")
    if kind == "edit":
        field = data.draw(st.sampled_from(["at", "event_type", "actor", "subject", "details"]), label="field")
        changed = dict(records[at - 1])
        changed[field] = "forged" if changed[field] != "forged" else "forged again"
        return records[: at - 1] + [changed] + records[at:], at
    if kind == "delete":
        return records[: at - 1] + records[at:], at
    if kind == "truncate":
        return records[: at - 1], at
    if kind == "reorder":
        other = data.draw(st.integers(1, n).filter(lambda i: i != at), label="other")
        first, second = sorted((at, other))
        swapped = list(records)
        swapped[first - 1] = {**records[second - 1], "seq": first}
        swapped[second - 1] = {**records[first - 1], "seq": second}
        return swapped, first
    if kind == "insert":
        forged = {"seq": at, "at": "2026-01-01T00:00:00", "event_type": "forged", "actor": "mallory", "subject": None, "details": "{}"}
        previous = records[at - 2]["hash"] if at > 1 else GENESIS
        forged |= {"prev_hash": previous, "hash": chain_hash(previous, forged), "chain_version": KEYED}
        shifted = [{**r, "seq": r["seq"] + 1} for r in records[at - 1 :]]
        return records[: at - 1] + [forged] + shifted, at
    if kind == "sha256_unkeyed":
        return rehashed(records, None, None), 1
    if kind == "sha256_as_keyed":
        return rehashed(records, None, KEYED), 1
    if kind == "wrong_key":
        return rehashed(records, WRONG_KEY, KEYED), 1
    raise ValueError(kind)


TAMPERINGS = ["edit", "delete", "truncate", "reorder", "insert", "sha256_unkeyed", "sha256_as_keyed", "wrong_key"]


@settings(max_examples=300)
@given(st.lists(contents, min_size=2, max_size=12), st.sampled_from(TAMPERINGS), st.data())
def test_every_tampering_of_a_random_chain_is_found_at_its_first_record(items, kind, data):
    records = build_chain(items)
    assert verify_chain(records, KEY, [head_of(records)]).intact
    tampered, first_bad = tamper(kind, records, data)
    problem = verify_chain(tampered, KEY, [head_of(records)]).problem
    assert problem is not None and problem.seq == first_bad, (kind, problem)


@settings(max_examples=100)
@given(st.lists(contents, min_size=2, max_size=12), st.sampled_from(["edit", "delete", "reorder", "insert", "wrong_key"]), st.data())
def test_tampering_inside_the_chain_needs_no_checkpoint(items, kind, data):
    records = build_chain(items)
    tampered, first_bad = tamper(kind, records, data, keep_last=True)
    problem = verify_chain(tampered, KEY).problem
    assert problem is not None and problem.seq == first_bad, (kind, problem)


def test_any_checkpoint_the_chain_has_moved_away_from_is_found():
    """A tail deleted and written again: the last checkpoint matches, an earlier one does not."""
    records = build_chain([{"event_type": "e", "actor": "a", "subject": None, "details": "{}"}] * 6)
    rewritten = records[:3] + build_chain([{"event_type": "e", "actor": "mallory", "subject": None, "details": "{}"}] * 6)[3:]
    rewritten = rehashed(rewritten, KEY, KEYED)  # as the resource would chain new appends onto record 3
    heads = [head_of(records[:n]) for n in range(1, 7)]
    problem = verify_chain(rewritten, KEY, heads + [head_of(rewritten)]).problem
    assert problem.seq == 4 and "checkpointed" in problem.reason


@settings(max_examples=100)
@given(st.lists(contents, min_size=2, max_size=10), st.integers(0, 10))
def test_records_from_before_the_key_verify_as_unkeyed(items, unkeyed):
    unkeyed = min(unkeyed, len(items))
    records = build_chain(items, unkeyed=unkeyed)
    verification = verify_chain(records, KEY, [head_of(records)])
    assert verification.intact and verification.unkeyed == unkeyed
    assert (f"records 1-{unkeyed} are unkeyed" in verification.summary()) == (unkeyed > 0)


@settings(max_examples=100)
@given(st.lists(contents, min_size=3, max_size=10), st.data())
def test_an_unkeyed_record_after_a_keyed_one_is_refused(items, data):
    unkeyed = data.draw(st.integers(0, len(items) - 2))
    records = build_chain(items, unkeyed=unkeyed)
    at = data.draw(st.integers(unkeyed + 2, len(items)))  # after the first keyed record
    downgraded = build_chain(items[: at - 1], unkeyed=unkeyed)
    tail = rehashed(records[at - 1 :], None, None)
    tail[0] = {**tail[0], "prev_hash": downgraded[-1]["hash"], "hash": chain_hash(downgraded[-1]["hash"], tail[0])}
    problem = verify_chain(downgraded + tail, KEY).problem
    assert problem is not None and problem.seq == at and "unkeyed" in problem.reason


def test_an_unkeyed_segment_rewritten_after_the_upgrade_is_found():
    items = [{"event_type": "e", "actor": "a", "subject": None, "details": json.dumps({"n": n})} for n in range(6)]
    records = build_chain(items, unkeyed=3)
    edited = [dict(r) for r in records[:3]]
    edited[1]["details"] = '{"n": 99}'
    edited = rehashed(edited, None, None)
    problem = verify_chain(edited + records[3:], KEY).problem
    assert problem.seq == 4 and "does not follow" in problem.reason


# The trail in a warehouse, tampered with by plain SQL.


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def warehouse_url(request, tmp_path_factory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('audit') / 'warehouse.db'}"
        return
    database = f"ca_audit_{uuid.uuid4().hex[:10]}"
    with fresh_postgres_databases(database):
        yield postgres_url(database)


@pytest.fixture
def instance(tmp_path) -> Iterator[DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with DagsterInstance.local_temp(str(home)) as instance:
        yield instance


@contextmanager
def trail(url: str, instance: DagsterInstance | None) -> Iterator[AuditTrailResource]:
    audit = AuditTrailResource(url=url, audit_key=AuditKeyResource(secret_env_var=SECRET_ENV))
    with build_resources({"audit_trail": audit}, instance=instance) as resources:
        yield resources.audit_trail
        resources.audit_trail.get_engine().dispose()


@pytest.fixture
def fresh_trail(warehouse_url, instance, monkeypatch) -> Iterator[tuple[AuditTrailResource, sa.Engine]]:
    """Six records, each head checkpointed in a real Dagster instance."""
    monkeypatch.setenv(SECRET_ENV, generate_secret())
    with trail(warehouse_url, instance) as audit:
        engine = audit.get_engine()
        with engine.begin() as connection:
            connection.execute(table.delete())
        for n in range(6):
            audit.append("test_event", "tester", f"{n:032x}", {"n": n})
        yield audit, engine


def _sql(engine: sa.Engine, *statements) -> None:
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(statement)


def _rows(engine: sa.Engine) -> list[dict]:
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(sa.select(table).order_by(table.c.seq)).mappings()]


def _rewrite(engine: sa.Engine, rows: list[dict]) -> None:
    _sql(engine, table.delete(), table.insert().values(rows))


def _swap(engine: sa.Engine, first: int, second: int) -> None:
    _sql(
        engine,
        table.update().where(table.c.seq == first).values(seq=-1),
        table.update().where(table.c.seq == second).values(seq=first),
        table.update().where(table.c.seq == -1).values(seq=second),
    )


def _insert_at(engine: sa.Engine, at: int) -> None:
    rows = _rows(engine)
    forged = {"seq": at, "at": rows[at - 1]["at"], "event_type": "forged", "actor": "mallory", "subject": None, "details": "{}"}
    forged |= {"prev_hash": rows[at - 2]["hash"], "hash": chain_hash(rows[at - 2]["hash"], forged), "chain_version": KEYED}
    shifted = [{**r, "seq": r["seq"] + 1} for r in rows[at - 1 :]]
    _rewrite(engine, rows[: at - 1] + [forged] + shifted)


SQL_TAMPERINGS = {
    "edit a record": (lambda e: _sql(e, table.update().where(table.c.seq == 3).values(details='{"n": 99}')), 3),
    "edit its MAC too": (lambda e: _sql(e, table.update().where(table.c.seq == 3).values(actor="mallory", hash="0" * 64)), 3),
    "delete one in the middle": (lambda e: _sql(e, table.delete().where(table.c.seq == 3)), 3),
    "delete the tail": (lambda e: _sql(e, table.delete().where(table.c.seq >= 5)), 5),
    "delete every record": (lambda e: _sql(e, table.delete()), 1),
    "reorder two": (lambda e: _swap(e, 2, 4), 2),
    "insert one": (lambda e: _insert_at(e, 3), 3),
    "rehash the whole chain with SHA-256": (lambda e: _rewrite(e, rehashed(_rows(e), None, None)), 1),
    "rehash it with SHA-256, marked keyed": (lambda e: _rewrite(e, rehashed(_rows(e), None, KEYED)), 1),
    "rehash it with HMAC under a wrong key": (lambda e: _rewrite(e, rehashed(_rows(e), WRONG_KEY, KEYED)), 1),
}


@pytest.mark.parametrize("tampering", SQL_TAMPERINGS)
def test_full_write_access_to_the_warehouse_is_not_enough(fresh_trail, tampering):
    audit, engine = fresh_trail
    assert audit.verify() is None and audit.verification().anchored_to == 6
    change, first_bad = SQL_TAMPERINGS[tampering]
    change(engine)
    problem = audit.verify()
    assert problem is not None and problem.seq == first_bad, problem
    assert str(problem).startswith(f"audit record {first_bad}:")


def test_a_deleted_tail_written_again_is_found(fresh_trail):
    audit, engine = fresh_trail
    _sql(engine, table.delete().where(table.c.seq >= 4))
    for n in range(5):
        audit.append("test_event", "mallory", None, {"n": n})  # a genuine writer continues the chain
    problem = audit.verify()
    assert problem.seq == 4 and "checkpointed" in problem.reason


def test_without_the_instance_only_the_tail_can_go(fresh_trail, instance, warehouse_url):
    """What the checkpoints add: a chain alone cannot tell a deleted tail from a short trail."""
    audit, engine = fresh_trail
    _sql(engine, table.delete().where(table.c.seq >= 5))
    with trail(warehouse_url, None) as unanchored:
        assert unanchored.verify() is None
        assert "a deleted tail would go unseen" in unanchored.verification().summary()
    assert audit.verify(instance).seq == 5


def test_the_heads_are_checkpointed_in_the_dagster_instance(fresh_trail, instance):
    audit, _ = fresh_trail
    heads = checkpoints(instance)
    assert [h.seq for h in heads] == [1, 2, 3, 4, 5, 6] and {h.keyed_from for h in heads} == {1}
    observation = instance.fetch_observations(AUDIT_TRAIL_ASSET, limit=1).records[0].asset_observation
    assert observation.metadata["audit_head_mac"].value == audit.verification().head.mac


def test_a_trail_from_before_the_key_is_kept_and_reported_unkeyed(warehouse_url, instance, monkeypatch):
    """The old schema and its SHA-256 records: the column is added, they stay version 1, new ones are keyed."""
    monkeypatch.setenv(SECRET_ENV, generate_secret())
    engine = sa.create_engine(warehouse_url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS audit__trail"))
        connection.execute(sa.text(
            "CREATE TABLE audit__trail (seq BIGINT PRIMARY KEY, at VARCHAR(40) NOT NULL, event_type VARCHAR(64) NOT NULL, "
            "actor VARCHAR(256) NOT NULL, subject VARCHAR(128), details TEXT NOT NULL, prev_hash VARCHAR(64) NOT NULL, hash VARCHAR(64) NOT NULL)"
        ))
    old = build_chain([{"event_type": "old", "actor": "a", "subject": None, "details": "{}"}] * 3, unkeyed=3)
    legacy = sa.table("audit__trail", *(sa.column(c) for c in ("seq", "at", "event_type", "actor", "subject", "details", "prev_hash", "hash")))
    with engine.begin() as connection:
        connection.execute(legacy.insert().values([{k: v for k, v in r.items() if k != "chain_version"} for r in old]))
    engine.dispose()
    with trail(warehouse_url, instance) as audit:
        audit.append("new", "tester")
        audit.append("new", "tester")
        verification = audit.verification()
        assert verification.intact and verification.unkeyed == 3 and verification.head == Head(5, verification.head.mac, 4)
        assert "records 1-3 are unkeyed" in verification.summary()
        rows = _rows(audit.get_engine())
        assert [r["chain_version"] for r in rows] == [None, None, None, KEYED, KEYED]
        _rewrite(audit.get_engine(), rows[:4] + rehashed(rows, None, None)[4:5])  # a downgrade after the upgrade
        assert audit.verify().seq == 5 and "unkeyed" in audit.verify().reason


# Through real Dagster execution.


def _secrets(vault_secret: str) -> dict[str, str]:
    key = derive_audit_key(decode_secret(vault_secret, "test"))
    return {
        "vault secret": vault_secret,
        "audit key (hex)": key.hex(),
        "audit key (base64)": base64.urlsafe_b64encode(key).decode().rstrip("="),
        "audit key (base64, standard)": base64.b64encode(key).decode().rstrip("="),
    }


def _everything_dagster_keeps(home: Path) -> str:
    return "\n".join(p.read_bytes().decode("latin-1") for p in home.rglob("*") if p.is_file())


@pytest.mark.parametrize("env", ["local_env", pytest.param("pg_env", marks=pytest.mark.postgres)])
def test_a_run_checkpoints_the_head_and_verify_audit_names_the_first_bad_record(request, env):
    request.getfixturevalue(env)
    assert run_job().success
    reports = build_definitions().resolve_job_def("governance_reports").execute_in_process(instance=DagsterInstance.get(), raise_on_error=False)
    assert reports.success
    defs = build_definitions()
    audit = resource(defs, "audit_trail")
    instance = DagsterInstance.get()
    head = audit.verification(instance).head
    assert head is not None and head.seq >= 3 and head.keyed_from == 1
    assert max(h.seq for h in checkpoints(instance)) == head.seq
    reported = instance.get_latest_materialization_event(AssetKey(REPORTS_ASSET)).asset_materialization.metadata
    records = audit.records().set_index("seq")
    seq, mac = reported["audit_head_seq"].value, reported["audit_head_mac"].value
    assert records.loc[seq, "hash"] == mac
    assert f"audit chain intact to record {seq} (MAC {mac}, keyed from record 1)" in reported["checklist"].value

    intact = run_cli("compliance_assets", "verify-audit")
    assert intact.returncode == 0 and "Audit trail intact" in intact.stdout and f"the latest at record {head.seq}" in intact.stdout
    engine = audit.get_engine()
    _sql(engine, table.delete().where(table.c.seq >= head.seq - 1))
    truncated = run_cli("compliance_assets", "verify-audit")
    assert truncated.returncode == 1 and f"audit record {head.seq - 1}: missing (deleted)" in truncated.stdout
    _sql(engine, table.update().where(table.c.seq == 2).values(actor="someone-else"))
    edited = run_cli("compliance_assets", "verify-audit")
    assert edited.returncode == 1 and "audit record 2: content does not match its MAC" in edited.stdout

    vault_secret = os.environ["COMPLIANCE_VAULT_KEY"]
    kept = _everything_dagster_keeps(Path(os.environ["DAGSTER_HOME"]))
    if env == "pg_env":
        kept += _instance_dump(request.getfixturevalue("pg_env").instance_db)
    said = intact.stdout + intact.stderr + truncated.stdout + truncated.stderr + edited.stdout + edited.stderr
    for label, value in _secrets(vault_secret).items():
        assert value not in kept, f"the {label} is in Dagster's storage"
        assert value not in said, f"the {label} is in verify-audit's output"
        assert value not in str(audit.verification(instance)), f"the {label} is in a verification"


def test_a_missing_audit_secret_names_its_variable_not_a_value(tmp_path, monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    with trail(f"sqlite:///{tmp_path / 'w.db'}", None) as audit, pytest.raises(RuntimeError, match=SECRET_ENV):
        audit.append("e", "a")
