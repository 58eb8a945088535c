"""The raw intake and the pseudonymised preparation on small frames, without Dagster: the order of
their steps is what keeps an erased subject out of the quarantine and a raw identifier away from
a transform, so each order-critical behaviour is pinned here where it is cheap to see."""

from __future__ import annotations

import ast
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance_assets.pipelines.pseudonymised import (
    consenting_only,
    feature_inputs,
    identified,
    keyed,
    with_key_version,
)
from compliance_assets.pipelines.raw import RawIntake, UnmatchedColumns
from compliance_assets.privacy.conform import REASON_COLUMN
from compliance_assets.register import load_register
from compliance_assets.register.ages import ROWS_UNDER_16, ROWS_UNDER_18
from compliance_assets.tiers import KEY_VERSION

ROOT = Path(__file__).resolve().parents[1]
ROOM = ROOT / "compliance_assets" / "pipelines"
REGISTER = load_register(ROOT / "register")
NOW = pd.Timestamp("2026-06-15 12:00")
DAY = (datetime(2026, 6, 14), datetime(2026, 6, 15))
KEY = b"k" * 32
PERMITTED = {
    "customers": ["birth_date", "customer_id", "email", "postcode", "workspace_id"],
    "engagement_events": ["customer_id", "event_type", "occurred_at"],
}


