"""The reporting calendar (config/institution.yaml `calendar`): data cut-off, filing deadlines and working days.

Working days follow the Chinese public-holiday calendar (国务院办公厅 each year's 节假日安排): a weekday of a
public holiday is not a working day, and an adjusted working day (调休, a Saturday or Sunday worked in
exchange) is one. The dates come from the `chinese-calendar` package (pinned), which covers the years the
State Council has announced; a year it does not cover yet counts Monday–Friday and `is_working_day`'s
caller can ask `holiday_calendar_covers` to say so. `calendar.working_days: weekdays` in institution.yaml
counts Monday–Friday everywhere (a lender outside the mainland calendar).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from plugins.config import Calendar

CHINESE_PUBLIC_HOLIDAYS, WEEKDAYS = "chinese_public_holidays", "weekdays"


def holiday_calendar_covers(day: date) -> bool:
    """Whether the public-holiday calendar knows `day`'s year (the State Council announces each year late
    the year before)."""
    import chinese_calendar

    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


def is_working_day(day: date, rule: str = CHINESE_PUBLIC_HOLIDAYS) -> bool:
    """A working day under `rule`: the public-holiday calendar with its adjusted working days, or
    Monday–Friday (also for a year the holiday calendar does not cover yet)."""
    if rule == CHINESE_PUBLIC_HOLIDAYS:
        import chinese_calendar

        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:  # a year not announced yet: the weekdays are the best knowledge
            pass
    elif rule != WEEKDAYS:
        raise ValueError(f"unknown working-day rule {rule!r} (use {CHINESE_PUBLIC_HOLIDAYS} or {WEEKDAYS})")
    return day.weekday() < 5


def add_working_days(day: date, n: int, rule: str = CHINESE_PUBLIC_HOLIDAYS) -> date:
    """The `n`-th working day after `day` (`day` itself does not count; n ≥ 0; n = 0 is `day`)."""
    if n < 0:
        raise ValueError("add_working_days counts forward: n must be 0 or more")
    current = day
    while n:
        current += timedelta(days=1)
        if is_working_day(current, rule):
            n -= 1
    return current


def next_working_day(day: date, rule: str = CHINESE_PUBLIC_HOLIDAYS) -> date:
    """`day` when it is a working day, else the first working day after it (遇节假日顺延)."""
    while not is_working_day(day, rule):
        day += timedelta(days=1)
    return day


def working_days_between(start: date, end: date, rule: str = CHINESE_PUBLIC_HOLIDAYS) -> int:
    """Working days after `start` up to and including `end` (0 when `end` is not after `start`)."""
    count, current = 0, start
    while current < end:
        current += timedelta(days=1)
        count += is_working_day(current, rule)
    return count


def filing_deadline(quarter_end: date, calendar: Calendar) -> date:
    """Quarterly returns are due this many calendar days after quarter end (1104: 13 days); a deadline that
    falls on a day off moves to the next working day when `filing_deadline_on_day_off: next_working_day`."""
    deadline = quarter_end + timedelta(days=calendar.quarterly_filing_days_after_quarter_end)
    if calendar.filing_deadline_on_day_off == "next_working_day":
        deadline = next_working_day(deadline, calendar.working_days)
    return deadline


def data_delivery_due(period_end: date, calendar: Calendar) -> date:
    """When the core system's period-end extract (the data cut-off) must be in the inbox."""
    return period_end + timedelta(days=calendar.data_cutoff_days_after_period_end)


def as_date(value: object) -> date | None:
    """A cell as a date: None for an empty or missing one (None, NA, NaT, NaN, ''), dates and timestamps as
    they are, text by its first ten characters (ISO)."""
    if value is None or (isinstance(value, float) and value != value) or str(value) in ("<NA>", "NaT"):
        return None  # missing: None, NaN, pandas' NA and NaT
    if isinstance(value, datetime):  # a pandas Timestamp too
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    return date.fromisoformat(text[:10]) if text else None
