"""The publication ledger: every entry a cohort release decided on, kept in the warehouse and
written in the same transaction that publishes the table.

An attacker keeps every row ever published, so a release is audited against what came before it,
not alone. Each publication records, per entry (cell or margin): the level it is grouped by, its
dimension values, whether the table shows it, whether the row shown is carried forward from an
earlier publication, the measures shown, and `subjects`: the count the entry's state refers to
(the shown count; for a hidden entry, its count when it was last hidden afresh). Beside the
measures, under `COUNTED`, it keeps what the entry truly counted at that publication (subjects,
outcome counts, and each magnitude's two largest contributions), which the next publication's
change tables and the p % rule on its changes start from; and for a withheld entry that was once
shown, under `ANCHOR`, the figures it showed then, which it is judged against when it is shown
again. None of that is published:
the ledger is the publisher's memory, not a release.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

LEDGER_TABLE = "privacy__ledger"
COUNTED = "_counted"  # in an entry's measures: its true subjects, outcome counts and top contributions at the publication
ANCHOR = "_anchor"  # in a withheld entry's measures: the figures it showed when last shown (subjects, outcome counts, magnitude sums and tops)
LEDGER_COLUMNS = [
    "release",
    "partition_key",
    "publication",
    "published_at",
    "grouped_by",
    "entry",
    "subjects",
    "shown",
    "carried",
    "measures",
    "register_version",
    "code_version",
]


def entry_keys(table: pd.DataFrame, dims: Sequence[str]) -> pd.Series:
    """Each row's dimension values as the ledger spells them (JSON, a rolled-up dimension null)."""
    if not len(table):
        return pd.Series([], dtype="string", index=table.index)
    columns = [table[d].astype(object).where(table[d].notna(), None).tolist() for d in dims]
    return pd.Series([json.dumps([_plain(v) for v in values]) for values in zip(*columns, strict=True)], index=table.index, dtype="string")


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return value


def measures_json(table: pd.DataFrame, measures: Sequence[str], shown: pd.Series | None = None) -> pd.Series:
    """Each entry's shown measures (none for a hidden entry) and, when the table has them, what it
    truly counted (`COUNTED`)."""
    if not len(table) or (not measures and COUNTED not in table and ANCHOR not in table):
        return pd.Series([None] * len(table), index=table.index, dtype="object")
    values = table[list(measures)].astype(object)
    values = values.where(values.notna(), None)
    visible = shown.to_numpy(dtype=bool) if shown is not None else np.ones(len(table), dtype=bool)
    counted = table[COUNTED].tolist() if COUNTED in table else [None] * len(table)
    anchors = table[ANCHOR].tolist() if ANCHOR in table else [None] * len(table)
    texts = []
    for row, is_shown, truth, anchor in zip(values.itertuples(index=False), visible, counted, anchors, strict=True):
        record = {m: _plain(v) for m, v in zip(measures, row, strict=True)} if is_shown else {}
        if truth is not None:
            record[COUNTED] = {name: _plain(v) for name, v in truth.items()}
        if isinstance(anchor, dict) and not is_shown:
            record[ANCHOR] = {name: _plain(v) for name, v in anchor.items()}
        texts.append(json.dumps(record) if record else None)
    return pd.Series(texts, index=table.index, dtype="object")


def ledger_rows(
    entries: pd.DataFrame,
    dims: Sequence[str],
    measures: Sequence[str],
    *,
    release: str,
    publication: str,
    published_at: pd.Timestamp,
    register_version: str,
    code_version: str,
    partition_key: str = "",
) -> pd.DataFrame:
    """A release's `entries` (dimensions, grouped_by, subjects, shown, carried, measures) as ledger rows."""
    shown = entries["shown"].astype(bool)
    return pd.DataFrame(
        {
            "release": release,
            "partition_key": partition_key,
            "publication": publication,
            "published_at": published_at,
            "grouped_by": entries["grouped_by"].astype("string").to_numpy(),
            "entry": entry_keys(entries, dims).to_numpy(),
            "subjects": entries["subjects"].astype("int64").to_numpy(),
            "shown": shown.to_numpy(),
            "carried": entries["carried"].astype(bool).to_numpy(),
            "measures": measures_json(entries, measures, shown).to_numpy(),
            "register_version": register_version,
            "code_version": code_version,
        }
    )


def previous_entries(ledger: pd.DataFrame, dims: Sequence[str], measures: Sequence[str]) -> pd.DataFrame | None:
    """The entries of the latest publication among `ledger`'s rows (one release and partition),
    back in a release's shape: dimensions, grouped_by, subjects, shown, carried, measures."""
    if ledger is None or not len(ledger):
        return None
    latest = ledger.loc[ledger["published_at"] == ledger["published_at"].max()]
    latest = latest.loc[latest["publication"] == latest["publication"].iloc[0]].reset_index(drop=True)
    keys = [json.loads(text) for text in latest["entry"]]
    frame = pd.DataFrame(keys, columns=list(dims), dtype=object) if keys else pd.DataFrame(columns=list(dims))  # as spelled: a column of codes with nulls stays whole numbers
    frame["grouped_by"] = latest["grouped_by"].astype("string")
    shown_measures = [json.loads(text) if isinstance(text, str) else {} for text in latest["measures"]]
    for measure in measures:
        frame[measure] = [values.get(measure) for values in shown_measures]
    frame[COUNTED] = [values.get(COUNTED) for values in shown_measures]
    frame[ANCHOR] = [values.get(ANCHOR) for values in shown_measures]
    frame["subjects"] = latest["subjects"].astype("int64")
    frame["shown"] = latest["shown"].astype(bool)
    frame["carried"] = latest["carried"].astype(bool)
    return frame
