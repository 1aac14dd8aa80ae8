"""G11 资产质量及准备金: the figures and an Excel rendering in the 1104 template style.

Rounding rule (万元): every figure is first summed in yuan, exactly, with
``Decimal``; the sum is then converted with ``yuan / 10000`` and rounded to two
decimals with ``ROUND_HALF_UP``. Rounded figures are never added together, so
a total can differ by ±0.01 万元 from the sum of its rounded components. To
keep Excel's recalculation faithful to this rule, the total rows in the
workbook are formulas over the exact yuan amounts kept on a working sheet
(``元口径底稿``): ``=ROUND(SUM(<yuan of the components>)/10000,2)``. Excel's
ROUND rounds halves away from zero, which is ROUND_HALF_UP for these amounts.

Row codes (stable, used by downstream checks):
  1 各项贷款; 1.1–1.5 the five tiers; 2 按贷款投向, 2.<门类> per GB/T 4754
  section present (2.ZZ 未分类 when the code is missing); 3 重组贷款,
  3.1 其中：逾期90天以上; 4 多次重组仍为正常、关注类; 5 展期贷款, 5.1–5.5 by tier.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from plugins.reports.determinism import normalise_zip, report_datetime

TIER_NAMES = {1: "正常", 2: "关注", 3: "次级", 4: "可疑", 5: "损失"}
UNCLASSIFIED_INDUSTRY = "ZZ"
TABLE_COLUMNS = ["row_code", "item", "balance_wan", "provision_wan", "count", "balance_yuan", "provision_yuan"]
# Rows whose value is the sum of the rows coded "<parent>.<x>" (written as formulas).
SUM_PARENTS = ("1", "2", "5")
WORK_SHEET = "元口径底稿"
CENT = Decimal("0.01")


def to_decimal(value: Any) -> Decimal:
    """Coerce a money value to Decimal; str() first so floats keep their printed value."""
    if isinstance(value, Decimal):
        return value
    if value is None or (isinstance(value, float) and value != value):
        return Decimal(0)
    return Decimal(str(value))


def yuan_to_wan(yuan: Decimal) -> Decimal:
    """万元 with two decimals, ROUND_HALF_UP; scaleb is exact (no context precision)."""
    return to_decimal(yuan).scaleb(-4).quantize(CENT, rounding=ROUND_HALF_UP)


def _row(code: str, item: str, loans: pd.DataFrame) -> dict[str, Any]:
    balance = sum((to_decimal(v) for v in loans["balance"]), Decimal("0.00"))
    provision = sum((to_decimal(v) for v in loans["regulatory_provision"]), Decimal("0.00"))
    return {
        "row_code": code,
        "item": item,
        "balance_wan": yuan_to_wan(balance),
        "provision_wan": yuan_to_wan(provision),
        "count": int(len(loans)),
        "balance_yuan": balance,
        "provision_yuan": provision,
    }


def _tier_rows(prefix: str, loans: pd.DataFrame) -> list[dict[str, Any]]:
    tiers = loans["tier"].astype(int)
    return [_row(f"{prefix}.{t}", f"{name}类", loans[tiers == t]) for t, name in TIER_NAMES.items()]


def _industry_rows(book: pd.DataFrame) -> list[dict[str, Any]]:
    codes = book["industry_code"].fillna("").astype(str).str.strip().str.upper()
    codes = codes.where(codes != "", UNCLASSIFIED_INDUSTRY)
    rows = []
    for code in sorted(codes.unique()):  # "ZZ" sorts after every 门类 letter A–T
        loans = book[codes == code]
        if code == UNCLASSIFIED_INDUSTRY:
            label = "未分类"
        else:
            names = sorted(loans["industry_name"].dropna().astype(str).unique())
            label = f"{code} {names[0]}" if names else code
        rows.append(_row(f"2.{code}", label, loans))
    return rows


def _flag(book: pd.DataFrame, column: str) -> pd.Series:
    return book[column].fillna(False).astype(bool)


def row_members(book: pd.DataFrame) -> dict[str, pd.Series]:
    """row_code → which loans of `book` make up that G11 row (a boolean mask), the same selections
    build_g11_table sums: what `postloan trace g11` lists behind a figure."""
    tiers = book["tier"].astype(int)
    restructured = _flag(book, "restructured") | (book["issuance_type"] == "重组")
    extended = _flag(book, "extended")
    codes = book["industry_code"].fillna("").astype(str).str.strip().str.upper()
    codes = codes.where(codes != "", UNCLASSIFIED_INDUSTRY)
    everyone = pd.Series(True, index=book.index)
    members = {"1": everyone, **{f"1.{t}": tiers == t for t in TIER_NAMES}, "2": everyone,
               **{f"2.{c}": codes == c for c in sorted(codes.unique())},
               "3": restructured, "3.1": restructured & (book["dpd"].astype(int) > 90),
               "4": (book["restructure_count"].fillna(0).astype(int) >= 2) & (tiers <= 2),
               "5": extended, **{f"5.{t}": extended & (tiers == t) for t in TIER_NAMES}}
    return members


def build_g11_table(book: pd.DataFrame) -> pd.DataFrame:
    """G11 figures for one period, one row per return line, in the fixed order (see module doc)."""
    # A loan issued as 重组 is restructured even if the flag was not set upstream.
    restructured = book[_flag(book, "restructured") | (book["issuance_type"] == "重组")]
    multi = book[(book["restructure_count"].fillna(0).astype(int) >= 2) & (book["tier"].astype(int) <= 2)]
    extended = book[_flag(book, "extended")]
    rows = [
        _row("1", "各项贷款", book),
        *_tier_rows("1", book),
        _row("2", "按贷款投向", book),
        *_industry_rows(book),
        _row("3", "重组贷款", restructured),
        _row("3.1", "其中：逾期90天以上", restructured[restructured["dpd"].astype(int) > 90]),
        _row("4", "多次重组仍为正常、关注类贷款", multi),
        _row("5", "展期贷款", extended),
        *_tier_rows("5", extended),
    ]
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


# --------------------------------------------------------------------------- Excel


@dataclass(frozen=True)
class _Layout:
    first_data_row: int = 6  # 0-based: title, org line, header block, blank, headings, 栏次
    code_col: int = 0
    item_col: int = 1
    balance_col: int = 2
    provision_col: int = 3
    count_col: int = 4


LAYOUT = _Layout()


def _formats(wb: xlsxwriter.Workbook) -> dict[str, Any]:
    base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter"}
    cell = {**base, "border": 1}

    def fmt(**extra: Any) -> Any:
        return wb.add_format({**cell, **extra})

    return {
        "title": wb.add_format({**base, "bold": True, "font_size": 16, "align": "center"}),
        "meta": wb.add_format({**base, "align": "left"}),
        "meta_right": wb.add_format({**base, "align": "right"}),
        "head": fmt(bold=True, align="center", text_wrap=True, bg_color="#D9E1F2"),
        "colno": fmt(align="center", italic=True, bg_color="#F2F2F2"),
        "code": fmt(align="center"),
        "item": fmt(align="left"),
        "item_child": fmt(align="left", indent=1),
        "item_total": fmt(align="left", bold=True),
        "money": fmt(num_format="#,##0.00"),
        "money_total": fmt(num_format="#,##0.00", bold=True),
        "int": fmt(num_format="#,##0"),
        "int_total": fmt(num_format="#,##0", bold=True),
        "note": wb.add_format({**base, "text_wrap": True, "valign": "top"}),
        "note_head": wb.add_format({**base, "bold": True, "font_size": 12}),
    }


def _children(table: pd.DataFrame, parent: str) -> list[int]:
    """Positions (0-based within table) of the direct components of a total row."""
    codes = table["row_code"].tolist()
    return [i for i, c in enumerate(codes) if c.startswith(parent + ".") and c.count(".") == 1]


def _ref_list(rows: list[int], col: int, sheet: str | None = None) -> str:
    """A1 reference to the given sheet rows: a range when contiguous, else a comma list."""
    prefix = f"'{sheet}'!" if sheet else ""
    if rows == list(range(rows[0], rows[-1] + 1)):
        return f"{prefix}{xl_rowcol_to_cell(rows[0], col)}:{xl_rowcol_to_cell(rows[-1], col)}"
    return ",".join(prefix + xl_rowcol_to_cell(r, col) for r in rows)


def _write_header(ws: Any, f: dict[str, Any], institution: dict, period: str) -> None:
    report_date: date = institution["report_date"]
    ws.merge_range(0, 0, 0, 4, "G11 资产质量及准备金", f["title"])
    ws.merge_range(1, 0, 1, 4, f"表号：G11　　机构代码：{institution.get('code', '')}　　报送期：{period}", f["meta"])
    ws.merge_range(2, 0, 2, 1, f"填报机构：{institution['name']}", f["meta"])
    ws.merge_range(2, 2, 2, 3, f"报表日期：{report_date:%Y年%m月%d日}", f["meta"])
    ws.write(2, 4, f"单位：{institution.get('unit', '万元')}、笔", f["meta_right"])
    heads = ["行次", "项目", "贷款余额", "已计提贷款损失准备", "笔数"]
    col_numbers = ["", "", "A", "B", "C"]
    for col, (head, number) in enumerate(zip(heads, col_numbers)):
        ws.write(4, col, head, f["head"])
        ws.write(5, col, number, f["colno"])


def _write_body(ws: Any, f: dict[str, Any], table: pd.DataFrame) -> None:
    lay = LAYOUT
    for i, row in enumerate(table.itertuples(index=False)):
        r = lay.first_data_row + i
        code = row.row_code
        total = code in SUM_PARENTS
        child = "." in code
        ws.write_string(r, lay.code_col, code, f["code"])
        ws.write_string(r, lay.item_col, row.item, f["item_total" if total else "item_child" if child else "item"])
        money, integer = (f["money_total"], f["int_total"]) if total else (f["money"], f["int"])
        kids = [lay.first_data_row + k for k in _children(table, code)] if total else []
        if kids:
            for col, value in ((lay.balance_col, row.balance_wan), (lay.provision_col, row.provision_wan)):
                formula = f"=ROUND(SUM({_ref_list(kids, col, WORK_SHEET)})/10000,2)"
                ws.write_formula(r, col, formula, money, float(value))
            ws.write_formula(r, lay.count_col, f"=SUM({_ref_list(kids, lay.count_col)})", integer, row.count)
        else:
            ws.write_number(r, lay.balance_col, float(row.balance_wan), money)
            ws.write_number(r, lay.provision_col, float(row.provision_wan), money)
            ws.write_number(r, lay.count_col, row.count, integer)


def _write_signature(ws: Any, f: dict[str, Any], table: pd.DataFrame, institution: dict) -> None:
    r = LAYOUT.first_data_row + len(table) + 1
    ws.merge_range(r, 0, r, 4, f"单位负责人：　　　　　填表人：{institution.get('preparer', '')}　　　　　复核人：", f["meta"])


def _write_work_sheet(ws: Any, f: dict[str, Any], table: pd.DataFrame) -> None:
    """Exact yuan amounts on the same rows as the G11 sheet; the totals' formulas read them."""
    lay = LAYOUT
    ws.merge_range(0, 0, 0, 4, "元口径底稿（合计行公式的计算依据，金额单位：元）", f["title"])
    for col, head in enumerate(["行次", "项目", "贷款余额（元）", "已计提贷款损失准备（元）", "笔数"]):
        ws.write(4, col, head, f["head"])
    for i, row in enumerate(table.itertuples(index=False)):
        r = lay.first_data_row + i
        ws.write_string(r, lay.code_col, row.row_code, f["code"])
        ws.write_string(r, lay.item_col, row.item, f["item"])
        ws.write_number(r, lay.balance_col, float(row.balance_yuan), f["money"])
        ws.write_number(r, lay.provision_col, float(row.provision_yuan), f["money"])
        ws.write_number(r, lay.count_col, row.count, f["int"])
    ws.set_column(0, 0, 8)
    ws.set_column(1, 1, 36)
    ws.set_column(2, 3, 22)
    ws.set_column(4, 4, 10)


