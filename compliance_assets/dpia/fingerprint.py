"""What a DPIA approval covers, as a fingerprint: the activity's assets and their upstream lineage
(keys, dependencies, column lineage, data category per column, model/code versions), its
sub-processors and countries, its automated decisions, and what the latest runs measured: the scale
band of its sources, the subjects its feature sets hold and how many rows show minors.

Diffing two fingerprints says *what* changed in words a DPO understands. Plain data in, plain
data out: `dpia/lineage.py` reads the fingerprint's inputs from Dagster."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum

SCALE_BANDS = (10_000, 100_000, 1_000_000, 10_000_000)
BAND_LABELS = ("under 10 thousand", "10 thousand to 100 thousand", "100 thousand to 1 million", "1 million to 10 million", "10 million or more")


def scale_band(rows: int | None) -> int | None:
    return None if rows is None else sum(rows >= edge for edge in SCALE_BANDS)


def band_label(band: int | None) -> str:
    return "not yet measured" if band is None else BAND_LABELS[band]


class ChangeKind(StrEnum):
    NEW_DATA_CATEGORY = "new_data_category"
    NEW_SUB_PROCESSOR = "new_sub_processor"
    SCALE_INCREASE = "scale_increase"
    NEW_AUTOMATED_DECISION = "new_automated_decision"
    CODE_CHANGE = "model_or_code_change"
    NEW_UPSTREAM_SOURCE = "new_upstream_source"
    NEW_VULNERABLE_SUBJECTS = "new_vulnerable_subjects"
    OTHER = "other_change"


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    text: str


@dataclass(frozen=True)
class Fingerprint:
    activity: str
    assets: dict[str, dict] = field(default_factory=dict)
    sub_processors: list[dict] = field(default_factory=list)
    automated_decisions: dict = field(default_factory=dict)
    rows: int | None = None
    subjects: int | None = None
    under_18: int | None = None
    under_16: int | None = None
    measured_at: str | None = None  # ISO date of the latest run that measured; None: never measured

    def covered(self) -> dict:
        return {"activity": self.activity, "assets": self.assets, "sub_processors": self.sub_processors, "automated_decisions": self.automated_decisions}

    @property
    def band(self) -> int | None:
        return scale_band(self.rows)

    @property
    def digest(self) -> str:
        """Identifies what was approved: everything but the scale, which is compared by band."""
        return hashlib.sha256(json.dumps(self.covered(), sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    @property
    def identity(self) -> str:
        """One review per distinct state: the digest, the scale band and whether minors show."""
        minors = ":minors" if self.under_18 else ""
        return hashlib.sha256(f"{self.digest}:{self.band}{minors}".encode()).hexdigest()[:24]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping) -> Fingerprint:
        return cls(**{k: data[k] for k in MEASURES + ("activity", "assets", "sub_processors", "automated_decisions", "measured_at") if k in data})

    def with_measures_of(self, other: Fingerprint) -> Fingerprint:
        """This state with `other`'s figures, marked as not measured by a run of this one."""
        return replace(self, **{k: getattr(other, k) for k in MEASURES}, measured_at=None)


MEASURES = ("rows", "subjects", "under_18", "under_16")


def covered_assets(records: Mapping[str, Mapping], activity: str) -> list[str]:
    """The activity's assets and everything upstream of them."""
    stack = [name for name, record in records.items() if record["activity"] == activity]
    seen: set[str] = set()
    while stack:
        name = stack.pop()
        if name in seen or name not in records:
            continue
        seen.add(name)
        stack.extend(records[name]["deps"])
    return sorted(seen)


def fingerprint_of(activity: str, records: Mapping[str, Mapping], measured: Mapping[str, Mapping] | None = None) -> Fingerprint:
    """`records` maps asset names to their facts (tier, activity, deps, columns, column_sources,
    model_version, sub_processors, automated_decisions); `measured` what each asset's latest
    materialisation counted (rows, subjects, under_18, under_16, at: its ISO timestamp)."""
    names = covered_assets(records, activity)
    own = next((records[n] for n in names if records[n]["activity"] == activity), None)
    latest = {n: measured[n] for n in names if measured and n in measured}

    def figures(key: str, tier: str) -> list[int]:
        return [m[key] for n, m in latest.items() if records[n]["tier"] == tier and m.get(key) is not None]

    counted, subjects, under_18, under_16 = figures("rows", "raw"), figures("subjects", "pseudonymised"), figures("under_18", "raw"), figures("under_16", "raw")
    return Fingerprint(
        activity=activity,
        assets={n: {k: records[n][k] for k in ("tier", "activity", "deps", "columns", "column_sources", "model_version")} for n in names},
        sub_processors=sorted(own["sub_processors"], key=lambda s: (s["name"], s["country"])) if own else [],
        automated_decisions=dict(own["automated_decisions"]) if own else {},
        rows=max(counted) if counted else None,
        subjects=max(subjects) if subjects else None,
        under_18=sum(under_18) if under_18 else None,
        under_16=sum(under_16) if under_16 else None,
        measured_at=max(m["at"] for m in latest.values())[:10] if latest else None,
    )


