"""The sample lender's disposal register (处置台账, core/YYYY-MM/disposals.csv), from its own random streams.

Built on the collection log (plugins/sample/collections.py), so every step follows an action the log
records: each 诉讼 is filed (立案) a few days later at the borrower region's court, judged (判决) three to
five months on for the claim, enforced (执行) a month after that, and a few enforced cases go to auction
(拍卖) of the collateral; each 转让 sells the outstanding principal to an asset-management company at 30–60%
of it; each write-off (核销) carries its reason, and a third of the written-off claims recover something
later (核销后收回 or 保证人代偿). A month's delivery is the rows dated by its month end.

Draws come from ``random.Random(f"{DISPOSAL_SEED}/{contract_id}")``: the portfolio's and the collection
log's draws are untouched, so every existing table stays byte-identical.
"""
from __future__ import annotations

import random
from datetime import date, timedelta

import pandas as pd

from plugins.sample.docspecs import money

DISPOSAL_SEED = 4_2026_1201
DISPOSAL_COLUMNS = ["contract_id", "event_date", "event", "court", "case_no", "counterparty", "claim_amount",
                    "amount", "source", "reason"]
BUYERS = ["中国华融资产管理股份有限公司", "中国长城资产管理股份有限公司", "中国东方资产管理股份有限公司",
          "中国信达资产管理股份有限公司"]
WRITE_OFF_REASONS = ["诉讼终结执行不能", "借款人破产清算", "逾期三年以上追偿无果"]


def _cents(text: str) -> int:
    return int(str(text).replace(".", ""))


def _outstanding(portfolio, contract_id: str, on: date) -> int:
    loans = portfolio.loans
    principal = _cents(loans.loc[loans["contract_id"] == contract_id, "principal"].iloc[0])
    pay = portfolio.payments[portfolio.payments["contract_id"] == contract_id]
    return principal - sum(_cents(p) for p, d in zip(pay["principal_paid"], pay["paid_date"]) if d <= on)


def disposal_log(portfolio, log: pd.DataFrame) -> pd.DataFrame:
    """Every disposal step of the sample's full history, from the full collection log `log`."""
    loans = portfolio.loans.set_index("contract_id")
    regions = dict(zip(portfolio.borrowers["borrower_id"], portfolio.borrowers["region"]))
    rows = []
    cases = 0
    for cid in sorted(set(log["contract_id"])):
        rng = random.Random(f"{DISPOSAL_SEED}/{cid}")
        mine = log[log["contract_id"] == cid]
        sued = [d for d, a in zip(mine["action_date"], mine["action"]) if a == "诉讼"]
        if sued:
            cases += 1
            court = f"{regions.get(loans.at[cid, 'borrower_id'], '')}高级人民法院"
            case_no = f"({sued[0].year})民初{1000 + cases}号"
            claim = _outstanding(portfolio, cid, sued[0])
            filed = sued[0] + timedelta(days=rng.randint(3, 10))
            judged = filed + timedelta(days=rng.randint(90, 150))
            enforced = judged + timedelta(days=rng.randint(25, 40))
            rows += [[cid, filed, "立案", court, case_no, "", money(claim), "", "", ""],
                     [cid, judged, "判决", court, case_no, "", money(claim), money(claim), "", ""],
                     [cid, enforced, "执行", court, case_no, "", "", "", "", ""]]
            if rng.random() < 0.4:
                auction = enforced + timedelta(days=rng.randint(50, 90))
                proceeds = claim * rng.randint(40, 80) // 100
                rows.append([cid, auction, "拍卖", court, case_no, "", "", money(proceeds), "司法拍卖", ""])
        for when in [d for d, a in zip(mine["action_date"], mine["action"]) if a == "转让"][:1]:
            claim = _outstanding(portfolio, cid, when)
            price = claim * rng.randint(30, 60) // 100
            rows.append([cid, when, "转让", "", "", rng.choice(BUYERS), money(claim), money(price), "", ""])
        written_off = loans.at[cid, "written_off_on"]
        if written_off is not None:
            rows.append([cid, written_off, "核销", "", "", "", "", "", "", rng.choice(WRITE_OFF_REASONS)])
            if rng.random() < 0.35:
                later = written_off + timedelta(days=rng.randint(30, 200))
                source = rng.choice(["核销后收回", "保证人代偿"])
                amount = _outstanding(portfolio, cid, written_off) * rng.randint(5, 20) // 100
                rows.append([cid, later, "收回", "", "", "", "", money(amount), source, ""])
    frame = pd.DataFrame(rows, columns=DISPOSAL_COLUMNS)
    return frame.sort_values(["contract_id", "event_date", "event"], kind="stable", ignore_index=True)


_LOGS: dict[int, tuple[object, pd.DataFrame]] = {}


def disposals_as_of(portfolio, month_end: date) -> pd.DataFrame:
    """The register as the lender's system shows it at `month_end`: the steps dated by then."""
    from plugins.sample.collections import collections_as_of

    hit = _LOGS.get(id(portfolio))
    if hit is None or hit[0] is not portfolio:
        hit = (portfolio, disposal_log(portfolio, collections_as_of(portfolio, date.max)))
        _LOGS.clear()
        _LOGS[id(portfolio)] = hit
    frame = hit[1]
    return frame[pd.Series([d <= month_end for d in frame["event_date"]], index=frame.index, dtype=bool)].reset_index(
        drop=True)
