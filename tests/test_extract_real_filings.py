"""Specification: the weaknesses real filings the extractor had never seen exposed (issue 13), one rule each.

Each case is a real page of ../shared/corpus/financial, read by hand, or a minimal statement rendered here;
the figures are the page's own. The labelled key figures of every real filing are checked in
tests/test_extraction_corpus.py; these name the rule a miss would break.
"""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from plugins.documents import extract_statement, load_chart_of_accounts, render_document
from plugins.documents.locate import detect_currency, find_unit, locate_statements

FINANCIAL = Path("/work/shared/corpus/financial")


@pytest.fixture(scope="module")
def chart():
    return load_chart_of_accounts()


def _real(name: str, chart, parent_company: bool = False):
    path = FINANCIAL / name
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return extract_statement(path.read_bytes(), chart, parent_company=parent_company)


# ----------------------------------------------------------------------------------------------- units
def test_a_header_naming_two_units_declares_the_first(chart):
    # the balance sheet's unit; the exception names another quantity
    found = find_unit("(In millions, except per share data; shares in thousands)", chart.unit_markers())
    assert (found.unit, found.multiplier) == ("millions", Decimal(1_000_000))


def test_the_letters_rm_inside_ordinary_words_are_no_unit(chart):
    # Benara's signature block: "Partner" then "Membership No" once read as R m (rand millions)
    assert find_unit("CA Sarwan Kumar Prajapati\nPartner\nMembership No: 199969", chart.unit_markers()) is None
    assert find_unit("Performance Form", chart.unit_markers()) is None


@pytest.mark.parametrize("caption, unit", [
    ("₹ in Lakh", "lakhs"), ("(Rs. in Lacs)", "lakhs"), ("(Rs . In La khs)", "lakhs"),
    ("Rs in '000", "thousands"), ("R'000", "thousands"), ("(in € millions, except share data)", "millions"),
    ("(Amount in Rupees)", "units"), ("单位：万元 币种：人民币", "万元"),
])
def test_indian_south_african_and_euro_unit_captions(chart, caption, unit):
    assert find_unit(caption, chart.unit_markers()).unit == unit


def test_rupees_and_euros_are_currencies():
    assert detect_currency("(Amount in Rupees)") == "INR"
    assert detect_currency("(in € millions)") == "EUR"


def test_a_units_source_is_the_caption_it_was_read_from(chart):
    # Benara p58 prints "₹ in Lakh" above "STANDALONE BALANCE SHEET AS AT MARCH 31, 2025"
    ex = _real("in_benara_bearings_fy2025_annual.pdf", chart)
    assets = ex.figure("total_assets")
    assert (assets.current, assets.prior, assets.unit, assets.page) == (Decimal("5885.90"), Decimal("8464.61"), "lakhs", 58)
    assert assets.unit_source == "p58: ₹ in Lakh"
    assert assets.current_yuan == Decimal("588590000.000")


# ----------------------------------------------------------------------------------------------- labels
def test_net_profit_attributable_to_the_parent_stands_for_net_profit_when_no_minorities_are_printed(chart):
    # Spotify p4: "Net income/(loss) attributable to owners of the parent" 771 / (462), nine months
    ex = _real("lu_spotify_2024q3_6k.pdf", chart)
    profit = ex.figure("net_profit")
    assert (profit.current, profit.prior, profit.page, profit.status) == (Decimal(771), Decimal(-462), 4, "derived")
    assert "attributable to the parent" in profit.basis


def test_us_gaap_cash_provided_by_operations_is_operating_cash_flow(chart):
    # Nike p61: "Cash provided (used) by operations 5,841 5,188 6,657"
    flow = _real("us_nike_2023_10k.pdf", chart).figure("net_operating_cash_flow")
    assert (flow.current, flow.prior, flow.page) == (Decimal(5841), Decimal(5188), 61)


