"""The restructuring observation period from the repayment history (DOMAIN.md §2): at least two consecutive
repayment periods paid on time and in full, and at least one year from the first repayment date; a late
instalment restarts the count, until the period has been met once."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from plugins.portfolio.loanbook import open_book

OBSERVATION = (2, 12)  # periods, months (config/classification.yaml restructured)


def _extract(paid_late_days: dict[int, int], instalments: int = 14) -> dict[str, pd.DataFrame]:
    """One restructured loan, monthly instalments of 1,000.00 from 2025-01-15; each paid on its due date,
    or `paid_late_days[n]` days after it."""
    dues = [date(2025 + (m // 12), m % 12 + 1, 15) for m in range(instalments)]
    schedules = pd.DataFrame({"contract_id": "HT1", "schedule_version": "2", "instalment_no": [str(n) for n in
                              range(1, instalments + 1)], "due_date": [d.isoformat() for d in dues],
                              "principal_due": "1000.00", "interest_due": "0.00"})
    payments = pd.DataFrame({"contract_id": "HT1", "schedule_version": "2",
                             "instalment_no": [str(n) for n in range(1, instalments + 1)],
                             "paid_date": [(d + timedelta(days=paid_late_days.get(n, 0))).isoformat()
                                           for n, d in enumerate(dues, start=1)],
                             "principal_paid": "1000.00", "interest_paid": "0.00"})
    loans = pd.DataFrame([{"contract_id": "HT1", "borrower_id": "B1", "product": "loan", "issuance_type": "新增",
                           "industry_code": "C", "region": "R", "start_date": "2024-06-01",
                           "maturity_date": "2027-06-01", "restructured_on": "2024-12-20", "extended_on": "",
                           "outstanding_principal": "50000.00", "principal": "100000.00"}])
    borrowers = pd.DataFrame([{"borrower_id": "B1", "name": "甲公司", "kind": "corporate", "industry_name": "制造业"}])
    return {"borrowers": borrowers, "loans": loans, "schedules": schedules, "payments": payments}


def _book(paid_late_days: dict[int, int], as_of: date) -> pd.Series:
    return open_book(_extract(paid_late_days), as_of, OBSERVATION).iloc[0]


def test_periods_count_only_when_paid_on_time_and_a_late_one_restarts_the_count():
    # Instalment 11 (due 2025-11-15) paid 3 days late: only 12 and 13 count at 2026-01-31.
    book = _book({11: 3}, date(2026, 1, 31))
    assert book["settled_periods"] == 13 and book["on_time_periods"] == 2


def test_the_observation_is_not_met_inside_the_first_year_however_many_periods_are_on_time():
    # First repayment 2025-01-15; at 2025-12-31 eleven months: not yet a year.
    assert not _book({}, date(2025, 12, 31))["observation_met"]


def test_a_year_of_on_time_repayments_meets_the_observation():
    assert _book({}, date(2026, 1, 31))["observation_met"]


def test_a_late_payment_inside_the_year_means_the_year_is_not_enough_until_two_periods_follow_on_time():
    # Instalment 13 (due 2026-01-15) paid late: at 2026-01-31 the run since is empty.
    book = _book({13: 10}, date(2026, 1, 31))
    assert book["on_time_periods"] == 0 and not book["observation_met"]
    # Instalments 12 and 13 late, 14 on time: one period is not two.
    assert not _book({12: 5, 13: 5}, date(2026, 2, 28))["observation_met"]


def test_once_met_a_later_late_payment_does_not_undo_the_observation():
    # On time through 2026-01-15 (met), then instalment 14 (due 2026-02-15) paid 5 days late.
    book = _book({14: 5}, date(2026, 2, 28))
    assert book["on_time_periods"] == 0 and book["observation_met"]
