"""Rules between DPIA documents and the register: a restated fact must match the register, a
criterion the register decides must not be contradicted, and an activity that meets two WP248
criteria, or processes special categories on a large scale (Art. 35(3)(b)), must have a DPIA."""

from __future__ import annotations

from typing import TYPE_CHECKING

from compliance_assets.register.criteria import REQUIRED_FROM, derived_criteria
from compliance_assets.register.dpia_document import Criterion
from compliance_assets.register.loader import RegisterProblem

if TYPE_CHECKING:
    from compliance_assets.register.register import Register


def dpia_problems(register: Register) -> list[RegisterProblem]:
    out: list[RegisterProblem] = []
    seen: dict[str, str] = {}
    for file_key, parsed in register.files.items():
        if not file_key.startswith("dpia/"):
            continue
        document = parsed.model
        activity = register.activities.get(document.activity)
        if activity is None:
            out.append(parsed.problem(("activity",), f"unknown processing activity '{document.activity}'"))
            continue
        if document.activity in seen:
            out.append(parsed.problem(("activity",), f"activity '{document.activity}' already has a DPIA in {seen[document.activity]}"))
        seen[document.activity] = file_key
        restated = {
            ("description", "data_categories"): (document.description.data_categories, activity.data_categories),
            ("description", "data_subjects"): (document.description.data_subjects, activity.data_subjects),
            ("description", "purpose"): (document.description.purpose, activity.purpose),
            ("necessity", "legal_basis"): (document.necessity.legal_basis, activity.legal_basis.value),
        }
        for location, (typed, registered) in restated.items():
            if typed is not None and _normal(typed) != _normal(registered):
                out.append(parsed.problem(location, f"says {typed!r} but the register says {registered!r} (leave it out: it is computed)"))
        for criterion, derived in derived_criteria(register, document.activity).items():
            assessed = document.criteria.get(criterion)
            if assessed is not None and assessed.triggered is not None and assessed.triggered != derived.triggered:
                state = "triggered" if derived.triggered else "not triggered"
                out.append(
                    parsed.problem(
                        ("criteria", criterion.value, "triggered"),
                        f"contradicts the register, which makes it {state} for activity '{document.activity}': {derived.reason}",
                    )
                )
    activities_file = register.files["activities.yaml"]
    for key in register.activities:
        if key in seen:
            continue
        derived = derived_criteria(register, key)
        triggered = [c.value for c, d in derived.items() if d.triggered and c is not Criterion.SPECIAL_CATEGORIES_AT_SCALE]
        at_scale = derived.get(Criterion.SPECIAL_CATEGORIES_AT_SCALE)
        if at_scale is not None and at_scale.triggered:
            out.append(activities_file.problem(("activities", key), f"{at_scale.reason}: add it in register/dpia/"))
        elif len(triggered) >= REQUIRED_FROM:
            out.append(
                activities_file.problem(
                    ("activities", key),
                    f"meets {len(triggered)} WP248 criteria ({', '.join(triggered)}): a DPIA is required in register/dpia/",
                )
            )
    return out


def _normal(value: object) -> object:
    if isinstance(value, list):
        return sorted(value)
    return " ".join(str(value).split())