def _notes(table: pd.DataFrame, institution: dict, period: str) -> list[str]:
    total = table.loc[table["row_code"] == "1"].iloc[0]
    return [
        f"1. 数据来源：{period} 期末逐笔贷款五级分类及拨备结果，共 {total['count']} 笔；"
        f"报表日期 {institution['report_date']:%Y-%m-%d}。",
        "2. 金额单位：万元，保留两位小数。折算规则：先按元精确汇总，再除以 10000 并按四舍五入"
        "（ROUND_HALF_UP）保留两位小数；不是先折算各笔或各分项再相加，故合计可能与分项之和相差 ±0.01 万元。",
        "3. 合计行（各项贷款、按贷款投向、展期贷款）为公式：按“元口径底稿”中的元金额求和后折算并四舍五入，"
        "与第 2 条规则一致；公式结果已随文件保存。",
        "4. 各项贷款 = 正常类 + 关注类 + 次级类 + 可疑类 + 损失类；按贷款投向按 GB/T 4754 门类列示，"
        "未填行业代码的列为“未分类”。",
        "5. 重组贷款：标记为重组或发放方式为“重组”的贷款；其中逾期90天以上指逾期天数大于 90 天。",
        "6. 多次重组仍为正常、关注类贷款：重组次数不少于 2 次且当前分类为正常或关注。",
        "7. 展期贷款：已办理展期的贷款，按当前五级分类列示。",
        "8. 已计提贷款损失准备：各笔贷款已入账的专项准备之和。",
        "9. 与 1104 G11 项目的对应（见 docs/g11.md）：行次 2 对应第Ⅰ部分“按行业分类的贷款（按贷款投向）”；"
        "行次 3 对应第Ⅱ部分 5.5 期末重组贷款，3.1 对应 5.5.1 其中：逾期超过90天；行次 4 对应 5.6 多次重组后"
        "未计入不良贷款的余额；行次 5 对应 6. 展期贷款。正式表中五级分类为列，本表为行，报送时需转置。",
        "10. 报送时间：法人机构汇总数据季后13日内（config/institution.yaml 报送期限）。",
    ]