def test_a_statement_of_comprehensive_income_is_not_read_as_the_income_statement(chart):
    # Nike p59 and Spotify p5 print comprehensive income after the statement of operations
    assert 59 not in _real("us_nike_2023_10k.pdf", chart).located_pages
    assert 5 not in _real("lu_spotify_2024q3_6k.pdf", chart).located_pages


def test_the_chart_names_the_parents_share_minorities_and_cash_at_the_end_of_the_period(chart):
    # 贵州茅台 2020: p51 归属于母公司所有者权益 161,322,735,087.56 + 少数股东权益 6,397,948,013.72 = total equity;
    # p54 归属于母公司股东的净利润 46,697,285,429.81; p58 期末现金及现金等价物余额 146,740,524,868.05
    ex = _real("cn_moutai_600519_2020_annual.pdf", chart)
    assert ex.figure("equity_parent").current == Decimal("161322735087.56")
    assert ex.figure("minority_interest").current == Decimal("6397948013.72")
    assert ex.figure("equity").status == "checked"   # = parent's + minorities'
    assert ex.figure("net_profit_parent").current == Decimal("46697285429.81")
    closing = ex.figure("closing_cash")
    assert (closing.current, closing.prior, closing.page) == (Decimal("146740524868.05"), Decimal("121003839599.64"), 58)
    assert closing.status == "checked"              # 期初 121,003,839,599.64 + 净增加额 = 期末


def test_a_bare_total_closes_each_side_of_the_balance_sheet(chart):
    # New Markets Advisory p66: "Total 131.77 112.60" under the assets and again under equity and liabilities
    ex = _real("in_new_markets_advisory_fy2025_annual.pdf", chart)
    assert (ex.figure("total_assets").current, ex.figure("total_liabilities_and_equity").current) == \
        (Decimal("131.77"), Decimal("131.77"))


def test_an_unlabelled_subtotal_under_the_equity_heading_is_total_equity(chart):
    # Wherrelz p50: "EQUITY / a) Equity Share Capital 3,896.00 / b) Other Equity -79,069.50 / -75,173.50"
    equity = _real("in_wherrelz_it_solutions_fy2025_annual.pdf", chart).figure("equity")
    assert (equity.current, equity.prior, equity.page) == (Decimal("-75173.50"), Decimal("14215.09"), 50)


# ----------------------------------------------------------------------------------------------- layout
def test_a_text_layer_out_of_reading_order_is_laid_out_from_character_boxes(chart):
    # Wherrelz's text layer prints each statement's title last; its pages were skipped as no statement
    ex = _real("in_wherrelz_it_solutions_fy2025_annual.pdf", chart)
    assert ex.located_pages == [50, 51, 52]
    assert ex.figure("revenue").current == Decimal("107176.14")   # "1,07,176.14", Indian grouping


def test_a_notes_column_whose_references_look_like_amounts_is_not_a_value_column(chart):
    # Sulabh p126: "(a) Cash and Cash Equivalents 2.1 12.97 13.37" under "Note No 2025 2024"
    ex = _real("in_sulabh_engineers_fy2025_annual.pdf", chart)
    cash = ex.figure("cash")
    assert (cash.current, cash.prior, cash.note) == (Decimal("12.97"), Decimal("13.37"), "2.1")


def test_amounts_centred_in_their_column_and_a_label_wrapped_below_them(chart):
    # Citurgia p50: "(c) Money received against share / 25,000,000.00 25,000,000.00 / warrants", amounts centred
    ex = _real("in_citurgia_biochemicals_fy2025_annual.pdf", chart)
    equity = ex.figure("equity")   # no total printed: 264,190,630.00 − 359,106,753.63 + 25,000,000.00
    assert (equity.current, equity.status) == (Decimal("-69916123.63"), "derived")


