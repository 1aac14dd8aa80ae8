"""Vintage curves and roll-rate summary from the ageing history (plugins/portfolio/performance.py).

Vintage: loans are grouped in cohorts by the quarter of their start date ("2025Q1"). A loan's months on
book (MOB) at a month end is the number of calendar months from its start month. For a cohort and a MOB
`m`, the curve is the share of the cohort's contracted principal whose loans have, at some month end
with MOB ≤ m, been more than `bad_dpd` days past due (by default 30 and 90: the M1 / M3 upper bounds of
the delinquency buckets) - or written off by then. Loans repaid early stay in the denominator. A cohort's
curve runs up to the MOB its last start month has reached at the report date, so every loan counts at
every point; only cohorts that start inside the history window are shown (their early months are known).

Roll rates: the balance-weighted share of each bucket that moves to the next worse bucket by the next
month end (M0→M1, M1→M2, …), with the share that cures back to M0 beside it, pooled over the window.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from plugins.config import DelinquencyBucket
from plugins.portfolio.performance import MonthEndSources, ageing_history, month_end_sources, roll_amounts

VINTAGE_COLUMNS = ["cohort", "mob", "loans", "principal_cents", "bad_30_cents", "bad_90_cents", "share_30",
                   "share_90"]


def month_ends_back(as_of: date, months: int) -> list[date]:
    """The last `months` month ends up to `as_of` (a month end), oldest first."""
    out, day = [], as_of
    for _ in range(months):
        out.append(day)
        day = day.replace(day=1) - timedelta(days=1)
    return sorted(out)


def cohort_of(start: date) -> str:
    return f"{start.year}Q{(start.month - 1) // 3 + 1}"


def months_on_book(start: date, month_end: date) -> int:
    return (month_end.year - start.year) * 12 + month_end.month - start.month


def _share(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def vintage_curves(history: pd.DataFrame, as_of: date, bad_dpd: tuple[int, int] = (30, 90)) -> pd.DataFrame:
    """Long frame: cohort, mob, loans, principal_cents, bad_30_cents, bad_90_cents, share_30, share_90.

    `history` is :func:`ageing_history` output (contract_id, month_end, dpd, start_date, principal_cents,
    written_off_on). Shares are fractions with four decimals (ROUND_HALF_UP), exact from integer cents.
    """
    if history.empty:
        return pd.DataFrame(columns=VINTAGE_COLUMNS)
    first_end = min(history["month_end"])
    window_start = first_end.replace(day=1)
    loans = history.drop_duplicates("contract_id").set_index("contract_id")
    loans = loans[np.array([s >= window_start for s in loans["start_date"]], dtype=bool)]  # early months known
    low, high = bad_dpd
    first_bad: dict[int, dict[str, int]] = {low: {}, high: {}}
    for cid, end, dpd, start in zip(history["contract_id"], history["month_end"], history["dpd"],
                                    history["start_date"]):
        if cid not in loans.index:
            continue
        mob = months_on_book(start, end)
        for limit in (low, high):
            if dpd > limit and mob < first_bad[limit].get(cid, 10**6):
                first_bad[limit][cid] = mob
    for cid, off in zip(loans.index, loans["written_off_on"]):
        if off is not None and not pd.isna(off) and off <= as_of:
            mob = months_on_book(loans.at[cid, "start_date"], off)
            for limit in (low, high):
                first_bad[limit][cid] = min(first_bad[limit].get(cid, 10**6), mob)
    rows = []
    loans = loans.assign(cohort=[cohort_of(s) for s in loans["start_date"]])
    for cohort, members in loans.groupby("cohort", sort=True):
        last_start = max(members["start_date"])
        reach = months_on_book(last_start, as_of)
        principal = int(members["principal_cents"].sum())
        for mob in range(0, reach + 1):
            bad = {limit: int(sum(p for cid, p in zip(members.index, members["principal_cents"])
                                  if first_bad[limit].get(cid, 10**6) <= mob)) for limit in (low, high)}
            rows.append((cohort, mob, len(members), principal, bad[low], bad[high], _share(bad[low], principal),
                         _share(bad[high], principal)))
    return pd.DataFrame(rows, columns=VINTAGE_COLUMNS)


def roll_summary(history: pd.DataFrame, buckets: Sequence[DelinquencyBucket]) -> pd.DataFrame:
    """Per bucket but the last: balance at the from-month ends, share rolling to the next bucket, share
    back to M0 (the first bucket), share closed (repaid) or written off - fractions with 4 decimals."""
    amounts = roll_amounts(history, "balance", buckets)
    labels = [b.label for b in buckets]
    rows = []
    for here, after in zip(labels, labels[1:]):
        row = amounts.loc[here]
        total = int(row.sum())
        rows.append((here, after, total, _share(int(row[after]), total),
                     _share(int(row[labels[0]]), total) if here != labels[0] else None,
                     _share(int(row["closed"]), total), _share(int(row["written off"]), total)))
    return pd.DataFrame(rows, columns=["from_bucket", "to_bucket", "balance_cents", "roll_rate", "cure_rate",
                                       "closed_rate", "written_off_rate"])


def _day(value) -> date | None:
    if value is None or (not isinstance(value, date) and pd.isna(value)):
        return None
    return value.date() if isinstance(value, pd.Timestamp) else value


def as_dates(history: pd.DataFrame) -> pd.DataFrame:
    """The history's date columns as `datetime.date` (a frame read back from Parquet may carry Timestamps)."""
    out = history.copy()
    for column in ("month_end", "start_date", "written_off_on"):
        if column in out:
            out[column] = pd.Series([_day(v) for v in out[column]], index=out.index, dtype=object)
    return out


