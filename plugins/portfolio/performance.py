"""Portfolio performance: delinquency (ageing) buckets at each month end and the roll rates between them.

`ageing_history` gives every loan open at each of the given month ends. A month end
whose stored state is given (`states`: the loan_classification materialized for that
month, the book as it was reported then) is read from it: its days past due, balance,
product and start date as reported, even where this month's extract has changed since
(restructurings, write-offs). Only the month ends never materialized are rebuilt from
this month's core extract: its days past due (loanbook.days_past_due on the schedule in
force, via provisioning.history.book_at, which also restores loans written off later
at their balance then), its delinquency bucket (config `ageing_buckets` of
provisioning.yaml: M0 = 0 DPD, M1 = 1–30, …, M6+ above 150) and its outstanding
principal at that month end. Either way the contracted principal and the write-off
date come from this month's extract (its loans table records every past write-off),
and a loan written off on or before a month end is not open at it.

`roll_rates` pools, over every pair of consecutive month ends in the history, where
each loan open at the first went by the second: to a bucket, "closed" (no longer
open and not written off: repaid) or "written off" (written off in between). The
weight of a loan is its balance at the first month end (weight="balance") or 1
(weight="count"), so each row is the share of the from-bucket's balance (or
loans) that went to each column, and sums to 1. `roll_amounts` gives the pooled
weights themselves (integer cents or counts), for exact arithmetic downstream.
"""
from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd

from plugins.config import DelinquencyBucket
from plugins.money import to_cents

CLOSED, WRITTEN_OFF = "closed", "written off"
HISTORY_COLUMNS = ["contract_id", "month_end", "dpd", "bucket", "balance_cents", "product", "start_date",
                   "principal_cents", "written_off_on"]


def bucket_of(dpd: int, buckets: Sequence[DelinquencyBucket]) -> str:
    """Label of the first bucket whose max_dpd is at least `dpd` (the last bucket is open)."""
    for bucket in buckets:
        if bucket.max_dpd is None or dpd <= bucket.max_dpd:
            return bucket.label
    raise ValueError("the last delinquency bucket must be open (max_dpd omitted)")


def _iso_date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


@dataclass(frozen=True)
class MonthEndSources:
    """Where the month ends of a history came from (each oldest first).

    read: from the stored month-end state; rebuilt: never materialized, rebuilt from this month's
    extract; given: taken from a history already built (portfolio_performance's delinquency_history).
    """
    read: tuple[date, ...] = ()
    rebuilt: tuple[date, ...] = ()
    given: tuple[date, ...] = ()

    def metadata(self) -> dict[str, object]:
        """month_ends_read, month_ends_rebuilt (counts) and the rebuilt month ends (ISO dates)."""
        return {"month_ends_read": len(self.read), "month_ends_rebuilt": len(self.rebuilt),
                "rebuilt_month_ends": [d.isoformat() for d in self.rebuilt]}


def month_end_sources(month_ends: Sequence[date], states: Mapping[date, pd.DataFrame] | None) -> MonthEndSources:
    """Which of `month_ends` are read from `states` and which are rebuilt."""
    ends, states = sorted(set(month_ends)), states or {}
    return MonthEndSources(read=tuple(e for e in ends if e in states), rebuilt=tuple(e for e in ends if e not in states))


def states_by_month_end(values: Mapping[str, pd.DataFrame]) -> dict[date, pd.DataFrame]:
    """{"YYYY-MM": stored frame} (monthly partitions as the work store returns them) → {month end: frame}."""
    out = {}
    for key, frame in values.items():
        year, month = int(key[:4]), int(key[5:7])
        out[date(year, month, calendar.monthrange(year, month)[1])] = frame
    return out


def _day(value) -> date | None:
    if value is None or (not isinstance(value, date) and pd.isna(value)):
        return None
    return value.date() if isinstance(value, pd.Timestamp) else value


def _open_rows(book: pd.DataFrame, when: date, principal: Mapping[str, int],
               written_off: Mapping[str, date | None], buckets: Sequence[DelinquencyBucket]) -> pd.DataFrame:
    """HISTORY_COLUMNS rows of the loans of `book` (the book at `when`) not written off by then."""
    keep = pd.Series([not (written_off.get(cid) and written_off[cid] <= when) for cid in book["contract_id"]],
                     index=book.index, dtype=bool)  # a mask, so an empty book keeps its columns
    book = book[keep]
    ids = [str(cid) for cid in book["contract_id"]]
    unknown = [cid for cid in ids if cid not in principal]
    if unknown:
        raise ValueError(f"{when}: contracts not in this month's loans table (no principal): {unknown[:10]}")
    return pd.DataFrame({
        "contract_id": pd.Series(ids, dtype=object),
        "month_end": when,
        "dpd": book["dpd"].astype("int64").to_numpy(),
        "bucket": [bucket_of(int(d), buckets) for d in book["dpd"]],
        "balance_cents": book["balance_cents"].astype("int64").to_numpy(),
        "product": book["product"].to_numpy(),
        "start_date": [_day(v) for v in book["start_date"]],
        "principal_cents": [principal[cid] for cid in ids],
        "written_off_on": [written_off.get(cid) for cid in ids],
    }, columns=HISTORY_COLUMNS)


