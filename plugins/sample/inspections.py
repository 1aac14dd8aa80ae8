"""The sample lender's post-loan inspection log (贷后检查台账), drawn from its own random streams.

One row per inspection task the lender's post-loan system scheduled: the first inspection 5 working
days after the start, then periodic ones (quarterly; monthly once the contract has been overdue,
restructured or extended) and a special inspection (专项检查) within 10 days of each overdue episode.
Most are done on time, some late, and a few - more often in the last months - not at all.

Determinism without touching the portfolio's draws: every contract has its own
``random.Random(f"{INSPECTIONS_SEED}/{contract_id}")``, so the log neither consumes nor shifts any draw
of ``generate_portfolio``, and is the same whatever the month it is cut at. ``inspections_as_of`` is
the system's view at a month end: tasks due by then, done dates only when done by then.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from plugins.monitoring.inspections import add_working_days
from plugins.sample.schedule import add_months

INSPECTIONS_SEED = 610_2026
INSPECTION_COLUMNS = ["contract_id", "borrower_id", "inspection_type", "due_date", "done_date", "inspector", "finding"]
FIRST, PERIODIC, SPECIAL = "首次检查", "定期检查", "专项检查"
INSPECTORS = ["王磊", "李娜", "张伟", "刘洋", "陈静", "杨帆", "赵敏", "周杰"]
FINDINGS_OK = ["经营正常，还款来源稳定", "租赁物使用及保管正常", "资金用途与合同约定一致", "经营正常，财务指标无明显变化"]
FINDINGS_WATCH = ["经营收入下滑，需持续关注", "应收账款增加，现金流偏紧", "担保人经营情况一般，需跟踪"]
FINDINGS_OVERDUE = ["借款人资金周转困难，已督促还款", "经营停滞，建议列入重点监控", "已与借款人约谈，制定还款计划"]
# Cut-off after which not-done tasks become likelier: the log's recent months are the untidy ones.
RECENT_FROM = date(2026, 6, 1)


@dataclass(frozen=True)
class Episode:
    """An overdue episode: the day the contract fell overdue and the day it caught up (None: not yet)."""
    start: date
    cured: date | None


_EPISODES: dict[int, tuple[object, dict]] = {}


def overdue_episodes(portfolio) -> dict[str, list[Episode]]:
    """contract_id → its overdue episodes from the schedule in force and the payments (full history)."""
    hit = _EPISODES.get(id(portfolio))
    if hit is None or hit[0] is not portfolio:
        hit = (portfolio, _overdue_episodes(portfolio))
        _EPISODES.clear()
        _EPISODES[id(portfolio)] = hit
    return hit[1]


def _overdue_episodes(portfolio) -> dict[str, list[Episode]]:
    loans = portfolio.loans
    changed = {cid: r or e for cid, r, e in zip(loans["contract_id"], loans["restructured_on"], loans["extended_on"])}
    sched = portfolio.schedules
    pay = portfolio.payments
    keys = ["contract_id", "schedule_version", "instalment_no"]
    paid = pay.assign(amount=_cents(pay["principal_paid"]) + _cents(pay["interest_paid"])).sort_values(
        [*keys, "paid_date"])
    paid["cumulative"] = paid.groupby(keys)["amount"].cumsum()
    due = sched.assign(amount=_cents(sched["principal_due"]) + _cents(sched["interest_due"]))
    merged = paid.merge(due[[*keys, "amount"]].rename(columns={"amount": "due"}), on=keys, how="left")
    settled_on = merged[merged["cumulative"] >= merged["due"]].groupby(keys)["paid_date"].min()
    late: dict[str, list[tuple[date, date | None]]] = {}
    for cid, version, no, due_date in zip(sched["contract_id"], sched["schedule_version"], sched["instalment_no"],
                                          sched["due_date"]):
        switch = changed.get(cid)
        if version == 1 and switch is not None and due_date >= switch:
            continue  # superseded by the restructured / extended schedule
        if version == 2 and (switch is None or due_date < switch):
            continue
        settled = settled_on.get((cid, version, no))
        if settled is None or settled > due_date:
            late.setdefault(cid, []).append((due_date + timedelta(days=1), settled))
    out: dict[str, list[Episode]] = {}
    for cid, items in late.items():
        episodes: list[Episode] = []
        open_until: date | None = date.min
        for start, settled in sorted(items, key=lambda x: x[0]):
            if episodes and (open_until is None or start <= open_until):
                open_until = None if open_until is None or settled is None else max(open_until, settled)
                episodes[-1] = Episode(episodes[-1].start, open_until)
            else:
                open_until = settled
                episodes.append(Episode(start, settled))
        out[cid] = episodes
    return out


def _cents(s: pd.Series) -> pd.Series:
    return s.astype(str).str.replace(".", "", regex=False).astype("int64")


def _active_until(row, last_paid: dict[str, date], horizon: date) -> date:
    if row.written_off_on is not None:
        return row.written_off_on
    if row.status == "结清":
        return last_paid.get(row.contract_id, row.maturity_date)
    return horizon


def _task(rng: random.Random, cid: str, bid: str, kind: str, due: date, start: date, finding_pool: list[str]) -> tuple[list, date | None]:
    miss = 0.10 if due >= RECENT_FROM else 0.015
    roll = rng.random()
    if roll < miss:
        done = None
    elif roll < miss + 0.12:
        done = due + timedelta(days=rng.randint(1, 40))
    else:
        done = max(start, due - timedelta(days=rng.randint(0, 6)))
    inspector = rng.choice(INSPECTORS)
    finding = rng.choice(finding_pool) if done else ""
    return [cid, bid, kind, due, done, inspector if done else "", finding], done


def inspection_log(portfolio, horizon: date = date(2026, 12, 31)) -> pd.DataFrame:
    """Every inspection task up to `horizon` (the far future is cut by ``inspections_as_of``)."""
    episodes = overdue_episodes(portfolio)
    pay = portfolio.payments
    last_paid = pay.groupby("contract_id")["paid_date"].max().to_dict()
    rows = []
    for row in portfolio.loans.itertuples(index=False):
        rng = random.Random(f"{INSPECTIONS_SEED}/{row.contract_id}")
        until = _active_until(row, last_paid, horizon)
        mine = episodes.get(row.contract_id, [])
        first_trouble = min([e.start for e in mine] + [d for d in (row.restructured_on, row.extended_on) if d],
                            default=None)
        due = add_working_days(row.start_date, 5)
        if due > until:
            continue
        task, done = _task(rng, row.contract_id, row.borrower_id, FIRST, due, row.start_date, FINDINGS_OK)
        rows.append(task)
        anchor = done or due
        while True:
            troubled = first_trouble is not None and first_trouble <= anchor
            due = add_months(anchor, 1 if troubled else 3)
            if due > until:
                break
            pool = FINDINGS_WATCH if troubled else FINDINGS_OK
            task, done = _task(rng, row.contract_id, row.borrower_id, PERIODIC, due, row.start_date, pool)
            rows.append(task)
            anchor = done or due
        for episode in mine:
            due = episode.start + timedelta(days=rng.randint(3, 10))
            if due <= until:
                rows.append(_task(rng, row.contract_id, row.borrower_id, SPECIAL, due, row.start_date,
                                  FINDINGS_OVERDUE)[0])
    frame = pd.DataFrame(rows, columns=INSPECTION_COLUMNS)
    frame["done_date"] = frame["done_date"].astype(object).where(frame["done_date"].notna(), None)
    return frame.sort_values(["contract_id", "due_date", "inspection_type"], kind="stable", ignore_index=True)


_LOGS: dict[int, tuple[object, pd.DataFrame]] = {}


def _cached_log(portfolio) -> pd.DataFrame:
    # core_extract runs once per month of a backfill; draw the log once per portfolio object.
    hit = _LOGS.get(id(portfolio))
    if hit is None or hit[0] is not portfolio:
        hit = (portfolio, inspection_log(portfolio))
        _LOGS.clear()
        _LOGS[id(portfolio)] = hit
    return hit[1]


def inspections_as_of(portfolio, month_end: date) -> pd.DataFrame:
    """The inspection log as the system shows it at `month_end`: tasks due or done by then; later done dates hidden."""
    log = _cached_log(portfolio)
    view = log[[due <= month_end or (done is not None and done <= month_end)
               for due, done in zip(log["due_date"], log["done_date"])]].copy()
    hidden = [d is None or d > month_end for d in view["done_date"]]
    view["done_date"] = [None if h else d for h, d in zip(hidden, view["done_date"])]
    view["inspector"] = ["" if h else v for h, v in zip(hidden, view["inspector"])]
    view["finding"] = ["" if h else v for h, v in zip(hidden, view["finding"])]
    return view.reset_index(drop=True)
