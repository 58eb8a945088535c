"""Data minimisation: a frame may only hold the columns its register entry documents."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd


def unregistered_columns(frame: pd.DataFrame, registered: Iterable[str]) -> list[str]:
    allowed = set(registered)
    return [str(c) for c in frame.columns if c not in allowed]


def missing_columns(frame: pd.DataFrame, registered: Iterable[str]) -> list[str]:
    present = set(map(str, frame.columns))
    return [c for c in registered if c not in present]
