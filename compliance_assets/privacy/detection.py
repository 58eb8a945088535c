"""Finds values that identify a person directly, whatever the column is called and wherever in
a string they stand: emails, phone numbers, IP addresses, IBANs, and identifiers known from the
raw tier.

One combined regular expression (vectorised over a column's distinct values) picks the few
values that could hold an identifier; only those are searched detector by detector, and each
find is confirmed where a shape is not enough: a phone number by `phonenumbers`' matcher in the
register's region, an IBAN by its length and mod-97 checksum, an IP address by `ipaddress`."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import phonenumbers

_EMAIL = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]"
# Not part of a longer dotted number or a word: '1.2.3.4.5' and 'v1.2.3.4' are versions.
_IPV4 = r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)"
_IPV6 = r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}(?![\w:])"
# A country code, two check digits, then 11 to 30 letters or digits, compact or in groups of four.
_IBAN = r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}"
_SEPARATOR = r"[ \u00a0()./-]"
# What a phone number can look like before the matcher judges it: an international prefix, or
# (with a region) a national number that starts with its trunk 0 or is written with separators.
# A bare run of digits is an id or an amount far more often than a phone number.
_INTERNATIONAL = r"(?:\+|(?<![\d+])00)\s?\(?\d(?:" + _SEPARATOR + r"{0,2}\d){5,}"
_NATIONAL = r"(?<![\d+])(?:0\d{6,}|\(?\d(?:" + _SEPARATOR + r"{0,2}\d)*" + _SEPARATOR + r"(?:" + _SEPARATOR + r"{0,2}\d){5,})"
_ISBN_BEFORE = re.compile(r"ISBN(?:-1[03])?:?\s*$", re.IGNORECASE)
# A code such as 'ORD-2024-000123' reads as a number once its letters are left out.
_GLUED_BEFORE = re.compile(r"[A-Za-z0-9][-/.]?$")
_DATE = re.compile(r"(?:\d{1,2}([./-])\d{1,2}\1(?:19|20)\d{2}|(?:19|20)\d{2}([./-])\d{1,2}\2\d{1,2})(?:[ T]\d{1,2}(?::\d{2}){0,2})?")


@dataclass(frozen=True)
class IdentifierFinding:
    """Where identifying values were found; never the values themselves."""

    column: str
    detector: str
    rows: int
    first_row: int


def _email(value: str, region: str | None) -> bool:
    return _EMAIL_RE.search(value) is not None


def _ip_address(value: str, region: str | None) -> bool:
    for found in _IPV4_RE.finditer(value):
        if _is_ip(found.group(), ipaddress.IPv4Address):
            return True
    for found in _IPV6_RE.finditer(value):
        # A bare '::' is an address on its own, and punctuation inside a sentence.
        if (found.group() != "::" or value.strip() == "::") and _is_ip(found.group(), ipaddress.IPv6Address):
            return True
    return False


def _is_ip(text: str, kind: type) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), kind)
    except ValueError:
        return False


def _phone(value: str, region: str | None) -> bool:
    """Confirmed by `phonenumbers`' matcher (valid numbers only, in the region's numbering plan
    when they have no country code). '00' is also read as the international prefix, which most
    of the world dials and a region such as the US does not."""
    if not _PHONE_SHAPE_RE[region is not None].search(value):
        return False
    international = _DOUBLE_ZERO_RE.sub("+", value)
    for text in dict.fromkeys([value, international] if region else [international]):
        for match in phonenumbers.PhoneNumberMatcher(text, region or "ZZ"):
            if not _not_a_phone(text, match.start, match.raw_string):
                return True
    return False


def _not_a_phone(text: str, start: int, raw: str) -> bool:
    """What the matcher may take for a national number: a date, the digits of a code, a book."""
    return _DATE.fullmatch(raw) is not None or _GLUED_BEFORE.search(text[:start]) is not None or _is_isbn(text, start, raw)


def _is_isbn(text: str, start: int, raw: str) -> bool:
    """A book number the matcher may read as a phone number: labelled as one, or 13 digits of
    the book prefixes 978/979 whose check digit holds."""
    if _ISBN_BEFORE.search(text[:start]):
        return True
    digits = [int(d) for d in raw if d.isdigit()]
    if len(digits) != 13 or digits[:3] not in ([9, 7, 8], [9, 7, 9]):
        return False
    return sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0


# IBAN length per country (ISO 13616 registry), so a hex string that happens to pass mod 97 is
# not taken for an account number.
IBAN_LENGTHS = {
    country: int(length)
    for country, length in (
        item.split(":")
        for item in (
            "AD:24 AE:23 AL:28 AT:20 AZ:28 BA:20 BE:16 BG:22 BH:22 BR:29 BY:28 CH:21 CR:22 CY:28 CZ:24 DE:22 "
            "DK:18 DO:28 EE:20 EG:29 ES:24 FI:18 FO:18 FR:27 GB:22 GE:22 GI:23 GL:18 GR:27 GT:28 HR:21 HU:28 "
            "IE:22 IL:23 IQ:23 IS:26 IT:27 JO:30 KW:30 KZ:20 LB:28 LC:32 LI:21 LT:20 LU:20 LV:21 MC:27 MD:24 "
            "ME:22 MK:19 MR:27 MT:31 MU:30 NL:18 NO:15 PK:24 PL:28 PS:29 PT:25 QA:29 RO:24 RS:22 SA:24 SC:31 "
            "SE:24 SI:19 SK:24 SM:27 ST:25 SV:28 TL:23 TN:24 TR:26 UA:29 VA:22 VG:24 XK:20"
        ).split()
    )
}


def _iban(value: str, region: str | None) -> bool:
    """The country's length of characters from the match (a grouped IBAN's last group may run
    into the next word) must pass mod 97."""
    for found in _IBAN_RE.finditer(value):
        compact = found.group().replace(" ", "")
        length = IBAN_LENGTHS.get(compact[:2])
        if length and len(compact) >= length and _is_iban(compact[:length]):
            return True
    return False


def _is_iban(iban: str) -> bool:
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


_EMAIL_RE, _IPV4_RE, _IPV6_RE, _IBAN_RE = (re.compile(p) for p in (_EMAIL, _IPV4, _IPV6, _IBAN))
_DOUBLE_ZERO_RE = re.compile(r"(?<![\d+])00(?=[1-9])")
_PHONE_SHAPE_RE = {False: re.compile(_INTERNATIONAL), True: re.compile(_INTERNATIONAL + "|" + _NATIONAL)}

Detector = Callable[[str, str | None], bool]
PATTERN_DETECTORS: dict[str, Detector] = {
    "email": _email,
    "ip_address": _ip_address,
    "phone_number": _phone,
    "iban": _iban,
}


# Something every value a detector could confirm holds: '@' (an email), ':' (IPv6), two dots
# between digits (IPv4), a country code and check digits (an IBAN), '+' or '00' (an international
# phone number); with a region, a trunk 0 or digits split by a separator (a national one). Every
# branch starts at one character class, so most positions of most values are rejected at once.
_FIRST = r"[@:+0-9A-Z]"
_PREFILTER = {
    False: _FIRST + r"(?:(?<=[@:+])|(?<=[0-9])\.[0-9]+\.[0-9]|(?<=0)0[1-9]|(?<=[A-Z])[A-Z][0-9][0-9])",
    True: _FIRST + r"(?:(?<=[@:+])|(?<=[0-9])\.[0-9]+\.[0-9]|(?<=0)[0-9]|(?<=[A-Z])[A-Z][0-9][0-9]|(?<=[0-9])[ \u00a0()/-]+[0-9])",
}


def prefilter(region: str | None) -> str:
    """The pattern a value must match somewhere before any detector judges it; with a region,
    national phone numbers (a trunk 0, or digits with separators) pass it too."""
    return _PREFILTER[region is not None]


def _string_view(column: pd.Series) -> pd.Series | None:
    if pd.api.types.is_string_dtype(column) or column.dtype == object:
        return column.astype("string")
    return None


KnownLookup = Callable[[pd.Index], pd.Index]
"""Which of some candidate values are known identifiers (e.g. occur in a raw identifier column)."""


def known_values(values: pd.Series) -> KnownLookup:
    """A lookup over identifiers held in memory. Asking the index (its hash table built once and
    cached) beats `isin`, which hashes every known value anew for each question."""
    index = pd.Index(values.dropna().astype("string").unique())
    return lambda candidates: candidates[index.get_indexer(candidates) >= 0]


def _pattern_hits(text: pd.Series, region: str | None) -> dict[str, np.ndarray]:
    """Each detector's verdict per row, judged once per distinct value (feature columns repeat
    their categories), and only for the values the combined prefilter leaves."""
    codes, distinct = pd.factorize(text.fillna(""))
    values = pd.Series(distinct, dtype=object)
    hits = {label: np.zeros(len(values), dtype=bool) for label in PATTERN_DETECTORS}
    candidates = values.str.contains(prefilter(region), regex=True).to_numpy(dtype=bool)
    for position in np.flatnonzero(candidates):
        value = values.iat[position]
        for label, detector in PATTERN_DETECTORS.items():
            hits[label][position] = detector(value, region)
    return {label: found[codes] for label, found in hits.items()}


def find_identifiers(
    frame: pd.DataFrame,
    known_identifiers: Mapping[str, KnownLookup] | None = None,
    carriers: Collection[str] = (),
    region: str | None = None,
) -> list[IdentifierFinding]:
    """Every (column, detector) pair with at least one identifying value.

    `known_identifiers` maps a label (e.g. 'customers.customer_id') to a lookup of the raw tier's
    values of an identifier column, so a raw id copied under another name is caught too. Those
    values are compared only where an identifier could be carried: text columns and the
    `carriers` (identifier-like or dimension columns, whatever their type), never a measure, whose
    count of 354 says nothing about a record numbered 354. Each lookup is asked once, for the
    distinct values of all those columns together, so it can be a query. `region` is the
    country whose phone numbers may be written without their country code."""
    findings: list[IdentifierFinding] = []
    texts = {name: _string_view(frame[name]) for name in frame.columns}
    compared = {
        name: text if text is not None else frame[name].astype("string")
        for name, text in texts.items()
        if text is not None or name in carriers
    }
    candidates = pd.Index(pd.concat([pd.Series(t.dropna().unique(), dtype="string") for t in compared.values()] or [pd.Series([], dtype="string")]).unique())
    known = {label: lookup(candidates) for label, lookup in (known_identifiers or {}).items()} if len(candidates) else {}
    for name, text in texts.items():
        checks: dict[str, np.ndarray] = {}
        if text is not None:
            checks = _pattern_hits(text, region)
        if name in compared:
            for label, values in known.items():
                if len(values):
                    checks[f"known:{label}"] = compared[name].isin(values).to_numpy(dtype=bool)
        for detector, hits in checks.items():
            count = int(hits.sum())
            if count:
                findings.append(IdentifierFinding(str(name), detector, count, int(hits.argmax())))
    return findings
