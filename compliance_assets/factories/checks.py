"""Blocking privacy checks: specs the factories attach, and evaluations that turn the engines'
findings into check results a person can act on. Metadata names columns, rules and counts, and
gives offenders by pseudonym or row number: never a raw value."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import timedelta

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue, PartitionsDefinition

from compliance_assets.contracts.validation import ContractOutcome
from compliance_assets.tiers import (
    CLIENT_ISOLATION,
    CONSENT,
    CONTRACT,
    DPIA_APPROVED,
    K_ANONYMITY,
    MINIMISATION,
    NO_DIFFERENCING,
    NO_DIRECT_IDENTIFIERS,
    QUARANTINE,
    RETENTION,
)
from compliance_assets.privacy.cohorts import (
    DISCLOSURE_MECHANISM,
    CohortSource,
    DisclosureRules,
    MeasureSpec,
    disclosure_audit,
    recount,
    undersized_cohorts,
)
from compliance_assets.privacy.joint import Neighbour
from compliance_assets.privacy.window import Publication
from compliance_assets.privacy.detection import KnownLookup, find_identifiers
from compliance_assets.privacy.minimisation import unregistered_columns
from compliance_assets.privacy.pseudonymise import PSEUDONYM_PATTERN
from compliance_assets.privacy.quarantine import CAUSES, Tally
from compliance_assets.privacy.retention import RetentionSummary


DESCRIPTIONS = {
    MINIMISATION: "Blocks publication when a column is not documented in the register (Art. 5(1)(c)).",
    NO_DIRECT_IDENTIFIERS: "Blocks publication when any value holds an email, phone number, IP address or IBAN "
    "anywhere in its text, or a raw-tier identifier in a column that could carry one (text, identifier-like or "
    "dimension columns, never a measure), whatever its column is called.",
    K_ANONYMITY: "Blocks publication when a released cohort has fewer than k distinct subjects, recounted "
    "from the source rather than trusted from the release.",
    NO_DIFFERENCING: "Blocks publication when someone holding everything published could learn what is withheld: "
    "a cohort under k solved for, or bounded narrower than the protection interval, from the published cells, totals "
    "and the other releases of the population; a change of fewer than k subjects since the last publication (the "
    "ledger's); or a sensitive measure of a cohort's members (an outcome all or none share, a small numerator, one "
    "contributor dominating a magnitude).",
    RETENTION: "Blocks publication when a row holds a value older than its data category's retention period "
    "(periods from the activity in the register, counted from the source's retention clock), or has no clock.",
    CONTRACT: "Blocks publication when the table breaks its data contract: the Great Expectations suite the "
    "register compiles for it (column set, types, not-null, pseudonym format, value sets, cohort size ≥ k).",
    CONSENT: "Blocks publication when a subject without valid consent for the activity's purpose appears "
    "(the latest consent record before the run decides; a withdrawal counts).",
    DPIA_APPROVED: "Blocks publication while the activity's DPIA has an open or rejected review (a change to its "
    "lineage, data categories, sub-processors, scale, automated decisions or code since the DPO's approval), or "
    "was never approved.",
    QUARANTINE: "Blocks publication when more of the run's rows were quarantined (unreadable, outside a registered "
    "value set, without an identifier, a subject id duplicated with conflicting values) than the source's "
    "max_quarantined_fraction allows; below it, bad rows wait in the quarantine table with their reason.",
    CLIENT_ISOLATION: "Blocks publication when a row mixes client workspaces (tenants), which the activity's "
    "register entry forbids (cross_client_training: false).",
}


def blocking_specs(asset_key: AssetKey, names: Iterable[str], partitions_def: PartitionsDefinition | None = None) -> list[AssetCheckSpec]:
    """A partitioned asset's checks judge the days its run loaded, so they are partitioned like it."""
    return [AssetCheckSpec(name=n, asset=asset_key, blocking=True, description=DESCRIPTIONS[n], partitions_def=partitions_def) for n in names]


def _result(asset_key: AssetKey, name: str, passed: bool, metadata: Mapping[str, object], description: str | None = None) -> AssetCheckResult:
    return AssetCheckResult(
        asset_key=asset_key,
        check_name=name,
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        metadata=dict(metadata),
        description=description,
    )


