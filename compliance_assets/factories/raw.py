"""Raw tier: personal data as it arrives, conformed to the register's declared columns."""


from collections.abc import Callable, Iterable, Iterator, Mapping

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, Failure, MetadataValue, asset

from compliance_assets.contracts.suites import suite_for
from compliance_assets.factories.checks import blocking_specs, evaluate_contract, evaluate_quarantine, evaluate_retention
from compliance_assets.factories.metadata import asset_facts, column
from compliance_assets.factories.errors import withheld_messages
from compliance_assets.tiers import required_checks, Tier, table_name
from compliance_assets.factories.partitions import partitions_of, window_of
from compliance_assets.factories.publish import record_processing, stage_check_publish
from compliance_assets.pipelines.raw import RawIntake, UnmatchedColumns
from compliance_assets.register import Register
from compliance_assets.rights.suppression_list import ErasedOnArrival, UnrecognisableEntries, listings
from compliance_assets.storage.warehouse import QUARANTINE_PREFIX

Loader = Callable[[AssetExecutionContext], pd.DataFrame | Iterable[pd.DataFrame]]


def raw_asset_arguments(
    register: Register,
    name: str,
    load: Loader,
    *,
    required_resource_keys: set[str] | frozenset[str] = frozenset(),
    kinds: set[str] | None = None,
    op_tags: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """The `@asset` arguments of a raw asset: its facts, resources and blocking check specs, and
    `op_tags` for its step (e.g. `dagster/priority`, so a large export starts first)."""
    source = register.sources[name]
    checks = required_checks(register, name)
    return {
        **asset_facts(
            register, name, Tier.RAW,
            [column(c, s.type, s.category, s.identifier.value, s.description) for c, s in source.columns.items()],
            transform=load, kinds=kinds,
        ),
        "required_resource_keys": {"warehouse", "audit_trail", "pseudonym_keys", *required_resource_keys},
        "check_specs": blocking_specs(AssetKey(name), checks, partitions_of(register, name)),
        "output_required": False,
        **({"op_tags": dict(op_tags)} if op_tags else {}),
    }


def raw_asset(
    register: Register,
    name: str,
    load: Loader,
    *,
    required_resource_keys: set[str] | frozenset[str] = frozenset(),
    kinds: set[str] | None = None,
    op_tags: Mapping[str, str] | None = None,
) -> AssetsDefinition:
    """A raw asset whose columns, categories and identifiers come from `sources.yaml`.

    `load(context)` returns the arriving frame, or an iterable of chunks that are conformed and
    staged one at a time (a large export is never whole in memory); a column the register does
    not declare fails the run (we may not hold what we have not recorded). Rows with unreadable
    values or values outside a registered set are quarantined with their reason; more of them
    than the source's `max_quarantined_fraction` fails the blocking `quarantine` check, which
    says why in words. Rows already past their retention on arrival fail the blocking
    `retention` check, unless the register says to drop them (then they are counted and audited).
    Rows of erased subjects (the suppression list) are dropped, or anonymised where the register
    anonymises the source on erasure, before anything is stored, and counted."""
    source = register.sources[name]
    table = table_name(Tier.RAW, name)
    clock = source.retention_clock
    periods = register.retention_periods(name)
    categories = {column: spec.category for column, spec in source.columns.items()}
    contract = suite_for(register, name)
    lists = listings(register, name)

    @asset(**raw_asset_arguments(register, name, load, required_resource_keys=required_resource_keys, kinds=kinds, op_tags=op_tags))
    def _raw(context: AssetExecutionContext):
        now = pd.Timestamp.now(tz="UTC").tz_localize(None)
        window = window_of(context) if source.partitions else None
        erased = ErasedOnArrival(name, lists, context.resources.pseudonym_keys, source.erasure.columns if source.erasure.action == "anonymise" else ())
        intake = RawIntake(register, name, now, window, suppress=erased.withheld)

        def admitted(arriving: pd.DataFrame) -> pd.DataFrame:
            """One frame or chunk through the intake, its plain errors told as the run's `Failure`."""
            try:
                return intake.admit(arriving)
            except UnmatchedColumns as error:
                raise Failure(
                    description=str(error),
                    metadata={"undeclared_columns": ", ".join(error.undeclared) or "-", "missing_columns": ", ".join(error.missing) or "-"},
                ) from None
            except UnrecognisableEntries as error:
                raise Failure(
                    description=str(error),
                    metadata={"remedy": MetadataValue.text("restore the master secret the list was keyed under, or serve those erasure requests again")},
                ) from None

        def on_staged(rows: int) -> dict[str, object]:
            """Once every chunk is staged: quarantine what was set aside, and say so."""
            quarantined = intake.quarantined
            quarantine = warehouse.quarantine(name, intake.set_aside(), intake.loaded_days, now)
            if quarantined:
                context.log.warning(f"{intake.tally.described()}: not ingested, kept with their reason in '{quarantine}'")
            expired = intake.expired
            if expired:
                context.log.info(f"{expired} arriving row(s) of '{name}' were already past retention and were not kept")
            if erased.rows:
                context.log.info(f"{erased.subjects} erased subject(s) of '{name}' arrived again and were not kept ({erased.rows} row(s))")
            record_processing(
                context, "ingestion",
                {
                    "table": table, "rows": rows, "quarantined_rows": quarantined, "rows_dropped_past_retention": expired,
                    "subjects_suppressed_after_erasure": erased.subjects, "rows_suppressed_after_erasure": erased.rows,
                },
            )
            return {
                "quarantined_rows": MetadataValue.int(quarantined),
                "quarantined_fraction": MetadataValue.float(round(intake.tally.fraction, 6)),
                "subjects_suppressed_after_erasure": MetadataValue.int(erased.subjects),
                "rows_suppressed_after_erasure": MetadataValue.int(erased.rows),
                "rows_dropped_past_retention": MetadataValue.int(expired),
                **{count: MetadataValue.int(rows) for count, rows in intake.minors.items()},
            }

        warehouse = context.resources.warehouse
        yield from stage_check_publish(
            context,
            warehouse,
            table,
            (admitted(frame) for frame in arriving_frames(context, load, name)),
            [
                lambda staged: evaluate_contract(AssetKey(name), staged.contract_in_place(name, contract)),
                lambda staged: evaluate_quarantine(AssetKey(name), intake.tally, source.max_quarantined_fraction, QUARANTINE_PREFIX + name),
                *([lambda staged: evaluate_retention(AssetKey(name), staged.retention_in_place(clock, periods, now), clock, periods, categories)] if clock else []),
            ],
            {},
            register.lookup_columns(name),
            days=(source.event_time, *window) if window else None,
            after_staging=on_staged,
            keep_rejected=True,
        )

    return _raw


def arriving_frames(context: AssetExecutionContext, load: Loader, name: str) -> Iterator[pd.DataFrame]:
    """What `load` returns, one frame or chunks, with the loader's own errors' messages withheld."""
    loader = f"the loader of '{name}'"
    with withheld_messages(loader):
        arriving = load(context)
        frames = iter([arriving] if isinstance(arriving, pd.DataFrame) else arriving)
    while True:
        with withheld_messages(loader):
            frame = next(frames, None)
        if frame is None:
            return
        yield frame

