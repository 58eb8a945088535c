"""The record of processing activities, Art. 30(1) (a)–(g), one section per activity; processors'
entries also name the controller they act for (Art. 30(2))."""

from __future__ import annotations

from compliance_assets.register import Register
from compliance_assets.reports.render import table


def _transfers(activity) -> str:
    outside = [s for s in activity.sub_processors if not s.in_eea]
    if not outside:
        return "None: every sub-processor is in the EU/EEA."
    return "; ".join(f"{s.name} ({s.country}), safeguard: {s.transfer_basis.value}" for s in outside)


def ropa_entries(register: Register) -> list[dict]:
    entries = []
    for key, activity in register.activities.items():
        entries.append(
            {
                "activity": key,
                "name": activity.name,
                "a_controller": activity.controller,
                "a_role": activity.role.value,
                "a_contacts": activity.owners,
                "b_purpose": activity.purpose,
                "b_data_use": activity.data_use,
                "b_legal_basis": activity.legal_basis.value,
                "b_special_categories": register.special_categories(key),
                "b_special_category_basis": activity.special_category_basis.value if activity.special_category_basis else None,
                "c_data_subjects": activity.data_subjects,
                "c_data_categories": activity.data_categories,
                "d_recipients": activity.recipients + [f"{s.name} ({s.service})" for s in activity.sub_processors],
                "d_sub_processors": [s.model_dump(mode="json") for s in activity.sub_processors],
                "e_transfers": _transfers(activity),
                "f_retention": {category: {"period": r.period, "reason": r.reason} for category, r in activity.retention.items()},
                "g_security_measures": activity.security_measures,
                "assets": [n for n in register.asset_names if register.entry(n).activity == key],
            }
        )
    return entries


def ropa_markdown(register: Register) -> str:
    lines = ["# Record of processing activities (Art. 30 GDPR)", "", f"{len(register.activities)} processing activities, generated from the register.", ""]
    for entry in ropa_entries(register):
        lines += [
            f"## {entry['name']} (`{entry['activity']}`)", "",
            table(
                ["Art. 30(1)", "entry"],
                [
                    ("(a) controller and contacts", f"{entry['a_controller']} (we act as {entry['a_role']}); contacts: {', '.join(entry['a_contacts'])}"),
                    ("(b) purposes", f"{entry['b_purpose']} Data use `{entry['b_data_use']}`, legal basis: {entry['b_legal_basis']}"
                     + (f"; special categories (Art. 9): {', '.join(entry['b_special_categories'])}, basis: {entry['b_special_category_basis']}" if entry["b_special_categories"] else "")),
                    ("(c) data subjects", ", ".join(entry["c_data_subjects"])),
                    ("(c) personal data", ", ".join(entry["c_data_categories"])),
                    ("(d) recipients", "; ".join(entry["d_recipients"]) or "none"),
                    ("(e) third-country transfers", entry["e_transfers"]),
                    ("(f) time limits for erasure", "; ".join(f"{c}: {v['period']}: {v['reason']}" for c, v in entry["f_retention"].items())),
                    ("(g) security measures", "; ".join(entry["g_security_measures"])),
                    ("assets", ", ".join(entry["assets"])),
                ],
            ),
            "",
        ]
    return "\n".join(lines)