def performance_report(extract: Mapping[str, pd.DataFrame], as_of: date, months: int,
                       buckets: Sequence[DelinquencyBucket], recent: pd.DataFrame | None = None,
                       states: Mapping[date, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """Vintage curves over the last `months` month ends, and roll rates (frames only, so the work store keeps
    them as tables); `performance_report_sourced` also says where each month end came from.

    `recent` is an ageing history already built for some of those month ends (the delinquency_history
    asset: the provisioning flow-rate window); its month ends are taken as they are, and the roll rates are
    pooled over it alone, so the report's roll rates are the ones the provision matrix uses. The other month
    ends are read from `states` (month end → that month's stored loan_classification) where given, and
    rebuilt from `extract` only where not. Without `recent` the roll rates pool every month end.
    """
    return performance_report_sourced(extract, as_of, months, buckets, recent, states)[0]


def performance_report_sourced(extract: Mapping[str, pd.DataFrame], as_of: date, months: int,
                               buckets: Sequence[DelinquencyBucket], recent: pd.DataFrame | None = None,
                               states: Mapping[date, pd.DataFrame] | None = None,
                               ) -> tuple[dict[str, pd.DataFrame], MonthEndSources]:
    """`performance_report` and the month ends it took from `recent` (given), read from `states` and rebuilt."""
    ends = month_ends_back(as_of, months)
    given: list[date] = []
    if recent is not None and len(recent):
        recent = as_dates(recent)
        known = set(recent["month_end"])
        given = [e for e in ends if e in known]
    rest = [e for e in ends if e not in set(given)]
    older = as_dates(ageing_history(extract, rest, buckets, states))
    if recent is not None and len(recent):
        chosen = recent[np.array([e in set(ends) for e in recent["month_end"]], dtype=bool)][older.columns]
        parts = [part for part in (older, chosen) if len(part)]
        history = pd.concat(parts, ignore_index=True) if parts else older
        rolls = recent
    else:
        history = rolls = older
    sources = month_end_sources(rest, states)
    return ({"vintage": vintage_curves(history, as_of), "roll_rates": roll_summary(rolls, buckets)},
            MonthEndSources(read=sources.read, rebuilt=sources.rebuilt, given=tuple(given)))
