"""Per-key summaries: one GROUP BY in the warehouse gives what grouping the same table in pandas
gives (SQLite and PostgreSQL), and a feature transform's sources refuse what its registry does
not name and are read only when a transform asks for their rows."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pandas as pd
import pandas.testing as pdt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance_assets.factories.feature_inputs import SourceTables, SubjectKeys
from compliance_assets.privacy.summaries import Count, Latest, summarise_frame
from compliance_assets.storage.warehouse import Warehouse

START = datetime(2026, 1, 1)
MEASURES = {
    "opens_recent": Count(equal={"kind": "open"}, since={"at": START + timedelta(days=30)}),
    "clicks": Count(equal={"kind": "click"}),
    "flagged": Count(equal={"flag": True}),
    "since_day_10": Count(since={"at": START + timedelta(days=10, microseconds=7)}),
    "rows": Count(),
    "last_seen": Latest("at"),
}

events = st.lists(
    st.tuples(
        st.one_of(st.none(), st.sampled_from(["c1", "c2", "C1", "é", "", "c 3"])),
        st.one_of(st.none(), st.sampled_from(["open", "click", "Open", "convert"])),
        st.one_of(st.none(), st.integers(0, 60 * 86_400_000_000).map(lambda us: START + timedelta(microseconds=us))),
        st.one_of(st.none(), st.booleans()),
    ),
    max_size=200,
)


def _frame(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer", "kind", "at", "flag"])
    return frame.astype({"customer": "string", "kind": "string", "at": "datetime64[us]", "flag": "boolean"})


def _in_key_order(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("customer").reset_index(drop=True)


@pytest.fixture(scope="module")
def warehouse(each_warehouse) -> Warehouse:
    return each_warehouse


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=events)
def test_a_summary_in_the_warehouse_is_the_summary_of_the_frame(warehouse, rows):
    frame = _frame(rows)
    table = f"events_{uuid.uuid4().hex[:8]}"
    warehouse.replace_table(table, frame)
    try:
        in_sql = warehouse.summarise(table, "customer", MEASURES)
    finally:
        with warehouse.begin() as connection:
            connection.exec_driver_sql(f'DROP TABLE "{table}"')
    in_pandas = summarise_frame(frame, "customer", MEASURES)
    pdt.assert_frame_equal(_in_key_order(in_sql), _in_key_order(in_pandas))
    assert list(in_pandas.columns) == ["customer", *MEASURES]
    assert set(in_pandas["customer"]) == set(frame["customer"].dropna())  # every key once, none missing
    assert in_pandas["rows"].sum() == frame["customer"].notna().sum()


def test_summaries_count_exactly_what_they_say():
    frame = _frame(
        [
            ("c1", "open", START + timedelta(days=31), True),
            ("c1", "open", START + timedelta(days=29), None),
            ("c1", "click", None, False),
            ("c2", None, START + timedelta(days=40), True),
            (None, "open", START + timedelta(days=50), True),  # no key: in no summary
        ]
    )
    summary = summarise_frame(frame, "customer", MEASURES).set_index("customer")
    assert summary.loc["c1", ["opens_recent", "clicks", "flagged", "since_day_10", "rows"]].tolist() == [1, 1, 1, 2, 3]
    assert summary.loc["c1", "last_seen"] == START + timedelta(days=31)
    assert summary.loc["c2", ["opens_recent", "clicks", "rows"]].tolist() == [0, 0, 1]
    assert len(summary) == 2


@pytest.mark.parametrize(
    "by, measures, error",
    [
        ("customer", {}, "at least one measure"),
        ("customer", {"customer": Count()}, "would replace the key column"),
        ("customer", {"opens": Count(equal={"kind": None})}, "'kind' holds text values, so its `equal` value must be one"),
        ("customer", {"flagged": Count(equal={"flag": 1})}, "'flag' holds boolean values"),
        ("customer", {"ones": Count(equal={"kind": 1})}, r"'kind' holds text values, so its `equal` value must be one \(got int\)"),
        ("customer", {"at": Count(equal={"at": "2026-01-01"})}, "`equal` compares text, integer or boolean columns; 'at' holds time"),
        ("customer", {"recent": Count(since={"at": "2026-01-01"})}, "datetime without a time zone"),
        ("customer", {"recent": Count(since={"kind": START})}, "`since` compares times; 'kind' holds text"),
        ("customer", {"mean": "mean"}, "not a Count or a Latest"),
    ],
)
def test_a_malformed_summary_is_refused_with_the_measure_named(warehouse, by, measures, error):
    """The same refusal from pandas and from the warehouse, before any row is grouped."""
    with pytest.raises((ValueError, TypeError), match=error):
        summarise_frame(_frame([]), by, measures)
    table = f"events_{uuid.uuid4().hex[:8]}"
    warehouse.replace_table(table, _frame([("c1", "open", START, True)]))
    with pytest.raises((ValueError, TypeError), match=error):
        warehouse.summarise(table, by, measures)


def test_a_summary_of_a_table_that_is_not_there_says_so(warehouse):
    with pytest.raises(LookupError, match="materialise its asset first"):
        warehouse.summarise("raw__nowhere", "customer", {"rows": Count()})
    table = f"events_{uuid.uuid4().hex[:8]}"
    warehouse.replace_table(table, _frame([("c1", "open", START, True)]))
    with pytest.raises(KeyError, match="no column"):
        warehouse.summarise(table, "customer", {"pages": Latest("page")})


def _source_tables(reads: list[str], summaries: list[str]) -> SourceTables:
    frames = {"events": _frame([("c1", "open", START, True), ("c2", "click", START, False)]), "people": pd.DataFrame({"customer": ["c1"]})}

    def read(name: str, columns: list[str]) -> pd.DataFrame:
        reads.append(name)
        return frames[name][columns]

    def summarise(name: str, by: str, measures) -> pd.DataFrame:
        summaries.append(name)
        return summarise_frame(frames[name], by, measures)

    return SourceTables("customer_features", {"events": ["customer", "kind", "at"], "people": ["customer"]}, read, summarise)


def test_a_transform_that_summarises_never_reads_the_rows():
    reads, summaries = [], []
    sources = _source_tables(reads, summaries)
    summary = sources.summary("events", "customer", {"opens": Count(equal={"kind": "open"})})
    assert summary.set_index("customer")["opens"].to_dict() == {"c1": 1, "c2": 0}
    assert (reads, summaries) == ([], ["events"])
    assert list(sources["events"].columns) == ["customer", "kind", "at"]  # only what the registry names
    sources.summary("events", "customer", {"rows": Count()})  # already in memory: summarised there
    assert (reads, summaries) == (["events"], ["events"])


def test_sources_refuse_what_the_feature_registry_does_not_name():
    sources = _source_tables([], [])
    with pytest.raises(KeyError, match=r"may not read \['flag'\] of 'events'.*register/features.yaml"):
        sources.summary("events", "customer", {"flagged": Count(equal={"flag": True})})
    with pytest.raises(KeyError, match="'search_logs' is not a source of 'customer_features'"):
        sources["search_logs"]
    with pytest.raises(KeyError, match="flag"):
        sources["events"]["flag"]


@pytest.mark.parametrize("pushed_down", [True, False])
def test_a_summary_by_the_subject_key_adds_up_each_subjects_join_keys(pushed_down):
    """The raw join column becomes the subject's pseudonym before the transform sees a row or a
    group: c1 and c2 are one subject, c3 is no subject of the feature set."""
    events = _frame([("c1", "open", START, True), ("c2", "open", START + timedelta(days=2), False), ("c3", "click", START, True)])
    keys = SubjectKeys("subject_pseudonym", {"events": "customer"}, pd.Series({"c1": "p1", "c2": "p1"}, dtype="string"))
    sources = SourceTables(
        "customer_features", {"events": ["customer", "kind", "at"]}, lambda name, columns: events[columns],
        (lambda name, by, measures: summarise_frame(events, by, measures)) if pushed_down else None, keys=keys,
    )
    summary = sources.summary("events", "subject_pseudonym", {"opens": Count(equal={"kind": "open"}), "last": Latest("at")})
    assert summary.to_dict("records") == [{"subject_pseudonym": "p1", "opens": 2, "last": pd.Timestamp(START + timedelta(days=2))}]
    with pytest.raises(KeyError, match=r"may not read \['customer'\]"):
        sources.summary("events", "customer", {"opens": Count()})
    assert sources["events"].to_dict("list") == {"subject_pseudonym": ["p1", "p1"], "kind": ["open", "open"], "at": [pd.Timestamp(START), pd.Timestamp(START + timedelta(days=2))]}
