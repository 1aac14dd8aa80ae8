"""Specification: a rendered document extracts back to exactly the values it was rendered from."""
from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest

from plugins.documents import (
    amount_in_chinese, extract_contract, extract_statement, load_chart_of_accounts, render_document,
)
from plugins.documents.statements import normalize_label, parse_amount

LOAN_TERMS = {
    "contract_id": "JK-2024-000123", "lender": "华信银行股份有限公司杭州分行",
    "borrower_name": "浙江恒远机械制造有限公司", "borrower_id_number": "91330100MA2XXXXX1K",
    "guarantors": ["张伟", "杭州恒远投资控股有限公司"], "principal": "12345678.90", "currency": "CNY",
    "annual_rate": "0.0435", "rate_type": "fixed", "lpr_spread_bp": None, "term_months": 36,
    "start_date": "2024-01-15", "maturity_date": "2027-01-14", "repayment_method": "等额本息",
    # long enough to wrap, with spaces near the wrap (pdfplumber drops a space at a line break)
    "collateral": "机器设备（评估价值 3460800.00 元，评估日 2026-07-23）；机器设备（评估价值 3326400.00 元，"
                  "评估日 2026-08-04）；位于杭州市余杭区仓前街道的工业厂房及土地使用权",
    "leased_asset": None, "purpose": "购买原材料及补充日常经营流动资金", "signing_date": "2024-01-10",
}
LEASE_TERMS = {
    **LOAN_TERMS, "contract_id": "ZL-2023-0042", "lender": "中盈融资租赁有限公司",
    "borrower_name": "苏州顺达物流有限公司", "guarantors": [], "principal": "3000000.00",
    "annual_rate": "0.0490", "rate_type": "lpr_spread", "lpr_spread_bp": 145, "term_months": 24,
    "start_date": "2023-06-01", "maturity_date": "2025-05-31", "repayment_method": "按月等额支付租金",
    "collateral": None, "leased_asset": "重型半挂牵引车20台（车辆识别代号见附件一）", "purpose": "物流运输经营",
    "signing_date": "2023-05-20",
}
ITEMS = {
    "cash": ["1523456.78", "1200000.00"], "receivables": ["2345678.12", "2100000.50"],
    "inventory": ["3456789.01", "3000000.00"], "other_current_assets": ["120000.00", "98000.00"],
    "current_assets": ["7445923.91", "6398000.50"], "fixed_assets": ["8800000.00", "9100000.00"],
    "other_non_current_assets": ["500000.00", "450000.00"], "non_current_assets": ["9300000.00", "9550000.00"],
    "total_assets": ["16745923.91", "15948000.50"], "short_term_borrowings": ["4000000.00", "3500000.00"],
    "accounts_payable": ["1876543.21", "1600000.00"], "other_current_liabilities": ["300000.00", "250000.00"],
    "current_liabilities": ["6176543.21", "5350000.00"], "long_term_borrowings": ["5000000.00", "5500000.00"],
    "other_non_current_liabilities": ["0.00", "0.00"], "non_current_liabilities": ["5000000.00", "5500000.00"],
    "total_liabilities": ["11176543.21", "10850000.00"], "paid_in_capital": ["6000000.00", "6000000.00"],
    "retained_earnings": ["-430619.30", "-901999.50"], "equity": ["5569380.70", "5098000.50"],
    "total_liabilities_and_equity": ["16745923.91", "15948000.50"],
    "revenue": ["20123456.78", "18000000.00"], "operating_cost": ["15000000.00", "14000000.00"],
    "selling_expenses": ["1200000.00", "1100000.00"], "admin_expenses": ["2100000.00", "2000000.00"],
    "financial_expenses": ["450000.00", "480000.00"], "interest_expense": ["420000.00", "460000.00"],
    "operating_profit": ["1373456.78", "-420000.00"], "total_profit": ["1373456.78", "-420000.00"],
    "income_tax": ["343364.20", "0.00"], "net_profit": ["1030092.58", "-420000.00"],
    "net_operating_cash_flow": ["1890000.12", "-250000.00"], "net_investing_cash_flow": ["-600000.00", "-1200000.00"],
    "net_financing_cash_flow": ["-966543.34", "800000.00"], "net_increase_in_cash": ["323456.78", "-650000.00"],
}
STATEMENT_PAGES = {"A": {"balance_sheet": 1, "income_statement": 2, "cash_flow": 3},
                   "B": {"balance_sheet": 1, "income_statement": 2, "cash_flow": 2}}


def statement_spec(layout: str, unit: str) -> dict:
    return {"kind": "financial_statement", "statement": {
        "borrower_name": "浙江恒远机械制造有限公司", "period_end": "2024-12-31",
        "layout": layout, "unit": unit, "items": ITEMS}}


def printed_yuan(value: str, unit: str) -> Decimal:
    """What a statement in `unit` can carry: 万元 statements print 2 decimals of 万元 (100 yuan)."""
    if unit == "元":
        return Decimal(value)
    return (Decimal(value) / 10000).quantize(Decimal("0.01"), ROUND_HALF_UP) * 10000


@pytest.fixture(scope="module")
def chart():
    return load_chart_of_accounts()


