"""Aggregate tier: cohort releases in which every cohort has at least k distinct subjects."""


from collections.abc import Callable
from functools import partial

import pandas as pd

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, BackfillPolicy, MetadataValue, asset

from compliance_assets.factories.checks import (
    blocking_specs,
    evaluate_client_isolation,
    evaluate_contract,
    evaluate_differencing,
    evaluate_identifiers,
    evaluate_k_anonymity,
    evaluate_minimisation,
)
from compliance_assets.contracts.suites import suite_for
from compliance_assets.contracts.validation import validate
from compliance_assets.factories.partitions import one_day_of, partitions_of
from compliance_assets.factories.metadata import asset_facts, code_version, column, column_lineage, model_version
from compliance_assets.factories.errors import withheld_messages
from compliance_assets.tiers import required_checks, Tier, table_name
from compliance_assets.factories.publish import dpia_evaluation, stage_check_publish
from compliance_assets.factories.purpose import enforce_purpose
from compliance_assets.factories.pseudonymised import direct_identifier_columns, known_identifier_lookups, source_assets
from compliance_assets.privacy.cohorts import GROUPED_BY, SUBJECTS, CohortRelease, CohortSource, FrameSource, MeasureSpec, entries_of, other_measures, outcome_kinds, release_cohorts
from compliance_assets.privacy.joint import Neighbour
from compliance_assets.privacy.ledger import ledger_rows, previous_entries
from compliance_assets.privacy.window import ledger_publications
from compliance_assets.privacy.detection import KnownLookup, known_values
from compliance_assets.privacy.sql_source import SqlSource
from compliance_assets.register import Register
from compliance_assets.register.models import RELEASE_DAY
from compliance_assets.storage.warehouse import Warehouse

Release = Callable[..., CohortRelease]


def cohort_source(warehouse: Warehouse, table: str, subject: str) -> tuple[CohortSource, KnownLookup]:
    """Where a release counts (the warehouse groups in SQL, or the table is read into memory) and
    how the identifier check asks which values are the source's subject pseudonyms."""
    if warehouse.push_down_aggregations:
        if not warehouse.has_table(table):
            raise LookupError(f"table '{table}' does not exist in the warehouse: materialise its asset first")
        return SqlSource(warehouse.get_engine(), table), partial(warehouse.present_values, table, subject)
    frame = warehouse.read_table(table)
    return FrameSource(frame), known_values(frame[subject])


