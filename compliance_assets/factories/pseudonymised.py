"""Pseudonymised tier: one row per subject, keyed by a keyed-HMAC pseudonym of the normalised
identifier, holding only the features documented in the feature registry. Pseudonyms come first:
the subject's identifier and the join keys between sources are replaced by pseudonyms before the
feature transform is called, so no raw identifier reaches a team's feature code."""


from collections.abc import Callable, Mapping
from functools import partial

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, Failure, MetadataValue, asset

from compliance_assets.factories.checks import (
    blocking_specs,
    evaluate_contract,
    evaluate_consent,
    evaluate_identifiers,
    evaluate_minimisation,
    evaluate_quarantine,
)
from compliance_assets.pipelines.feature_inputs import FeatureInputs
from compliance_assets.factories.metadata import asset_facts, column, column_lineage
from compliance_assets.factories.errors import withheld_messages
from compliance_assets.tiers import required_checks, DOMAIN_TAG, KEY_VERSION, Tier, table_name
from compliance_assets.contracts.suites import suite_for
from compliance_assets.contracts.validation import validate
from compliance_assets.factories.publish import dpia_evaluation, stage_check_publish
from compliance_assets.factories.purpose import enforce_purpose, permitted_input_columns
from compliance_assets.pipelines.pseudonymised import (
    consenting_only,
    direct_identifier_columns,
    feature_inputs,
    identified,
    keyed,
    one_row_per_subject,
    referenced_columns,
    source_assets,
    with_key_version,
)
from compliance_assets.privacy.conform import REASON_COLUMN
from compliance_assets.privacy.consent import CONSENT_COLUMNS, consenting_subjects
from compliance_assets.privacy.detection import KnownLookup
from compliance_assets.privacy.normalise import NORMALISATION_VERSION
from compliance_assets.privacy.quarantine import DUPLICATE_ID, NO_IDENTIFIER, Tally
from compliance_assets.privacy.summaries import Measure
from compliance_assets.register import FeatureSet, Register
from compliance_assets.resources.keys import NormalisationChanged
from compliance_assets.storage.warehouse import QUARANTINE_PREFIX, Warehouse


FeatureTransform = Callable[[FeatureInputs], pd.DataFrame]


def identifier_carriers(feature_set: FeatureSet) -> list[str]:
    """Features that could carry a raw identifier whatever their type: the quasi-identifying ones
    (text features are compared anyway). A count or a score is a measure, not a carrier."""
    return [name for name, spec in feature_set.features.items() if spec.identifier == "quasi"]


def known_identifier_lookups(warehouse: Warehouse, identifier_columns: dict[str, list[str]]) -> dict[str, KnownLookup]:
    """The raw tier's direct identifiers, labelled 'source.column', as questions to the warehouse
    (which of these values does the column hold?) rather than columns read into memory."""
    return {
        f"{source}.{column}": partial(warehouse.present_values, table_name(Tier.RAW, source), column)
        for source, columns in identifier_columns.items()
        for column in columns
    }



def _summarised_in(warehouse: Warehouse, source: str, by: str, measures: Mapping[str, Measure]) -> pd.DataFrame:
    return warehouse.summarise(table_name(Tier.RAW, source), by, measures)


