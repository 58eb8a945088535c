"""The AI processing schedule (the annex to a data processing agreement, AVV): per AI processing
activity (one that extracts features for models or analytics through the feature registry) its
purpose, data categories, anonymisation method, legal basis, sub-processors, residency, retention
and training use. Machine-readable as JSON and as Fides systems and datasets; readable as Markdown."""

from __future__ import annotations

from fideslang.models import Dataset, System

from compliance_assets.register import Register
from compliance_assets.register.models import EEA_COUNTRIES
from compliance_assets.reports.render import table


def ai_activities(register: Register) -> list[str]:
    return sorted({fs.activity for fs in register.feature_sets.values()})


def _anonymisation(register: Register, key: str) -> str:
    activity = register.activities[key]
    cohorts = [n for n, c in register.cohorts.items() if c.activity == key]
    method = f"keyed HMAC-SHA256 pseudonymisation (domain '{activity.pseudonymisation_domain or key}')"
    if cohorts:
        method += f"; released only as cohorts of at least k = {activity.k_anonymity} subjects with complementary suppression ({', '.join(cohorts)})"
    return method


def schedule_entries(register: Register) -> list[dict]:
    entries = []
    for key in ai_activities(register):
        activity = register.activities[key]
        countries = sorted({s.country for s in activity.sub_processors})
        entries.append(
            {
                "activity": key,
                "name": activity.name,
                "role": activity.role.value,
                "purpose": activity.purpose,
                "data_subjects": activity.data_subjects,
                "data_categories": activity.data_categories,
                "special_categories": register.special_categories(key),
                "special_category_basis": activity.special_category_basis.value if activity.special_category_basis else None,
                "anonymisation_method": _anonymisation(register, key),
                "legal_basis": activity.legal_basis.value,
                "sub_processors": [s.model_dump(mode="json") for s in activity.sub_processors],
                "data_residency": {
                    "countries": countries,
                    "outside_eea": [c for c in countries if c not in EEA_COUNTRIES],
                },
                "retention": {category: r.period for category, r in activity.retention.items()},
                "training_use": activity.training_use,
                "cross_client_training": activity.cross_client_training,
                "feature_sets": sorted(n for n, fs in register.feature_sets.items() if fs.activity == key),
            }
        )
    return entries


def schedule_markdown(register: Register) -> str:
    entries = schedule_entries(register)
    lines = ["# AI processing schedule (annex to the data processing agreement)", ""]
    for e in entries:
        lines += [
            f"## {e['name']} (`{e['activity']}`)", "",
            table(
                ["item", "entry"],
                [
                    ("role", e["role"]),
                    ("purpose", e["purpose"]),
                    ("data subjects", ", ".join(e["data_subjects"])),
                    ("data categories", ", ".join(e["data_categories"])),
                    ("special categories (Art. 9)", f"{', '.join(e['special_categories'])}; basis: {e['special_category_basis']}" if e["special_categories"] else "none"),
                    ("anonymisation method", e["anonymisation_method"]),
                    ("legal basis", e["legal_basis"]),
                    ("sub-processors", "; ".join(f"{s['name']}, {s['service']} ({s['country']}{', ' + s['transfer_basis'] if s['transfer_basis'] else ''})" for s in e["sub_processors"]) or "none"),
                    ("data residency", ", ".join(e["data_residency"]["countries"]) + (f" (outside the EEA: {', '.join(e['data_residency']['outside_eea'])})" if e["data_residency"]["outside_eea"] else "")),
                    ("retention", "; ".join(f"{c}: {p}" for c, p in e["retention"].items())),
                    ("training use", ("yes" if e["training_use"] else "no") + ("; across clients" if e["cross_client_training"] else "")),
                    ("feature sets", ", ".join(e["feature_sets"])),
                ],
            ),
            "",
        ]
    return "\n".join(lines)


def fides_export(register: Register) -> dict:
    """Fides systems (one per AI activity) and datasets (one per asset), validated by fideslang."""
    datasets = []
    for name in register.asset_names:
        entry = register.entry(name)
        if name in register.sources:
            fields = [{"name": c, "description": s.description, "data_categories": [s.category]} for c, s in entry.columns.items()]
        elif name in register.feature_sets:
            fields = [{"name": entry.subject_key, "data_categories": ["user.unique_id.pseudonymous"]}]
            fields += [{"name": f, "description": s.extraction, "data_categories": [s.category]} for f, s in entry.features.items()]
        else:
            fields = [{"name": d, "data_categories": ["system.operations"]} for d in [*entry.dimensions, *entry.measures]]
        datasets.append(Dataset.model_validate({"fides_key": name, "name": name, "description": entry.description, "collections": [{"name": name, "fields": fields}]}))
    systems = []
    for e in schedule_entries(register):
        activity = register.activities[e["activity"]]
        references = [n for n in register.asset_names if register.entry(n).activity == e["activity"]]
        outside = [s for s in activity.sub_processors if not s.in_eea]
        systems.append(
            System.model_validate(
                {
                    "fides_key": e["activity"],
                    "name": e["name"],
                    "description": e["purpose"],
                    "system_type": "Service",
                    "responsibility": [activity.role.value.capitalize()],
                    "dataset_references": references,
                    "does_international_transfers": bool(outside),
                    "legal_basis_for_transfers": sorted({s.transfer_basis.value for s in outside}),
                    "requires_data_protection_assessments": e["activity"] in register.dpias,
                    "privacy_declarations": [
                        {
                            "name": e["name"],
                            "data_categories": activity.data_categories,
                            "data_use": activity.data_use,
                            "data_subjects": activity.data_subjects,
                            "dataset_references": references,
                            "legal_basis_for_processing": activity.legal_basis.value,
                            "retention_period": ", ".join(sorted({r.period for r in activity.retention.values()})),
                            "processes_special_category_data": bool(e["special_categories"]),
                            "special_category_legal_basis": e["special_category_basis"] if e["special_categories"] else None,
                        }
                    ],
                }
            )
        )
    return {
        "system": [s.model_dump(mode="json", exclude_none=True) for s in systems],
        "dataset": [d.model_dump(mode="json", exclude_none=True) for d in datasets],
    }
