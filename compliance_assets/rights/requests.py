"""Data-subject requests as a person files and reads them: what a filed request must name before
it is accepted, and what serving it did, in words."""

from __future__ import annotations

from compliance_assets.register import Register


def request_problem(register: Register, source: str, scope: str | None) -> str | None:
    """Why a request naming `source` (and `scope`) cannot be served, in one line; None when it can.
    Caught when the request is filed, not when a run finds nothing and reports it served."""
    identified = sorted(name for name, entry in register.sources.items() if entry.subject is not None)
    if source not in register.sources:
        return f"unknown source '{source}': a request names a source that identifies its subjects ({', '.join(identified)})"
    subject = register.sources[source].subject
    if subject is None:
        return f"source '{source}' names no data subject: a request names one of {', '.join(identified)}"
    if subject.scope and not (scope or "").strip():
        return f"source '{source}' scopes its subjects by '{subject.scope}': give --scope"
    if scope is not None and not subject.scope:
        return f"source '{source}' has no scope: drop --scope"
    return None


def served_lines(kind: str, status: str, outcome: dict) -> list[str]:
    """What became of the subject's data: rows erased per table, sources kept with their reason,
    rows exported and where, or that nothing is held."""
    if status == "failed":
        return [f"[red]The request failed:[/red] {outcome.get('error', 'see the run')}"]
    if status not in ("done", "erased"):
        return [f"The request is {status}."]
    if kind == "erasure":
        deleted = {table: rows for table, rows in outcome.get("deleted", {}).items() if rows}
        emptied = {table: rows for table, rows in outcome.get("anonymised", {}).items() if rows}
        kept = outcome.get("kept", [])
        lines = [f"erased {rows} row(s) from {table}" for table, rows in sorted(deleted.items())]
        lines += [f"emptied the identifying columns of {rows} row(s) in {table}" for table, rows in sorted(emptied.items())]
        lines += [f"kept {entry['source']}: {entry['reason']}" for entry in kept]
        if not (deleted or emptied):
            lines.insert(0, "no data held for this subject")
        return lines
    rows = {table: count for table, count in outcome.get("rows", {}).items() if count}
    if not rows:
        return ["no data held for this subject"]
    lines = [f"exported {count} row(s) of {table}" for table, count in sorted(rows.items())]
    return [*lines, f"export written to {outcome.get('export_folder')}"]
