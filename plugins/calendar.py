"""The reporting calendar (config/institution.yaml `calendar`): data cut-off and filing deadlines."""
from __future__ import annotations

from datetime import date, timedelta

from plugins.config import Calendar


def filing_deadline(quarter_end: date, calendar: Calendar) -> date:
    """Quarterly returns are due this many calendar days after quarter end (1104: 13 days).

    Calendar days, as the configured rule says; a regulator's shift of a deadline falling on a
    holiday is not modelled here.
    """
    return quarter_end + timedelta(days=calendar.quarterly_filing_days_after_quarter_end)


def data_delivery_due(period_end: date, calendar: Calendar) -> date:
    """When the core system's period-end extract (the data cut-off) must be in the inbox."""
    return period_end + timedelta(days=calendar.data_cutoff_days_after_period_end)
