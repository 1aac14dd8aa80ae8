"""Monthly partitions for the post-loan month; quarterly ones for quarterly returns (G11).

Quarter partition keys are the quarter's first day (2026-07-01 is 2026Q3).
"""
from __future__ import annotations

from datetime import date

import warnings

from dagster import (
    AssetDep, BetaWarning, MonthlyPartitionsDefinition, TimeWindowPartitionMapping, TimeWindowPartitionsDefinition,
)

from pipelines import settings
from plugins.config import HISTORY_MONTHS_BACK, load_config

_institution = load_config(settings.config_dir()).institution
_first = _institution.calendar.first_period
_first_quarter_month = (int(_first[5:7]) - 1) // 3 * 3 + 1
# Months and quarters end at the institution's midnight (config/institution.yaml timezone); the schedules built
# on these partitions fire in the same zone.
TIMEZONE = _institution.timezone

monthly_partitions = MonthlyPartitionsDefinition(start_date=_first, fmt="%Y-%m", timezone=TIMEZONE)
quarterly_partitions = TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1,4,7,10 *", start=f"{_first[:4]}-{_first_quarter_month:02d}-01", fmt="%Y-%m-%d",
    timezone=TIMEZONE,
)

# The month before, as a declared dependency: Dagster then runs a backfill's months in order, and a month
# whose previous month was never run still runs (its input is empty and it bootstraps).
with warnings.catch_warnings():  # allow_nonexistent_upstream_partitions is "beta" in Dagster 1.13
    warnings.simplefilter("ignore", BetaWarning)
    PREVIOUS_MONTH = TimeWindowPartitionMapping(start_offset=-1, end_offset=-1,
                                                allow_nonexistent_upstream_partitions=True)
    # This month and the one before in one input (Dagster takes one input per upstream asset).
    THIS_AND_PREVIOUS_MONTH = TimeWindowPartitionMapping(start_offset=-1, end_offset=0,
                                                         allow_nonexistent_upstream_partitions=True)

# A month's manifests name last month's published loan-level classification (assets/reports.py
# previous_classification looks it up in the catalog), so whatever publishes a manifest for a month is declared
# downstream of that publication: a UI (asset) backfill then publishes the months in order, as the CLI does,
# instead of whichever run comes first (no value is loaded: it orders, the catalog is read as before).
PREVIOUS_PUBLISHED_CLASSIFICATION = AssetDep("published_loan_classification", partition_mapping=PREVIOUS_MONTH)

# The stored month-end states behind the history assets (tier_history, delinquency_history, portfolio_performance):
# this month and the HISTORY_MONTHS_BACK (24) before it. A mapping is fixed when the definitions load while the
# windows are configured (provisioning.yaml ecl.migration.history_months, flow_rates.window_months), so this is
# the maximum: each asset uses its configured window within it, rebuilds only the month ends of that window
# that were never materialized, and plugins/config.py (where HISTORY_MONTHS_BACK = 24 lives, since the config
# loader checks against it and plugins do not import pipelines) refuses a window that does not fit.
# The management report's trend: this month's provisioned book and the TREND_MONTHS_BACK months before it
# (assets/reports.py TREND_MONTHS; a month never run is left out of the trend, not rebuilt).
TREND_MONTHS_BACK = 12
with warnings.catch_warnings():
    warnings.simplefilter("ignore", BetaWarning)
    HISTORY_WINDOW = TimeWindowPartitionMapping(start_offset=-HISTORY_MONTHS_BACK, end_offset=0,
                                                allow_nonexistent_upstream_partitions=True)
    TREND_WINDOW = TimeWindowPartitionMapping(start_offset=-TREND_MONTHS_BACK, end_offset=0,
                                              allow_nonexistent_upstream_partitions=True)


def quarter_key(label: str) -> str:
    """'2026Q3' or '2026-Q3' → '2026-07-01' (the quarterly partition key)."""
    cleaned = label.upper().replace("-", "")
    year, quarter = int(cleaned[:4]), int(cleaned[-1])
    return date(year, 3 * quarter - 2, 1).isoformat()


def quarter_label(key: str) -> str:
    year, month = int(key[:4]), int(key[5:7])
    return f"{year}Q{(month - 1) // 3 + 1}"


def quarter_end_month(key: str) -> str:
    year, month = int(key[:4]), int(key[5:7])
    return f"{year}-{month + 2:02d}"


def quarter_end(key: str) -> date:
    """The last day of the quarter whose partition key is `key` (the data cut-off of its returns)."""
    from plugins.ingest import month_end

    return month_end(quarter_end_month(key))
