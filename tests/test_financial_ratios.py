"""Specification: the ratios lenders monitor, checked against numbers worked out by hand."""
from __future__ import annotations

from decimal import Decimal

import pandas as pd

from plugins.documents.ratios import financial_ratios

YUAN = 100  # cents


def figures(rows, borrower="B001", period="2025-12-31", scope="entity"):
    return pd.DataFrame([{"borrower_id": borrower, "period_end": period, "scope": scope, "canonical": key,
                          "current_cents": None if cur is None else cur * YUAN,
                          "prior_cents": None if prior is None else prior * YUAN}
                         for key, cur, prior in rows])


BOOK = [
    ("cash", 200, 150), ("inventory", 300, 250), ("current_assets", 1_000, 900), ("total_assets", 5_000, 3_000),
    ("short_term_borrowings", 400, 300), ("long_term_borrowings", 1_600, 1_000),
    ("current_liabilities", 800, 700), ("total_liabilities", 3_000, 2_000), ("equity", 2_000, 1_000),
    ("revenue", 12_000, 10_000), ("interest_expense", 100, 90), ("total_profit", 500, 400),
    ("net_profit", 400, 300), ("net_operating_cash_flow", 600, 500),
]


def test_each_ratio_by_hand():
    r = financial_ratios(figures(BOOK)).iloc[0]
    assert r["debt_to_asset"] == Decimal("0.6000")        # 3,000 / 5,000
    assert r["current_ratio"] == Decimal("1.2500")        # 1,000 / 800
    assert r["quick_ratio"] == Decimal("0.8750")          # (1,000 - 300) / 800
    assert r["interest_coverage"] == Decimal("6.0000")    # (500 + 100) / 100: EBIT over interest
    assert r["return_on_assets"] == Decimal("0.1000")     # 400 / ((5,000 + 3,000) / 2)
    assert r["revenue_growth_yoy"] == Decimal("0.2000")   # 12,000 / 10,000 - 1
    assert r["ocf_to_total_debt"] == Decimal("0.3000")    # 600 / (400 + 1,600)


def test_consolidated_figures_win_over_the_parent_company():
    frame = pd.concat([figures([("total_assets", 9_000, None), ("total_liabilities", 900, None)], scope="parent"),
                       figures([("total_assets", 5_000, None), ("total_liabilities", 3_000, None)],
                               scope="consolidated")])
    assert financial_ratios(frame).iloc[0]["debt_to_asset"] == Decimal("0.6000")


def test_missing_inputs_or_zero_denominators_leave_the_ratio_empty():
    r = financial_ratios(figures([("total_assets", 5_000, None), ("equity", 2_000, None),
                                  ("interest_expense", 0, None), ("total_profit", 10, None)])).iloc[0]
    assert r["debt_to_asset"] == Decimal("0.6000")  # no total printed (IFRS): assets less equity
    assert r["interest_coverage"] is None and r["current_ratio"] is None and r["revenue_growth_yoy"] is None


def test_one_row_per_borrower_and_period():
    frame = pd.concat([figures(BOOK), figures(BOOK, borrower="B002"), figures(BOOK, period="2025-09-30")])
    out = financial_ratios(frame)
    assert list(zip(out["borrower_id"], out["period_end"])) == [
        ("B001", "2025-09-30"), ("B001", "2025-12-31"), ("B002", "2025-12-31")]
