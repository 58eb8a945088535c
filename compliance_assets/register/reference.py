"""The register reference (docs/register.md), written from the models themselves: every field, its
type and allowed values, whether it is required and what it means come from the code that
validates it, so the reference cannot drift from what the loader accepts.

    python -m compliance_assets.register.reference > docs/register.md
"""

from __future__ import annotations

import enum
import inspect
import sys
import types
import typing
from collections.abc import Iterator

from pydantic import BaseModel
from pydantic.fields import FieldInfo, PydanticUndefined

from compliance_assets.register.dpia_document import DpiaDocument
from compliance_assets.register.loader import FILES

DPIA_FILE = "dpia/<activity>.yaml"
TAXONOMY_CHECKS = {
    "check_data_category": "a fideslang data category, e.g. `user.contact.email`",
    "check_data_use": "a fideslang data use, e.g. `marketing.communications.email`",
    "check_data_subject": "a fideslang data subject, e.g. `customer`, `patient`, `employee`",
}
INTRODUCTION = """# Register reference

The register is a folder of YAML files that a code location is built from: `activities.yaml`
(the record of processing activities), `sources.yaml` (the raw tier), `features.yaml` (the
feature registry of the pseudonymised tier), `cohorts.yaml` (the aggregate tier's releases) and
one `dpia/<activity>.yaml` per DPIA. `compliance-assets validate-register` (or loading the code
location) checks every field below, then the rules that span files; each problem names its file,
line and field.

Unknown fields are errors, so a typo never drops a rule silently. This page is generated from
the models (`python -m compliance_assets.register.reference`); the demo's `register/` folder is
a complete example of every file.
"""


def reference() -> str:
    """The whole reference as Markdown."""
    sections = [INTRODUCTION]
    seen: set[type[BaseModel]] = set()
    for filename, model in [*FILES.items(), (DPIA_FILE, DpiaDocument)]:
        sections.append(f"## `{filename}`\n")
        for nested in _models_of(model, seen):
            sections.append(_section(nested))
    return "\n".join(sections).rstrip() + "\n"


def _models_of(model: type[BaseModel], seen: set[type[BaseModel]]) -> Iterator[type[BaseModel]]:
    """`model` and every model its fields hold, in the order a reader meets them."""
    if model in seen:
        return
    seen.add(model)
    yield model
    for info in model.model_fields.values():
        for inner in _inner_models(info.annotation):
            yield from _models_of(inner, seen)


def _inner_models(annotation: object) -> Iterator[type[BaseModel]]:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for argument in typing.get_args(annotation):
        yield from _inner_models(argument)


def _section(model: type[BaseModel]) -> str:
    doc = inspect.cleandoc(model.__doc__ or "").replace("\n", " ")
    lines = [f"### {model.__name__}\n", *([doc, ""] if doc and not doc.startswith("Unknown fields") else []), "| field | type and allowed values | required | meaning |", "|---|---|---|---|"]
    for name, info in model.model_fields.items():
        lines.append(f"| `{info.alias or name}` | {_escape(_type(info.annotation, info))} | {_required(info)} | {_escape(info.description or '')} |")
    return "\n".join(lines) + "\n"


def _required(info: FieldInfo) -> str:
    if info.is_required():
        return "yes"
    default = info.get_default(call_default_factory=True)
    if default in (None, [], {}) or default is PydanticUndefined or isinstance(default, BaseModel):
        return "no"
    shown = default.value if isinstance(default, enum.Enum) else default
    return f"no (default `{shown}`)"


def _type(annotation: object, info: FieldInfo | None = None) -> str:
    constraints = _constraints(info.metadata if info else [])
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type(arguments[0]) + _constraints(arguments[1:]) + constraints
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in arguments) + constraints
    if origin in (typing.Union, types.UnionType):
        shown = [_type(a) for a in arguments if a is not type(None)]
        return " or ".join(shown) + constraints
    if origin in (list, tuple, set, frozenset):
        return f"list of {_type(arguments[0])}" + constraints if arguments else "list" + constraints
    if origin is dict:
        return f"mapping of {_type(arguments[0])} to {_type(arguments[1])}" + constraints
    if inspect.isclass(annotation) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(f"`{member.value}`" for member in annotation) + constraints
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})" + constraints
    name = getattr(annotation, "__name__", str(annotation))
    return {"str": "text", "int": "integer", "float": "number", "bool": "`true` or `false`", "timedelta": "duration"}.get(name, name) + constraints


def _constraints(metadata) -> str:
    parts = []
    for item in metadata:
        check = getattr(getattr(item, "func", None), "__name__", None)
        if check in TAXONOMY_CHECKS:
            parts.append(TAXONOMY_CHECKS[check])
        for attribute, words in (("pattern", "matching `{}`"), ("ge", "at least {}"), ("gt", "more than {}"), ("le", "at most {}"), ("lt", "less than {}"), ("min_length", "at least {} long")):
            value = getattr(item, attribute, None)
            if value is not None:
                parts.append(words.format(value))
        if isinstance(item, FieldInfo):
            parts.append(_constraints(item.metadata).lstrip(", "))
    shown = [p for p in parts if p]
    return (", " + ", ".join(shown)) if shown else ""


def _escape(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


if __name__ == "__main__":
    sys.stdout.write(reference())
