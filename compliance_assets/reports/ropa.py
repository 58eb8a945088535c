"""The record of processing activities: an Art. 30(1) record for each activity we control and an
Art. 30(2) record for each we process on a controller's behalf, in the fields of the ICO and CNIL
templates. Every field names its evidence (the register's file, line and field, or the assets),
or says in words what the register lacks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from compliance_assets.register import Register
from compliance_assets.register.models import ProcessingActivity, Role
from compliance_assets.register.taxonomy import is_special_category
from compliance_assets.reports.render import table

ACTIVITIES_FILE = "activities.yaml"


@dataclass(frozen=True)
class RecordField:
    """One field of a record: its value as data (what the exports are checked on), as the DPO
    reads it, and where it comes from; or, when the register lacks it, what is missing."""

    title: str
    value: object = None
    text: str = ""
    evidence: list[str] = field(default_factory=list)
    missing: str | None = None

    @property
    def entry(self) -> str:
        return f"missing: {self.missing}" if self.missing else self.text


def _readable(value: object) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(str(v) for v in value) or "none"
    return str(value)


class _Fields:
    """Builds one activity's fields, each with the register lines it comes from."""

    def __init__(self, register: Register, key: str):
        self.register, self.key = register, key
        parsed = register.files.get(ACTIVITIES_FILE)
        self.lines = parsed.lines if parsed is not None else {}

    def evidence(self, *names: str) -> list[str]:
        """The register lines of the fields a value comes from (those the file leaves out to a
        default are named without a line)."""
        present = [n for n in names if ("activities", self.key, n) in self.lines] or list(names)
        out = []
        for name in present:
            line = self.lines.get(("activities", self.key, name))
            out.append(f"{ACTIVITIES_FILE}:{line} `activities.{self.key}.{name}`" if line else f"{ACTIVITIES_FILE} `activities.{self.key}.{name}`")
        return out

    def of(self, title: str, value: object, *names: str, missing: str | None = None, text: str | None = None) -> RecordField:
        if value in (None, "", []) and missing:
            return RecordField(title, None, "", [f"to add: {ACTIVITIES_FILE} `activities.{self.key}.{names[0]}`"], missing)
        return RecordField(title, value, _readable(value) if text is None else text, self.evidence(*names))


def _transfers(activity: ProcessingActivity) -> list[str]:
    outside = [s for s in activity.sub_processors if not s.in_eea]
    return [f"{s.name} ({s.country}), safeguard: {s.transfer_basis.value if s.transfer_basis else 'none recorded'}" for s in outside] or [
        "none: every sub-processor is in the EU/EEA"
    ]


def _special_columns(register: Register, key: str) -> list[str]:
    """Where the register puts a special category in a column of the activity's assets."""
    out = []
    for file, section, entries, columns in (("sources.yaml", "sources", register.sources, "columns"), ("features.yaml", "feature_sets", register.feature_sets, "features")):
        lines = register.files[file].lines if file in register.files else {}
        for name, entry in entries.items():
            if entry.activity != key:
                continue
            for column, spec in getattr(entry, columns).items():
                if is_special_category(spec.category):
                    line = lines.get((section, name, columns, column))
                    out.append(f"{file}:{line} `{section}.{name}.{columns}.{column}`" if line else f"{file} `{section}.{name}.{columns}.{column}`")
    return out


def _party(party) -> str | None:
    return f"{party.name}, {party.contact}" if party is not None else None