def _write_notes(ws: Any, f: dict[str, Any], table: pd.DataFrame, institution: dict, period: str) -> None:
    ws.set_column(0, 0, 110)
    ws.write(0, 0, "填报说明", f["note_head"])
    for i, line in enumerate(_notes(table, institution, period), start=2):
        ws.write_string(i, 0, line, f["note"])


def render_g11_xlsx(table: pd.DataFrame, institution: dict, period: str) -> bytes:
    """The G11 return as .xlsx bytes; byte-identical for identical inputs."""
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True})
    wb.set_properties({
        "title": f"G11 资产质量及准备金 {period}",
        "subject": "1104 非现场监管报表",
        "author": str(institution.get("preparer", "")),
        "company": str(institution["name"]),
        "created": report_datetime(institution["report_date"]),  # never the clock
    })
    f = _formats(wb)
    ws = wb.add_worksheet("G11")
    notes = wb.add_worksheet("填报说明")
    work = wb.add_worksheet(WORK_SHEET)
    _write_header(ws, f, institution, period)
    _write_body(ws, f, table)
    _write_signature(ws, f, table, institution)
    ws.set_column(0, 0, 8)
    ws.set_column(1, 1, 36)
    ws.set_column(2, 3, 20)
    ws.set_column(4, 4, 10)
    ws.set_row(4, 30)
    ws.freeze_panes(LAYOUT.first_data_row, 2)
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    _write_notes(notes, f, table, institution, period)
    _write_work_sheet(work, f, table)
    wb.close()
    return normalise_zip(buffer.getvalue())