def test_of_three_month_and_nine_month_columns_the_year_to_date_ones_are_read(chart):
    # Spotify p4: Revenue 3,988 3,357 | 11,431 9,576 under "Three months ended" | "Nine months ended"
    revenue = _real("lu_spotify_2024q3_6k.pdf", chart).figure("revenue")
    assert (revenue.current, revenue.prior, revenue.unit) == (Decimal(11431), Decimal(9576), "millions")


def _english_balance_sheet(headers: tuple[str, str], rows: list[tuple[str, str, str]]) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4)
    y = 780
    canvas.setFont("Helvetica-Bold", 12)
    canvas.drawString(60, y, "Balance Sheet")
    canvas.setFont("Helvetica", 9)
    canvas.drawString(60, y - 16, "(In thousands of US dollars)")
    canvas.drawRightString(420, y - 34, headers[0])
    canvas.drawRightString(520, y - 34, headers[1])
    y -= 52
    for label, left, right in rows:
        canvas.drawString(60, y, label)
        canvas.drawRightString(420, y, left)
        canvas.drawRightString(520, y, right)
        y -= 15
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def test_columns_printed_oldest_first_take_the_period_from_the_newest_column(chart):
    data = _english_balance_sheet(("December 31, 2023", "December 31, 2024"), [
        ("Cash and cash equivalents", "1,000", "1,200"), ("Total current assets", "3,000", "3,600"),
        ("Total assets", "5,000", "6,000"), ("Total liabilities", "3,000", "3,500"),
        ("Total equity", "2,000", "2,500"), ("Total liabilities and equity", "5,000", "6,000")])
    ex = extract_statement(data, chart)
    assert ex.period_end == date(2024, 12, 31)
    assets = ex.figure("total_assets")
    assert (assets.current, assets.prior, assets.unit, assets.status) == (Decimal(6000), Decimal(5000), "thousands", "checked")


# ----------------------------------------------------------------------------------------------- totals
def test_total_liabilities_not_printed_are_derived_and_marked_so(chart):
    # Nike p60: TOTAL LIABILITIES AND SHAREHOLDERS' EQUITY 37,531 / 40,321 − Total shareholders' equity 14,004 / 15,281
    liabilities = _real("us_nike_2023_10k.pdf", chart).figure("total_liabilities")
    assert (liabilities.current, liabilities.prior, liabilities.page) == (Decimal(23527), Decimal(25040), 60)
    assert liabilities.status == "derived"
    assert liabilities.basis == "total liabilities and equity − total equity"


# ----------------------------------------------------------------------------------------------- scope
def test_a_transition_table_titled_like_the_parents_balance_sheet_is_not_read_as_it():
    # 首次执行新收入准则调整首次执行当年年初财务报表相关项目情况: "母公司资产负债表" over 调整数 columns
    statement = ("合并资产负债表\n2020年12月31日\n单位：元\n项目 附注 2020年12月31日 2019年12月31日\n"
                 + "".join(f"货币资金 1,000.00 900.00\n" for _ in range(6)) + "负债和所有者权益总计 6,000.00 5,400.00\n")
    transition = ("母公司资产负债表\n单位：元\n项目 2019年12月31日 2020年1月1日 调整数\n"
                  + "".join("应收账款 1,000.00 800.00 -200.00\n" for _ in range(6)))
    texts = [statement, "利润表", transition]
    located = locate_statements(texts + ["附录"] * 5, parent_company=True)
    assert [plan.number for plan in located.pages] == [1]


# ----------------------------------------------------------------------------------------------- self-checking
def _statement_spec(**changes) -> dict:
    items = {"cash": ["812345.67", "700000.00"], "current_assets": ["2312345.67", "2100000.00"],
             "total_assets": ["5000000.00", "4800000.00"], "total_liabilities": ["3000000.00", "2900000.00"],
             "equity": ["2000000.00", "1900000.00"], "total_liabilities_and_equity": ["5000000.00", "4800000.00"],
             "revenue": ["9000000.00", "8000000.00"], "net_profit": ["-123456.78", "50000.00"],
             "net_operating_cash_flow": ["-250000.50", "300000.00"]}
    items.update(changes)
    return {"kind": "financial_statement", "statement": {
        "borrower_name": "杭州临平精工有限公司", "period_end": "2025-06-30", "layout": "A", "unit": "元",
        "negative_style": "minus", "items": items}}


