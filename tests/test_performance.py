"""Portfolio performance: delinquency buckets at each month end, and the roll rates between them.

A four-contract extract as the core system delivers it at 2026-08-31 (all text), instalments of
100.00 principal and no interest:
- A: 1,200.00 from 2026-05-15, due the 15th from June; pays June, misses July and August.
- B: 600.00 from 2026-05-10, due the 10th from June; pays every instalment on its due date.
- C: 200.00 from 2026-05-20, due 06-20 and 07-20; pays both on time, so it is repaid in July.
- D: 500.00 bullet due 2026-06-01, never paid, written off on 2026-08-20.
"""
from __future__ import annotations

from datetime import date
from fractions import Fraction

import pandas as pd
import pytest

from plugins.config import load_config
from plugins.portfolio.performance import ageing_history, bucket_of, roll_amounts, roll_rates

JUNE, JULY, AUGUST = date(2026, 6, 30), date(2026, 7, 31), date(2026, 8, 31)
BUCKETS = load_config().provisioning.ageing_buckets


def _frame(columns: str, rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame([[str(v) for v in row] for row in rows], columns=columns.split())


def extract() -> dict[str, pd.DataFrame]:
    loans = _frame(
        "contract_id borrower_id product issuance_type principal annual_rate start_date maturity_date "
        "restructured_on extended_on written_off_on outstanding_principal industry_code region",
        [("A", "B1", "finance_lease", "新增", "1200.00", "0.06", "2026-05-15", "2027-05-15", "", "", "", "1100.00", "C", "110000"),
         ("B", "B1", "finance_lease", "新增", "600.00", "0.06", "2026-05-10", "2026-11-10", "", "", "", "300.00", "C", "110000"),
         ("C", "B2", "loan", "新增", "200.00", "0.06", "2026-05-20", "2026-07-20", "", "", "", "0.00", "C", "110000"),
         ("D", "B2", "loan", "新增", "500.00", "0.06", "2026-01-05", "2026-06-01", "", "", "2026-08-20", "0.00", "C", "110000")])
    borrowers = _frame("borrower_id name kind industry_name",
                       [("B1", "甲公司", "corporate", "制造业"), ("B2", "乙公司", "corporate", "制造业")])
    due = ([("A", 1, i, f"2026-{5 + i:02d}-15", "100.00", "0.00") for i in range(1, 8)]
           + [("A", 1, i, f"2027-{i - 7:02d}-15", "100.00", "0.00") for i in range(8, 13)]
           + [("B", 1, i, f"2026-{5 + i:02d}-10", "100.00", "0.00") for i in range(1, 7)]
           + [("C", 1, 1, "2026-06-20", "100.00", "0.00"), ("C", 1, 2, "2026-07-20", "100.00", "0.00"),
              ("D", 1, 1, "2026-06-01", "500.00", "0.00")])
    schedules = _frame("contract_id schedule_version instalment_no due_date principal_due interest_due", due)
    payments = _frame("contract_id schedule_version instalment_no paid_date principal_paid interest_paid",
                      [("A", 1, 1, "2026-06-15", "100.00", "0.00"),
                       ("B", 1, 1, "2026-06-10", "100.00", "0.00"), ("B", 1, 2, "2026-07-10", "100.00", "0.00"),
                       ("B", 1, 3, "2026-08-10", "100.00", "0.00"),
                       ("C", 1, 1, "2026-06-20", "100.00", "0.00"), ("C", 1, 2, "2026-07-20", "100.00", "0.00")])
    return {"loans": loans, "borrowers": borrowers, "schedules": schedules, "payments": payments}


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return ageing_history(extract(), [JUNE, JULY, AUGUST], BUCKETS)


@pytest.mark.parametrize(("dpd", "bucket"), [(0, "M0"), (1, "M1"), (30, "M1"), (31, "M2"), (60, "M2"), (61, "M3"),
                                             (90, "M3"), (91, "M4"), (120, "M4"), (121, "M5"), (150, "M5"),
                                             (151, "M6+"), (999, "M6+")])
def test_buckets_are_thirty_day_bands_of_days_past_due(dpd, bucket):
    assert bucket_of(dpd, BUCKETS) == bucket


def test_each_open_loan_at_each_month_end_with_its_dpd_bucket_and_balance(history):
    rows = {(r.month_end, r.contract_id): (r.dpd, r.bucket, r.balance_cents) for r in history.itertuples()}
    assert rows == {
        # June: A paid its first instalment (1,100.00 left), B too (500.00), C too (100.00);
        # D's bullet has been unpaid since 06-01: 29 days.
        (JUNE, "A"): (0, "M0", 110_000), (JUNE, "B"): (0, "M0", 50_000), (JUNE, "C"): (0, "M0", 10_000),
        (JUNE, "D"): (29, "M1", 50_000),
        # July: A's 07-15 instalment unpaid (16 days); C repaid, not open; D 60 days.
        (JULY, "A"): (16, "M1", 110_000), (JULY, "B"): (0, "M0", 40_000), (JULY, "D"): (60, "M2", 50_000),
        # August: A unpaid since 07-15 (47 days); D written off on 08-20, not open.
        (AUGUST, "A"): (47, "M2", 110_000), (AUGUST, "B"): (0, "M0", 30_000),
    }


def test_history_keeps_what_vintage_curves_need(history):
    a = history[history["contract_id"] == "A"].iloc[0]
    d = history[history["contract_id"] == "D"].iloc[0]
    assert (a["product"], a["start_date"], a["principal_cents"], a["written_off_on"]) == (
        "finance_lease", date(2026, 5, 15), 120_000, None)
    assert d["written_off_on"] == date(2026, 8, 20)
    assert list(history["month_end"].drop_duplicates()) == [JUNE, JULY, AUGUST]


def test_roll_rates_by_balance_are_shares_of_the_from_bucket_balance(history):
    rates = roll_rates(history, "balance", BUCKETS)
    # From M0, pooled over both month pairs: A 1,100 → M1, B 500 and 400 → M0, C 100 → closed; 2,100 in all.
    assert Fraction(rates.loc["M0", "M0"]).limit_denominator(1000) == Fraction(900, 2100)
    assert Fraction(rates.loc["M0", "M1"]).limit_denominator(1000) == Fraction(1100, 2100)
    assert Fraction(rates.loc["M0", "closed"]).limit_denominator(1000) == Fraction(100, 2100)
    # D and A each went from M1 to M2; D from M2 was written off.
    assert rates.loc["M1", "M2"] == 1.0 and rates.loc["M2", "written off"] == 1.0
    assert list(rates.columns) == ["M0", "M1", "M2", "M3", "M4", "M5", "M6+", "closed", "written off"]
    # Each observed row sums to 1; a bucket nobody was in has no rates.
    assert rates.loc[["M0", "M1", "M2"]].sum(axis=1).round(12).tolist() == [1.0, 1.0, 1.0]
    assert rates.loc["M3"].isna().all()


def test_roll_rates_by_count_weigh_each_loan_once_per_month_pair(history):
    rates = roll_rates(history, "count", BUCKETS)
    # From M0: 4 loan-months (A, B, C in June; B in July): 2 stayed, 1 rolled to M1, 1 closed.
    assert (rates.loc["M0", "M0"], rates.loc["M0", "M1"], rates.loc["M0", "closed"]) == (0.5, 0.25, 0.25)
    amounts = roll_amounts(history, "count", BUCKETS)
    assert int(amounts.loc["M1", "M2"]) == 2 and int(amounts.values.sum()) == 7
    assert int(roll_amounts(history, "balance", BUCKETS).loc["M2", "written off"]) == 50_000
