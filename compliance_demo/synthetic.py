"""Deterministic synthetic data for the email-marketing demo: same seed and size, same rows.

The data is realistic enough to exercise the rules: skewed workspace sizes (so some cohorts fall
under k), contacts imported twice with different spelling of their email (so normalisation
matters), and a few contacts without an email (so quarantine matters)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

WORKSPACES = np.array(["ws_alpine_outdoor", "ws_baltic_books", "ws_cologne_coffee", "ws_danube_dental"])
WORKSPACE_WEIGHTS = np.array([0.46, 0.30, 0.15, 0.09])
FIRST_NAMES = np.array("Anna Ben Clara David Emma Felix Greta Hannes Ida Jonas Lena Max Nora Oskar Paula Quentin Rosa Simon Tilda Uwe".split())
LAST_NAMES = np.array("Schmidt Müller Weber Fischer Wagner Becker Hoffmann Koch Richter Klein Wolf Neumann Schwarz Braun Zimmermann".split())
MAIL_DOMAINS = np.array(["example.com", "mail.example.org", "post.example.net", "example.de"])
COUNTRIES = np.array(["DE", "AT", "CH"])
USER_AGENTS = np.array(
    [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
        "Microsoft Outlook 16.0.17726",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15",
        "Thunderbird/115.12.0",
    ]
)
SEARCH_TERMS = np.array(["unsubscribe", "newsletter frequency", "change email", "privacy", "order status", "vouchers"])
CONSENT_PURPOSES = np.array(["marketing.communications.email", "analytics.reporting.campaign_insights"])


@dataclass(frozen=True)
class DemoSize:
    customers: int = 20_000
    events_per_customer: float = 15.0
    seed: int = 20_260_101


def _pick(rng: np.random.Generator, values: np.ndarray, size: int, p: np.ndarray | None = None) -> np.ndarray:
    return values[rng.choice(len(values), size=size, p=p)]


def _timestamps(rng: np.random.Generator, as_of: pd.Timestamp, size: int, max_days: int) -> pd.Series:
    seconds = rng.integers(0, max_days * 86_400, size=size)
    return pd.Series(as_of - pd.to_timedelta(seconds, unit="s"))


def _octets(rng: np.random.Generator, size: int) -> list[np.ndarray]:
    return [rng.integers(lo, 255, size=size).astype(np.uint8) for lo in (11, 0, 0, 1)]


OCTET_PAIRS = np.array([f"{high}.{low}" for high in range(256) for low in range(256)], dtype=np.dtypes.StringDType())
LEADING_PAIRS = np.strings.add(OCTET_PAIRS, ".")


def _ipv4_text(octets: list[np.ndarray]) -> pd.Series:
    """Dotted quads joined from two looked-up halves with NumPy's string functions (C loops), not
    one Python string at a time."""
    first, second, third, fourth = (octet.astype(np.intp) for octet in octets)
    text = np.strings.add(LEADING_PAIRS[first * 256 + second], OCTET_PAIRS[third * 256 + fourth])
    return pd.Series(text.astype(object), dtype="string")


def _numbered(prefix: str, numbers: np.ndarray, width: int) -> pd.api.extensions.ExtensionArray:
    """'prefix' + zero-padded number for each of `numbers`."""
    digits = np.strings.zfill(numbers.astype(np.dtypes.StringDType()), width)
    return pd.array(np.strings.add(prefix, digits).astype(object), dtype="string")


def _ipv4(rng: np.random.Generator, size: int) -> pd.Series:
    return _ipv4_text(_octets(rng, size))


def customers(size: DemoSize, as_of: pd.Timestamp) -> pd.DataFrame:
    rng = np.random.default_rng(size.seed)
    n = size.customers
    first, last = _pick(rng, FIRST_NAMES, n), _pick(rng, LAST_NAMES, n)
    number = pd.Series(np.arange(n)).astype("string")
    local = pd.Series(first).str.lower() + "." + pd.Series(last).str.lower() + number
    email = local + "@" + pd.Series(_pick(rng, MAIL_DOMAINS, n))
    ages = np.clip(rng.gamma(shape=6.0, scale=6.5, size=n) + 16, 18, 92).astype(int)
    birth = as_of - pd.to_timedelta(ages * 365.25 + rng.integers(0, 365, size=n), unit="D")
    frame = pd.DataFrame(
        {
            "customer_id": "cus_" + number.str.zfill(7),
            "workspace_id": _pick(rng, WORKSPACES, n, WORKSPACE_WEIGHTS),
            "email": email,
            "full_name": pd.Series(first) + " " + pd.Series(last),
            "birth_date": pd.Series(birth).dt.normalize(),
            "postcode": pd.Series(rng.choice(10, size=n, p=[0.06, 0.1, 0.12, 0.1, 0.14, 0.12, 0.1, 0.1, 0.09, 0.07])).astype("string")
            + pd.Series(rng.integers(0, 10_000, size=n)).astype("string").str.zfill(4),
            "country": _pick(rng, COUNTRIES, n, np.array([0.8, 0.12, 0.08])),
            "signup_at": _timestamps(rng, as_of, n, 720),
            "imported_at": pd.Series(as_of, index=range(n)),
        }
    )
    # Re-imports of the same person with another spelling of the address: one subject, not two.
    dup = rng.choice(n, size=max(1, n // 200), replace=False)
    reimported = frame.iloc[dup].copy()
    reimported["customer_id"] = "cus_" + pd.Series(np.arange(n, n + len(dup))).astype("string").str.zfill(7).to_numpy()
    reimported["email"] = "  " + reimported["email"].str.upper() + " "
    # Contacts imported without an address: quarantined, never pseudonymised to a shared token.
    blank = rng.choice(n, size=max(1, n // 1000), replace=False)
    frame.loc[blank, "email"] = np.where(np.arange(len(blank)) % 2 == 0, "", None)
    return pd.concat([frame, reimported], ignore_index=True)


EVENT_CHUNK_ROWS = 500_000


def engagement_events(size: DemoSize, as_of: pd.Timestamp, people: pd.DataFrame) -> pd.DataFrame:
    return pd.concat(engagement_event_chunks(size, as_of, people), ignore_index=True)


def engagement_event_chunks(
    size: DemoSize, as_of: pd.Timestamp, people: pd.DataFrame, chunk_rows: int = EVENT_CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """The events in chunks of `chunk_rows`: the same rows as one frame, but only the random draws
    (a few bytes per event) are held whole; the text columns exist a chunk at a time."""
    rng = np.random.default_rng(size.seed + 1)
    activity = rng.gamma(shape=0.8, scale=1.0, size=len(people))
    activity = activity / activity.sum()
    n = int(len(people) * size.events_per_customer)
    who = rng.choice(len(people), size=n, p=activity).astype(np.int32)  # held for the whole export: half the bytes
    recency_days = np.where(rng.random(len(people)) < 0.35, 400, 180)  # a third went quiet long ago
    age_seconds = (rng.random(n) * recency_days[who] * 86_400).astype(np.int32)  # at most 400 days: 34.6 M s
    campaign = rng.integers(1, 60, size=n).astype(np.uint8)
    event_type = rng.choice(3, size=n, p=np.array([0.72, 0.22, 0.06])).astype(np.uint8)
    octets = _octets(rng, n)
    agent = rng.choice(len(USER_AGENTS), size=n).astype(np.uint8)
    workspaces, contacts = people["workspace_id"].to_numpy(), people["customer_id"].to_numpy()
    # Repeated values refer to one string each, as a reader's shared values do.
    campaigns, kinds, agents = _numbered("cmp_", np.arange(60), 3).to_numpy(), np.array(["open", "click", "convert"], dtype=object), USER_AGENTS.astype(object)
    for start in range(0, n, chunk_rows):
        part = slice(start, min(start + chunk_rows, n))
        rows = part.stop - part.start
        yield pd.DataFrame(
            {
                "event_id": _numbered("evt_", np.arange(part.start, part.stop), 9),
                "workspace_id": workspaces[who[part]],
                "customer_id": contacts[who[part]],
                "campaign_id": pd.array(campaigns[campaign[part]], dtype="string"),
                "event_type": kinds[event_type[part]],
                "occurred_at": as_of - pd.to_timedelta(age_seconds[part], unit="s"),
                "ip_address": _ipv4_text([octet[part] for octet in octets]),
                "user_agent": agents[agent[part]],
            },
            index=pd.RangeIndex(rows),
        )


def consent_records(size: DemoSize, as_of: pd.Timestamp, people: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(size.seed + 2)
    n = len(people)
    rows = []
    for position, purpose in enumerate(CONSENT_PURPOSES):
        granted_at = _timestamps(rng, as_of, n, 700)
        rows.append(
            pd.DataFrame(
                {
                    "consent_id": f"cns_{position}_" + pd.Series(np.arange(n)).astype("string").str.zfill(7),
                    "workspace_id": people["workspace_id"].to_numpy(),
                    "customer_id": people["customer_id"].to_numpy(),
                    "purpose": purpose,
                    "status": "granted",
                    "recorded_at": granted_at,
                }
            )
        )
        withdrew = rng.random(n) < 0.08
        withdrawn = rows[-1].loc[withdrew].copy()
        withdrawn["consent_id"] = withdrawn["consent_id"] + "_w"
        withdrawn["status"] = "withdrawn"
        later = withdrawn["recorded_at"] + pd.to_timedelta(rng.integers(1, 60, size=len(withdrawn)), unit="D")
        withdrawn["recorded_at"] = later.clip(upper=as_of)  # nothing is recorded in the future
        rows.append(withdrawn)
    return pd.concat(rows, ignore_index=True)


def search_logs(size: DemoSize, as_of: pd.Timestamp, people: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(size.seed + 3)
    n = max(1, len(people) // 4)
    who = rng.choice(len(people), size=n)
    return pd.DataFrame(
        {
            "search_id": "srch_" + pd.Series(np.arange(n)).astype("string").str.zfill(8),
            "workspace_id": people["workspace_id"].to_numpy()[who],
            "customer_id": people["customer_id"].to_numpy()[who],
            "query": _pick(rng, SEARCH_TERMS, n),
            "searched_at": _timestamps(rng, as_of, n, 28),  # a daily export of the last four weeks
            "ip_address": _ipv4(rng, n),
        }
    )
