"""Collection results (催收) of a month, from the collection log and the loan book.

* **Actions by type**: per action (短信 … 核销) in the month: how many, on how many loans, money recovered.
* **Outcomes**: per outcome (承诺还款, 部分还款, 全额还款, 失联, 拒绝) in the month.
* **Promises** (承诺还款) made in the month: *kept* when the contract recovers money (an action with
  amount_recovered > 0) within `promise_kept_within_days` after the promise and by `as_of`; *broken*
  when that window has closed without money; *pending* when it is still open at `as_of`.
* **Cure rate** by delinquency bucket: loans overdue at the previous month end (by their bucket then)
  that are current at `as_of` - days past due 0, or repaid in full and no longer on the book; a loan
  written off in between is not cured. Rate = cured / overdue loans of the bucket (count), with the
  balances at the previous month end beside it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd

from plugins.config import Collections, DelinquencyBucket
from plugins.money import ratio, to_cents, wan_yuan

# The order actions are shown in (config/collections.yaml `channels` is what the gate accepts).
ACTIONS = ["短信", "电话", "邮件", "信函", "上门", "逾期通知书", "催收函", "律师函", "协商", "诉讼", "仲裁", "拍卖",
           "追偿", "转让", "核销"]
OUTCOMES = ["承诺还款", "部分还款", "全额还款", "失联", "拒绝"]
PROMISE = "承诺还款"


def _dates(column: pd.Series) -> list[date | None]:
    return [None if v in ("", None) or (isinstance(v, float) and v != v)
            else (v if isinstance(v, date) else date.fromisoformat(str(v))) for v in column]


def _typed(log: pd.DataFrame) -> pd.DataFrame:
    out = log.copy()
    out["action_date"] = _dates(out["action_date"])
    out["amount_cents"] = [to_cents(v) if str(v).strip() not in ("", "nan", "None") else 0
                           for v in out["amount_recovered"]]
    out["outcome"] = out["outcome"].fillna("").astype(str)
    return out


def _in_month(log: pd.DataFrame, as_of: date) -> pd.DataFrame:
    first = as_of.replace(day=1)
    return log[np.array([d is not None and first <= d <= as_of for d in log["action_date"]], dtype=bool)]


def actions_by_type(log: pd.DataFrame, as_of: date) -> pd.DataFrame:
    month = _in_month(_typed(log), as_of)
    known = [a for a in ACTIONS if a in set(month["action"])] + sorted(set(month["action"]) - set(ACTIONS))
    rows = [(a, int((month["action"] == a).sum()), int(month.loc[month["action"] == a, "contract_id"].nunique()),
             int(month.loc[month["action"] == a, "amount_cents"].sum())) for a in known]
    rows.append(("合计", len(month), int(month["contract_id"].nunique()), int(month["amount_cents"].sum())))
    return pd.DataFrame(rows, columns=["催收方式", "次数", "loans", "recovered_cents"])


def outcomes(log: pd.DataFrame, as_of: date) -> pd.DataFrame:
    month = _in_month(_typed(log), as_of)
    month = month[month["outcome"] != ""]
    rows = [(o, int((month["outcome"] == o).sum()), int(month.loc[month["outcome"] == o, "contract_id"].nunique()))
            for o in OUTCOMES]
    return pd.DataFrame(rows, columns=["结果", "次数", "loans"])


def promises(log: pd.DataFrame, as_of: date, policy: Collections) -> dict[str, int]:
    """Promises made in the month: made, kept, broken, pending (see the module docstring)."""
    typed = _typed(log)
    paid: dict[str, list[date]] = {}
    for cid, when, cents in zip(typed["contract_id"], typed["action_date"], typed["amount_cents"]):
        if cents > 0 and when is not None and when <= as_of:
            paid.setdefault(str(cid), []).append(when)
    window = timedelta(days=policy.promise_kept_within_days)
    made = kept = broken = 0
    month = _in_month(typed, as_of)
    for cid, when in zip(month.loc[month["outcome"] == PROMISE, "contract_id"],
                         month.loc[month["outcome"] == PROMISE, "action_date"]):
        made += 1
        if any(when < d <= when + window for d in paid.get(str(cid), [])):
            kept += 1
        elif when + window < as_of:
            broken += 1
    return {"made": made, "kept": kept, "broken": broken, "pending": made - kept - broken}


def _bucket(dpd: int, buckets: Sequence[DelinquencyBucket]) -> str:
    for b in buckets:
        if b.max_dpd is None or dpd <= b.max_dpd:
            return b.label
    raise ValueError("the last delinquency bucket must be open (max_dpd omitted)")


def cure_rates(previous: pd.DataFrame, current: pd.DataFrame, written_off: Mapping[str, date | None], as_of: date,
               buckets: Sequence[DelinquencyBucket]) -> pd.DataFrame:
    """By bucket at the previous month end: overdue loans then, cured by `as_of`, the cure rate.

    `previous` / `current`: open books (contract_id, dpd, balance_cents) at the previous month end and
    at `as_of`; `written_off`: contract_id → write-off date (None when not written off).
    """
    now = dict(zip(current["contract_id"].astype(str), current["dpd"].astype(int)))
    rows = []
    overdue = previous[previous["dpd"].astype(int) > 0]
    labels = [_bucket(int(d), buckets) for d in overdue["dpd"]]
    for b in buckets[1:]:
        mine = overdue[np.array([label == b.label for label in labels], dtype=bool)]
        cured = cured_cents = 0
        for cid, cents in zip(mine["contract_id"].astype(str), mine["balance_cents"]):
            off = written_off.get(cid)
            if off is not None and off <= as_of:
                continue
            if now.get(cid, 0) == 0:  # current again, or repaid and gone from the book
                cured += 1
                cured_cents += int(cents)
        rows.append((b.label, len(mine), int(mine["balance_cents"].sum()), cured, cured_cents, ratio(cured, len(mine))))
    total, total_cured = len(overdue), sum(r[3] for r in rows)
    rows.append(("合计", total, int(overdue["balance_cents"].sum()), total_cured, sum(r[4] for r in rows),
                 ratio(total_cured, total)))
    return pd.DataFrame(rows, columns=["上月末账龄", "loans", "balance_cents", "cured", "cured_balance_cents",
                                       "cure_rate"])


def collection_report(extract: Mapping[str, pd.DataFrame], current: pd.DataFrame, as_of: date, policy: Collections,
                      buckets: Sequence[DelinquencyBucket]) -> dict[str, pd.DataFrame]:
    """The month's collection results: actions, outcomes, key figures and cure rates by bucket.

    `current` is the classified book at `as_of` (contract_id, dpd, balance_cents); the previous month
    end's book is rebuilt from the same extract (plugins.portfolio.loanbook.open_book).
    """
    from plugins.portfolio.loanbook import open_book

    log = extract["collections"]
    previous_end = as_of.replace(day=1) - timedelta(days=1)
    previous = open_book(dict(extract), previous_end)
    loans = extract["loans"]
    written_off = {str(c): d for c, d in zip(loans["contract_id"], _dates(loans["written_off_on"]))}
    actions = actions_by_type(log, as_of)
    kept = promises(log, as_of, policy)
    cures = cure_rates(previous, current, written_off, as_of, buckets)
    month = _in_month(_typed(log), as_of)
    figures = pd.DataFrame([  # as text, like the overview: one column of mixed counts and money
        ("催收行动次数", f"{len(month):,}"),
        ("接触贷款笔数", f"{int(month['contract_id'].nunique()):,}"),
        ("回收金额（万元）", f"{wan_yuan(int(month['amount_cents'].sum())):,.2f}"),
        ("本月承诺还款", f"{kept['made']:,}"),
        ("其中已兑现", f"{kept['kept']:,}"),
        ("其中已违约", f"{kept['broken']:,}"),
        ("其中待观察", f"{kept['pending']:,}"),
        ("上月末逾期贷款笔数", f"{int(cures['loans'].iloc[-1]):,}"),
        ("本月末已转正常", f"{int(cures['cured'].iloc[-1]):,}"),
    ], columns=["指标", "本期值"])
    return {"figures": figures, "actions": actions, "outcomes": outcomes(log, as_of), "cures": cures}
