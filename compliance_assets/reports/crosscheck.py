"""Every export against the register, field by field. A schema validates an export's shape;
only the register says whether its content is true: the Fides export once said census processing
held no special category while the source held race. Each activity's expected facts are derived
from the register alone, and each export is read back into the same facts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from compliance_assets.register import Register
from compliance_assets.register.models import EEA_COUNTRIES
from compliance_assets.register.taxonomy import is_special_category
from compliance_assets.reports.render import table

FIDES = "fides.yaml"
ROPA = "ropa.json"
SCHEDULE = "ai_processing_schedule.json"
DPIA = "dpia"


@dataclass(frozen=True)
class Mismatch:
    activity: str
    export: str
    field: str
    expected: object
    found: object

    def __str__(self) -> str:
        return f"{self.export}, activity '{self.activity}', field `{self.field}`: says {self.found!r}, the register says {self.expected!r}"


@dataclass(frozen=True)
class Exports:
    """The exports as written (read back from their files), and each DPIA's stated facts."""

    fides: Mapping
    ropa: list[Mapping]
    schedule: list[Mapping]
    dpias: Mapping[str, Mapping] = field(default_factory=dict)


def expected_facts(register: Register, key: str) -> dict:
    """What every export must say about one activity, from the register only."""
    activity = register.activities[key]
    outside = [s for s in activity.sub_processors if not s.in_eea]
    return {
        "role": activity.role.value,
        "legal_basis": activity.legal_basis.value,
        "special_categories": register.special_categories(key),
        "special_category_basis": activity.special_category_basis.value if activity.special_category_basis else None,
        "data_subjects": sorted(activity.data_subjects),
        "processors": sorted(s.name for s in activity.sub_processors),
        "residency": sorted({s.country for s in activity.sub_processors}),
        "transfers": sorted([s.name, s.country, s.transfer_basis.value if s.transfer_basis else None] for s in outside),
        "retention": {category: r.period for category, r in activity.retention.items()},
    }


# One comparison: the export's field, what the facts make of it, what the export says.
Comparison = tuple[str, Callable[[dict], object], object]


def _fact(name: str) -> Callable[[dict], object]:
    return lambda facts: facts[name]


def _from_sub_processors(prefix: str, subs: list[Mapping]) -> list[Comparison]:
    outside = [s for s in subs if s.get("country") not in EEA_COUNTRIES]
    return [
        (f"{prefix}[*].name", _fact("processors"), sorted(s.get("name") for s in subs)),
        (f"{prefix}[*].country", _fact("residency"), sorted({s.get("country") for s in subs})),
        (f"{prefix}[*].transfer_basis (outside the EEA)", _fact("transfers"), sorted([s.get("name"), s.get("country"), s.get("transfer_basis")] for s in outside)),
    ]


def _fides(export: Mapping, register: Register, key: str) -> list[Comparison] | None:
    system = next((s for s in export.get("system", []) if s.get("fides_key") == key), None)
    if system is None:
        return None
    declaration = (system.get("privacy_declarations") or [{}])[0]
    datasets = {d.get("fides_key"): d for d in export.get("dataset", [])}
    held = set(declaration.get("data_categories", []))
    for reference in system.get("dataset_references", []):
        for collection in datasets.get(reference, {}).get("collections", []):
            held |= {c for f in collection.get("fields", []) for c in f.get("data_categories", [])}
    d = "privacy_declarations[0]."
    retention = sorted(p.strip() for p in (declaration.get("retention_period") or "").split(",") if p.strip())
    return [
        ("responsibility", lambda f: [f["role"].capitalize()], system.get("responsibility")),
        (d + "legal_basis_for_processing", _fact("legal_basis"), declaration.get("legal_basis_for_processing")),
        (d + "processes_special_category_data", lambda f: bool(f["special_categories"]), declaration.get("processes_special_category_data")),
        (d + "special_category_legal_basis", lambda f: f["special_category_basis"] if f["special_categories"] else None, declaration.get("special_category_legal_basis")),
        ("dataset_references[*].fields[*].data_categories (Art. 9)", _fact("special_categories"), sorted(c for c in held if is_special_category(c))),
        (d + "data_subjects", _fact("data_subjects"), sorted(declaration.get("data_subjects", []))),
        (d + "retention_period", lambda f: sorted(set(f["retention"].values())), retention),
        ("does_international_transfers", lambda f: bool(f["transfers"]), system.get("does_international_transfers")),
        ("legal_basis_for_transfers", lambda f: sorted({t[2] for t in f["transfers"] if t[2]}), sorted(system.get("legal_basis_for_transfers") or [])),
    ]