def evaluate_quarantine(asset_key: AssetKey, tally: Tally, max_fraction: float, quarantine_table: str) -> AssetCheckResult:
    """Passes while the share of quarantined rows is within the source's limit; either way the
    description says what was set aside, by cause and in words, and the counts are plotted."""
    passed = tally.within(max_fraction)
    share = f"{tally.fraction:.2%} of {tally.arrived} row(s)"
    if not tally.quarantined:
        description = f"nothing quarantined of {tally.arrived} row(s)"
    elif passed:
        description = f"{tally.described()}: {share}, within the {max_fraction:.2%} allowed; kept in '{quarantine_table}'"
    else:
        description = f"{tally.described()}: {share}, above the {max_fraction:.2%} allowed; kept in '{quarantine_table}', nothing published"
    metadata: dict[str, object] = {
        "rule": "quarantined rows ≤ max_quarantined_fraction × arriving rows (other days' rows are kept, not counted)",
        "arriving_rows": MetadataValue.int(tally.arrived),
        "quarantined_rows": MetadataValue.int(tally.quarantined),
        "quarantined_fraction": MetadataValue.float(round(tally.fraction, 6)),
        "max_quarantined_fraction": MetadataValue.float(max_fraction),
        **{f"quarantined/{cause}": MetadataValue.int(tally.rows.get(cause, 0)) for cause in CAUSES},
        "quarantine_table": MetadataValue.text(quarantine_table),
    }
    if tally.reasons:
        metadata["reasons"] = MetadataValue.md(
            "| reason | rows |\n|---|---|\n" + "\n".join(f"| {reason} | {rows} |" for reason, rows in tally.reasons.most_common(20))
        )
    return _result(asset_key, QUARANTINE, passed, metadata, description)


def evaluate_minimisation(asset_key: AssetKey, frame: pd.DataFrame, registered: Sequence[str]) -> AssetCheckResult:
    extra = unregistered_columns(frame, registered)
    metadata = {
        "rule": "columns ⊆ register",
        "columns_checked": len(frame.columns),
        "unregistered_columns": len(extra),
        "rows": len(frame),
    }
    if extra:
        metadata["offending_columns"] = MetadataValue.md(
            "Columns not in the register (add them to the feature registry with source, extraction, "
            "minimisation and necessity, or drop them):\n\n" + "\n".join(f"- `{c}`" for c in extra)
        )
    return _result(asset_key, MINIMISATION, not extra, metadata)


def evaluate_identifiers(
    asset_key: AssetKey,
    frame: pd.DataFrame,
    known_identifiers: Mapping[str, KnownLookup],
    subject_key: str | None,
    carriers: Collection[str] = (),
    region: str | None = None,
) -> AssetCheckResult:
    """Pattern detection over every text column and known-value detection over the columns that
    could carry an identifier (text ones and `carriers`), plus: the subject key column holds only
    pseudonyms (a raw id written there is a leak too). `region` is the register's region for
    phone numbers written without a country code."""
    findings = find_identifiers(frame.drop(columns=[subject_key]) if subject_key else frame, known_identifiers, carriers, region)
    rows: list[tuple[str, str, int, str]] = []
    for finding in findings:
        rows.append((finding.column, finding.detector, finding.rows, _offender(frame, subject_key, finding.first_row)))
    if subject_key and subject_key in frame.columns:
        keys = frame[subject_key].astype("string")
        not_pseudonyms = ~keys.fillna("").str.fullmatch(PSEUDONYM_PATTERN)
        if not_pseudonyms.any():
            first = int(not_pseudonyms.to_numpy().argmax())
            rows.append((subject_key, "not_a_pseudonym", int(not_pseudonyms.sum()), f"row {first}"))
    metadata: dict[str, object] = {
        "rule": "no direct identifiers past the raw tier",
        "phone_region": region or "none (numbers with a country code only)",
        "rows_scanned": len(frame),
        "columns_scanned": len(frame.columns),
        "offending_rows": sum(r[2] for r in rows),
        "offending_columns": len({r[0] for r in rows}),
    }
    if rows:
        table = "| column | detector | rows | example offender |\n|---|---|---|---|\n"
        table += "\n".join(f"| `{c}` | {d} | {n} | {o} |" for c, d, n, o in rows)
        metadata["findings"] = MetadataValue.md(table)
    return _result(asset_key, NO_DIRECT_IDENTIFIERS, not rows, metadata)


def _offender(frame: pd.DataFrame, subject_key: str | None, position: int) -> str:
    if subject_key and subject_key in frame.columns:
        value = frame[subject_key].iloc[position]
        if isinstance(value, str) and pd.Series([value]).str.fullmatch(PSEUDONYM_PATTERN).iloc[0]:
            return f"subject `{value}`"
    return f"row {position}"


