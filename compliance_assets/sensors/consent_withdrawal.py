"""Consent withdrawal propagates on its own: when a consent source receives a record that is not
a grant (a withdrawal) newer than the last one seen, the assets whose legal basis is consent, and
everything downstream of them, are recomputed, and the consent filter drops the subject."""

import json
from collections.abc import Collection

import sqlalchemy as sa
from dagster import AssetKey, DefaultSensorStatus, ResourceParam, RunRequest, SensorDefinition, SensorEvaluationContext, sensor

from compliance_assets.tiers import Tier, table_name
from compliance_assets.privacy.consent import GRANTED
from compliance_assets.register import Register
from compliance_assets.storage.warehouse import Warehouse


def consent_based_assets(register: Register) -> dict[str, list[AssetKey]]:
    """Per consent source, the feature sets that filter on it and the cohorts built from them."""
    out: dict[str, list[AssetKey]] = {}
    for name, feature_set in register.feature_sets.items():
        activity = register.activities[feature_set.activity]
        if activity.legal_basis.value == "Consent" and activity.consent_source:
            cohorts = register.cohorts_built_on({name})
            out.setdefault(activity.consent_source, []).extend(AssetKey(n) for n in [name, *cohorts])
    return out


def build_consent_withdrawal_sensor(register: Register, refresh_job, defined: Collection[AssetKey]) -> SensorDefinition:
    """Asks only for assets among `defined` (the location's asset keys): a run asking for one no
    definition supplies cannot start, and the deploy gate already names what is missing."""
    by_source = {
        source: supplied
        for source, keys in consent_based_assets(register).items()
        if (supplied := [key for key in keys if key in defined])
    }

    @sensor(
        name="consent_withdrawals",
        job=refresh_job,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.RUNNING,
        description="Recomputes consent-based assets (and their cohorts) when a new withdrawal is recorded.",
    )
    def consent_withdrawals(context: SensorEvaluationContext, warehouse: ResourceParam[Warehouse]):
        if not context.cursor:
            # The first tick starts from the present: withdrawals recorded before the sensor ran
            # were already honoured by the runs that read them, not replayed as new ones.
            start = {source: latest for source in by_source if (latest := _latest_withdrawal(warehouse, table_name(Tier.RAW, source))) is not None}
            context.update_cursor(json.dumps(start, sort_keys=True))
            return
        seen = json.loads(context.cursor)
        for source, assets in sorted(by_source.items()):
            latest = _latest_withdrawal(warehouse, table_name(Tier.RAW, source))
            if latest is None or latest <= seen.get(source, ""):
                continue
            yield RunRequest(
                run_key=f"consent-withdrawal:{source}:{latest}",
                asset_selection=assets,
                tags={"privacy/trigger": "consent_withdrawal"},
            )
            seen[source] = latest
        context.update_cursor(json.dumps(seen, sort_keys=True))

    return consent_withdrawals


def _latest_withdrawal(warehouse: Warehouse, table: str) -> str | None:
    if not warehouse.has_table(table):
        return None
    records = sa.table(table, sa.column("status"), sa.column("recorded_at"))
    with warehouse.get_engine().connect() as connection:
        latest = connection.execute(sa.select(sa.func.max(records.c.recorded_at)).where(records.c.status != GRANTED)).scalar_one()
    return None if latest is None else str(latest)