def test_a_balance_sheet_that_does_not_balance_is_flagged_and_nothing_of_it_is_published(chart):
    from plugins.extraction import statement_figures

    # 资产总计 5,000,000.00 but 负债和所有者权益总计 4,900,000.00 (所有者权益 1,900,000.00)
    data = render_document(_statement_spec(equity=["1900000.00", "1900000.00"],
                                           total_liabilities_and_equity=["4900000.00", "4800000.00"]))
    ex = extract_statement(data, chart)
    assert ex.needs_review == ["balance sheet (entity): total assets 5000000.00 / 4800000.00 元 (p1) ≠ total "
                               "liabilities and equity 4900000.00 / 4800000.00 元 (p1)"]
    assert ex.figures == [] and any(f.canonical == "total_assets" for f in ex.withheld)
    doc = {"sha256": "0" * 64, "borrower_id": "B1", "file_name": "unbalanced.pdf"}
    assert statement_figures([(doc, data)], chart).empty


def test_a_balanced_statement_is_published_with_its_identities_checked(chart):
    ex = extract_statement(render_document(_statement_spec()), chart)
    assert ex.needs_review == []
    assert {f.canonical: f.status for f in ex.figures if f.canonical in ("total_assets", "total_liabilities", "equity")} \
        == {"total_assets": "checked", "total_liabilities": "checked", "equity": "checked"}
    assert "balance sheet (entity): total assets = total liabilities + total equity" in ex.checks


def test_the_identity_chooses_between_two_readings_of_a_line(chart):
    from plugins.documents.statements import StatementFigure, self_check

    def figure(canonical, current, prior):
        return StatementFigure("balance_sheet", canonical, canonical, Decimal(current), Decimal(prior), "元",
                               Decimal(1), Decimal(current), Decimal(prior), 1, (0, 0, 1, 1))
    # a first "total assets" reading taken from a subtotal line, the right one further down
    figures = [figure("total_assets", "2312345.67", "2100000.00"), figure("total_assets", "5000000.00", "4800000.00"),
               figure("total_liabilities", "3000000.00", "2900000.00"), figure("equity", "2000000.00", "1900000.00")]
    out, checks, failures = self_check(figures, {}, chart)
    assert failures == []
    chosen = next(f for f in out if f.canonical == "total_assets")
    assert (chosen.current, chosen.status) == (Decimal("5000000.00"), "checked")


def test_every_balance_sheet_of_a_real_filing_is_identity_checked(chart):
    for name in ("in_benara_bearings_fy2025_annual.pdf", "za_clicks_group_2018_afs.pdf", "us_lyft_2021_10k.pdf"):
        ex = _real(name, chart)
        assert ex.needs_review == [] and ex.figure("total_assets").status == "checked", name


def test_postloan_extract_prints_each_figures_unit_source_and_status(chart):
    from pipelines.cli_extract import extract_file

    path = FINANCIAL / "za_clicks_group_2018_afs.pdf"
    if not path.exists():
        pytest.skip("corpus not available")
    out = extract_file(path.read_bytes(), None, 50_000_000, 1000)
    figures = {f["canonical"]: f for f in out["figures"]}
    assert figures["total_assets"]["unit_source"].startswith("p13: ")
    assert figures["total_assets"]["status"] == "checked"
    assert (figures["total_liabilities"]["status"], figures["total_liabilities"]["current"]) == ("derived", Decimal("7136209"))