def evaluate_k_anonymity(
    asset_key: AssetKey,
    released: pd.DataFrame,
    source: pd.DataFrame | CohortSource,
    dimensions: Sequence[str],
    subject: str,
    k: int,
    release_stats: Mapping[str, int],
    previous: pd.DataFrame | None = None,
) -> AssetCheckResult:
    short = undersized_cohorts(released, source, dimensions, subject, k, previous)
    metadata: dict[str, object] = {
        "rule": f"every released cohort has ≥ {k} distinct subjects",
        "k": k,
        "cohorts_checked": len(released),
        "undersized_cohorts": len(short),
        **release_stats,
    }
    if len(short):
        metadata["undersized"] = _markdown_table(short)
    return _result(asset_key, K_ANONYMITY, len(short) == 0, metadata)


def evaluate_differencing(
    asset_key: AssetKey,
    released: pd.DataFrame,
    source: pd.DataFrame | CohortSource,
    dimensions: Sequence[str],
    subject: str,
    k: int,
    margins: Sequence[Sequence[str]],
    revealed_elsewhere: Sequence[Sequence[str]],
    measures: Mapping[str, MeasureSpec] | None = None,
    rules: DisclosureRules = DisclosureRules(),
    previous: pd.DataFrame | None = None,
    publications: int = 0,
    neighbours: Sequence[Neighbour] = (),
    earlier: Sequence[Publication] = (),
) -> AssetCheckResult:
    """Audits the staged release as an attacker holding it and the ledger's last publication
    would: the counts of exposed cohorts stay out of the metadata, only which cohort and why. The
    narrowest interval is a range, not a count: it says how well the release protects."""
    audit = disclosure_audit(released, source, dimensions, subject, k, margins, revealed_elsewhere, measures, rules, previous, neighbours, earlier)
    exposed = audit.exposed
    protection = rules.protection or k
    metadata: dict[str, object] = {
        "rule": f"no withheld cohort under {k} can be solved for or bounded narrower than {protection} from the published "
        "cells, totals and earlier publications, and no change of fewer than k subjects shows",
        "mechanism": DISCLOSURE_MECHANISM,
        "k": k,
        "protection_interval": protection,
        "rows_checked": len(released),
        "published_margins": len(margins),
        "margins_known_from_other_tables": len(revealed_elsewhere),
        "exposed_cohorts": len(exposed),
        "measure_rule_violations": audit.measure_violations,
        "rows_carried_forward": audit.carried,
        "earlier_publications": publications,
        "publications_in_window": len(earlier),
        "releases_audited_together": len(neighbours),
    }
    if audit.narrowest and audit.narrowest["width"] != float("inf"):
        metadata["narrowest_interval_width"] = float(audit.narrowest["width"])
        metadata["narrowest_interval"] = f"[{audit.narrowest['low']:g}, {audit.narrowest['high']:g}] at level {audit.narrowest['grouped_by']}"
    if len(exposed):
        metadata["exposed"] = _markdown_table(exposed.drop(columns="subjects"))
    return _result(asset_key, NO_DIFFERENCING, exposed.empty, metadata)


def _markdown_table(frame: pd.DataFrame, limit: int = 20) -> MetadataValue:
    preview = frame.head(limit).astype("string").fillna("∅")
    header = "| " + " | ".join(preview.columns) + " |\n|" + "---|" * len(preview.columns) + "\n"
    more = f"\n\n… and {len(frame) - limit} more" if len(frame) > limit else ""
    return MetadataValue.md(header + "\n".join("| " + " | ".join(row) + " |" for row in preview.itertuples(index=False)) + more)


def evaluate_client_isolation(
    asset_key: AssetKey,
    released: pd.DataFrame,
    source: pd.DataFrame | CohortSource,
    dimensions: Sequence[str],
    tenant: str,
) -> AssetCheckResult:
    """Recounts the tenants behind each released row (cohort or margin) from the source: more
    than one is a mix."""
    tenants = recount(released, source, dimensions, tenant)["recounted"]
    metadata: dict[str, object] = {
        "rule": f"every row belongs to one tenant ({tenant})",
        "rows_checked": len(tenants),
        "rows_mixing_tenants": int((tenants > 1).sum()),
        "max_tenants_per_row": int(tenants.max()) if len(tenants) else 0,
    }
    return _result(asset_key, CLIENT_ISOLATION, not (tenants > 1).any(), metadata)


