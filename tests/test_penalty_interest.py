"""Penalty interest (罚息) accrued daily on overdue principal, and on overdue interest when the contract
compounds (复利), at the contract's penalty rate: the sample contract's own words — 按照本合同约定利率加收
百分之五十计收罚息 … 对应付未付的利息按照罚息利率计收复利; leases 按逾期金额每日万分之五. 日利率 = 年利率 / 360."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from plugins.collections.penalty import penalty_interest, penalty_summary, penalty_terms
from plugins.config import PenaltyDefault, PenaltyInterest, load_schema
from plugins.portfolio.typed import type_tables

AS_OF = date(2026, 9, 30)
POLICY = PenaltyInterest(day_count_basis=360, defaults={
    "loan": PenaltyDefault(over_contract_rate=0.5, compounding=True),
    "finance_lease": PenaltyDefault(annual_rate=0.18, compounding=True)})

LOANS = [  # contract, product, contract rate, own penalty rate, own compounding
    ("C1", "loan", "0.0600", "", ""),            # 0.06 × 1.5 = 0.09
    ("C2", "loan", "0.0600", "", ""),            # the same, part paid mid-month
    ("L1", "finance_lease", "0.0500", "", ""),   # 万分之五 a day on the whole overdue rent
    ("C3", "loan", "0.0800", "0.1200", "false"),  # its own rate, no 复利
    ("C4", "loan", "0.0600", "", ""),            # paid on its due date: nothing overdue
    ("C5", "loan", "0.0600", "", ""),            # overdue since August: part of it accrued last month
]
SCHEDULES = [  # contract, instalment, due date, principal, interest (yuan)
    ("C1", 1, "2026-08-31", "100000.00", "500.00"),
    ("C2", 1, "2026-08-31", "100000.00", "0.00"),
    ("L1", 1, "2026-09-10", "9000.00", "1000.00"),
    ("C3", 1, "2026-09-20", "36000.00", "300.00"),
    ("C4", 1, "2026-09-15", "5000.00", "50.00"),
    ("C5", 1, "2026-08-21", "10000.00", "0.00"),
]
PAYMENTS = [  # contract, instalment, paid date, principal, interest
    ("C2", 1, "2026-09-16", "40000.00", "0.00"),
    ("C4", 1, "2026-09-15", "5000.00", "50.00"),
]


def _extract() -> dict[str, pd.DataFrame]:
    loans = pd.DataFrame([{"contract_id": c, "borrower_id": f"B{c}", "product": p, "principal": "100000.00",
                           "annual_rate": r, "start_date": "2026-01-01", "maturity_date": "2027-12-31",
                           "outstanding_principal": "100000.00", "penalty_rate": own, "penalty_compounding": flag}
                          for c, p, r, own, flag in LOANS])
    schedules = pd.DataFrame([{"contract_id": c, "schedule_version": "1", "instalment_no": str(n), "due_date": d,
                               "principal_due": p, "interest_due": i} for c, n, d, p, i in SCHEDULES])
    payments = pd.DataFrame([{"contract_id": c, "schedule_version": "1", "instalment_no": str(n), "paid_date": d,
                              "principal_paid": p, "interest_paid": i} for c, n, d, p, i in PAYMENTS])
    return type_tables({"loans": loans, "schedules": schedules, "payments": payments}, load_schema())


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    extract = _extract()
    return penalty_interest(extract, extract["loans"]["contract_id"], AS_OF, POLICY).set_index("contract_id")


def test_unpaid_principal_bears_the_contract_rate_plus_half_and_unpaid_interest_compounds(table):
    # 100,000.00 × 0.09 / 360 × 30 days = 750.00; 500.00 × 0.09 / 360 × 30 = 3.75 (复利)
    row = table.loc["C1"]
    assert row["penalty_rate"] == pytest.approx(0.09)
    assert row["penalty_on_principal_cents"] == 75_000
    assert row["compound_interest_cents"] == 375
    assert row["penalty_interest_cents"] == 75_375
    assert row["accrued_this_month_cents"] == 75_375   # nothing accrues on the due date itself


def test_a_part_payment_stops_the_penalty_on_what_it_paid_from_its_own_day(table):
    # 1–15 September on 100,000.00, 16–30 September on 60,000.00: (1.5M + 0.9M) × 0.09 / 360 = 600.00
    row = table.loc["C2"]
    assert row["overdue_principal_cents"] == 6_000_000
    assert row["penalty_on_principal_cents"] == 60_000


def test_a_lease_pays_five_ten_thousandths_a_day_on_the_whole_overdue_rent(table):
    # 10,000.00 overdue from 11 September: 20 days × 0.0005 × 10,000.00 = 100.00 (90.00 + 10.00)
    row = table.loc["L1"]
    assert (row["penalty_on_principal_cents"], row["compound_interest_cents"]) == (9_000, 1_000)


def test_a_contract_with_its_own_rate_and_no_compounding(table):
    # 36,000.00 × 0.12 / 360 × 10 days = 120.00; the 300.00 unpaid interest bears nothing
    row = table.loc["C3"]
    assert row["penalty_rate"] == pytest.approx(0.12) and not row["compounding"]
    assert (row["penalty_on_principal_cents"], row["compound_interest_cents"]) == (12_000, 0)


def test_an_instalment_paid_on_its_due_date_bears_no_penalty(table):
    assert table.loc["C4", "penalty_interest_cents"] == 0 and table.loc["C4", "overdue_principal_cents"] == 0


def test_the_month_accrual_is_to_date_less_to_last_month_end(table):
    # 10,000.00 × 0.09 / 360: 10 days to 31 August = 25.00; 40 days to 30 September = 100.00
    row = table.loc["C5"]
    assert row["penalty_interest_cents"] == 10_000
    assert row["accrued_this_month_cents"] == 7_500


def test_rounding_is_once_per_amount_half_up():
    # 1,000.00 overdue from 28 September at 0.0435 × 1.5 = 0.06525: 100,000 × 0.06525 / 360 = 18.125 cents a
    # day; 3 days = 54.375 → 54 (rounded once on the total, not 18 a day rounded three times)
    extract = _extract()
    loans = extract["loans"].copy()
    loans.loc[loans["contract_id"] == "C5", "annual_rate"] = 0.0435
    schedules = extract["schedules"].copy()
    schedules.loc[schedules["contract_id"] == "C5", "principal_due"] = 100_000
    schedules.loc[schedules["contract_id"] == "C5", "due_date"] = pd.Series(
        [date(2026, 9, 27)], dtype=schedules["due_date"].dtype).iloc[0]
    one = penalty_interest({**extract, "loans": loans, "schedules": schedules}, pd.Series(["C5"]), AS_OF, POLICY)
    assert one.loc[0, "penalty_on_principal_cents"] == 54   # 3 days: 54.375 → 54


def test_book_totals(table):
    totals = penalty_summary(table.reset_index())
    assert totals["contracts_accruing"] == 5
    assert totals["penalty_interest_cents"] == 75_375 + 60_000 + 10_000 + 12_000 + 10_000


def test_a_product_without_a_default_and_no_own_rate_is_refused_naming_it():
    loans = pd.DataFrame([{"contract_id": "X", "borrower_id": "B", "product": "保理", "annual_rate": 0.05}])
    with pytest.raises(ValueError, match="保理"):
        penalty_terms(loans, POLICY)


def test_east_reports_the_penalty_accrued_to_the_period_end():
    # tests/test_reports_east.py's HT1: 12% a year → 0.12 × 1.5 / 360 = 0.0005 a day on 10,000.00 principal and
    # 1,000.00 interest an instalment. Instalments 7 and 8 (due 08-15, 09-15) are unpaid: 46 + 15 days; 2 and 3
    # were paid 5 and 10 days late (16–19 March and 16–24 April: 4 + 9 days, the payment day bears none).
    # 74 days: principal 10,000.00 × 0.0005 × 74 = 370.00, 复利 1,000.00 × 0.0005 × 74 = 37.00; 407.00 in all
    # (accrued over the contract's life: no payment of penalty interest is delivered, so none is netted).
    from plugins.reports.east import east_rows, load_east_spec, read_east_csv, render_east_files
    from tests.test_reports_east import CODE, QUARTER_START, _book, _extract

    extract = _extract()
    typed = type_tables(extract, load_schema())
    penalty = penalty_interest(typed, _book()["contract_id"], AS_OF, POLICY)
    assert penalty.set_index("contract_id").loc["HT1", "penalty_interest_cents"] == 40_700
    spec = load_east_spec("config")
    files = render_east_files(east_rows(_book(), extract, AS_OF, QUARTER_START, CODE, penalty), spec, CODE, AS_OF)
    loans = read_east_csv(files[f"{CODE}_DKJJ_20260930.csv"], spec).set_index("合同号")
    assert loans.loc["HT1", "罚息"] == "407.00" and loans.loc["HT2", "罚息"] == "0.00"
    leases = read_east_csv(files[f"{CODE}_RZZL_20260930.csv"], spec)
    assert list(leases["逾期违约金"]) == ["0.00"]
