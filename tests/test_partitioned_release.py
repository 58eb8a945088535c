"""A cohort release partitioned by day, through real Dagster materialisations on SQLite and
PostgreSQL: 30 days published one partition at a time while the population changes (subjects
join, one is erased, outcomes flip, a few days bring k or more newcomers at once), then an old
day re-run after the later ones. The attacker (`tests.attacker`, independent of the engine) keeps
every row the published table ever held, day after day, and with integer and linear programmes
tries to read off who moved, to bound a withheld cohort under k, and to read an outcome."""

from __future__ import annotations

import hashlib
import itertools
import shutil
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, materialize
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance_assets.factories.aggregate import cohort_asset
from compliance_assets.privacy.cohorts import DisclosureRules, MeasureSpec, release_cohorts
from compliance_assets.privacy.ledger import ledger_rows, previous_entries
from compliance_assets.privacy.window import WINDOW
from compliance_assets.register import RegisterError, load_register
from compliance_assets.storage.warehouse import LEDGER_KEPT
from compliance_assets.tiers import Tier, table_name
from compliance_demo.definitions import build_definitions
from tests.attacker import Moves, Release, hidden_entries, homogeneous_or_small, intervals_over_time, revealed_attributes, who_moved
from tests.conftest import REPO
from tests.helpers import check_evaluation

NAME = "census_daily"
K = 5
MIN_NUMERATOR = 3
DIMS = ["sex", "race"]
MARGINS = [("sex",), ("race",), ()]
SEXES = ["Female", "Male"]
RACES = ["Amer-Indian-Eskimo", "Asian-Pac-Islander", "Black", "Other", "White"]
ATOMS = pd.DataFrame(list(itertools.product(SEXES, RACES)), columns=DIMS)
SIZES = [3, 12, 25, 2, 60, 4, 15, 30, 1, 70]  # per atom on the first day: four cells under k
DAYS = [f"2026-01-{day:02d}" for day in range(1, 31)]
DAILY_RELEASE = f"""
  {NAME}:
    activity: census_statistics
    description: Respondents and higher incomes per sex and race, published every day.
    source: census_features
    dimensions: [sex, race]
    margins: [[sex], [race], []]
    partitions: daily
    measures:
      subjects: {{aggregation: count_subjects, description: Distinct respondents in the cohort}}
      higher_incomes: {{aggregation: sum, column: income_over_50k, description: Respondents with income over 50K}}
"""


def _register(tmp_path):
    copy = tmp_path / "register"
    shutil.copytree(REPO / "register", copy)
    activities = copy / "activities.yaml"
    text = activities.read_text()
    census = text.index("  census_statistics:")
    activities.write_text(text[:census] + text[census:].replace("k_anonymity: 50", f"k_anonymity: {K}\n    min_numerator: {MIN_NUMERATOR}", 1))
    cohorts = copy / "cohorts.yaml"
    cohorts.write_text(cohorts.read_text() + DAILY_RELEASE)
    return load_register(copy)


def _pseudonym(number: int) -> str:
    return hashlib.sha256(str(number).encode()).hexdigest()[:32]