@pytest.mark.parametrize("layout,unit", [("A", "元"), ("B", "万元"), ("A", "万元"), ("B", "元")])
def test_statement_extracts_every_item_to_the_printed_cent(chart, layout, unit):
    extraction = extract_statement(render_document(statement_spec(layout, unit)), chart)
    got = extraction.values()
    expected = {k: (printed_yuan(c, unit), printed_yuan(p, unit)) for k, (c, p) in ITEMS.items()}
    assert got == expected
    assert extraction.unit == unit
    assert extraction.period_end == date(2024, 12, 31)
    assert extraction.entity == "浙江恒远机械制造有限公司"


@pytest.mark.parametrize("layout", ["A", "B"])
def test_statement_figures_carry_statement_page_and_bbox(chart, layout):
    extraction = extract_statement(render_document(statement_spec(layout, "元")), chart)
    for figure in extraction.figures:
        assert figure.canonical is not None, figure.label
        assert figure.statement == chart.accounts[figure.canonical].statement
        assert figure.page == STATEMENT_PAGES[layout][figure.statement]
        x0, top, x1, bottom = figure.bbox
        assert 0 <= x0 < x1 and 0 <= top < bottom


def test_wan_yuan_figures_keep_document_unit_and_multiplier(chart):
    extraction = extract_statement(render_document(statement_spec("B", "万元")), chart)
    cash = next(f for f in extraction.figures if f.canonical == "cash")
    assert (cash.current, cash.unit, cash.multiplier, cash.current_yuan) == (
        Decimal("152.35"), "万元", Decimal(10000), Decimal("1523500.00"))


def test_interest_expense_is_read_from_the_qizhong_sub_item(chart):
    extraction = extract_statement(render_document(statement_spec("A", "元")), chart)
    interest = next(f for f in extraction.figures if f.canonical == "interest_expense")
    assert interest.label == "其中：利息费用" and interest.current == Decimal("420000.00")


def test_negatives_parse_with_minus_or_parentheses():
    assert parse_amount("-1,234.50") == parse_amount("(1,234.50)") == Decimal("-1234.50")


def test_label_normalisation_ignores_prefixes_and_remarks():
    assert normalize_label("四、净利润（净亏损以“－”号填列）") == normalize_label("净利润")
    assert normalize_label("减：营业成本") == normalize_label("营业成本")


@pytest.mark.parametrize("kind,terms", [("loan_contract", LOAN_TERMS), ("lease_contract", LEASE_TERMS)])
def test_contract_extracts_every_term(kind, terms):
    ex = extract_contract(render_document({"kind": kind, "terms": terms}))
    assert ex.contract_kind == kind
    for name in ("contract_id", "lender", "borrower_name", "borrower_id_number", "guarantors", "currency",
                 "rate_type", "lpr_spread_bp", "term_months", "repayment_method", "collateral",
                 "leased_asset", "purpose"):
        assert getattr(ex, name) == terms[name], name
    assert ex.principal == Decimal(terms["principal"])
    assert ex.annual_rate == Decimal(terms["annual_rate"])
    for name in ("start_date", "maturity_date", "signing_date"):
        assert getattr(ex, name) == date.fromisoformat(terms[name]), name
    assert ex.warnings == []


def test_contract_fields_carry_provenance():
    ex = extract_contract(render_document({"kind": "loan_contract", "terms": LOAN_TERMS}))
    assert ex.provenance["principal"].page == 1
    assert "12,345,678.90" in ex.provenance["principal"].text
    assert ex.provenance["signing_date"].page == 3
    # a wrapped value's bbox spans its continuation line
    x0, top, x1, bottom = ex.provenance["collateral"].bbox
    assert bottom - top > 20


def test_contract_spans_two_to_three_pages():
    import pypdf, io
    for kind, terms in (("loan_contract", LOAN_TERMS), ("lease_contract", LEASE_TERMS)):
        pages = len(pypdf.PdfReader(io.BytesIO(render_document({"kind": kind, "terms": terms}))).pages)
        assert 2 <= pages <= 3


@pytest.mark.parametrize("amount,words", [
    ("12345678.90", "壹仟贰佰叁拾肆万伍仟陆佰柒拾捌元玖角"),
    ("100005000.00", "壹亿零伍仟元整"),
    ("1010.50", "壹仟零壹拾元伍角"),
    ("0.05", "伍分"),
    ("3000000.00", "叁佰万元整"),
])
def test_amount_in_chinese_uppercase(amount, words):
    assert amount_in_chinese(amount) == words


@pytest.mark.parametrize("spec", [
    {"kind": "loan_contract", "terms": LOAN_TERMS},
    {"kind": "lease_contract", "terms": LEASE_TERMS},
    statement_spec("A", "元"),
    statement_spec("B", "万元"),
    {"kind": "bad", "defect": "encrypted", "declared_class": "loan_contract", "terms": LOAN_TERMS},
    {"kind": "bad", "defect": "image_only", "declared_class": "loan_contract"},
], ids=["loan", "lease", "statement-A", "statement-B", "encrypted", "image_only"])
def test_rendering_is_byte_identical(spec):
    assert render_document(spec) == render_document(spec)
