"""A labelled corpus for identifier detection, generated from templates: identifiers in many
formats, alone and inside free text, and values of the same shapes that identify nobody."""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

PHONE_REGIONS = ["FR", "GB", "DE", "US", "IT", "ES", "NL", "BE", "CH", "SE", "PL", "IE", "IN", "BR", "JP", "AU", "CA"]
IBAN_COUNTRIES = {"DE": 22, "FR": 27, "GB": 22, "ES": 24, "IT": 27, "NL": 18, "BE": 16, "CH": 21, "PL": 28, "SE": 24, "AT": 20, "IE": 22, "NO": 15, "PT": 25}
TEXT = ["{}", "call {}", "tel: {}", "Contact: {} (after 6pm)", "please reach me on {}, thanks", "<td>{}</td>", "[{}]", "Kunde bat um Rückruf unter {}."]


@dataclass(frozen=True)
class Example:
    text: str
    kind: str | None  # the detector that must find it; None: nothing may be found
    region: str | None = None  # the register's region the text is judged in


def _emails(rng: random.Random) -> list[Example]:
    locals_ = ["jane.doe", "j.doe+newsletter", "JANE_DOE", "jd1987", "o'brien", "first-last", "x", "user.name.with.dots", "a1b2c3", "info"]
    domains = ["example.com", "mail.example.co.uk", "uni-heidelberg.de", "sub.domain.example.org", "EXAMPLE.FR", "post.example.museum", "x-y.io", "example.travel"]
    templates = TEXT + ["mailto:{}", "From: Jane <{}>", "email={}&ok=1", "{}."]
    return [Example(rng.choice(templates).format(f"{local}@{domain}"), "email") for local in locals_ for domain in domains]


def _phones() -> list[Example]:
    out = []
    for i, region in enumerate(PHONE_REGIONS):
        for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE):
            number = phonenumbers.example_number_for_type(region, kind)
            international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
            spellings = [
                (international, None),
                (phonenumbers.format_number(number, PhoneNumberFormat.E164), None),
                ("00" + international[1:], None),
                (phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL), region),
            ]
            for j, (spelling, judged_in) in enumerate(spellings):
                out.append(Example(TEXT[(i + j) % len(TEXT)].format(spelling), "phone_number", judged_in))
    out += [Example(text, "phone_number") for text in ("call +33 1 42 68 53 00", "tel: +44 20 7946 0958", "+1 (415) 555-2671", "+49 (0)30 901820")]
    out += [Example(text, "phone_number", "US") for text in ("(415) 555-2671", "415-555-2671", "call 415.555.2671 today")]
    return out


def iban(country: str, length: int, rng: random.Random) -> str:
    """A valid IBAN: a random BBAN of the country's length and the check digits it needs."""
    bban = "".join(rng.choice("0123456789") for _ in range(length - 4))
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def _ibans(rng: random.Random) -> list[Example]:
    out = []
    for country, length in IBAN_COUNTRIES.items():
        for _ in range(2):
            compact = iban(country, length, rng)
            grouped = " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
            out += [Example(rng.choice(TEXT + ["IBAN: {}", "pay to {} by Friday", "IBAN {} BIC DEUTDEFF"]).format(spelling), "iban") for spelling in (compact, grouped)]
    return out


def _ips(rng: random.Random) -> list[Example]:
    v4 = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(25)] + ["10.0.0.1", "192.168.1.254", "8.8.8.8", "255.255.255.255"]
    v6 = [str(ipaddress.IPv6Address(rng.getrandbits(128))) for _ in range(10)]
    v6 += [ipaddress.IPv6Address(rng.getrandbits(128)).exploded for _ in range(5)]
    v6 += ["::1", "fe80::1", "2001:db8::8a2e:370:7334", "2001:DB8:0:0:8:800:200C:417A", "::ffff:192.0.2.128", "2a00:1450:4007:80b::200e"]
    templates = TEXT + ["request from {} blocked", "ip={}", "client {} port 443"]
    return [Example(rng.choice(templates).format(address), "ip_address") for address in v4 + v6] + [
        Example(f"GET / from [{address}]:443", "ip_address") for address in v6[:5]
    ] + [Example(f"{address}:8080", "ip_address") for address in v4[:5]]


def positives(seed: int = 31) -> list[Example]:
    rng = random.Random(seed)
    return _emails(rng) + _phones() + _ibans(rng) + _ips(rng)


def _isbn13(rng: random.Random) -> str:
    digits = [9, 7, rng.choice([8, 9])] + [rng.randrange(10) for _ in range(9)]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    s = "".join(map(str, digits + [check]))
    return f"{s[:3]}-{s[3]}-{s[4:6]}-{s[6:12]}-{s[12]}"


def negatives(seed: int = 37) -> list[str]:
    rng = random.Random(seed)
    isbns = [_isbn13(rng) for _ in range(20)]
    out = [f"ISBN {i}" for i in isbns[:10]] + isbns[10:] + [i.replace("-", "") for i in isbns[:5]]
    out += ["ISBN-10: 0-306-40615-2", "ISBN 0-19-852663-6", "isbn: 3-16-148410-X", "see ISBN 978 0 306 40615 7, p. 12"]
    out += ["2024-01-15", "15/01/2024", "01.02.2023", "2023-11-30T10:15:00Z", "Jan 5, 2024", "1999-12-31 23:59:59", "31.12.2024 18:00", "20240115"]
    out += [f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1950, 2030)}" for _ in range(10)]
    out += [f"{rng.randint(1950, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}" for _ in range(10)]
    out += ["€1,234.56", "1 234 567,89 €", "$12,345,678.00", "USD 1,000,000", "£ 1.299,00", "12.5%", "0.25", "1.5", "-42", "3.14159265358979"]
    out += [f"{rng.randint(1000, 9_999_999):,}.{rng.randint(0, 99):02d} EUR" for _ in range(10)]
    out += ["v1.2.3", "1.4.2", "version 10.0.19041.1", "Python 3.11.4", "release 2.0.0-rc1", "1.2.3.4.5", "v2.3.4.5", "build 4.18.0-553.el8.x86_64"]
    out += ["75008", "SW1A 1AA", "10115 Berlin", "90210", "1012 AB", "75008 Paris, 12 rue de la Paix", "EC1A 1BB", "D02 X285", "00-950 Warszawa"]
    out += ["10:30", "12:30:45", "at 09:15 and 17:45", "00:1A:2B:3C:4D:5E", "a :: b", "std::vector<int>", "key::value", "ratio 3:2:1"]
    out += ["#123456", "ORD-2024-000123", "order 1234567", "ticket 20240115-0042", "invoice no. 2024/00017", "tracking 1Z999AA10123456784"]
    out += ["DE00370400440532013000", "GB00 NWBK 6016 1331 9268 19", "FR1420041010050500013M02607", "NL00ABNA0417164300"]
    out += ["d41d8cd98f00b204e9800998ecf8427e", "550e8400-e29b-41d4-a716-446655440000", "0x7fff5fbff8c8", "SHA256:ab12cd34"]
    out += ["48.8566, 2.3522", "lat 51.5074 lon -0.1278", "1/2", "3/4 cup", "50-54", "25-34", "65+", "room 101", "page 12 of 340"]
    out += ["the quick brown fox", "no contact details given", "call me later", "Tel. unknown", "email: none", "@handle", "user@", "@example.com"]
    out += [f"{rng.randint(0, 999)} items" for _ in range(10)] + [str(rng.randint(0, 10**7)) for _ in range(20)]
    return out