def pseudonymised_asset(register: Register, name: str, transform: FeatureTransform) -> AssetsDefinition:
    enforce_purpose(register, name)
    feature_set = register.feature_sets[name]
    activity = register.activities[feature_set.activity]
    domain = register.domain_of(name)
    guarded = register.guarded_by_dpia(name)
    permitted = permitted_input_columns(register, name)
    contract = suite_for(register, name)
    consent_source = activity.consent_source if activity.legal_basis.value == "Consent" else None
    consent_join = register.sources[consent_source].subject_reference if consent_source else None
    subject = register.sources[feature_set.subject_source].subject
    assert subject is not None  # guaranteed by the register's consistency rules
    max_quarantined = register.sources[feature_set.subject_source].max_quarantined_fraction
    table = table_name(Tier.PSEUDONYMISED, name)
    reads = source_assets(feature_set)
    key = AssetKey(name)
    registered = [feature_set.subject_key, KEY_VERSION, *feature_set.features]
    identifier_columns = direct_identifier_columns(register, reads)
    carriers = identifier_carriers(feature_set)
    columns = [
        column(feature_set.subject_key, "string", "user.unique_id.pseudonymous", "pseudonym", f"Keyed HMAC-SHA256 pseudonym, domain '{domain}'"),
        column(KEY_VERSION, "integer", "system.operations", "none", "Key version the pseudonym was made with (rotation moves it)"),
    ]
    columns += [
        column(f, spec.type, spec.category, spec.identifier, f"{spec.extraction}. Minimisation: {spec.minimisation}. Necessity: {spec.necessity}")
        for f, spec in feature_set.features.items()
    ]
    subject_ref = f"{feature_set.subject_source}.{subject.column}"
    sources_by_column = {feature_set.subject_key: [subject_ref], **{f: spec.sources for f, spec in feature_set.features.items()}}
    lineage = column_lineage(sources_by_column)

    @asset(
        **asset_facts(
            register, name, Tier.PSEUDONYMISED, columns,
            note=f"Pseudonymisation domain: `{domain}`.",
            transform=transform,
            tags={DOMAIN_TAG: domain},
            metadata={"privacy/pseudonymisation_domain": domain},
            column_sources=sources_by_column,
        ),
        deps=reads + ([consent_source] if consent_source else []),
        check_specs=blocking_specs(key, required_checks(register, name)),
        required_resource_keys={"warehouse", "pseudonym_keys", "pseudonym_vault", "audit_trail"} | ({"dpia_reviews"} if guarded else set()),
        output_required=False,
    )
    def _pseudonymised(context: AssetExecutionContext):
        warehouse = context.resources.warehouse
        now = pd.Timestamp.now(tz="UTC").tz_localize(None)
        run_date = now.normalize()
        join = consent_join.split(".")[1] if consent_join else None
        # Consent first, from the four columns and the one purpose it needs: its records are gone before the sources arrive.
        consenting = (
            consenting_subjects(
                warehouse.read_table(table_name(Tier.RAW, consent_source), [join, *CONSENT_COLUMNS], where={"purpose": activity.data_use}),
                join,
                activity.data_use,
                now,
            )
            if consent_source
            else None
        )
        absent = [source for source in reads if not warehouse.has_table(table_name(Tier.RAW, source))]
        if absent:  # before any pseudonym is stored, though the transform reads its sources later
            raise LookupError(f"'{name}' reads {absent}, which have no table in the warehouse: materialise them first")
        people = warehouse.read_table(table_name(Tier.RAW, feature_set.subject_source), permitted[feature_set.subject_source])
        tally = Tally(feature_set.subject_source, arrived=len(people))
        subjects, without_identifier = identified(register, name, people)
        tally.add(NO_IDENTIFIER, len(without_identifier), reasons=without_identifier[REASON_COLUMN])
        try:
            key_version, domain_key = context.resources.pseudonym_keys.domain_key(domain)
        except NormalisationChanged as changed:
            raise Failure(
                description=str(changed),
                metadata={
                    "key_version": MetadataValue.int(changed.key_version),
                    "keyed_under_normalisation": MetadataValue.int(changed.recorded),
                    "code_normalisation": MetadataValue.int(NORMALISATION_VERSION),
                    "remedy": MetadataValue.text("run the key_rotation job"),
                },
            ) from None
        subjects = keyed(subjects, feature_set.subject_key, domain_key)
        subjects, duplicates = one_row_per_subject(subjects, feature_set.subject_key, [subject.column, *referenced_columns(register, feature_set.subject_source)])
        tally.add(DUPLICATE_ID, len(duplicates.rows), duplicates.duplicated_ids, duplicates.rows[REASON_COLUMN])
        set_aside = [f for f in (without_identifier, duplicates.rows) if len(f)]
        quarantine = warehouse.quarantine(name, pd.concat(set_aside, ignore_index=True) if set_aside else None, now=now)
        if tally.quarantined:
            context.log.warning(f"{tally.described()}: left out of '{name}', kept with their reason in '{quarantine}'")
        without_consent = pd.Index([])
        if consenting is not None:
            subjects, without_consent = consenting_only(subjects, feature_set.subject_key, join, consenting)
        stored = context.resources.pseudonym_vault.store(domain, key_version, subjects.people[feature_set.subject_key], subjects.identifiers, subjects.scope)
        inputs = feature_inputs(
            register, name, permitted, subjects.people, context.resources.pseudonym_keys.domain_key,
            lambda source, columns: warehouse.read_table(table_name(Tier.RAW, source), columns),
            partial(_summarised_in, warehouse) if warehouse.push_down_aggregations else None,
            run_date,
        )
        with withheld_messages(f"the feature transform of '{name}'"):
            features = transform(inputs)
        inputs.sources.clear()
        features = with_key_version(features, key_version)
        yield from stage_check_publish(
            context,
            warehouse,
            table,
            features,
            [
                lambda staged: evaluate_minimisation(key, staged.frame, registered),
                lambda staged: evaluate_identifiers(
                    key, staged.frame, known_identifier_lookups(warehouse, identifier_columns), feature_set.subject_key, carriers, subject.default_region
                ),
                lambda staged: evaluate_contract(key, validate(staged.frame, name, contract)),
                lambda staged: evaluate_quarantine(key, tally, max_quarantined, QUARANTINE_PREFIX + name),
                *([lambda staged: evaluate_consent(key, staged.frame, feature_set.subject_key, without_consent, activity.data_use)] if consent_source else []),
                *([dpia_evaluation(context, register, feature_set.activity)] if guarded else []),
            ],
            {
                "subjects": MetadataValue.int(int(features[feature_set.subject_key].nunique())) if feature_set.subject_key in features else MetadataValue.int(0),
                "quarantined_rows": MetadataValue.int(tally.quarantined),
                "quarantined_fraction": MetadataValue.float(round(tally.fraction, 6)),
                "subject_rows_merged": MetadataValue.int(duplicates.merged_rows),
                "key_version": MetadataValue.int(key_version),
                "normalisation_version": MetadataValue.int(NORMALISATION_VERSION),
                "subjects_without_consent": MetadataValue.int(len(without_consent)),
                "vault_mappings_written": MetadataValue.int(stored),
                "dagster/column_lineage": lineage,
            },
            register.lookup_columns(name),
            unique=[feature_set.subject_key],
        )

    return _pseudonymised
