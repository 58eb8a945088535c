"""Loads the register's YAML files into models, with errors that name file, field and line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from compliance_assets.register.models import (
    ActivitiesFile,
    CohortsFile,
    FeaturesFile,
    SourcesFile,
)

FILES: dict[str, type[BaseModel]] = {
    "activities.yaml": ActivitiesFile,
    "sources.yaml": SourcesFile,
    "features.yaml": FeaturesFile,
    "cohorts.yaml": CohortsFile,
}

Location = tuple[str | int, ...]


@dataclass(frozen=True)
class RegisterProblem:
    file: Path
    location: Location
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        field = _dotted(self.location)
        return f"{where}: {field}: {self.message}" if field else f"{where}: {self.message}"


class RegisterError(Exception):
    """The register is malformed; the code location must not load without its rules."""

    def __init__(self, problems: Iterable[RegisterProblem]):
        self.problems = list(problems)
        listing = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the privacy register is invalid ({len(self.problems)} problem(s)):\n{listing}")


def _dotted(location: Location) -> str:
    out = ""
    for part in location:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_index(node: yaml.Node, prefix: Location = ()) -> dict[Location, int]:
    """Maps each field path in a YAML document to the 1-based line where it starts."""
    index: dict[Location, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = (*prefix, key_node.value)
            index[path] = key_node.start_mark.line + 1
            index.update(_line_index(value_node, path))
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            path = (*prefix, position)
            index[path] = item.start_mark.line + 1
            index.update(_line_index(item, path))
    return index


@dataclass(frozen=True)
class ParsedFile:
    path: Path
    model: BaseModel
    lines: dict[Location, int]

    def problem(self, location: Location, message: str) -> RegisterProblem:
        return RegisterProblem(self.path, location, line_of(self.lines, location), message)


def line_of(lines: dict[Location, int], location: Location) -> int | None:
    """The line of the deepest part of `location` that the file actually has."""
    for end in range(len(location), 0, -1):
        if location[:end] in lines:
            return lines[location[:end]]
    return None


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when the wheel has it


def _compose_and_load(text: str) -> tuple[yaml.Node | None, object]:
    """One parse gives both the node tree (for line numbers) and the data."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def parse_file(path: Path, model: type[BaseModel]) -> ParsedFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegisterError([RegisterProblem(path, (), None, f"cannot read file: {exc.strerror}")]) from None
    try:
        node, data = _compose_and_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise RegisterError([RegisterProblem(path, (), line, f"not valid YAML: {reason}")]) from None
    lines = _line_index(node) if node is not None else {}
    try:
        parsed = model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems = [
            RegisterProblem(path, tuple(err["loc"]), line_of(lines, tuple(err["loc"])), _message(err))
            for err in exc.errors()
        ]
        raise RegisterError(problems) from None
    return ParsedFile(path, parsed, lines)


def _message(err: dict) -> str:
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return "unknown field (not part of the register schema)"
    return message
