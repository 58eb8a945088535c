"""The Dagster beta and preview features the factories rely on, acknowledged once.

Dagster warns each time one is used and re-arms the warning after its own `catch_warnings`
blocks, so one run of the demo printed the same three notices 26 times. Each feature is exercised
by the tests (daily partitions and backfills, partitioned blocking checks, sensor owners): a Dagster
upgrade that changes one fails CI, not a user's deploy. Any other beta or preview warning still shows."""

import warnings

from dagster import BetaWarning, PreviewWarning

ACKNOWLEDGED = (
    (BetaWarning, r"Parameter `backfill_policy` of function `asset`"),
    (BetaWarning, r"Parameter `owners` of initializer `SensorDefinition.__init__`"),
    (PreviewWarning, r"Specifying a partitions_def on an AssetCheckSpec"),
)


def acknowledge_previews() -> None:
    for category, message in ACKNOWLEDGED:
        warnings.filterwarnings("ignore", message=message, category=category)
