"""Consent as of a moment: for each subject and purpose the latest record decides, and a
withdrawal ends consent from its timestamp on."""

from __future__ import annotations

import pandas as pd

GRANTED = "granted"
CONSENT_COLUMNS = ["purpose", "recorded_at", "status"]  # what a record needs besides its subject


def consenting_subjects(records: pd.DataFrame, subject: str, purpose: str, at: pd.Timestamp) -> pd.Index:
    """Subjects whose latest consent record for `purpose`, at or before `at`, is a grant. Records
    stamped the same instant are not ordered by the table (a database read promises no order), so
    among them anything but a grant (a withdrawal, a missing status) wins."""
    relevant = records.loc[(records["purpose"] == purpose) & (records["recorded_at"] <= at)]
    granted = relevant["status"].eq(GRANTED).fillna(False).astype(bool)
    ordered = relevant.assign(_granted=granted).sort_values(["recorded_at", "_granted"], ascending=[True, False], kind="stable")
    latest = ordered.drop_duplicates(subject, keep="last")
    return pd.Index(latest.loc[latest["_granted"], subject].unique())
