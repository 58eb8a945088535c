"""Access (Art. 15) and portability (Art. 20): everything held about a located subject, as one
JSON document plus a CSV per table, with each table's purpose, legal basis, sources and retention,
and the audit of its processing (records naming the subject's pseudonym, and the runs that
processed the tables holding its rows). Portability keeps to the raw data the subject provided; access
also covers derived features and the rows an erasure would keep."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from compliance_assets.register import Register
from compliance_assets.rights.locate import Location, locations, plan_pseudonyms
from compliance_assets.storage.warehouse import Warehouse


def export_subject(
    register: Register,
    warehouse: Warehouse,
    audit_records: pd.DataFrame,
    plan: dict,
    destination: Path,
    portability: bool,
) -> dict:
    """Writes the export under `destination`; returns row counts per table and the file names
    (no values, so the summary may go into Dagster metadata)."""
    found, _ = locations(register, plan, honour_exceptions=False)
    destination.mkdir(parents=True, exist_ok=True)
    tables: dict[str, dict] = {}
    for location in found:
        if portability and not _provided(register, location):
            continue
        rows = warehouse.select_where(location.table, location.column, location.values, location.also)
        if rows.empty:
            continue
        rows.to_csv(destination / f"{location.table}.csv", index=False)
        tables[location.table] = {**_context(register, location), "rows": json.loads(rows.to_json(orient="records", date_format="iso"))}
    pseudonyms = set(plan_pseudonyms(plan))
    holders = {tables[t]["register_entry"] for t in tables}
    about_assets = audit_records["details"].map(lambda d: json.loads(d).get("asset") in holders)
    processing = audit_records.loc[audit_records["subject"].isin(pseudonyms) | about_assets, ["at", "event_type", "actor", "details"]]
    document = {
        "kind": "portability (Art. 20)" if portability else "access (Art. 15)",
        "generated_at": datetime.now(UTC).isoformat(),
        "subject": {"source": plan["source"], "scope": plan["scope"], "pseudonyms": plan["pseudonyms"]},
        "tables": tables,
        "processing_record": json.loads(processing.to_json(orient="records")) if not portability else [],
    }
    (destination / "subject.json").write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    return {
        "rows": {table: len(entry["rows"]) for table, entry in tables.items()},
        "files": sorted(p.name for p in destination.iterdir()),
        "processing_records": len(document["processing_record"]),
    }


def _provided(register: Register, location: Location) -> bool:
    source = register.sources.get(location.source)
    return source is not None and source.provided_by_subject and location.table.startswith("raw__")


def _context(register: Register, location: Location) -> dict:
    """Why the table holds the rows, on what basis, from where and for how long."""
    entry = register.entry(location.source)
    activity = register.activity_of(location.source)
    if location.source in register.sources:
        retention = {c: f"{p.days} days" for c, p in register.retention_periods(location.source).items()}
        sources = [location.source]
    else:
        features = register.feature_sets[location.source].features
        retention = {c: register.retention_of(entry.activity, f.category).period for c, f in features.items()}
        sources = sorted({ref for f in features.values() for ref in f.sources})
    return {
        "register_entry": location.source,
        "activity": activity.name,
        "purpose": activity.purpose,
        "legal_basis": activity.legal_basis.value,
        "sources": sources,
        "retention": retention,
    }