def cohort_asset(register: Register, name: str, release: Release = release_cohorts) -> AssetsDefinition:
    """A cohort table from `cohorts.yaml`; `release` is replaceable (e.g. to push the grouping down
    to the warehouse), and whatever it returns still has to pass the blocking checks."""
    enforce_purpose(register, name)
    cohort = register.cohorts[name]
    activity = register.activities[cohort.activity]
    feature_set = register.feature_sets[cohort.source]
    k = activity.k_anonymity
    key = AssetKey(name)
    table = table_name(Tier.AGGREGATE, name)
    source_table = table_name(Tier.PSEUDONYMISED, cohort.source)
    measures = {m: MeasureSpec(spec.aggregation, spec.column) for m, spec in cohort.measures.items()}
    partitions_def = partitions_of(register, name)
    day_column = [RELEASE_DAY] if partitions_def is not None else []
    output_columns = [*day_column, *cohort.dimensions, GROUPED_BY, *cohort.measures] + ([] if SUBJECTS in cohort.measures else [SUBJECTS])
    margins = [tuple(m) for m in cohort.margins]
    revealed = register.margins_revealed_elsewhere(name)
    raw_sources = source_assets(feature_set)
    tenant = register.tenant_of(cohort.activity, feature_set)
    check_names = required_checks(register, name)
    guarded = register.guarded_by_dpia(name)
    contract = suite_for(register, name)
    identifier_columns = direct_identifier_columns(register, raw_sources)
    subject = register.sources[feature_set.subject_source].subject if feature_set.subject_source in register.sources else None
    phone_region = subject.default_region if subject else None
    columns = [column(RELEASE_DAY, "date", "system.operations", "none", "The day whose release the row is (a daily partition)")] if day_column else []
    columns += [
        column(d, feature_set.features[d].type, feature_set.features[d].category, "none", f"Cohort dimension from {cohort.source}.{d}")
        for d in cohort.dimensions
    ]
    columns.append(
        column(GROUPED_BY, "string", "system.operations", "none", "Dimensions the row is grouped by; a margin row leaves the others empty")
    )
    columns += [
        column(m, register.measure_type(name, m), "system.operations", "none", spec.description)
        for m, spec in cohort.measures.items()
    ]
    sources_by_column = {
        **{d: [f"{cohort.source}.{d}"] for d in cohort.dimensions},
        **{m: [f"{cohort.source}.{spec.column or feature_set.subject_key}"] for m, spec in cohort.measures.items()},
    }
    lineage = column_lineage(sources_by_column)
    rules = register.disclosure_rules(name)
    siblings = [other for other, entry in register.cohorts.items() if other != name and entry.source == cohort.source]
    register_version = code_version(register, name, None)
    release_version = model_version(release, cohort.model_dump(mode="json"))

    facts = asset_facts(
        register, name, Tier.AGGREGATE, columns,
        note=f"Released only for cohorts of at least k = {k} distinct subjects, with complementary suppression "
        "so no hidden cohort can be recovered from the published totals.",
        transform=None if release is release_cohorts else release,
        tags={"privacy/k": str(k)},
        metadata={"privacy/k": k},
        model=cohort.model_dump(mode="json", include={"dimensions", "measures", "margins"}) | {"k": k},
        column_sources=sources_by_column,
    )
    if partitions_def is not None:  # each day is a publication of its own, audited against the one before it
        facts["backfill_policy"] = BackfillPolicy.multi_run(max_partitions_per_run=1)

    @asset(
        **facts,
        deps=[cohort.source],
        check_specs=blocking_specs(key, check_names, partitions_def),
        required_resource_keys={"warehouse", "audit_trail"} | ({"dpia_reviews"} if guarded else set()),
        output_required=False,
    )
    def _cohorts(context: AssetExecutionContext):
        # One release at a time from reading the ledger to publishing: two runs that both read
        # the same last publication would each be audited against it, and the second to publish
        # never against the first.
        with context.resources.warehouse.exclusive(table):
            yield from _release(context)

    def _release(context: AssetExecutionContext):
        warehouse = context.resources.warehouse
        day = one_day_of(context) if partitions_def is not None else None
        source, source_subjects = cohort_source(warehouse, source_table, feature_set.subject_key)
        # The ledger's latest publication of any day: an attacker keeps every day's table, so the
        # days are one history, and a re-run of an old day is compared with the newest of them.
        window = warehouse.ledger(name, last=rules.window)
        previous = previous_entries(window, cohort.dimensions, list(cohort.measures))
        earlier = ledger_publications(window, outcome_kinds(measures, rules), other_measures(measures, rules))
        publications = warehouse.publications(name)
        neighbours = [
            Neighbour(other, list(register.cohorts[other].dimensions), entries)
            for other in siblings
            if (entries := previous_entries(warehouse.ledger(other, last=1), register.cohorts[other].dimensions, list(register.cohorts[other].measures))) is not None
        ]
        with withheld_messages(f"the cohort release of '{name}'"):
            result = release(
                source, list(cohort.dimensions), feature_set.subject_key, measures, k, margins, revealed, rules=rules, previous=previous, neighbours=neighbours,
                earlier=earlier,
            )
        stats = result.stats
        entries = ledger_rows(
            entries_of(result),
            cohort.dimensions,
            [m for m in cohort.measures if m != SUBJECTS],
            release=name,
            publication=context.run.run_id,
            published_at=pd.Timestamp.now(tz="UTC").tz_localize(None),
            register_version=register_version,
            code_version=release_version,
            partition_key=day[0] if day else "",
        )
        released = result.released
        if day is not None:
            released = released.assign(**{RELEASE_DAY: pd.Timestamp(day[1])})[output_columns]
        audited = [*cohort.dimensions, GROUPED_BY, *cohort.measures, SUBJECTS]
        yield from stage_check_publish(
            context,
            warehouse,
            table,
            released,
            [
                lambda staged: evaluate_minimisation(key, staged.frame, output_columns),
                lambda staged: evaluate_identifiers(
                    key, staged.frame, {f"{cohort.source}.{feature_set.subject_key}": source_subjects, **known_identifier_lookups(warehouse, identifier_columns)}, None,
                    cohort.dimensions, phone_region,
                ),
                lambda staged: evaluate_k_anonymity(key, _of_release(staged.frame, audited), source, cohort.dimensions, feature_set.subject_key, k, stats, previous),
                lambda staged: evaluate_contract(key, validate(staged.frame, name, contract)),
                lambda staged: evaluate_differencing(
                    key, _of_release(staged.frame, audited), source, cohort.dimensions, feature_set.subject_key, k, margins, revealed, measures, rules, previous,
                    publications, neighbours, earlier,
                ),
                *([lambda staged: evaluate_client_isolation(key, staged.frame, source, cohort.dimensions, tenant)] if tenant else []),
                *([dpia_evaluation(context, register, cohort.activity)] if guarded else []),
            ],
            {
                **{stat: MetadataValue.int(value) for stat, value in stats.items()},
                "grouped_in": MetadataValue.text(warehouse.dialect if isinstance(source, SqlSource) else "pandas"),
                "dagster/column_lineage": lineage,
            },
            ledger=entries,
            days=(RELEASE_DAY, day[1], day[2]) if day else None,
        )

    return _cohorts


def _of_release(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The staged rows as the release's audits read them: without the day a partition adds."""
    return frame[[c for c in frame.columns if c in columns]]