def ageing_history(extract: Mapping[str, pd.DataFrame], month_ends: list[date],
                   buckets: Sequence[DelinquencyBucket],
                   states: Mapping[date, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Every loan open at each month end: contract_id, month_end (date), dpd, bucket, balance_cents.

    Also product, start_date (date), principal_cents (as contracted; for vintage curves) and
    written_off_on (date or None: when the extract records a later write-off). `buckets` are
    the `ageing_buckets` of provisioning.yaml. A month end in `states` (month end → that month's
    stored loan_classification: contract_id, dpd, balance_cents, product, start_date) is read
    from it; the others are rebuilt from `extract` (`month_end_sources` says which). Rows are
    ordered by month end, then contract_id.
    """
    # Imported here: plugins.provisioning (its ECL's flow-rate matrix) imports this module.
    from plugins.provisioning.history import book_at

    loans = extract["loans"]
    principal = {str(cid): to_cents(p) for cid, p in zip(loans["contract_id"], loans["principal"])}
    written_off = {str(cid): _iso_date(d) for cid, d in zip(loans["contract_id"], loans["written_off_on"])}
    states = states or {}
    parts = []
    for when in sorted(set(month_ends)):
        book = states[when] if when in states else book_at(extract, when)
        parts.append(_open_rows(book, when, principal, written_off, buckets))
    parts = [part for part in parts if len(part)]
    if not parts:
        return pd.DataFrame(columns=HISTORY_COLUMNS).astype(
            {"dpd": "int64", "balance_cents": "int64", "principal_cents": "int64"})
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.astype({"dpd": "int64", "balance_cents": "int64", "principal_cents": "int64"})
    return frame.sort_values(["month_end", "contract_id"], ignore_index=True)


def _end(value) -> date:
    return value if isinstance(value, date) and not isinstance(value, pd.Timestamp) else pd.Timestamp(value).date()


def transitions(history: pd.DataFrame) -> pd.DataFrame:
    """One row per loan open at a month end that has a next month end in the history.

    Columns: month_end (the first of the pair), next_month_end, contract_id, from_bucket, to_bucket
    (a bucket, "closed" or "written off"), balance_cents (at the first month end).
    """
    ends = sorted({_end(v) for v in history["month_end"]})
    columns = ["month_end", "next_month_end", "contract_id", "from_bucket", "to_bucket", "balance_cents"]
    rows = []
    by_end = {end: part for end, part in history.groupby(history["month_end"].map(_end))}
    for first, second in zip(ends, ends[1:]):
        before, after = by_end[first], by_end[second]
        later = dict(zip(after["contract_id"], after["bucket"]))
        off = (dict(zip(before["contract_id"], before["written_off_on"])) if "written_off_on" in before else {})
        for cid, bucket, balance in zip(before["contract_id"], before["bucket"], before["balance_cents"]):
            if cid in later:
                to = later[cid]
            else:
                when = off.get(cid)
                to = WRITTEN_OFF if when is not None and not pd.isna(when) and _end(when) <= second else CLOSED
            rows.append((first, second, cid, bucket, to, int(balance)))
    return pd.DataFrame(rows, columns=columns).astype({"balance_cents": "int64"})


def roll_amounts(history: pd.DataFrame, weight: str,
                 buckets: Sequence[DelinquencyBucket]) -> pd.DataFrame:
    """Pooled weights (integer cents of balance at the from-month end, or loan counts) from bucket to column.

    Rows: every bucket (index name "from"); columns: every bucket, then "closed" and "written off".
    """
    if weight not in ("balance", "count"):
        raise ValueError(f"weight must be 'balance' or 'count', not {weight!r}")
    order = [b.label for b in buckets]
    moves = transitions(history)
    values = moves["balance_cents"] if weight == "balance" else pd.Series(1, index=moves.index, dtype="int64")
    table = values.groupby([moves["from_bucket"], moves["to_bucket"]]).sum().unstack(fill_value=0)
    table = table.reindex(index=order, columns=[*order, CLOSED, WRITTEN_OFF], fill_value=0).fillna(0)
    table.index.name, table.columns.name = "from", "to"
    return table.astype("int64")


def roll_rates(history: pd.DataFrame, weight: str,
               buckets: Sequence[DelinquencyBucket]) -> pd.DataFrame:
    """Bucket-to-bucket transition fractions between consecutive month ends, pooled over the history.

    Rows: from bucket (every bucket, index name "from"); columns: to bucket, then "closed" (repaid,
    left the book) and "written off". Each row sums to 1 by balance at the from-month end
    (weight="balance") or by number of loans (weight="count"); a bucket no loan was in is all NaN.
    """
    amounts = roll_amounts(history, weight, buckets)
    totals = amounts.sum(axis=1)
    rates = amounts.div(totals.where(totals > 0), axis=0)
    return rates.astype("float64")
