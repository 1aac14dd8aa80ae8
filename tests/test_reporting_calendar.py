"""The reporting calendar from config/institution.yaml: cut-off, run day and filing deadline."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from pydantic import ValidationError

from plugins.calendar import data_delivery_due, filing_deadline
from plugins.config import Calendar, load_config


def test_quarterly_returns_are_due_13_days_after_quarter_end_and_run_before() -> None:
    calendar = load_config().institution.calendar
    assert filing_deadline(date(2026, 9, 30), calendar) == date(2026, 10, 13)
    assert filing_deadline(date(2026, 12, 31), calendar) == date(2027, 1, 13)
    assert calendar.quarterly_run_day_after_quarter_end < calendar.quarterly_filing_days_after_quarter_end
    assert data_delivery_due(date(2026, 9, 30), calendar) == date(2026, 10, 5)


def test_a_run_day_after_the_deadline_is_refused() -> None:
    with pytest.raises(ValidationError, match="before the filing deadline"):
        Calendar(first_period="2023-10", monthly_report_day=10, quarterly_filing_days_after_quarter_end=13,
                 quarterly_run_day_after_quarter_end=14)


def test_the_quarterly_schedule_runs_on_the_configured_day_and_tags_the_deadline() -> None:
    from dagster import build_schedule_context

    from pipelines.definitions import defs
    from pipelines.jobs import quarterly_schedule

    calendar = load_config().institution.calendar
    assert quarterly_schedule.cron_schedule == f"0 7 {calendar.quarterly_run_day_after_quarter_end} 1,4,7,10 *"
    context = build_schedule_context(repository_def=defs.get_repository_def(), scheduled_execution_time=datetime(2026, 10, 10, 7, tzinfo=timezone.utc))
    request = quarterly_schedule.evaluate_tick(context).run_requests[0]
    assert request.partition_key == "2026-07-01"
    assert request.tags["postloan/filing_deadline"] == "2026-10-13"
    assert request.tags["postloan/data_cutoff"] == "2026-09-30"
