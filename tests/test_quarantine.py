"""Bad rows are quarantined with their reason and counted; one bad row never fails a run, and
none is silently dropped. A run fails only when more than the source's
`max_quarantined_fraction` was set aside, and then its check says what was wrong in words.
Through Dagster on the census: a sex spelt with a Cyrillic 'а', respondents exported twice with
conflicting ages, one exported twice identically under a fullwidth id, rows with no id; every
arriving row is then found in exactly one place, and the counts of the raw table, the
quarantines, the feature table and the published grand total reconcile."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from dagster import DagsterInstance
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance_demo.definitions import build_assets, build_definitions
from compliance_demo import features
from resources.environment import register_dir
from compliance_assets.factories.pseudonymised import pseudonymised_asset
from compliance_assets.factories.raw import raw_asset
from compliance_assets.pipelines.pseudonymised import Subjects, one_row_per_subject
from compliance_assets.pipelines.raw import RawIntake
from compliance_assets.privacy.conform import REASON_COLUMN, within_value_sets
from compliance_assets.privacy.normalise import normalise
from compliance_assets.privacy.quarantine import DUPLICATE_ID, NO_IDENTIFIER, OUTSIDE_DAYS, Tally
from compliance_assets.register import load_register
from compliance_assets.storage.warehouse import QUARANTINED_AT
from compliance_assets.tiers import Tier
from tests.helpers import check_evaluation, check_outcomes, executed_steps, materialized, published, warehouse_of
from tests.test_normalise import FULLWIDTH

CYRILLIC_MALE = "M\u0430le"
CONFLICTING, ODD_SEX, BLANK, MERGED = 4, 3, 2, 1


def _census_with_bad_rows(context) -> pd.DataFrame:
    """The census, with what real exports hold: three new respondents whose sex is spelt with a
    Cyrillic 'а'; four respondents exported again one year older (which age is true is unknown);
    one exported again as it was, its id in fullwidth digits (the same person); two rows with no
    id; and a fullwidth 'Ｍａｌｅ', which is 'Male'."""
    frame = context.resources.census_file.read()
    odd = frame.iloc[10 : 10 + ODD_SEX].assign(respondent_id=[f"adult-9{i:05d}" for i in range(ODD_SEX)], sex=CYRILLIC_MALE)
    older = frame.iloc[20 : 20 + CONFLICTING].copy()
    older["age"] = (older["age"].astype(int) + 1).astype("string")
    same = frame.iloc[[30]].copy()
    same["respondent_id"] = same["respondent_id"].str.translate(FULLWIDTH)
    blank = frame.iloc[40 : 40 + BLANK].assign(respondent_id=pd.Series(["", None], index=frame.index[40 : 40 + BLANK], dtype="string"))
    frame.loc[50, "sex"] = "Ｍａｌｅ"
    return pd.concat([frame, odd, older, same, blank], ignore_index=True)


def _census_defs(register_path):
    register = load_register(register_path)
    replaced = {
        "census_respondents": raw_asset(register, "census_respondents", _census_with_bad_rows, required_resource_keys={"census_file"}),
        "census_features": pseudonymised_asset(register, "census_features", features.census_features),
    }
    return build_definitions(register, assets=[replaced.get(a.key.to_user_string(), a) for a in build_assets(register)])


def _run(defs):
    return defs.resolve_job_def("census_release").execute_in_process(instance=DagsterInstance.get(), raise_on_error=False)


@pytest.mark.parametrize("warehouse", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_bad_rows_are_quarantined_counted_and_reconcile(warehouse, local_env, census_csv, request):
    if warehouse == "postgresql":
        request.getfixturevalue("pg_env")
    defs = _census_defs(register_dir())
    result = _run(defs)
    assert result.success, check_outcomes(result)
    respondents = len(pd.read_csv(census_csv))
    arrived = respondents + ODD_SEX + CONFLICTING + MERGED + BLANK
    store = warehouse_of(defs)

    raw = published(Tier.RAW, "census_respondents", defs)
    raw_quarantine = store.read_table("quarantine__census_respondents")
    feature_rows = published(Tier.PSEUDONYMISED, "census_features", defs)
    feature_quarantine = store.read_table("quarantine__census_features")
    cohorts = published(Tier.AGGREGATE, "census_cohorts", defs)

    # Every arriving row is in exactly one place, and the counts reconcile tier by tier.
    assert len(raw) + len(raw_quarantine) == arrived
    assert raw_quarantine[REASON_COLUMN].eq("sex: not in its registered value set").all() and len(raw_quarantine) == ODD_SEX
    assert raw_quarantine["sex"].eq(CYRILLIC_MALE).all() and raw_quarantine[QUARANTINED_AT].notna().all()
    assert raw.loc[raw["respondent_id"] == "adult-000051", "sex"].tolist() == ["Male"]
    (raw_run,) = result.asset_materializations_for_node("census_respondents")
    assert raw_run.metadata["quarantined_rows"].value == ODD_SEX

    (feature_run,) = result.asset_materializations_for_node("census_features")
    merged = feature_run.metadata["subject_rows_merged"].value
    assert merged == MERGED
    assert len(raw) == len(feature_rows) + len(feature_quarantine) + merged
    assert len(feature_rows) == respondents - CONFLICTING
    reasons = feature_quarantine[REASON_COLUMN].value_counts().to_dict()
    assert reasons == {
        "respondent_id: subject id duplicated with conflicting values": 2 * CONFLICTING,
        "respondent_id: missing or empty identifier": BLANK,
    }
    duplicated = set(feature_quarantine.loc[feature_quarantine[REASON_COLUMN].str.contains("duplicated"), "respondent_id"])
    assert duplicated == {f"adult-{i:06d}" for i in range(21, 21 + CONFLICTING)}
    (grand_total,) = cohorts.loc[cohorts[["sex", "race", "education"]].isna().all(axis=1), "subjects"]
    assert grand_total == len(feature_rows)

    check = check_evaluation(result, "census_features", "quarantine")
    assert check.passed
    assert check.metadata["quarantined_rows"].value == 2 * CONFLICTING + BLANK
    assert f"{CONFLICTING} duplicate subject ids in census_respondents ({2 * CONFLICTING} rows)" in check.description
    rendered = " ".join(str(v.value) for v in check.metadata.values()) + check.description
    assert "adult-0" not in rendered


def test_too_many_bad_rows_fail_the_run_and_say_why(local_env, census_csv, tmp_path):
    copy = tmp_path / "register"
    shutil.copytree(register_dir(), copy)
    sources = copy / "sources.yaml"
    text = sources.read_text()
    sources.write_text(text.replace("    subject: {column: respondent_id, kind: customer_id}", "    subject: {column: respondent_id, kind: customer_id}\n    max_quarantined_fraction: 0.0002", 1))
    defs = _census_defs(copy)
    result = _run(defs)

    assert not result.success
    outcomes = check_outcomes(result)
    assert outcomes[("census_respondents", "quarantine")] is True  # 3 of 32,571 rows: under 0.02 %
    assert outcomes[("census_features", "quarantine")] is False
    assert "census_features" not in materialized(result)
    assert "census_cohorts" not in executed_steps(result)
    check = check_evaluation(result, "census_features", "quarantine")
    assert check.description.startswith(
        f"{CONFLICTING} duplicate subject ids in census_respondents ({2 * CONFLICTING} rows); {BLANK} rows without a subject identifier in census_respondents"
    )
    assert "above the 0.02% allowed" in check.description
    assert len(warehouse_of(defs).read_table("quarantine__census_features")) == 2 * CONFLICTING + BLANK


def test_a_value_set_is_for_text_columns(tmp_path):
    copy = tmp_path / "register"
    shutil.copytree(register_dir(), copy)
    sources = copy / "sources.yaml"
    sources.write_text(sources.read_text().replace("age: {type: integer,", "age: {type: integer, values: ['1'],", 1))
    with pytest.raises(Exception, match="value set is for a string column"):
        load_register(copy)


def test_a_tally_says_its_causes_in_words():
    tally = Tally("stroke_patients", arrived=5110)
    tally.add(DUPLICATE_ID, 9, 4)
    tally.add(NO_IDENTIFIER, 1)
    assert tally.described() == "4 duplicate subject ids in stroke_patients (9 rows); 1 row without a subject identifier in stroke_patients"
    assert tally.quarantined == 10 and not tally.within(0.001) and tally.within(0.01)
    with pytest.raises(ValueError, match="unknown quarantine cause"):
        tally.add("typo", 1)
    tally.add(OUTSIDE_DAYS, 5000)  # a loader that hands every day: kept, not judged
    assert tally.quarantined == 5010 and tally.fraction == 10 / 5110


_SPELLINGS = st.sampled_from(["Male", "Female", " Male ", "Ｍａｌｅ", "Fe\u200bmale", CYRILLIC_MALE, "male", "", "Other"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), _SPELLINGS, st.integers(18, 90)), min_size=1, max_size=60))
def test_every_arriving_row_is_admitted_or_set_aside(rows):
    """Dagster-free: whatever arrives, admitted + set aside = arrived, each set-aside row has a
    reason, and only registered values are admitted (in their registered spelling)."""
    register = load_register(register_dir())
    frame = _census_frame(rows)
    intake = RawIntake(register, "census_respondents", pd.Timestamp("2026-12-01"))
    admitted = intake.admit(frame)
    set_aside = intake.set_aside()
    assert len(admitted) + intake.quarantined == intake.arrived == len(frame)
    assert admitted["sex"].dropna().isin(["Male", "Female"]).all()
    if set_aside is not None:
        assert set_aside[REASON_COLUMN].str.len().gt(0).all() and len(set_aside) == intake.quarantined
    cleaned, outside = within_value_sets(frame, {"sex": ["Male", "Female"]})
    assert len(cleaned) + len(outside) == len(frame)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8), st.sampled_from(["", "\u200b", "\uff10"]), st.integers(0, 2)), min_size=1, max_size=40))
def test_one_row_per_subject_keeps_agreeing_rows_and_sets_aside_conflicts(rows):
    """Rows of one subject that differ in the id's spelling or a join key are kept (the subject is
    one person imported twice); rows that disagree on anything else all go, with their reason;
    rows in = rows kept + rows set aside."""
    ids = [f"cus_{i:04d}" if mark != "\uff10" else f"cus_{i:04d}".replace("0", mark) for i, mark, _ in rows]
    ids = [f"{i[:4]}{mark}{i[4:]}" if mark == "\u200b" else i for i, (_, mark, _) in zip(ids, rows)]
    people = pd.DataFrame({"customer_id": ids, "alias": [f"a{n}" for n in range(len(rows))], "segment": [str(v) for *_, v in rows]})
    identifiers = normalise(people["customer_id"], "customer_id")
    people["key"] = identifiers.to_numpy()
    kept, aside = one_row_per_subject(Subjects(people, identifiers), "key", ["customer_id", "alias"])
    assert len(kept.people) + len(aside.rows) == len(people)
    assert kept.people.groupby("key")["segment"].nunique().le(1).all()
    kept_ids = set(normalise(kept.people["customer_id"], "customer_id"))
    aside_ids = set(normalise(aside.rows["customer_id"], "customer_id"))
    assert not kept_ids & aside_ids
    assert aside.duplicated_ids == len(aside_ids)
    assert aside.merged_rows == len(kept.people) - len(kept_ids)
    truth = pd.DataFrame({"id": identifiers, "segment": people["segment"]}).groupby("id")["segment"].nunique()
    assert aside_ids == set(truth.index[truth > 1])


def _census_frame(rows) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "respondent_id": [f"adult-{n:06d}" for n in range(len(rows))],
            "age": [str(age) for *_, age in rows],
            "workclass": "Private", "fnlwgt": "1", "education": "Bachelors", "education_num": "13",
            "marital_status": "Never-married", "occupation": "Sales", "relationship": "Own-child", "race": "White",
            "sex": [spelling for _, spelling, _ in rows],
            "capital_gain": "0", "capital_loss": "0", "hours_per_week": "40", "native_country": "Cuba", "salary_class": "<=50K",
        }
    )
    frame.loc[frame["sex"] == "", "sex"] = None
    return frame
