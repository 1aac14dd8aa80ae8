"""Portfolio performance: delinquency (ageing) buckets at each month end and the roll rates between them.

`ageing_history` rebuilds, from one month's core extract, every loan open at each of
the given month ends: its days past due (loanbook.days_past_due on the schedule in
force, via provisioning.history.book_at, which also restores loans written off later
at their balance then), its delinquency bucket (config `ageing_buckets` of
provisioning.yaml: M0 = 0 DPD, M1 = 1–30, …, M6+ above 150) and its outstanding
principal at that month end. A loan written off on or before a month end is not
open at it.

`roll_rates` pools, over every pair of consecutive month ends in the history, where
each loan open at the first went by the second: to a bucket, "closed" (no longer
open and not written off: repaid) or "written off" (written off in between). The
weight of a loan is its balance at the first month end (weight="balance") or 1
(weight="count"), so each row is the share of the from-bucket's balance (or
loans) that went to each column, and sums to 1. `roll_amounts` gives the pooled
weights themselves (integer cents or counts), for exact arithmetic downstream.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def ageing_history(extract: Mapping[str, pd.DataFrame], month_ends: list[date],
                   buckets: Sequence[DelinquencyBucket]) -> pd.DataFrame:
    """Every loan open at each month end: contract_id, month_end (date), dpd, bucket, balance_cents.

    Also product, start_date (date), principal_cents (as contracted; for vintage curves) and
    written_off_on (date or None: when the extract records a later write-off). `buckets` are
    the `ageing_buckets` of provisioning.yaml. Rows are ordered by month end, then contract_id.
    """
    # Imported here: plugins.provisioning (its ECL's flow-rate matrix) imports this module.
    from plugins.provisioning.history import book_at

    loans = extract["loans"]
    principal = {cid: to_cents(p) for cid, p in zip(loans["contract_id"], loans["principal"])}
    written_off = {cid: _iso_date(d) for cid, d in zip(loans["contract_id"], loans["written_off_on"])}
    parts = []
    for when in sorted(set(month_ends)):
        book = book_at(extract, when)
        book = book[[not (written_off.get(cid) and written_off[cid] <= when) for cid in book["contract_id"]]]
        parts.append(pd.DataFrame({
            "contract_id": book["contract_id"].to_numpy(),
            "month_end": when,
            "dpd": book["dpd"].astype("int64").to_numpy(),
            "bucket": [bucket_of(int(d), buckets) for d in book["dpd"]],
            "balance_cents": book["balance_cents"].astype("int64").to_numpy(),
            "product": book["product"].to_numpy(),
            "start_date": book["start_date"].to_numpy(),
            "principal_cents": [principal[cid] for cid in book["contract_id"]],
            "written_off_on": [written_off.get(cid) for cid in book["contract_id"]],
        }, columns=HISTORY_COLUMNS))
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
