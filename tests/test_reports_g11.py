"""Specification of the G11 资产质量及准备金 return: figures, rounding, workbook layout, determinism."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import openpyxl
import pandas as pd
import pytest

from plugins.reports.g11 import build_g11_table, render_g11_xlsx, yuan_to_wan

D = Decimal
TIER_NAMES = {1: "正常", 2: "关注", 3: "次级", 4: "可疑", 5: "损失"}
INSTITUTION = {
    "name": "示例融资租赁有限公司",
    "code": "L0001H000000001",
    "report_date": date(2026, 9, 30),
    "preparer": "赵会计",
    "unit": "万元",
}
PERIOD = "2026-09"

# contract, borrower, industry, tier, dpd, balance (yuan), provision (yuan), issuance, restructured, count, extended
LOANS = [
    ("HT001", "B01", "C", 1, 0, "1234567.89", "0.00", "新增", False, 0, False),
    ("HT002", "B02", "A", 2, 15, "50.00", "1.00", "借新还旧", False, 0, False),
    # Issued as 重组 but the flag is unset upstream: still a restructured loan.
    ("HT003", "B03", "G", 3, 95, "50.00", "12.50", "重组", False, 1, False),
    ("HT004", "B04", "C", 4, 200, "800000.00", "400000.00", "新增", False, 0, True),
    ("HT005", "B05", "I", 5, 400, "300000.00", "300000.00", "新增", False, 0, False),
    ("HT006", "B01", "C", 2, 0, "2000000.00", "40000.00", "重组", True, 2, True),
    ("HT007", "B06", "A", 1, 0, "99999.99", "0.00", "重组", True, 3, False),
    ("HT008", "B07", "A", 3, 120, "450000.50", "112500.13", "重组", True, 1, True),
]
BOOK_COLUMNS = [
    "contract_id", "borrower_id", "borrower_name", "borrower_kind", "product", "industry_code", "industry_name",
    "region", "issuance_type", "restructured", "restructure_count", "extended", "dpd", "balance", "tier",
    "tier_name", "previous_tier", "regulatory_provision", "reasons",
]
INDUSTRY_NAMES = {"A": "农、林、牧、渔业", "C": "制造业", "G": "交通运输、仓储和邮政业", "I": "信息传输、软件和信息技术服务业"}


def make_book(loans: list[tuple] = LOANS) -> pd.DataFrame:
    rows = []
    for contract, borrower, industry, tier, dpd, balance, provision, issuance, restructured, count, extended in loans:
        rows.append({
            "contract_id": contract, "borrower_id": borrower, "borrower_name": f"借款人{borrower}",
            "borrower_kind": "corporate", "product": "finance_lease", "industry_code": industry,
            "industry_name": INDUSTRY_NAMES[industry], "region": "江苏", "issuance_type": issuance,
            "restructured": restructured, "restructure_count": count, "extended": extended, "dpd": dpd,
            "balance": D(balance), "tier": tier, "tier_name": TIER_NAMES[tier], "previous_tier": None,
            "regulatory_provision": D(provision), "reasons": "",
        })
    return pd.DataFrame(rows, columns=BOOK_COLUMNS)


# Worked by hand: yuan sums → ÷10000 → ROUND_HALF_UP to 0.01.
EXPECTED = [
    # row_code, item, balance 万元, provision 万元, count
    ("1", "各项贷款", "488.47", "85.25", 8),          # 4,884,668.38 / 852,513.63
    ("1.1", "正常类", "133.46", "0.00", 2),           # 1,334,567.88
    ("1.2", "关注类", "200.01", "4.00", 2),           # 2,000,050.00 → 200.005 → up
    ("1.3", "次级类", "45.01", "11.25", 2),           # 450,050.50 / 112,512.63
    ("1.4", "可疑类", "80.00", "40.00", 1),
    ("1.5", "损失类", "30.00", "30.00", 1),
    ("2", "按贷款投向", "488.47", "85.25", 8),
    ("2.A", "A 农、林、牧、渔业", "55.01", "11.25", 3),  # 550,050.49 / 112,501.13
    ("2.C", "C 制造业", "403.46", "44.00", 3),          # 4,034,567.89 / 440,000.00
    ("2.G", "G 交通运输、仓储和邮政业", "0.01", "0.00", 1),  # 50.00 → 0.005 → up; 12.50 → 0.00125
    ("2.I", "I 信息传输、软件和信息技术服务业", "30.00", "30.00", 1),
    ("3", "重组贷款", "255.01", "15.25", 4),          # HT003/6/7/8: 2,550,050.49 / 152,512.63
    ("3.1", "其中：逾期90天以上", "45.01", "11.25", 2),  # HT003 (95), HT008 (120)
    ("4", "多次重组仍为正常、关注类贷款", "210.00", "4.00", 2),  # HT006, HT007: 2,099,999.99
    ("5", "展期贷款", "325.00", "55.25", 3),          # 3,250,000.50 / 552,500.13
    ("5.1", "正常类", "0.00", "0.00", 0),
    ("5.2", "关注类", "200.00", "4.00", 1),
    ("5.3", "次级类", "45.00", "11.25", 1),           # 450,000.50 → 45.00005
    ("5.4", "可疑类", "80.00", "40.00", 1),
    ("5.5", "损失类", "0.00", "0.00", 0),
]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return build_g11_table(make_book())


@pytest.fixture(scope="module")
def xlsx(table: pd.DataFrame) -> bytes:
    return render_g11_xlsx(table, INSTITUTION, PERIOD)


def test_yuan_to_wan_rounds_half_up_to_two_decimals() -> None:
    assert yuan_to_wan(D("1234567.89")) == D("123.46")
    assert yuan_to_wan(D("50.00")) == D("0.01")  # exactly half: up, not to even
    assert yuan_to_wan(D("49.99")) == D("0.00")
    assert yuan_to_wan(D("0")) == D("0.00")


def test_table_has_fixed_rows_and_hand_computed_figures(table: pd.DataFrame) -> None:
    got = [(r.row_code, r.item, r.balance_wan, r.provision_wan, r.count) for r in table.itertuples()]
    assert got == [(c, i, D(b), D(p), n) for c, i, b, p, n in EXPECTED]
    assert all(isinstance(v, Decimal) and v.as_tuple().exponent == -2 for v in table["balance_wan"])


def test_rounding_is_applied_to_the_yuan_sum_not_to_rounded_parts(table: pd.DataFrame) -> None:
    by_code = table.set_index("row_code")
    tiers = sum(by_code.loc[f"1.{t}", "balance_wan"] for t in range(1, 6))
    assert tiers == D("488.48")  # adding the rounded tiers would overstate by 0.01
    assert by_code.loc["1", "balance_wan"] == D("488.47")


def test_two_half_cent_loans_round_once() -> None:
    loans = [("X1", "B1", "C", 1, 0, "12345.50", "0", "新增", False, 0, False),
             ("X2", "B2", "C", 1, 0, "12345.50", "0", "新增", False, 0, False)]
    by_code = build_g11_table(make_book(loans)).set_index("row_code")
    # Each loan alone is 1.23455 → 1.23 (1.23 + 1.23 = 2.46); the sum 24,691.00 is 2.4691 → 2.47.
    assert by_code.loc["1.1", "balance_wan"] == D("2.47")


def test_empty_book_gives_zero_rows_in_fixed_order() -> None:
    table = build_g11_table(make_book([]))
    assert list(table["row_code"]) == ["1", "1.1", "1.2", "1.3", "1.4", "1.5", "2", "3", "3.1", "4",
                                       "5", "5.1", "5.2", "5.3", "5.4", "5.5"]
    assert set(table["balance_wan"]) == {D("0.00")} and set(table["count"]) == {0}


def _sheet_rows(ws: openpyxl.worksheet.worksheet.Worksheet) -> dict[str, int]:
    """Row code → worksheet row number."""
    codes = {r: str(ws.cell(r, 1).value) for r in range(7, ws.max_row + 1)}
    return {code: r for r, code in codes.items() if re.fullmatch(r"\d(\.\w+)?", code)}


def test_workbook_header_block_and_column_numbers(xlsx: bytes) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(xlsx))
    assert wb.sheetnames[:2] == ["G11", "填报说明"]
    ws = wb["G11"]
    assert ws["A1"].value == "G11 资产质量及准备金"
    texts = [str(ws.cell(r, c).value) for r in range(1, 7) for c in range(1, 6) if ws.cell(r, c).value]
    assert "填报机构：示例融资租赁有限公司" in texts
    assert "报表日期：2026年09月30日" in texts
    assert any(t.startswith("单位：万元") for t in texts)
    assert any("2026-09" in t and "L0001H000000001" in t for t in texts)
    assert [ws.cell(6, c).value for c in (3, 4, 5)] == ["A", "B", "C"]
    assert list(_sheet_rows(ws)) == [e[0] for e in EXPECTED]


def test_total_rows_are_formulas_over_their_components(xlsx: bytes) -> None:
    ws = openpyxl.load_workbook(io.BytesIO(xlsx))["G11"]
    rows = _sheet_rows(ws)
    total = ws.cell(rows["1"], 3).value
    assert total.startswith("=ROUND(SUM(") and f"C{rows['1.1']}:C{rows['1.5']}" in total
    assert ws.cell(rows["1"], 5).value == f"=SUM(E{rows['1.1']}:E{rows['1.5']})"
    assert f"C{rows['2.A']}:C{rows['2.I']}" in ws.cell(rows["2"], 3).value
    assert f"D{rows['5.1']}:D{rows['5.5']}" in ws.cell(rows["5"], 4).value
    assert isinstance(ws.cell(rows["1.1"], 3).value, float)  # components are plain values
    assert ws.cell(rows["1.1"], 3).number_format == "#,##0.00"
    assert ws.cell(rows["1"], 3).number_format == "#,##0.00"


def test_formula_cells_carry_cached_values(xlsx: bytes) -> None:
    ws = openpyxl.load_workbook(io.BytesIO(xlsx), data_only=True)["G11"]
    rows = _sheet_rows(ws)
    for code, _, balance, provision, count in EXPECTED:
        r = rows[code]
        assert D(str(ws.cell(r, 3).value)).quantize(D("0.01")) == D(balance), code
        assert D(str(ws.cell(r, 4).value)).quantize(D("0.01")) == D(provision), code
        assert ws.cell(r, 5).value == count, code


def test_recalculating_the_formulas_reproduces_the_cached_totals(xlsx: bytes) -> None:
    """The formulas sum exact yuan on the working sheet, so Excel's recalculation agrees with the rule."""
    wb = openpyxl.load_workbook(io.BytesIO(xlsx))
    ws, cached = wb["G11"], openpyxl.load_workbook(io.BytesIO(xlsx), data_only=True)["G11"]
    pattern = re.compile(r"=ROUND\(SUM\('(.+)'!([A-Z])(\d+):([A-Z])(\d+)\)/10000,2\)")
    checked = 0
    for row in ws.iter_rows(min_row=7, min_col=3, max_col=4):
        for cell in row:
            match = pattern.fullmatch(str(cell.value))
            if not match:
                continue
            sheet, col, first, _, last = match.groups()
            yuan = sum(D(str(wb[sheet][f"{col}{r}"].value)) for r in range(int(first), int(last) + 1))
            expected = (yuan / 10000).quantize(D("0.01"), ROUND_HALF_UP)
            assert D(str(cached[cell.coordinate].value)).quantize(D("0.01")) == expected
            checked += 1
    assert checked == 6  # 各项贷款, 按贷款投向, 展期贷款 × (余额, 准备)


def test_notes_sheet_states_the_rounding_rule_and_period(xlsx: bytes) -> None:
    notes = openpyxl.load_workbook(io.BytesIO(xlsx))["填报说明"]
    text = "\n".join(str(c.value) for row in notes.iter_rows() for c in row if c.value)
    assert "ROUND_HALF_UP" in text and "10000" in text and "2026-09" in text


def test_renders_are_byte_identical_with_fixed_zip_metadata(table: pd.DataFrame, xlsx: bytes) -> None:
    assert render_g11_xlsx(table, INSTITUTION, PERIOD) == xlsx
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert archive.namelist()[0] == "[Content_Types].xml"
        core = archive.read("docProps/core.xml").decode()
    assert "2026-09-30T00:00:00Z" in core
    props = openpyxl.load_workbook(io.BytesIO(xlsx)).properties
    assert props.created.date() == date(2026, 9, 30)
