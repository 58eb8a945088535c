"""Normalisation before keying, so that spellings of one identifier name one subject."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd


def normalise_email(values: pd.Series) -> pd.Series:
    """Trim and case-fold: ' Alice@Example.com' and 'alice@example.com' are one address."""
    return values.astype("string").str.strip().str.casefold()


def normalise_as_is(values: pd.Series) -> pd.Series:
    """Identifiers we issue ourselves are compared exactly, but never with stray blanks."""
    return values.astype("string").str.strip()


NORMALISERS: dict[str, Callable[[pd.Series], pd.Series]] = {
    "email": normalise_email,
    "customer_id": normalise_as_is,
}


def normalise(values: pd.Series, kind: str) -> pd.Series:
    try:
        normaliser = NORMALISERS[kind]
    except KeyError:
        raise ValueError(f"no normaliser for identifier kind '{kind}' (known: {sorted(NORMALISERS)})") from None
    return normaliser(values)


def missing_mask(normalised: pd.Series) -> pd.Series:
    """Rows whose identifier is null or empty after normalisation: they name no subject, so
    they must be quarantined rather than share one pseudonym."""
    return normalised.isna() | (normalised == "")