@dataclass
class Population:
    """The feature table the judge (not the attacker) keeps, and the next subject's number."""

    frame: pd.DataFrame
    next_subject: int

    @classmethod
    def first(cls) -> Population:
        rows = []
        for (sex, race), size in zip(ATOMS.itertuples(index=False), SIZES, strict=True):
            rows += [{"sex": sex, "race": race, "income_over_50k": i % 3 == 0} for i in range(size)]
        frame = pd.DataFrame(rows)
        return cls(frame.assign(subject_pseudonym=[_pseudonym(n) for n in range(len(frame))]), len(frame))

    def join(self, atom: int, outcomes: list[bool]) -> None:
        sex, race = ATOMS.iloc[atom]
        new = pd.DataFrame([{"sex": sex, "race": race, "income_over_50k": o, "subject_pseudonym": _pseudonym(self.next_subject + i)} for i, o in enumerate(outcomes)])
        self.frame = pd.concat([self.frame, new], ignore_index=True)
        self.next_subject += len(outcomes)

    def members(self, atom: int) -> pd.Index:
        sex, race = ATOMS.iloc[atom]
        return self.frame.index[(self.frame["sex"] == sex) & (self.frame["race"] == race)]

    def erase(self, atom: int) -> bool:
        members = self.members(atom)
        if not len(members):
            return False
        self.frame = self.frame.drop(index=members[-1]).reset_index(drop=True)
        return True

    def flip(self, atom: int) -> int:
        """Flips one member's outcome; +1 when it became true, -1 when false, 0 when nobody is there."""
        members = self.members(atom)
        if not len(members):
            return 0
        became = not bool(self.frame.loc[members[0], "income_over_50k"])
        self.frame.loc[members[0], "income_over_50k"] = became
        return 1 if became else -1

    def table(self) -> pd.DataFrame:
        return self.frame.assign(key_version=1, age_band="25-34", education="HS-grad")[
            ["subject_pseudonym", "key_version", "age_band", "sex", "race", "education", "income_over_50k"]
        ]

    def truth(self) -> pd.DataFrame:
        """Every entry of the release with its true count."""
        tables = []
        for level in [tuple(DIMS), *MARGINS]:
            label = ",".join(level) if level else "(total)"
            counted = self.frame.groupby(list(level)).size().rename("subjects").reset_index() if level else pd.DataFrame({"subjects": [len(self.frame)]})
            tables.append(counted.assign(grouped_by=label))
        return pd.concat(tables, ignore_index=True)


def _schedule(rng: np.random.Generator) -> list[tuple[str, int, int]]:
    """What happens before each day after the first: (what, atom, how many). Single events most
    days, so one person's move is all there is to difference; k or more newcomers on two days,
    so rows move and are shown afresh; one small cell's member erased."""
    kinds = itertools.cycle(["join", "flip", "erase", "join", "flip", "none"])
    events = []
    for number in range(1, len(DAYS)):
        if number in (9, 19):
            events.append(("batch", [2, 6][number == 19], K + 1 + number % 2))
        elif number == 14:
            events.append(("erase", 3, 1))  # (Female, Other): 2 members
        else:
            events.append((next(kinds), int(rng.integers(0, len(ATOMS))), 1))
    return events


def _release(table: pd.DataFrame) -> Release:
    return Release(table=table, dimensions=DIMS, derive={d: (lambda atoms, d=d: atoms[d]) for d in DIMS}, measures={"higher_incomes": "outcome"})


def _outcomes(table: pd.DataFrame) -> Release:
    """The attacker's view of the outcome: each shown row's outcome count as its figure."""
    return Release(table=table.assign(subjects=table["higher_incomes"].astype("int64")), dimensions=DIMS, derive={d: (lambda atoms, d=d: atoms[d]) for d in DIMS})