def _schedule(export: list[Mapping], register: Register, key: str) -> list[Comparison] | None:
    entry = next((e for e in export if e.get("activity") == key), None)
    if entry is None:
        return None
    return [
        ("role", _fact("role"), entry.get("role")),
        ("legal_basis", _fact("legal_basis"), entry.get("legal_basis")),
        ("special_categories", _fact("special_categories"), sorted(entry.get("special_categories") or [])),
        ("special_category_basis", _fact("special_category_basis"), entry.get("special_category_basis")),
        ("data_subjects", _fact("data_subjects"), sorted(entry.get("data_subjects") or [])),
        *_from_sub_processors("sub_processors", entry.get("sub_processors") or []),
        ("data_residency.countries", _fact("residency"), sorted((entry.get("data_residency") or {}).get("countries") or [])),
        ("retention", _fact("retention"), entry.get("retention")),
    ]


def _ropa(export: list[Mapping], register: Register, key: str) -> list[Comparison] | None:
    entry = next((e for e in export if e.get("activity") == key), None)
    if entry is None:
        return None
    fields = entry.get("fields") or {}

    def value(name: str, default: object = None) -> object:
        held = (fields.get(name) or {}).get("value")
        return default if held is None else held

    special = value("special_categories", {})
    recipients = value("recipients", {})
    return [
        ("role", _fact("role"), entry.get("role")),
        ("fields.legal_basis", _fact("legal_basis"), value("legal_basis")),
        ("fields.special_categories.categories", _fact("special_categories"), sorted(special.get("categories") or [])),
        ("fields.special_categories.basis", _fact("special_category_basis"), special.get("basis")),
        ("fields.data_subjects", _fact("data_subjects"), sorted(value("data_subjects", []))),
        *_from_sub_processors("fields.recipients.sub_processors", recipients.get("sub_processors") or []),
        ("fields.retention", _fact("retention"), {c: r.get("period") for c, r in value("retention", {}).items()}),
    ]


def _dpia(export: Mapping[str, Mapping], register: Register, key: str) -> list[Comparison] | None:
    facts = export.get(key)
    if facts is None:
        return None
    return [
        ("role", _fact("role"), facts.get("role")),
        ("legal_basis", _fact("legal_basis"), facts.get("legal_basis")),
        ("special_categories", _fact("special_categories"), sorted(facts.get("special_categories") or [])),
        ("special_category_basis", _fact("special_category_basis"), facts.get("special_category_basis")),
        ("data_subjects", _fact("data_subjects"), sorted(facts.get("data_subjects") or [])),
        *_from_sub_processors("sub_processors", facts.get("sub_processors") or []),
        ("retention", _fact("retention"), facts.get("retention")),
    ]


def covering(register: Register) -> dict[str, set[str]]:
    """Which exports must hold a record of each activity: the RoPA all of them, the AI schedule
    and Fides the AI activities (those with feature sets), a DPIA the activities that have one."""
    ai = {fs.activity for fs in register.feature_sets.values()}
    return {key: {ROPA} | ({FIDES, SCHEDULE} if key in ai else set()) | ({DPIA} if key in register.dpias else set()) for key in register.activities}


def export_mismatches(register: Register, exports: Exports) -> list[Mismatch]:
    """Every field of every export that disagrees with the register, and every record missing."""
    readers = {
        FIDES: lambda key: _fides(exports.fides, register, key),
        ROPA: lambda key: _ropa(exports.ropa, register, key),
        SCHEDULE: lambda key: _schedule(exports.schedule, register, key),
        DPIA: lambda key: _dpia(exports.dpias, register, key),
    }
    out = []
    for key, required in covering(register).items():
        facts = expected_facts(register, key)
        for export, read in readers.items():
            comparisons = read(key)
            if comparisons is None:
                if export in required:
                    out.append(Mismatch(key, export, "(record)", "a record of the activity", "no record"))
                continue
            for name, expected_of, found in comparisons:
                expected = expected_of(facts)
                if expected != found:
                    out.append(Mismatch(key, export, name, expected, found))
    return out


def mismatches_markdown(mismatches: list[Mismatch]) -> str:
    if not mismatches:
        return "Every export agrees with the register."
    rows = [(m.activity, m.export, f"`{m.field}`", m.found, m.expected) for m in mismatches]
    return f"{len(mismatches)} field(s) of the exports disagree with the register:\n\n" + table(["activity", "export", "field", "export says", "register says"], rows)
