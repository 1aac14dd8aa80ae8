"""The sample lender's individually assessed impairment register (core/YYYY-MM/impairment.csv).

The credit committee meets twice near the end of the sample (COMMITTEE_MEETINGS) and assesses a few
overdue corporate exposures that are not yet 90 days past due, so the impairment floors of the
classification (classification/impairment.py) change their tier:

- 2026-08-26: one contract credit-impaired, 40% expected loss (→ at least 次级);
- 2026-09-24: one credit-impaired at 35% (→ 次级), one at 55% (→ 可疑), one at 92% (→ 损失), and one
  borrower in bankruptcy liquidation (→ every claim of that borrower 损失).

Each month's delivery carries every assessment made by its month end (the register so far); a month
before the first meeting delivers no table at all. Draws come from ``random.Random(IMPAIRMENT_SEED)``
alone, so the portfolio's own draws and tables are untouched.
"""
from __future__ import annotations

import random
from datetime import date

import pandas as pd

IMPAIRMENT_SEED = 5_2026_0924
IMPAIRMENT_COLUMNS = ["contract_id", "credit_impaired", "borrower_in_liquidation", "assessed_loss_ratio",
                      "assessed_by", "assessed_on"]
COMMITTEE = "信用风险审批委员会"
# (meeting date, [(credit_impaired, borrower_in_liquidation, assessed_loss_ratio), ...])
COMMITTEE_MEETINGS = [
    (date(2026, 8, 26), [("true", "false", "0.40")]),
    (date(2026, 9, 24), [("true", "false", "0.35"), ("true", "false", "0.55"), ("true", "false", "0.92"),
                         ("true", "true", "")]),
]


def _candidates(portfolio, on: date) -> list[str]:
    """Corporate contracts open on `on`, overdue 1–90 days (not yet non-performing by days alone)."""
    from plugins.sample.portfolio import _cents, days_past_due

    loans = portfolio.loans
    pay = portfolio.payments[[d <= on for d in portfolio.payments["paid_date"]]]
    repaid = _cents(pay["principal_paid"]).groupby(pay["contract_id"]).sum()
    corporate = set(portfolio.borrowers.loc[portfolio.borrowers["kind"] == "corporate", "borrower_id"])
    dpd = days_past_due(loans, portfolio.schedules, portfolio.payments, on)
    chosen = []
    for cid, borrower, start, written_off, principal in zip(loans["contract_id"], loans["borrower_id"],
                                                            loans["start_date"], loans["written_off_on"],
                                                            _cents(loans["principal"])):
        open_then = start <= on and (written_off is None or written_off > on) and principal > repaid.get(cid, 0)
        if open_then and borrower in corporate and 0 < dpd[cid] <= 90:
            chosen.append(cid)
    return sorted(chosen)


def impairment_register(portfolio) -> pd.DataFrame:
    """Every assessment of the sample's committee meetings, oldest first."""
    rng = random.Random(IMPAIRMENT_SEED)
    rows, taken = [], set()
    for meeting, outcomes in COMMITTEE_MEETINGS:
        pool = [cid for cid in _candidates(portfolio, meeting) if cid not in taken]
        picked = rng.sample(pool, min(len(outcomes), len(pool)))
        for cid, (impaired, liquidation, ratio) in zip(picked, outcomes):
            rows.append([cid, impaired, liquidation, ratio, COMMITTEE, meeting.isoformat()])
            taken.add(cid)
    return pd.DataFrame(rows, columns=IMPAIRMENT_COLUMNS)


def impairment_tables(portfolio, month_end: date) -> dict[str, pd.DataFrame]:
    """{"impairment": the register as at `month_end`}, or {} before the first assessment."""
    register = impairment_register(portfolio)
    known = register[[date.fromisoformat(d) <= month_end for d in register["assessed_on"]]]
    return {"impairment": known.reset_index(drop=True)} if len(known) else {}
