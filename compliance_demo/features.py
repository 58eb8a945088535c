"""Feature transforms of the demo: plain pandas, one row per subject pseudonym. They see no raw
identifier: subjects and events arrive keyed by the pseudonym (`inputs.subject_key`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from compliance_assets.factories.feature_inputs import FeatureInputs
from compliance_assets.privacy.summaries import Count, Latest

CUSTOMER_AGE_BANDS = ([18, 25, 35, 45, 55, 65, 200], ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"])
CENSUS_AGE_BANDS = ([0, 25, 35, 45, 55, 65, 200], ["17-24", "25-34", "35-44", "45-54", "55-64", "65+"])
REGIONS = {"0": "east", "1": "east", "2": "north", "3": "west", "4": "west", "5": "west", "6": "southwest", "7": "southwest", "8": "south", "9": "south"}
WINDOW_DAYS = 90
EVENT_COUNTS = {"open": "opens_90d", "click": "clicks_90d", "convert": "conversions_90d"}


def age_band(age_years: pd.Series, bands: tuple[list[int], list[str]]) -> pd.Series:
    edges, labels = bands
    return pd.cut(age_years, bins=edges, labels=labels, right=False).astype("string")


def customer_features(inputs: FeatureInputs) -> pd.DataFrame:
    """Per contact: workspace, age band, region and 90-day engagement, merged across re-imports
    of the same person (they share one pseudonym)."""
    key = inputs.subject_key
    people = inputs.subjects
    run_date = inputs.run_date

    ages = (run_date - people["birth_date"]).dt.days // 365.25
    profile = pd.DataFrame(
        {
            key: people[key],
            "workspace_id": people["workspace_id"],
            "age_band": age_band(ages, CUSTOMER_AGE_BANDS),
            "region": people["postcode"].str[0].map(REGIONS).astype("string"),
        }
    ).drop_duplicates(subset=[key], keep="first")

    # Per subject, counted where the events are (10 M events become one row per contact there); the
    # events arrive joined by the subject's pseudonym, never by the contact id.
    since = run_date - pd.Timedelta(days=WINDOW_DAYS)
    per_subject = inputs.sources.summary(
        "engagement_events",
        by=key,
        measures={
            **{name: Count(equal={"event_type": kind}, since={"occurred_at": since}) for kind, name in EVENT_COUNTS.items()},
            "last_seen": Latest("occurred_at"),
        },
    ).set_index(key)
    counts, last_seen = per_subject[list(EVENT_COUNTS.values())], per_subject["last_seen"]

    features = profile.merge(counts, left_on=key, right_index=True, how="left")
    for name in counts.columns:
        features[name] = features[name].fillna(0).astype("int64")
    recency = (run_date - features[key].map(last_seen)).dt.days
    features["days_since_last_engagement"] = recency.astype("Int64")
    features["engagement_segment"] = pd.Series(
        np.select([recency < 30, recency < 90], ["active", "lapsing"], default="dormant"), index=features.index
    ).astype("string")
    return features.reset_index(drop=True)


def census_features(inputs: FeatureInputs) -> pd.DataFrame:
    people = inputs.subjects
    return pd.DataFrame(
        {
            inputs.subject_key: people[inputs.subject_key],
            "age_band": age_band(people["age"], CENSUS_AGE_BANDS),
            "sex": people["sex"],
            "race": people["race"],
            "education": people["education"],
            "income_over_50k": people["salary_class"].eq(">50K").astype("boolean"),
        }
    ).reset_index(drop=True)
