"""One row per member, keyed by the member's pseudonym (the transform never sees the member id)."""

import pandas as pd


def member_features(inputs) -> pd.DataFrame:
    members = inputs.subjects
    return pd.DataFrame(
        {
            inputs.subject_key: members[inputs.subject_key],
            "age_band": pd.cut(members["age"], [18, 35, 55, 200], right=False, labels=["18-34", "35-54", "55+"]).astype("string"),
            "branch": members["branch"],
            "loans": members["loans"].astype("int64"),
        }
    ).reset_index(drop=True)