def changes(approved: Fingerprint, current: Fingerprint) -> list[Change]:
    """What differs between the approved state and now; empty when nothing needs a review. A
    smaller scale or a removed part is still listed (as 'other'), but only when the digest moved."""
    out: list[Change] = []
    out += _asset_changes(approved.assets, current.assets)
    out += _category_changes(approved.assets, current.assets)
    out += _sub_processor_changes(approved.sub_processors, current.sub_processors)
    out += _decision_changes(approved.automated_decisions, current.automated_decisions)
    if approved.band is not None and current.band is not None and current.band > approved.band:
        out.append(
            Change(
                ChangeKind.SCALE_INCREASE,
                f"The largest source grew to {current.rows:,} rows: from '{band_label(approved.band)}' to '{band_label(current.band)}'.",
            )
        )
    if approved.under_18 == 0 and current.under_18:
        out.append(Change(ChangeKind.NEW_VULNERABLE_SUBJECTS, f"The data now shows minors: {current.under_18:,} row(s) of its sources are of subjects under 18."))
    return out


def _asset_changes(before: Mapping[str, Mapping], after: Mapping[str, Mapping]) -> list[Change]:
    out = []
    for name in sorted(set(after) - set(before)):
        record = after[name]
        if record["tier"] == "raw":
            out.append(Change(ChangeKind.NEW_UPSTREAM_SOURCE, f"New upstream source '{name}' (raw personal data of activity '{record['activity']}') now feeds this processing."))
        else:
            out.append(Change(ChangeKind.OTHER, f"New asset '{name}' ({record['tier']} tier) in the lineage."))
    for name in sorted(set(before) - set(after)):
        out.append(Change(ChangeKind.OTHER, f"Asset '{name}' is no longer part of this processing."))
    for name in sorted(set(before) & set(after)):
        old, new = before[name], after[name]
        if old["model_version"] != new["model_version"]:
            out.append(Change(ChangeKind.CODE_CHANGE, f"The code that computes '{name}' changed (model/code version {old['model_version']} → {new['model_version']})."))
        for dep in sorted(set(new["deps"]) - set(old["deps"])):
            if dep in before:
                out.append(Change(ChangeKind.OTHER, f"'{name}' now also reads '{dep}'."))
        if old["column_sources"] != new["column_sources"]:
            moved = sorted(c for c in set(old["column_sources"]) | set(new["column_sources"]) if old["column_sources"].get(c) != new["column_sources"].get(c))
            out.append(Change(ChangeKind.OTHER, f"Column lineage of '{name}' changed for: {', '.join(moved)}."))
        if set(old["columns"]) != set(new["columns"]):
            added, removed = sorted(set(new["columns"]) - set(old["columns"])), sorted(set(old["columns"]) - set(new["columns"]))
            out.append(Change(ChangeKind.OTHER, f"Columns of '{name}' changed: added {added or 'none'}, removed {removed or 'none'}."))
    return out


def _categories(assets: Mapping[str, Mapping]) -> dict[str, list[str]]:
    where: dict[str, list[str]] = {}
    for name, record in assets.items():
        for column, category in record["columns"].items():
            where.setdefault(category, []).append(f"{name}.{column}")
    return where


def _category_changes(before: Mapping[str, Mapping], after: Mapping[str, Mapping]) -> list[Change]:
    old, new = _categories(before), _categories(after)
    out = [
        Change(ChangeKind.NEW_DATA_CATEGORY, f"New data category '{category}' is processed (column {', '.join(sorted(new[category]))}).")
        for category in sorted(set(new) - set(old))
    ]
    out += [Change(ChangeKind.OTHER, f"Data category '{category}' is no longer processed.") for category in sorted(set(old) - set(new))]
    return out


def _sub_processor_changes(before: list[Mapping], after: list[Mapping]) -> list[Change]:
    old = {(s["name"], s["country"]): s for s in before}
    new = {(s["name"], s["country"]): s for s in after}
    out = []
    for key in sorted(set(new) - set(old)):
        sub = new[key]
        basis = f", transfer basis {sub['transfer_basis']}" if sub.get("transfer_basis") else ""
        out.append(Change(ChangeKind.NEW_SUB_PROCESSOR, f"New sub-processor '{sub['name']}' ({sub['service']}) in {sub['country']}{basis}."))
    out += [Change(ChangeKind.OTHER, f"Sub-processor '{name}' in {country} is no longer used.") for name, country in sorted(set(old) - set(new))]
    return out


def _decision_changes(before: Mapping, after: Mapping) -> list[Change]:
    if after.get("present") and (not before.get("present") or before != after):
        return [Change(ChangeKind.NEW_AUTOMATED_DECISION, f"New automated decision (Art. 22, basis {after.get('art22_basis')}): {after.get('description') or 'no description'}.")]
    if before.get("present") and not after.get("present"):
        return [Change(ChangeKind.OTHER, "Automated decisions were removed.")]
    return []
