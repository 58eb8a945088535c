"""Normalisation before keying, so that spellings of one identifier name one subject.

Every kind is first cleaned the same way: format characters (Unicode category Cf: zero-width
spaces and joiners, byte-order marks, soft hyphens) are removed, compatibility forms are folded
(NFKC: fullwidth digits are digits, a no-break space is a space) and the ends are trimmed. A
pseudonym is keyed from the result, so a change of these rules changes pseudonyms: it bumps
`NORMALISATION_VERSION`, which each key version records, and only key rotation moves to it."""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Callable
from functools import cache

import pandas as pd
import phonenumbers

NORMALISATION_VERSION = 2
"""1: trimmed (and e-mail addresses case-folded) only. 2: format characters removed and NFKC."""


@cache
def _without_format_characters() -> dict[int, None]:
    """A `str.translate` table deleting every Cf character; built on first use (0.1 s)."""
    return dict.fromkeys(c for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf")


def clean(value: str) -> str:
    """Format characters out, NFKC, trimmed. Removing a format character can bring a base
    letter and a combining mark together, so NFKC runs after it; ASCII needs none of it."""
    if value.isascii():
        return value.strip()
    return unicodedata.normalize("NFKC", value.translate(_without_format_characters())).strip()


def _per_distinct(values: pd.Series, normaliser: Callable[[str], str | None]) -> pd.Series:
    """Applies `normaliser` once per distinct value: identifier columns repeat their values."""
    text = values.astype("string")
    distinct = text.dropna().unique()
    return text.map(dict(zip(distinct, map(normaliser, distinct), strict=True)), na_action="ignore").astype("string")


def _email(value: str) -> str:
    """Case-folded after cleaning, and folded again (NFKC) where case folding left a compatibility form."""
    folded = clean(value).casefold()
    return folded if folded.isascii() else unicodedata.normalize("NFKC", folded)


def normalise_email(values: pd.Series) -> pd.Series:
    """' Alice@Example.com', 'alice@example.com' and 'alice\\u200b@example.com' are one address."""
    return _per_distinct(values, _email)


def normalise_as_is(values: pd.Series) -> pd.Series:
    """Identifiers we issue ourselves are compared exactly once cleaned: 'cus_００４２' is 'cus_0042'."""
    return _per_distinct(values, clean)


def _e164(value: str, default_region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(clean(value), default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_phone(values: pd.Series, default_region: str | None = None) -> pd.Series:
    """E.164 ('+4915123456789'); numbers that do not parse become missing, and are quarantined."""
    return _per_distinct(values, lambda value: _e164(value, default_region))


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
    return normaliser(values, default_region=default_region) if kind == "phone" else normaliser(values)


def missing_mask(normalised: pd.Series) -> pd.Series:
    """Rows whose identifier is null or empty after normalisation: they name no subject, so
    they must be quarantined rather than share one pseudonym."""
    return normalised.isna() | (normalised == "")
