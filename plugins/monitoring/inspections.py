"""Post-loan inspections (贷后检查): what the policy requires, what the log shows done, what is overdue.

The policy (config/inspections.yaml) makes three kinds of requirement per loan on the book:

* **first** (首次检查): due `within_working_days` working days after the start date (the Chinese
  public-holiday calendar with its adjusted working days, plugins/calendar.py); met by
  the loan's first inspection of any type.
* **periodic** (定期检查): due `months_by_tier[tier]` months after the previous inspection done (any
  type; before any, after the first inspection's due date); met by the next inspection done. The
  loan's current tier sets the interval for the whole chain.
* **special** (专项检查): when a trigger is in force - the loan is overdue (trigger: the day it fell
  overdue, `as_of - dpd + 1`) or was downgraded at this month end (trigger: `as_of`) - due
  `within_days` after the trigger; met by a 专项检查 done on or after the trigger.

A requirement is *done on time* when met on or before its due date, *done late* when met after it (by
`as_of`), and *overdue* when unmet and its due date is before `as_of`, by `as_of - due` days. The
inspection log's own due_date (the lender's system's plan) is not used: the due dates are the policy's.
"""
from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from plugins.calendar import add_working_days as working_days_after
from plugins.config import Inspections

FIRST, PERIODIC, SPECIAL = "首次检查", "定期检查", "专项检查"
STATUS_COLUMNS = ["contract_id", "borrower_id", "borrower_name", "borrower_kind", "tier", "balance_cents",
                  "last_inspection", "next_inspection", "next_due", "overdue", "days_overdue"]
REQUIREMENT_COLUMNS = ["contract_id", "kind", "due", "done"]


def add_working_days(day: date, n: int) -> date:
    """`n` weekdays (Monday–Friday) after `day`, holidays not counted: how the sample lender's own system
    plans its inspections (plugins/sample/inspections.py). The pipeline's due dates use plugins.calendar."""
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clipped to the month's last day."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Requirement:
    kind: str
    due: date
    done: date | None  # the inspection that met it (by as_of), or None


def _as_date(value) -> date | None:
    if value is None or value == "" or (isinstance(value, float) and value != value) or value is pd.NaT:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def done_inspections(log: pd.DataFrame, as_of: date) -> dict[str, list[tuple[date, str]]]:
    """contract_id → (done_date, inspection_type) of inspections done by `as_of`, oldest first."""
    out: dict[str, list[tuple[date, str]]] = {}
    for cid, kind, done in zip(log["contract_id"], log["inspection_type"], log["done_date"]):
        when = _as_date(done)
        if when is not None and when <= as_of:
            out.setdefault(str(cid), []).append((when, str(kind)))
    return {cid: sorted(items) for cid, items in out.items()}


def overdue_since(schedules: pd.DataFrame, payments: pd.DataFrame, as_of: date) -> dict[str, date]:
    """contract_id → the first day of its current overdue spell, for contracts overdue at `as_of`.

    Each instalment of the schedule in force due before `as_of` is overdue from the day after its due
    date until the day its payments (by `as_of`) add up to the amount due; overlapping or touching
    intervals form one spell. Days past due count from the oldest unpaid instalment only, so a spell can
    have begun before `as_of - dpd + 1` when older instalments were caught up while newer ones fell due.
    """
    from plugins.portfolio.loanbook import _cents, _dates

    sched = schedules.copy()
    sched["schedule_version"] = sched["schedule_version"].astype(int)
    sched = sched[sched["schedule_version"] == sched.groupby("contract_id")["schedule_version"].transform("max")]
    sched = sched.assign(due_date=_dates(sched["due_date"]))
    sched = sched[sched["due_date"] < as_of]
    sched = sched.assign(due=_cents(sched["principal_due"]) + _cents(sched["interest_due"]))
    pay = payments.assign(paid_date=_dates(payments["paid_date"]),
                          schedule_version=payments["schedule_version"].astype(int))
    pay = pay[pay["paid_date"] <= as_of]
    keys = ["contract_id", "schedule_version", "instalment_no"]
    pay = pay.assign(amount=_cents(pay["principal_paid"]) + _cents(pay["interest_paid"])).sort_values([*keys, "paid_date"])
    pay["cumulative"] = pay.groupby(keys)["amount"].cumsum()
    merged = pay.merge(sched[[*keys, "due"]], on=keys, how="inner")
    settled = merged[merged["cumulative"] >= merged["due"]].groupby(keys)["paid_date"].min()
    spells: dict[str, list[tuple[date, date]]] = {}
    for cid, version, no, due in zip(sched["contract_id"], sched["schedule_version"], sched["instalment_no"],
                                     sched["due_date"]):
        paid_on = settled.get((cid, version, no))
        if paid_on is None or paid_on > due:
            spells.setdefault(str(cid), []).append((due + timedelta(days=1), paid_on or date.max))
    out = {}
    for cid, intervals in spells.items():
        start, end = None, None
        for low, high in sorted(intervals):
            if start is None or low > end:
                start, end = low, high
            else:
                end = max(end, high)
        if end is not None and end > as_of:  # the last spell is still open at as_of
            out[cid] = start
    return out


