"""Normalisation before keying, so that spellings of one identifier name one subject."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pandas as pd
import phonenumbers


def normalise_email(values: pd.Series) -> pd.Series:
    """Trim and case-fold: ' Alice@Example.com' and 'alice@example.com' are one address."""
    return values.astype("string").str.strip().str.casefold()


def normalise_as_is(values: pd.Series) -> pd.Series:
    """Identifiers we issue ourselves are compared exactly, but never with stray blanks."""
    return values.astype("string").str.strip()


def _e164(value: str, default_region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_phone(values: pd.Series, default_region: str | None = None) -> pd.Series:
    """E.164 ('+4915123456789'); numbers that do not parse become missing, and are quarantined."""
    text = values.astype("string").str.strip()
    distinct = text.dropna().unique()
    formatted = {value: _e164(value, default_region) for value in distinct}
    return text.map(formatted, na_action="ignore").astype("string")


NORMALISERS: dict[str, Callable[..., pd.Series]] = {
    "email": normalise_email,
    "phone": normalise_phone,
    "customer_id": normalise_as_is,
}


def normalise(values: pd.Series, kind: str, default_region: str | None = None) -> pd.Series:
    try:
        normaliser = NORMALISERS[kind]
    except KeyError:
        raise ValueError(f"no normaliser for identifier kind '{kind}' (known: {sorted(NORMALISERS)})") from None
    return partial(normaliser, default_region=default_region)(values) if kind == "phone" else normaliser(values)


def missing_mask(normalised: pd.Series) -> pd.Series:
    """Rows whose identifier is null or empty after normalisation: they name no subject, so
    they must be quarantined rather than share one pseudonym."""
    return normalised.isna() | (normalised == "")