def evaluate_consent(asset_key: AssetKey, frame: pd.DataFrame, subject_key: str, without_consent: pd.Index, purpose: str) -> AssetCheckResult:
    present = frame[subject_key].isin(without_consent)
    metadata: dict[str, object] = {
        "rule": f"every subject has valid consent for {purpose}",
        "subjects_checked": int(frame[subject_key].nunique()),
        "subjects_without_consent_known": len(without_consent),
        "subjects_without_consent_present": int(frame.loc[present, subject_key].nunique()),
    }
    if present.any():
        metadata["example_offender"] = f"subject `{frame.loc[present, subject_key].iloc[0]}`"
    return _result(asset_key, CONSENT, not present.any(), metadata)


def evaluate_retention(
    asset_key: AssetKey, findings: RetentionSummary, clock: str, periods: Mapping[str, timedelta], categories: Mapping[str, str] | None = None
) -> AssetCheckResult:
    """From counts alone (`past_retention(...).summary()` on a frame, `past_retention_in_table` in SQL).
    Every column's period and count is in the metadata, passing or not: a DPO reads what was checked."""
    metadata: dict[str, object] = {
        "rule": f"no value older than its category's retention, counted from `{clock}`",
        "rows_checked": findings.rows,
        "rows_past_retention": findings.expired,
        "rows_without_clock": findings.unclocked,
        "shortest_retention_days": min(p.days for p in periods.values()),
    }
    if findings.oldest_kept_days is not None:
        metadata["oldest_row_days"] = MetadataValue.float(round(findings.oldest_kept_days, 2))
    violated = bool(findings.expired or findings.unclocked)
    table = "| column | data category | retention (days) | values past it |\n|---|---|---|---|\n"
    table += "\n".join(f"| `{c}` | {(categories or {}).get(c, '')} | {periods[c].days} | {findings.per_column.get(c, 0)} |" for c in periods)
    metadata["per_column"] = MetadataValue.md(table)
    if findings.expired:
        over = [(c, periods[c].days, n) for c, n in findings.per_column.items() if n]
        table = "| column | retention (days) | values past it |\n|---|---|---|\n"
        table += "\n".join(f"| `{c}` | {days} | {n} |" for c, days, n in over)
        metadata["past_retention"] = MetadataValue.md(table)
    return _result(asset_key, RETENTION, not violated, metadata)


def evaluate_contract(asset_key: AssetKey, outcome: ContractOutcome) -> AssetCheckResult:
    """Which expectation failed, on which column and how many rows: never the values themselves.
    `outcome` comes from `validate` (a frame) or `validate_table` (in the warehouse)."""
    failed = outcome.failed
    metadata: dict[str, object] = {
        "rule": "the register's expectation suite (Great Expectations)",
        "expectations_evaluated": len(outcome.outcomes),
        "expectations_failed": len(failed),
        "unexpected_rows": sum(o.unexpected_rows for o in failed),
        "rows": outcome.rows,
    }
    if failed:
        table = "| expectation | column | rule | unexpected rows | observed |\n|---|---|---|---|---|\n"
        table += "\n".join(
            f"| {o.spec.expectation} | `{o.spec.column or '(table)'}` | {o.spec.rule} | {o.unexpected_rows} of {o.rows} | {o.observed or ''} |"
            for o in failed
        )
        if any(o.spec.expectation == "ExpectColumnValuesToBeInSet" for o in failed):
            table += (
                "\n\nWhere such values come from the source's data rather than the transform, declare the set on the raw "
                "column too (`values:` in sources.yaml): rows outside it are then quarantined at ingestion, not fatal here."
            )
        metadata["failed_expectations"] = MetadataValue.md(table)
    return _result(asset_key, CONTRACT, outcome.success, metadata)


def evaluate_dpia(asset_key: AssetKey, activity: str, approved: bool, blocking_reviews: Sequence) -> AssetCheckResult:
    """`blocking_reviews` are the activity's reviews that wait for (or were refused) a DPO decision."""
    changes = [c for review in blocking_reviews for c in review.changes]
    metadata = {
        "rule": "DPIA approved and no review open",
        "open_reviews": len(blocking_reviews),
        "changes_awaiting_review": len(changes),
        "approved_state": approved,
    }
    if changes or not approved:
        metadata["what_to_do"] = MetadataValue.md(
            ("Changes awaiting the DPO:\n\n" + "\n".join(f"- {c['text']}" for c in changes) + "\n\n" if changes else "The DPIA was never approved.\n\n")
            + f"Review `dpia/{activity}`, then approve: `python -m compliance_assets dpia approve {activity} --approver <dpo> --comment <why>` "
            "or launch the `dpia_approval` job."
        )
    return _result(asset_key, DPIA_APPROVED, approved and not blocking_reviews, metadata)