class Publisher:
    def __init__(self, register):
        defs = build_definitions()
        self.resources = {key: defs.resources[key] for key in ("warehouse", "audit_trail", "dpia_reviews")}
        self.asset = cohort_asset(register, NAME)
        with defs.resources["warehouse"].process_config_and_initialize_cm() as warehouse:
            self.warehouse = warehouse
        self.instance = DagsterInstance.ephemeral()  # the runs' events in memory: 32 runs' SQLite event logs cost 40 s

    def run(self, population: Population, day: str):
        self.warehouse.replace_table(table_name(Tier.PSEUDONYMISED, "census_features"), population.table())
        result = materialize([self.asset], partition_key=day, resources=self.resources, instance=self.instance, raise_on_error=False)
        failed = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed]
        assert result.success, [(f.check_name, str({n: v.value for n, v in f.metadata.items()})) for f in failed]
        return result

    def published(self) -> pd.DataFrame:
        return self.warehouse.read_table(table_name(Tier.AGGREGATE, NAME))

    def of_day(self, day: str) -> pd.DataFrame:
        table = self.published()
        return table.loc[table["day"].dt.strftime("%Y-%m-%d") == day].drop(columns="day").reset_index(drop=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def warehouse_env(request, local_env):
    if request.param == "postgresql":
        request.getfixturevalue("pg_env")
    return request.param


@pytest.fixture
def publisher(warehouse_env, tmp_path):
    publisher = Publisher(_register(tmp_path))
    yield publisher
    publisher.warehouse.get_engine().dispose()


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    key = [*DIMS, "grouped_by"]
    return table.sort_values(key, na_position="last").reset_index(drop=True)


def test_thirty_days_of_a_changing_population_give_nothing_away(publisher):
    population = Population.first()
    history: list[pd.DataFrame] = []  # every day's rows as the attacker copied them after each run
    truths: list[pd.DataFrame] = []
    moves: list[Moves] = [Moves()]
    singles: list[tuple[int, str, int, dict]] = []  # (publication, kind, sign, where it happened)
    first = publisher.run(population, DAYS[0])
    history.append(publisher.of_day(DAYS[0]))
    truths.append(population.truth())
    for number, (kind, atom, many) in enumerate(_schedule(np.random.default_rng(29)), start=1):
        where = ATOMS.iloc[atom].to_dict()
        if kind == "join":
            population.join(atom, [True])
            moves.append(Moves(joined=1))
            singles.append((number, "subjects", +1, where))
        elif kind == "batch":
            population.join(atom, [i % 2 == 0 for i in range(many)])
            moves.append(Moves(joined=many))
        elif kind == "erase" and population.erase(atom):
            moves.append(Moves(left=1))
            singles.append((number, "subjects", -1, where))
        elif kind == "flip" and (sign := population.flip(atom)):
            moves.append(Moves(flipped=1))
            singles.append((number, "outcome", sign, where))
        else:
            moves.append(Moves())
        publisher.run(population, DAYS[number])
        history.append(publisher.of_day(DAYS[number]))
        truths.append(population.truth())

    # Every day is in the table with its own rows, and in the ledger under its key.
    table = publisher.published()
    assert set(table["day"].dt.strftime("%Y-%m-%d")) == set(DAYS)
    ledger = publisher.warehouse.ledger(NAME)
    assert ledger["publication"].nunique() == LEDGER_KEPT == len(DAYS)
    assert set(ledger["partition_key"]) == set(DAYS)
    window = publisher.warehouse.ledger(NAME, last=WINDOW)
    newest = ledger.groupby("publication")["published_at"].max().nlargest(WINDOW).index
    assert set(window["publication"]) == set(newest) and len(window) == ledger["publication"].isin(newest).sum(), "a window is the latest publications, whole"
    assert any(kind == "batch" for kind, _, _ in _schedule(np.random.default_rng(29)))
    assert any(not history[t].equals(history[t - 1]) for t in range(1, len(history))), "rows should move on the days k or more join"

    # An old day re-run after the later ones, once the population changed again (one more
    # erased): compared with the newest day, not with its own first publication.
    population.erase(4)
    moves.append(Moves(left=1))
    singles.append((len(history), "subjects", -1, ATOMS.iloc[4].to_dict()))
    rerun = publisher.run(population, DAYS[4])
    history.append(publisher.of_day(DAYS[4]))
    truths.append(population.truth())
    # The same day again, nothing changed: the same rows, nothing new.
    publisher.run(population, DAYS[4])
    again = publisher.of_day(DAYS[4])
    pd.testing.assert_frame_equal(_sorted(again), _sorted(history[-1]))
    history.append(again)
    truths.append(population.truth())
    moves.append(Moves())
    assert set(publisher.published()["day"].dt.strftime("%Y-%m-%d")) == set(DAYS)
    assert publisher.warehouse.ledger(NAME)["publication"].nunique() == LEDGER_KEPT, "the ledger keeps 30 publications of all days together"
    assert publisher.warehouse.publications(NAME, DAYS[4]) == 3  # its first day and its two re-runs

    # 1. No single join, erasure or outcome flip can be read off two consecutive publications.
    for publication, kind, sign, where in singles:
        view = _release if kind == "subjects" else _outcomes
        moved = who_moved([view(history[publication - 1])], [view(history[publication])], ATOMS, change=sign, k=K)
        assert revealed_attributes(ATOMS, moved) == {}, (publication, kind, where)

    # 2. No withheld cohort under k is bounded narrower than k by all publications together.
    targets, truth_of = [], []
    for period, (rows, truth) in enumerate(zip(history, truths, strict=True)):
        for entry in hidden_entries(truth, _release(rows), ATOMS):
            if entry["true"] < K:
                targets.append((period, entry["mask"]))
                truth_of.append((period, entry["key"], entry["true"]))
    assert targets, "the population has cohorts under k for the release to withhold"
    bounds = intervals_over_time([_release(rows) for rows in history], moves, ATOMS, targets, K, outcome="higher_incomes", carried_within=K)
    narrow = [(who, low, high) for who, (low, high) in zip(truth_of, bounds, strict=True) if high - low < K]
    assert not narrow, narrow[:5]

    # 3. No shown row gives its outcome away, on any day.
    for rows in history:
        assert homogeneous_or_small(rows, outcome_col="higher_incomes", min_numerator=MIN_NUMERATOR).empty

    evaluation = check_evaluation(rerun, NAME, "no_differencing")
    assert evaluation.passed and evaluation.metadata["earlier_publications"].value == LEDGER_KEPT
    assert evaluation.metadata["publications_in_window"].value == min(LEDGER_KEPT, WINDOW)
    assert check_evaluation(first, NAME, "no_differencing").metadata["earlier_publications"].value == 0
    assert publisher.instance.get_materialized_partitions(AssetKey(NAME)) == set(DAYS)


def test_a_day_is_audited_against_the_other_days_not_only_its_own(publisher):
    """One newcomer between two days: the second day, a partition never published before, still
    follows the change rule against the first, so the newcomer is not read off the two days."""
    population = Population.first()
    publisher.run(population, DAYS[0])
    before = publisher.of_day(DAYS[0])
    population.join(9, [False])  # (Male, White): a large cell
    publisher.run(population, DAYS[1])
    after = publisher.of_day(DAYS[1])
    moved = who_moved([_release(before)], [_release(after)], ATOMS, change=+1, k=K)
    assert revealed_attributes(ATOMS, moved) == {}
    assert after.equals(before), "a change of one subject carries every row forward"
    assert set(publisher.warehouse.ledger(NAME)["partition_key"]) == {DAYS[0], DAYS[1]}


def test_a_daily_release_may_not_name_a_dimension_day(tmp_path):
    copy = tmp_path / "register"
    shutil.copytree(REPO / "register", copy)
    cohorts = copy / "cohorts.yaml"
    cohorts.write_text(cohorts.read_text() + DAILY_RELEASE.replace("higher_incomes:", "day:"))
    with pytest.raises(RegisterError, match="'day'"):
        load_register(copy)


MEASURES = {"subjects": MeasureSpec("count_subjects"), "higher_incomes": MeasureSpec("sum", "income_over_50k")}
RULES = DisclosureRules(outcomes=("higher_incomes",), min_numerator=MIN_NUMERATOR)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(0, 30), min_size=len(ATOMS), max_size=len(ATOMS)), joins=st.lists(st.integers(0, len(ATOMS) - 1), max_size=12))
def test_a_rerun_without_a_change_republishes_the_same_rows(sizes, joins):
    """Whatever the population and however it moved since the last publication, releasing it
    again against that publication (as a re-run of any day is) shows exactly the same rows."""
    rows = [{"sex": s, "race": r, "income_over_50k": i % 3 == 0} for (s, r), size in zip(ATOMS.itertuples(index=False), sizes, strict=True) for i in range(size)]
    rows += [{"sex": ATOMS.iloc[a]["sex"], "race": ATOMS.iloc[a]["race"], "income_over_50k": False} for a in joins]
    frame = pd.DataFrame(rows, columns=["sex", "race", "income_over_50k"])
    if frame.empty:
        return
    before, after = frame.iloc[: sum(sizes)], frame.assign(subject=range(len(frame)))
    release = release_cohorts(before.assign(subject=range(len(before))), DIMS, "subject", MEASURES, K, MARGINS, rules=RULES) if len(before) else None
    for number in range(2):
        recorded = None if release is None else ledger_rows(
            release.entries, DIMS, ["higher_incomes"], release=NAME, publication=str(number), published_at=pd.Timestamp("2026-01-01") + pd.Timedelta(days=number),
            register_version="r", code_version="c", partition_key=DAYS[number],
        )
        previous = None if recorded is None else previous_entries(recorded, DIMS, ["higher_incomes"])
        latest = release_cohorts(after, DIMS, "subject", MEASURES, K, MARGINS, rules=RULES, previous=previous)
        if number:
            pd.testing.assert_frame_equal(_sorted(latest.released), _sorted(release.released))
        release = latest