def record_fields(register: Register, key: str) -> dict[str, RecordField]:
    """The fields of one activity's record: Art. 30(1) for a controller, Art. 30(2) for a processor,
    then what both templates also keep (subjects, data, retention, Art. 9 basis)."""
    activity = register.activities[key]
    f = _Fields(register, key)
    dpo = f.of("data protection officer", _party(activity.dpo), "dpo", missing="no DPO contact in the register")
    transfers = f.of("transfers to third countries and their safeguards", _transfers(activity), "sub_processors")
    security = f.of("technical and organisational security measures (Art. 32(1))", activity.security_measures, "security_measures")
    special = register.special_categories(key)

    def retention(title: str) -> RecordField:
        periods = {c: {"period": r.period, "reason": r.reason} for c, r in activity.retention.items()}
        return f.of(title, periods, "retention", text="; ".join(f"{c}: {r['period']} ({r['reason']})" for c, r in periods.items()))

    def recipients(title: str) -> RecordField:
        value = {"recipients": activity.recipients, "sub_processors": [s.model_dump(mode="json") for s in activity.sub_processors]}
        text = "; ".join([*activity.recipients, *(f"{s.name} ({s.service}, {s.country})" for s in activity.sub_processors)]) or "none"
        return f.of(title, value, "recipients", "sub_processors", text=text)

    if activity.role is Role.CONTROLLER:
        fields = {
            "controller": f.of("(a) name of the controller", activity.controller, "controller"),
            "controller_contact": f.of("(a) contact details of the controller", activity.controller_contact, "controller_contact", missing="no controller contact in the register"),
            "dpo": RecordField("(a) " + dpo.title, dpo.value, dpo.text, dpo.evidence, dpo.missing),
            "purposes": f.of("(b) purposes of the processing", f"{activity.purpose} (data use `{activity.data_use}`)", "purpose", "data_use"),
            "data_subjects": f.of("(c) categories of data subjects", activity.data_subjects, "data_subjects"),
            "data_categories": f.of("(c) categories of personal data", activity.data_categories, "data_categories"),
            "recipients": recipients("(d) categories of recipients"),
            "transfers": RecordField("(e) " + transfers.title, transfers.value, transfers.text, transfers.evidence),
            "retention": retention("(f) time limits for erasure"),
            "security_measures": RecordField("(g) " + security.title, security.value, security.text, security.evidence),
        }
    else:
        fields = {
            "processor": f.of("(a) name and contact details of the processor", _party(activity.processor), "processor", missing="no processor name and contact in the register"),
            "controller": f.of("(a) each controller on whose behalf the processor acts", activity.controller, "controller"),
            "controller_contact": f.of("(a) contact details of each controller", activity.controller_contact, "controller_contact", missing="no controller contact in the register"),
            "dpo": RecordField("(a) " + dpo.title, dpo.value, dpo.text, dpo.evidence, dpo.missing),
            "processing_categories": f.of(
                "(b) categories of processing carried out on behalf of each controller", activity.processing_categories, "processing_categories",
                missing="no categories of processing in the register",
            ),
            "transfers": RecordField("(c) " + transfers.title, transfers.value, transfers.text, transfers.evidence),
            "security_measures": RecordField("(d) " + security.title, security.value, security.text, security.evidence),
            "purposes": f.of("purpose the controller sets", f"{activity.purpose} (data use `{activity.data_use}`)", "purpose", "data_use"),
            "data_subjects": f.of("categories of data subjects", activity.data_subjects, "data_subjects"),
            "data_categories": f.of("categories of personal data", activity.data_categories, "data_categories"),
            "recipients": recipients("recipients and sub-processors"),
            "retention": retention("time limits for erasure"),
        }
    fields["legal_basis"] = f.of("legal basis (Art. 6)", activity.legal_basis.value, "legal_basis")
    if activity.vulnerable_groups:
        fields["vulnerable_groups"] = f.of("vulnerable data subjects", [g.value for g in activity.vulnerable_groups], "vulnerable_groups")
    basis = activity.special_category_basis.value if activity.special_category_basis else None
    fields["special_categories"] = RecordField(
        "special categories (Art. 9) and their basis",
        {"categories": special, "basis": basis},
        f"{', '.join(special)}; basis: {basis}" if special else "none",
        (f.evidence("special_category_basis") + _special_columns(register, key)) if special else f.evidence("data_categories"),
    )
    assets = register.assets_of(key)
    fields["assets"] = RecordField("assets that carry out the processing", assets, _readable(assets), [f"Dagster asset `{a}`" for a in assets])
    return fields


def ropa_entries(register: Register) -> list[dict]:
    """The record as JSON: each field as data, as text, and with its evidence."""
    entries = []
    for key, activity in register.activities.items():
        fields = record_fields(register, key)
        entries.append(
            {
                "activity": key,
                "name": activity.name,
                "article": "30(1)" if activity.role is Role.CONTROLLER else "30(2)",
                "role": activity.role.value,
                "fields": {name: asdict(value) for name, value in fields.items()},
            }
        )
    return entries


def missing_fields(register: Register) -> dict[str, list[str]]:
    """Per activity, the fields its record marks missing."""
    return {key: [f.missing for f in record_fields(register, key).values() if f.missing] for key in register.activities}


def ropa_markdown(register: Register) -> str:
    controllers = sum(a.role is Role.CONTROLLER for a in register.activities.values())
    lines = [
        "# Record of processing activities (Art. 30 GDPR)", "",
        f"{len(register.activities)} processing activities, generated from the register: {controllers} as controller "
        f"(Art. 30(1)), {len(register.activities) - controllers} as processor (Art. 30(2)). Each field names where it comes from.", "",
    ]
    for entry in ropa_entries(register):
        fields = record_fields(register, entry["activity"])
        lines += [
            f"## {entry['name']} (`{entry['activity']}`): Art. {entry['article']} record", "",
            table([f"Art. {entry['article']}", "entry", "evidence"], [(f.title, f.entry, "; ".join(f.evidence)) for f in fields.values()]),
            "",
        ]
    return "\n".join(lines)