def _imported(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def _module_file(name: str) -> Path | None:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def _closure(name: str, seen: set[str]) -> set[str]:
    """The plugin's modules `name` imports at module level, followed through each of them (package
    `__init__` files aside: the public package imports the Dagster layer for its users)."""
    path = _module_file(name)
    if path is None or name in seen:
        return seen
    seen.add(name)
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("compliance_assets"):
            for alias in node.names:
                _closure(f"{node.module}.{alias.name}" if _module_file(f"{node.module}.{alias.name}") else node.module, seen)
    return seen


def test_the_room_and_these_tests_import_no_dagster():
    assert "dagster" not in _imported(Path(__file__))
    modules = [f"compliance_assets.pipelines.{path.stem}" for path in sorted(ROOM.glob("*.py")) if path.stem != "__init__"]
    assert modules
    reached: set[str] = set()
    for module in modules:
        _closure(module, reached)
    dagster_users = sorted(m for m in reached if {"dagster", "dagster_shared"} & _imported(_module_file(m)))
    assert not dagster_users, f"the pipelines room reaches Dagster through {dagster_users}"


def _events(**overrides) -> pd.DataFrame:
    rows = {
        "event_id": ["e1", "e2", "e3"],
        "workspace_id": ["w1", "w1", "w1"],
        "customer_id": ["c1", "c2", "c3"],
        "campaign_id": ["k1", "k1", "k1"],
        "event_type": ["open", "click", "open"],
        "occurred_at": ["2026-06-14 08:00", "2026-06-14 09:00", "2026-06-14 10:00"],
        "ip_address": ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
        "user_agent": ["ua", "ua", "ua"],
    }
    rows.update(overrides)
    return pd.DataFrame(rows)


def _customers(**overrides) -> pd.DataFrame:
    rows = {
        "customer_id": ["c1", "c2"],
        "workspace_id": ["w1", "w1"],
        "email": ["ana@example.com", "bo@example.com"],
        "full_name": ["Ana", "Bo"],
        "birth_date": ["1990-01-01", "2012-01-01"],
        "postcode": ["1000", "2000"],
        "country": ["BE", "BE"],
        "signup_at": ["2026-01-01", "2026-01-02"],
        "imported_at": ["2026-06-01", "2026-06-01"],
    }
    rows.update(overrides)
    return pd.DataFrame(rows)


def test_an_undeclared_column_is_refused_by_name_before_any_row_is_read():
    seen: list[int] = []
    intake = RawIntake(REGISTER, "engagement_events", NOW, DAY, suppress=lambda frame: seen.append(len(frame)) or frame)
    with pytest.raises(UnmatchedColumns) as refused:
        intake.admit(_events().assign(shoe_size=[1, 2, 3]).drop(columns=["user_agent"]))
    assert refused.value.undeclared == ["shoe_size"] and refused.value.missing == ["user_agent"]
    assert "sources.engagement_events.columns" in str(refused.value)
    assert not seen and intake.arrived == 0


def test_an_erased_subject_never_reaches_conform_or_the_quarantine():
    erased = lambda frame: frame.loc[frame["customer_id"] != "c2"].reset_index(drop=True)  # noqa: E731
    intake = RawIntake(REGISTER, "engagement_events", NOW, DAY, suppress=erased)
    admitted = intake.admit(_events(occurred_at=["2026-06-14 08:00", "not a time", "2026-06-14 10:00"]))
    assert admitted["customer_id"].tolist() == ["c1", "c3"]
    assert intake.set_aside() is None and intake.withheld == 1


def test_an_unreadable_value_is_set_aside_with_its_reason_and_counted():
    intake = RawIntake(REGISTER, "engagement_events", NOW, DAY)
    admitted = intake.admit(_events(occurred_at=["2026-06-14 08:00", "not a time", "2026-06-14 10:00"]))
    assert admitted["event_id"].tolist() == ["e1", "e3"]
    set_aside = intake.set_aside()
    assert set_aside["event_id"].tolist() == ["e2"]
    assert set_aside[REASON_COLUMN].tolist() == ["occurred_at: not a valid datetime"]
    assert intake.quarantined == 1


def test_a_row_outside_the_runs_days_is_set_aside():
    intake = RawIntake(REGISTER, "engagement_events", NOW, DAY)
    admitted = intake.admit(_events(occurred_at=["2026-06-14 08:00", "2026-06-13 23:59", "2026-06-15 00:00"]))
    assert admitted["event_id"].tolist() == ["e1"]
    set_aside = intake.set_aside()
    assert set_aside["event_id"].tolist() == ["e2", "e3"]
    assert set(set_aside[REASON_COLUMN]) == {"occurred_at: not in the days this run loads (2026-06-14 to 2026-06-14)"}


def test_a_row_past_retention_is_dropped_where_the_register_says_so():
    intake = RawIntake(REGISTER, "engagement_events", NOW)
    admitted = intake.admit(_events(occurred_at=["2026-06-14 08:00", "2024-01-01 00:00", "2026-06-14 10:00"]))
    assert admitted["event_id"].tolist() == ["e1", "e3"]
    assert intake.expired == 1 and intake.set_aside() is None


def test_a_row_past_retention_is_kept_for_the_blocking_check_elsewhere():
    intake = RawIntake(REGISTER, "customers", NOW)
    admitted = intake.admit(_customers(imported_at=["2026-06-01", "2020-01-01"]))
    assert admitted["customer_id"].tolist() == ["c1", "c2"]
    assert intake.expired == 0


def test_minors_are_counted_on_what_is_kept():
    intake = RawIntake(REGISTER, "customers", NOW)
    intake.admit(_customers())
    assert intake.minors == {ROWS_UNDER_18: 1, ROWS_UNDER_16: 1}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["c1", "c2", "c3"]),
            st.sampled_from(["2026-06-14 08:00", "2026-06-13 08:00", "2024-01-01 00:00", "not a time", None]),
        ),
        max_size=30,
    ),
    st.integers(min_value=1, max_value=4),
)
def test_every_arriving_row_is_admitted_or_accounted_for(rows, chunks):
    erased = lambda frame: frame.loc[frame["customer_id"] != "c3"].reset_index(drop=True)  # noqa: E731
    intake = RawIntake(REGISTER, "engagement_events", NOW, DAY, suppress=erased)
    frame = _events(
        event_id=[f"e{i}" for i in range(len(rows))],
        workspace_id=["w1"] * len(rows),
        customer_id=[c for c, _ in rows],
        campaign_id=["k1"] * len(rows),
        event_type=["open"] * len(rows),
        occurred_at=[t for _, t in rows],
        ip_address=["10.0.0.1"] * len(rows),
        user_agent=["ua"] * len(rows),
    )
    admitted = sum(len(intake.admit(frame.iloc[i::chunks].reset_index(drop=True))) for i in range(chunks))
    set_aside = intake.set_aside()
    assert intake.arrived == len(rows)
    assert admitted == intake.admitted
    assert intake.admitted + intake.quarantined + intake.expired + intake.withheld == intake.arrived
    assert intake.withheld == sum(c == "c3" for c, _ in rows)
    if set_aside is not None:
        assert set_aside[REASON_COLUMN].notna().all() and (set_aside["customer_id"] != "c3").all()


