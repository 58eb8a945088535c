"""Why rows were quarantined, counted by cause, and whether a run may still publish.

A bad row never fails a run on its own: it is set aside with its reason and counted. What fails
a run is a share of bad rows above the source's `max_quarantined_fraction`, and then the failure
says in words what was wrong ("4 duplicate subject ids in stroke_patients"), since a share alone
does not tell anyone what to fix."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

UNREADABLE = "unreadable"
OUTSIDE_VALUE_SET = "outside_value_set"
UNCLOCKED = "unclocked"
OUTSIDE_DAYS = "outside_days"
NO_IDENTIFIER = "no_identifier"
DUPLICATE_ID = "duplicate_id"

_SAID: dict[str, tuple[str, str]] = {
    UNREADABLE: ("row with a value its column's type cannot read", "rows with a value their column's type cannot read"),
    OUTSIDE_VALUE_SET: ("row with a value outside its registered set", "rows with a value outside its registered set"),
    UNCLOCKED: ("row without the time its retention counts from", "rows without the time their retention counts from"),
    OUTSIDE_DAYS: ("row outside the days the run loads", "rows outside the days the run loads"),
    NO_IDENTIFIER: ("row without a subject identifier", "rows without a subject identifier"),
    DUPLICATE_ID: ("duplicate subject id", "duplicate subject ids"),
}
CAUSES = tuple(_SAID)
NOT_JUDGED = frozenset({OUTSIDE_DAYS})
"""Causes that say nothing about the data's quality: a loader that hands other days' rows too has
them kept in quarantine, not lost, but they do not count towards the limit."""


@dataclass
class Tally:
    """What one run of one asset set aside, out of how many rows it was given. `rows[cause]` counts
    rows; `subjects[cause]`, where a cause is about subjects (a duplicated id), counts those."""

    source: str
    arrived: int = 0
    rows: Counter[str] = field(default_factory=Counter)
    subjects: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, cause: str, rows: int, subjects: int | None = None, reasons: Iterable[str] = ()) -> None:
        """`reasons` are the rows' own reasons (they name columns, never values)."""
        if cause not in _SAID:
            raise ValueError(f"unknown quarantine cause '{cause}' (known: {', '.join(CAUSES)})")
        if rows:
            self.rows[cause] += rows
        if subjects:
            self.subjects[cause] += subjects
        self.reasons.update(reasons)

    @property
    def quarantined(self) -> int:
        return sum(self.rows.values())

    @property
    def fraction(self) -> float:
        """The share of arriving rows set aside for what is wrong with them (`NOT_JUDGED` aside)."""
        judged = sum(rows for cause, rows in self.rows.items() if cause not in NOT_JUDGED)
        return judged / self.arrived if self.arrived else 0.0

    def within(self, max_fraction: float) -> bool:
        return self.fraction <= max_fraction

    def described(self) -> str:
        """Each cause in words, the largest first: '4 duplicate subject ids in stroke_patients
        (9 rows); 1 row with a value outside its registered set in stroke_patients'."""
        parts = []
        for cause, rows in sorted(self.rows.items(), key=lambda item: (-item[1], CAUSES.index(item[0]))):
            counted = self.subjects.get(cause) or rows
            singular, plural = _SAID[cause]
            text = f"{counted} {singular if counted == 1 else plural} in {self.source}"
            if counted != rows:
                text += f" ({rows} row{'' if rows == 1 else 's'})"
            parts.append(text)
        return "; ".join(parts) or f"nothing quarantined in {self.source}"
