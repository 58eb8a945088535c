"""Loading a register folder: every file parsed against its model, then the rules that span
files (`consistency`), so a register that loads is one the factories can trust."""

from __future__ import annotations

from pathlib import Path

from compliance_assets.register.consistency import consistency_problems
from compliance_assets.register.dpia_document import DpiaDocument
from compliance_assets.register.loader import FILES, ParsedFile, RegisterError, RegisterProblem, parse_file
from compliance_assets.register.register import DPIA_FOLDER, Register


def load_register(directory: str | Path) -> Register:
    """Parses every register file, then checks the rules that span files; raises RegisterError."""
    directory = Path(directory)
    if not directory.is_dir():
        raise RegisterError([RegisterProblem(directory, (), None, "register folder does not exist")])
    parsed: dict[str, ParsedFile] = {}
    problems = []
    for filename, model in FILES.items():
        try:
            parsed[filename] = parse_file(directory / filename, model)
        except RegisterError as exc:
            problems.extend(exc.problems)
    for path in sorted((directory / DPIA_FOLDER).glob("*.yaml")):
        try:
            parsed[f"{DPIA_FOLDER}/{path.name}"] = parse_file(path, DpiaDocument)
        except RegisterError as exc:
            problems.extend(exc.problems)
    if problems:
        raise RegisterError(problems)
    register = Register(
        directory=directory,
        activities=parsed["activities.yaml"].model.activities,
        sources=parsed["sources.yaml"].model.sources,
        feature_sets=parsed["features.yaml"].model.feature_sets,
        cohorts=parsed["cohorts.yaml"].model.cohorts,
        files=parsed,
        dpias={file.model.activity: file.model for key, file in parsed.items() if key.startswith(f"{DPIA_FOLDER}/")},
    )
    problems = consistency_problems(register)
    if problems:
        raise RegisterError(problems)
    return register
