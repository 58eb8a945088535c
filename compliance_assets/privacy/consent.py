"""Consent as of a moment: for each subject and purpose the latest record decides, and a
withdrawal ends consent from its timestamp on."""

from __future__ import annotations

import pandas as pd

GRANTED = "granted"
CONSENT_COLUMNS = ["purpose", "recorded_at", "status"]  # what a record needs besides its subject


def consenting_subjects(records: pd.DataFrame, subject: str, purpose: str, at: pd.Timestamp) -> pd.Index:
    """Subjects whose latest consent record for `purpose`, at or before `at`, is a grant."""
    relevant = records.loc[(records["purpose"] == purpose) & (records["recorded_at"] <= at)]
    latest = relevant.sort_values("recorded_at", kind="stable").drop_duplicates(subject, keep="last")
    return pd.Index(latest.loc[latest["status"] == GRANTED, subject].unique())
