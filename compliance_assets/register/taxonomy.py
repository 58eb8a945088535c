"""The fideslang taxonomy as sets of keys, so register fields can be checked against it."""

from __future__ import annotations

from functools import cache

from fideslang.default_taxonomy import DEFAULT_TAXONOMY

# Art. 9 special categories: processing them needs a separate legal basis.
SPECIAL_CATEGORY_PREFIXES = (
    "user.demographic.race_ethnicity",
    "user.demographic.political_opinion",
    "user.demographic.religious_belief",
    "user.demographic.sexual_orientation",
    "user.biometric",
    "user.health_and_medical",
    "user.criminal_history",
)


@cache
def data_categories() -> frozenset[str]:
    return frozenset(c.fides_key for c in DEFAULT_TAXONOMY.data_category)


@cache
def data_uses() -> frozenset[str]:
    return frozenset(u.fides_key for u in DEFAULT_TAXONOMY.data_use)


@cache
def data_subjects() -> frozenset[str]:
    return frozenset(s.fides_key for s in DEFAULT_TAXONOMY.data_subject)


def is_within(key: str, ancestor: str) -> bool:
    """True when `key` is `ancestor` or one of its descendants in the dotted taxonomy."""
    return key == ancestor or key.startswith(ancestor + ".")


def is_special_category(key: str) -> bool:
    return any(is_within(key, prefix) for prefix in SPECIAL_CATEGORY_PREFIXES)


def _check(value: str, known: frozenset[str], kind: str) -> str:
    if value not in known:
        close = sorted(k for k in known if k.split(".")[0] == value.split(".")[0])[:5]
        hint = f" (known keys near it: {', '.join(close)})" if close else ""
        raise ValueError(f"unknown fideslang {kind} '{value}'{hint}")
    return value


def check_data_category(value: str) -> str:
    return _check(value, data_categories(), "data category")


def check_data_use(value: str) -> str:
    return _check(value, data_uses(), "data use")


def check_data_subject(value: str) -> str:
    return _check(value, data_subjects(), "data subject")