def requirements(start: date, tier: int, overdue_from: date | None, downgraded: bool, done: list[tuple[date, str]],
                 as_of: date, policy: Inspections) -> list[Requirement]:
    """Every requirement of one loan up to `as_of` and the next one outstanding, in due-date order."""
    first_due = working_days_after(start, policy.first_inspection.within_working_days)
    out = [Requirement(FIRST, first_due, done[0][0] if done else None)]
    months = policy.periodic.months_by_tier[tier]
    previous = done[0][0] if done else first_due
    for when, _ in done[1:]:
        out.append(Requirement(PERIODIC, add_months(previous, months), when))
        previous = when
    if done:  # before the first inspection the first one is what is due
        out.append(Requirement(PERIODIC, add_months(previous, months), None))
    triggers = []
    if "overdue" in policy.special.triggers and overdue_from is not None:
        triggers.append(overdue_from)
    if "downgrade" in policy.special.triggers and downgraded:
        triggers.append(as_of)
    if triggers:
        trigger = min(triggers)
        met = next((when for when, kind in done if kind == SPECIAL and when >= trigger), None)
        out.append(Requirement(SPECIAL, trigger + timedelta(days=policy.special.within_days), met))
    return sorted(out, key=lambda r: (r.due, r.kind))


def _previous_tier(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def book_requirements(book: pd.DataFrame, log: pd.DataFrame, as_of: date, policy: Inspections,
                      spells: Mapping[str, date] | None = None) -> dict[str, list[Requirement]]:
    """contract_id → requirements, for every loan of the classified book (tier, dpd, start_date).

    `spells` (from :func:`overdue_since`) dates when each overdue loan fell overdue; without it, or for a
    loan it lacks, the day after the oldest unpaid instalment's due date (`as_of - dpd + 1`).
    """
    spells = spells or {}
    done = done_inspections(log, as_of)
    previous = book["previous_tier"] if "previous_tier" in book else [None] * len(book)
    out = {}
    for cid, start, tier, dpd, before in zip(book["contract_id"], book["start_date"], book["tier"], book["dpd"],
                                             previous):
        before = _previous_tier(before)
        since = (spells.get(str(cid)) or as_of - timedelta(days=int(dpd) - 1)) if int(dpd) > 0 else None
        out[str(cid)] = requirements(_as_date(start), int(tier), since, before is not None and int(tier) > before,
                                     done.get(str(cid), []), as_of, policy)
    return out


def inspection_status(book: pd.DataFrame, log: pd.DataFrame, as_of: date, policy: Inspections,
                      spells: Mapping[str, date] | None = None) -> pd.DataFrame:
    """Per loan of the book: the last inspection done, the next one due (the earliest unmet requirement),
    whether it is overdue at `as_of` and by how many days. Ordered by days overdue (most first), contract."""
    reqs = book_requirements(book, log, as_of, policy, spells)
    done = done_inspections(log, as_of)
    rows = []
    for r in book.itertuples(index=False):
        cid = str(r.contract_id)
        unmet = [q for q in reqs[cid] if q.done is None]
        nxt = unmet[0] if unmet else None
        days = (as_of - nxt.due).days if nxt and nxt.due < as_of else 0
        rows.append([cid, r.borrower_id, getattr(r, "borrower_name", ""), getattr(r, "borrower_kind", None),
                     int(r.tier), int(r.balance_cents), done[cid][-1][0] if cid in done else None,
                     nxt.kind if nxt else None, nxt.due if nxt else None, days > 0, days])
    frame = pd.DataFrame(rows, columns=STATUS_COLUMNS)
    frame = frame.sort_values(["days_overdue", "contract_id"], ascending=[False, True], kind="stable")
    return frame.reset_index(drop=True)


def _band_labels(bands: list[int]) -> list[tuple[str, int, int | None]]:
    out, low = [], 1
    for high in bands:
        out.append((f"{low}–{high}天", low, high))
        low = high + 1
    out.append((f"{low - 1}天以上", low, None))
    return out


def month_summary(book: pd.DataFrame, log: pd.DataFrame, as_of: date, policy: Inspections,
                  spells: Mapping[str, date] | None = None) -> pd.DataFrame:
    """The month's inspections by kind: due this month, done on time, done late, not done (overdue).

    "Due this month" are requirements whose due date falls in `as_of`'s month up to `as_of`.
    """
    first_day = as_of.replace(day=1)
    reqs = book_requirements(book, log, as_of, policy, spells)
    rows = []
    for kind in (FIRST, PERIODIC, SPECIAL, "合计"):
        mine = [q for items in reqs.values() for q in items
                if first_day <= q.due <= as_of and (kind == "合计" or q.kind == kind)]
        on_time = sum(1 for q in mine if q.done is not None and q.done <= q.due)
        late = sum(1 for q in mine if q.done is not None and q.done > q.due)
        rows.append((kind, len(mine), on_time, late, len(mine) - on_time - late))
    return pd.DataFrame(rows, columns=["检查类型", "本月应检查", "按时完成", "逾期完成", "未完成"])


def overdue_ageing(status: pd.DataFrame, policy: Inspections) -> pd.DataFrame:
    """Loans whose next inspection is overdue, by days overdue (bands of config overdue_bands)."""
    rows = []
    overdue = status[status["overdue"]]
    for label, low, high in _band_labels(policy.overdue_bands):
        days = overdue["days_overdue"]
        mask = (days >= low) & (days <= high) if high is not None else days >= low
        rows.append((label, int(mask.sum()), int(overdue.loc[mask, "balance_cents"].sum())))
    rows.append(("合计", len(overdue), int(overdue["balance_cents"].sum())))
    return pd.DataFrame(rows, columns=["逾期天数", "loans", "balance_cents"])


def inspection_report(book: pd.DataFrame, extract: Mapping[str, pd.DataFrame], as_of: date,
                      policy: Inspections) -> dict[str, pd.DataFrame]:
    """The three frames the management pack shows: month summary, overdue ageing, per-loan status."""
    log = extract["inspections"]
    spells = overdue_since(extract["schedules"], extract["payments"], as_of)
    status = inspection_status(book, log, as_of, policy, spells)
    return {"summary": month_summary(book, log, as_of, policy, spells), "ageing": overdue_ageing(status, policy),
            "status": status}
