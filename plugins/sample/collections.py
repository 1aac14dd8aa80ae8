"""The sample lender's collection log (催收记录) for its overdue contracts, from its own random streams.

Each overdue episode climbs the usual ladder while it stays open (DOMAIN.md §1 item 7; the seeds: 电话、
短信、上门催收、法律诉讼): 短信 on the first days, 电话 after a week and then monthly, 上门 after a month,
律师函 after two, 诉讼 after three; a transfer (转让) for a few long cases and 核销 on the write-off date.
Every payment made while a contract was overdue is logged as the action that brought it in, on the
payment's own date (部分还款 / 全额还款 with amount_recovered = principal + interest paid that day), so
the log never knows the future: a month-end cut of it is simply the rows dated by then. Contacts that
brought no money end in 承诺还款, 失联 or 拒绝.

Draws come from ``random.Random(f"{COLLECTIONS_SEED}/{contract_id}")``: the portfolio's draws are untouched.
"""
from __future__ import annotations

import random
from datetime import date, timedelta

import pandas as pd

from plugins.sample.docspecs import money
from plugins.sample.inspections import _cents, overdue_episodes

COLLECTIONS_SEED = 710_2026
COLLECTION_COLUMNS = ["contract_id", "action_date", "action", "outcome", "amount_recovered"]
# (days after falling overdue, action); 电话 repeats monthly after its first call.
LADDER = [(1, "短信"), (7, "电话"), (31, "上门"), (61, "律师函"), (91, "诉讼")]
PHONE_EVERY_DAYS = 30
TRANSFER_AFTER_DAYS = 240
NO_MONEY_OUTCOMES = (["承诺还款", "失联", "拒绝"], [0.55, 0.15, 0.30])


def collection_log(portfolio, horizon: date = date(2026, 12, 31)) -> pd.DataFrame:
    episodes = overdue_episodes(portfolio)
    loans = portfolio.loans.set_index("contract_id")
    pay = portfolio.payments
    paid = pay.assign(amount=_cents(pay["principal_paid"]) + _cents(pay["interest_paid"])).groupby(
        ["contract_id", "paid_date"])["amount"].sum()
    paid_by_contract: dict[str, list[tuple[date, int]]] = {}
    for (cid, when), amount in paid.items():
        paid_by_contract.setdefault(cid, []).append((when, int(amount)))
    rows = []
    for cid in sorted(episodes):
        rng = random.Random(f"{COLLECTIONS_SEED}/{cid}")
        written_off = loans.at[cid, "written_off_on"]
        for episode in episodes[cid]:
            end = min(d for d in (episode.cured, written_off, horizon) if d is not None)
            actions: dict[date, str] = {}
            for days, action in LADDER:
                when = episode.start + timedelta(days=days - 1 + rng.randint(0, 3))
                if when < end:
                    actions[when] = action
            call = episode.start + timedelta(days=7 - 1 + PHONE_EVERY_DAYS)
            while call < end:
                actions.setdefault(call + timedelta(days=rng.randint(0, 4)), "电话")
                call += timedelta(days=PHONE_EVERY_DAYS)
            transfer = episode.start + timedelta(days=TRANSFER_AFTER_DAYS)
            if transfer < end and written_off is None and rng.random() < 0.3:
                actions[transfer] = "转让"
            payments = {when: amount for when, amount in paid_by_contract.get(cid, [])
                        if episode.start <= when <= end}
            for when in sorted(set(actions) | set(payments)):
                if when in payments:  # the contact that brought the money in, logged on the payment date
                    action = actions.get(when) or max(((d, a) for d, a in actions.items() if d <= when),
                                                      default=(when, "电话"))[1]
                    outcome = "全额还款" if episode.cured is not None and when == episode.cured else "部分还款"
                    rows.append([cid, when, action, outcome, money(payments[when])])
                else:
                    outcome = rng.choices(*NO_MONEY_OUTCOMES)[0]
                    rows.append([cid, when, actions[when], outcome, money(0)])
            if written_off is not None and episode.start <= written_off <= horizon:
                rows.append([cid, written_off, "核销", "", money(0)])
    frame = pd.DataFrame(rows, columns=COLLECTION_COLUMNS)
    return frame.sort_values(["contract_id", "action_date"], kind="stable", ignore_index=True)


_LOGS: dict[int, tuple[object, pd.DataFrame]] = {}


def collections_as_of(portfolio, month_end: date) -> pd.DataFrame:
    """The collection log as the system shows it at `month_end`: the actions dated by then."""
    hit = _LOGS.get(id(portfolio))
    if hit is None or hit[0] is not portfolio:
        hit = (portfolio, collection_log(portfolio))
        _LOGS.clear()
        _LOGS[id(portfolio)] = hit
    log = hit[1]
    return log[[d <= month_end for d in log["action_date"]]].reset_index(drop=True)


# The collection system's case assignments (催收分案): who holds each overdue episode and any hardship the
# borrower declared, from a stream of their own so the log above and every other table stay as they were.
ASSIGNMENTS_SEED = 714_2026
ASSIGNMENT_COLUMNS = ["contract_id", "case_opened_on", "collector", "assigned_on", "hardship"]
SAMPLE_COLLECTORS = ["电催组-陈静", "电催组-刘洋", "电催组-周敏", "外访组-王强", "外访组-赵磊", "法务组-孙丽"]
HARDSHIP_REASONS = (["经营困难", "疾病", "失业", "自然灾害"], [0.55, 0.2, 0.15, 0.1])
HARDSHIP_SHARE = 0.15


def collection_assignments(portfolio, month_end: date) -> pd.DataFrame:
    """One row per overdue episode begun by `month_end`: its first overdue day, the collector it was
    assigned to a day or two later, and the hardship declared (empty for most)."""
    rows = []
    for cid, episodes in sorted(overdue_episodes(portfolio).items()):
        rng = random.Random(f"{ASSIGNMENTS_SEED}/{cid}")
        for episode in episodes:
            collector = rng.choice(SAMPLE_COLLECTORS)
            assigned = episode.start + timedelta(days=rng.randint(0, 2))
            hardship = rng.choices(*HARDSHIP_REASONS)[0] if rng.random() < HARDSHIP_SHARE else ""
            if assigned <= month_end:
                rows.append([cid, episode.start, collector, assigned, hardship])
    return pd.DataFrame(rows, columns=ASSIGNMENT_COLUMNS)


def monitoring_tables(portfolio, month_end: date) -> dict[str, pd.DataFrame]:
    """The post-loan system's logs at `month_end` for the core extract: inspections, collections and the
    collection cases' assignments."""
    from plugins.sample.inspections import inspections_as_of

    loans = set(portfolio.loans.loc[[d <= month_end for d in portfolio.loans["start_date"]], "contract_id"])
    inspections = inspections_as_of(portfolio, month_end)
    collections = collections_as_of(portfolio, month_end)
    assignments = collection_assignments(portfolio, month_end)
    return {"inspections": inspections[inspections["contract_id"].isin(loans)].reset_index(drop=True),
            "collections": collections[collections["contract_id"].isin(loans)].reset_index(drop=True),
            "collection_assignments": assignments[assignments["contract_id"].isin(loans)].reset_index(drop=True)}