def _people(emails: list[str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "birth_date": pd.to_datetime(["1990-01-01"] * len(emails)),
            "customer_id": [f"c{i}" for i in range(len(emails))],
            "email": emails,
            "postcode": ["1000"] * len(emails),
            "workspace_id": ["w1"] * len(emails),
        }
    )


def test_rows_without_an_identifier_are_returned_for_quarantine():
    subjects, rejected = identified(REGISTER, "customer_features", _people(["ana@example.com", None, "  "]))
    assert subjects.people["customer_id"].tolist() == ["c0"]
    assert rejected["customer_id"].tolist() == ["c1", "c2"]
    assert set(rejected[REASON_COLUMN]) == {"email: missing or empty identifier"}


def test_confusable_identifiers_key_to_one_pseudonym():
    subjects, _ = identified(REGISTER, "customer_features", _people([" Ana@Example.COM", "ana@example.com", "bo@example.com"]))
    pseudonyms = keyed(subjects, "subject_pseudonym", KEY).people["subject_pseudonym"].tolist()
    assert pseudonyms[0] == pseudonyms[1] != pseudonyms[2]


def test_a_missing_consent_on_any_record_withdraws_the_subject():
    subjects, _ = identified(REGISTER, "customer_features", _people(["ana@example.com", "ANA@example.com", "bo@example.com"]))
    subjects = keyed(subjects, "subject_pseudonym", KEY)
    kept, without = consenting_only(subjects, "subject_pseudonym", "customer_id", ["c0", "c2"])
    assert kept.people["customer_id"].tolist() == ["c2"] and len(kept.identifiers) == 1
    assert list(without) == [subjects.people["subject_pseudonym"].iloc[0]]


def test_a_transforms_inputs_carry_no_raw_identifier():
    people = _people(["ana@example.com", "bo@example.com"])
    subjects, _ = identified(REGISTER, "customer_features", people)
    subjects = keyed(subjects, "subject_pseudonym", KEY)
    events = pd.DataFrame({"customer_id": ["c0", "c1", "c9"], "event_type": ["open", "click", "open"], "occurred_at": pd.to_datetime(["2026-06-14"] * 3)})
    inputs = feature_inputs(
        REGISTER, "customer_features", PERMITTED, subjects.people,
        lambda domain: (1, (domain.encode() * 32)[:32]),
        lambda source, columns: events[columns],
        None,
        NOW.normalize(),
    )
    raw = {"ana@example.com", "bo@example.com", "c0", "c1", "c9"}
    seen = [inputs.subjects, inputs.sources["engagement_events"]]
    assert all(not raw & set(frame.astype("string").stack().tolist()) for frame in seen)
    assert "email" not in inputs.subjects and "customer_id" not in inputs.subjects
    assert inputs.sources["engagement_events"]["subject_pseudonym"].tolist() == subjects.people["subject_pseudonym"].tolist()


def test_the_key_version_is_added_after_the_subject_key_whatever_the_transform_wrote():
    features = pd.DataFrame({"subject_pseudonym": ["p1"], KEY_VERSION: [9], "opens_90d": [3]})
    finished = with_key_version(features, 2)
    assert list(finished.columns) == ["subject_pseudonym", KEY_VERSION, "opens_90d"]
    assert finished[KEY_VERSION].tolist() == [2]
