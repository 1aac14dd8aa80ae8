"""Working days follow the Chinese public-holiday calendar (2026: 国庆节 1–7 October off, Saturday
10 October worked in exchange), for inspection due dates and filing deadlines."""
from __future__ import annotations

from datetime import date

from plugins.calendar import add_working_days, filing_deadline, is_working_day, next_working_day, working_days_between
from plugins.config import Calendar, FirstInspection
from plugins.monitoring.inspections import requirements


def test_five_working_days_after_28_september_2026_skip_national_day():
    # 29, 30 September; 1–7 October are the holiday; 8, 9 October; Saturday 10 October is an adjusted working day.
    due = add_working_days(date(2026, 9, 28), 5)
    assert due == date(2026, 10, 10)
    assert not date(2026, 10, 1) <= due <= date(2026, 10, 7)


def test_monday_to_friday_alone_would_land_inside_the_holiday():
    assert add_working_days(date(2026, 9, 28), 5, "weekdays") == date(2026, 10, 5)


def test_adjusted_working_saturday_is_a_working_day_and_a_holiday_weekday_is_not():
    assert is_working_day(date(2026, 10, 10))        # Saturday, 调休
    assert not is_working_day(date(2026, 10, 1))     # Thursday, 国庆节
    assert not is_working_day(date(2026, 10, 11))    # Sunday


def test_working_days_between_counts_after_start_up_to_end():
    assert working_days_between(date(2026, 9, 28), date(2026, 10, 10)) == 5


def test_a_year_not_announced_yet_counts_monday_to_friday():
    assert add_working_days(date(2030, 1, 4), 1) == date(2030, 1, 7)   # Friday → Monday


def test_first_inspection_due_within_five_working_days_skips_the_holiday():
    policy_first = FirstInspection(within_working_days=5)
    from plugins.config import load_config

    policy = load_config().inspections.model_copy(update={"first_inspection": policy_first})
    first = requirements(date(2026, 9, 28), 1, None, False, [], date(2026, 10, 31), policy)[0]
    assert first.due == date(2026, 10, 10)


def test_filing_deadline_on_a_day_off_moves_to_the_next_working_day_when_configured():
    # Quarter end 30 June 2026 + 1 day = 1 July (Wednesday, working); + 4 days = 4 July, a Saturday.
    moved = Calendar(first_period="2023-10", monthly_report_day=10, quarterly_filing_days_after_quarter_end=4,
                     quarterly_run_day_after_quarter_end=2, filing_deadline_on_day_off="next_working_day")
    kept = moved.model_copy(update={"filing_deadline_on_day_off": "keep"})
    assert filing_deadline(date(2026, 6, 30), moved) == date(2026, 7, 6)
    assert filing_deadline(date(2026, 6, 30), kept) == date(2026, 7, 4)
    assert next_working_day(date(2026, 10, 1)) == date(2026, 10, 8)