def _english_statements(pages: list[tuple[str, str, list[tuple[str, str, str]]]]) -> bytes:
    """Pages of (title, unit caption, rows of label / 2024 / 2023), newest column first."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4)
    for title, caption, rows in pages:
        canvas.setFont("Helvetica-Bold", 12)
        canvas.drawString(60, 780, title)
        canvas.setFont("Helvetica", 9)
        canvas.drawString(60, 764, caption)
        canvas.drawRightString(420, 746, "December 31, 2024")
        canvas.drawRightString(520, 746, "December 31, 2023")
        for n, (label, current, prior) in enumerate(rows):
            canvas.drawString(60, 728 - 15 * n, label)
            canvas.drawRightString(420, 728 - 15 * n, current)
            canvas.drawRightString(520, 728 - 15 * n, prior)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def test_the_cash_identity_chooses_between_two_units_a_header_declares(chart):
    # the balance sheet's caption names shares first and amounts second; its cash (1,200) is the cash-flow
    # statement's closing cash (1,200 millions) only in millions
    data = _english_statements([
        ("Consolidated Balance Sheets", "(Shares in thousands; amounts in millions)", [
            ("Cash and cash equivalents", "1,200", "1,000"), ("Total assets", "6,000", "5,000"),
            ("Total liabilities", "3,500", "3,000"), ("Total equity", "2,500", "2,000"),
            ("Total liabilities and equity", "6,000", "5,000")]),
        ("Consolidated Statements of Cash Flows", "(In millions)", [
            ("Net cash provided by operating activities", "900", "800"),
            ("Net increase in cash and cash equivalents", "200", "100"),
            ("Cash and cash equivalents at beginning of year", "1,000", "900"),
            ("Cash and cash equivalents at end of year", "1,200", "1,000")])])
    ex = extract_statement(data, chart)
    assets = ex.figure("total_assets")
    assert (assets.unit, assets.current_yuan) == ("millions", Decimal(6_000_000_000))
    assert assets.unit_source == "p1: (Shares in thousands; amounts in millions)"
    assert any("read in millions" in check for check in ex.checks)


def test_period_headings_printed_close_together_still_own_their_columns(chart):
    # a 10-Q's operations: "Three Months Ended June 30, Six Months Ended June 30," on one line, little gap
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4)
    canvas.setFont("Helvetica-Bold", 12)
    canvas.drawString(60, 780, "Condensed Consolidated Statements of Operations")
    canvas.setFont("Helvetica", 9)
    canvas.drawString(60, 764, "(In millions)")
    canvas.drawString(300, 746, "Three Months Ended June 30,")
    canvas.drawString(425, 746, "Six Months Ended June 30,")
    for x, year in ((330, "2024"), (380, "2023"), (450, "2024"), (500, "2023")):
        canvas.drawRightString(x + 20, 732, year)
    for n, (label, *values) in enumerate([("Revenue", "1,100", "1,000", "2,150", "1,950"),
                                          ("Net income", "110", "90", "205", "170")]):
        canvas.drawString(60, 716 - 15 * n, label)
        for x, value in zip((350, 400, 470, 520), values):
            canvas.drawRightString(x, 716 - 15 * n, value)
    canvas.save()
    revenue = extract_statement(out.getvalue(), chart).figure("revenue")
    assert (revenue.current, revenue.prior) == (Decimal(2150), Decimal(1950))   # six months, year to date


def test_an_english_statement_printing_only_total_revenues_gives_them_as_revenue(chart):
    data = _english_statements([("Consolidated Statements of Operations", "(In thousands)", [
        ("Product", "6,000", "5,000"), ("Service", "4,000", "3,000"), ("Total revenues", "10,000", "8,000"),
        ("Cost of revenue", "7,000", "6,000"), ("Net income", "1,000", "800")])])
    revenue = extract_statement(data, chart).figure("revenue")
    assert (revenue.current, revenue.prior, revenue.label) == (Decimal(10000), Decimal(8000), "Total revenues")
    assert revenue.basis == "printed as total revenues, no revenue line of its own"
