"""Finds values that identify a person directly, whatever the column is called: emails, phone
numbers, IP addresses, IBANs, and identifiers known from the raw tier."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

_EMAIL = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]"
_IPV4 = r"(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}"
_IPV6_CANDIDATE = r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"
_PHONE_SHAPE = r"(?:\+|00|0)?[1-9][0-9 ()./-]{6,20}[0-9]"
# Shapes that look like phone numbers but are not: dates, times, decimals, IPv4 addresses.
_NOT_A_PHONE = r"\d{4}-\d{2}-\d{2}.*|\d{1,2}[./]\d{1,2}[./]\d{2,4}|\d{2}:\d{2}.*|\d+\.\d+|\d{1,3}(?:\.\d{1,3}){3}"
_IBAN_SHAPE = r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}"


@dataclass(frozen=True)
class IdentifierFinding:
    """Where identifying values were found; never the values themselves."""

    column: str
    detector: str
    rows: int
    first_row: int


def _email(values: pd.Series) -> pd.Series:
    return values.str.contains(_EMAIL, regex=True)


def _ip_address(values: pd.Series) -> pd.Series:
    stripped = values.str.strip()
    v4 = stripped.str.fullmatch(_IPV4)
    v6_candidates = stripped.str.fullmatch(_IPV6_CANDIDATE)
    v6 = stripped.where(v6_candidates, None).map(_is_ipv6, na_action="ignore")
    return v4 | v6.fillna(False).astype(bool)


def _is_ipv6(value: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(value), ipaddress.IPv6Address)
    except ValueError:
        return False


def _phone(values: pd.Series) -> pd.Series:
    """The shape test rules out almost every value, so the finer tests run on the few it leaves."""
    stripped = values.str.strip()
    shaped = stripped.str.fullmatch(_PHONE_SHAPE).fillna(False).astype(bool)
    found = pd.Series(False, index=values.index)
    if shaped.any():
        candidates = stripped[shaped]
        digits = candidates.str.count(r"\d")
        has_marker = candidates.str.match(r"\+|0") | candidates.str.contains(r"[ ()./-]", regex=True)
        found[shaped] = (~candidates.str.fullmatch(_NOT_A_PHONE) & digits.between(8, 15) & has_marker).fillna(False).astype(bool)
    return found


# IBAN length per country (ISO 13616 registry), so a hex string that happens to pass mod 97 is
# not taken for an account number.
IBAN_LENGTHS = dict(
    item.split(":")
    for item in (
        "AD:24 AE:23 AL:28 AT:20 AZ:28 BA:20 BE:16 BG:22 BH:22 BR:29 BY:28 CH:21 CR:22 CY:28 CZ:24 DE:22 "
        "DK:18 DO:28 EE:20 EG:29 ES:24 FI:18 FO:18 FR:27 GB:22 GE:22 GI:23 GL:18 GR:27 GT:28 HR:21 HU:28 "
        "IE:22 IL:23 IQ:23 IS:26 IT:27 JO:30 KW:30 KZ:20 LB:28 LC:32 LI:21 LT:20 LU:20 LV:21 MC:27 MD:24 "
        "ME:22 MK:19 MR:27 MT:31 MU:30 NL:18 NO:15 PK:24 PL:28 PS:29 PT:25 QA:29 RO:24 RS:22 SA:24 SC:31 "
        "SE:24 SI:19 SK:24 SM:27 ST:25 SV:28 TL:23 TN:24 TR:26 UA:29 VA:22 VG:24 XK:20"
    ).split()
)


def _iban(values: pd.Series) -> pd.Series:
    compact = values.str.replace(" ", "", regex=False)
    shaped = compact.str.fullmatch(_IBAN_SHAPE)
    return shaped & compact.where(shaped, None).map(_is_iban, na_action="ignore").fillna(False).astype(bool)


def _is_iban(iban: str) -> bool:
    if len(iban) != int(IBAN_LENGTHS.get(iban[:2], 0)):
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


PATTERN_DETECTORS: dict[str, Callable[[pd.Series], pd.Series]] = {
    "email": _email,
    "ip_address": _ip_address,
    "phone_number": _phone,
    "iban": _iban,
}


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


def _pattern_hits(text: pd.Series) -> dict[str, np.ndarray]:
    """Each detector's verdict per row, judged once per distinct value: feature columns repeat
    their categories, and a value is an identifier wherever it occurs."""
    codes, distinct = pd.factorize(text.fillna(""))
    values = pd.Series(distinct, dtype="string")
    return {label: detector(values).fillna(False).to_numpy(dtype=bool)[codes] for label, detector in PATTERN_DETECTORS.items()}


def find_identifiers(
    frame: pd.DataFrame,
    known_identifiers: Mapping[str, KnownLookup] | None = None,
) -> list[IdentifierFinding]:
    """Every (column, detector) pair with at least one identifying value.

    `known_identifiers` maps a label (e.g. 'customers.customer_id') to a lookup of the raw tier's
    values of an identifier column, so a raw id copied under another name is caught too. Each
    lookup is asked once, for the distinct values of all columns together, so it can be a query."""
    findings: list[IdentifierFinding] = []
    texts = {name: _string_view(frame[name]) for name in frame.columns}
    as_texts = {name: text if text is not None else frame[name].astype("string") for name, text in texts.items()}
    candidates = pd.Index(pd.concat([pd.Series(t.dropna().unique(), dtype="string") for t in as_texts.values()] or [pd.Series([], dtype="string")]).unique())
    known = {label: lookup(candidates) for label, lookup in (known_identifiers or {}).items()} if len(candidates) else {}
    for name, text in texts.items():
        checks: dict[str, np.ndarray] = {}
        if text is not None:
            checks = _pattern_hits(text)
        for label, values in known.items():
            if len(values):
                checks[f"known:{label}"] = as_texts[name].isin(values).to_numpy(dtype=bool)
        for detector, hits in checks.items():
            count = int(hits.sum())
            if count:
                findings.append(IdentifierFinding(str(name), detector, count, int(hits.argmax())))
    return findings
