"""The monthly management pack as an Excel workbook for analysts: one sheet per section of the PDF.

The tables are exactly :func:`management_sections` (names masked, 万元 as
Decimal written as numbers with two decimals), so the workbook and the PDF
never disagree. Native Excel charts accompany the tier distribution, the
ageing and the trend. Bytes are deterministic: the creation date is the report
date and the zip is normalised (see ``determinism.py``).
"""
from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from plugins.reports.determinism import normalise_zip, report_datetime
from plugins.reports.management import TIER_COLOURS, management_sections

HEADER_ROW = 3  # 0-based: title, institution line, blank, then the table
INVALID_SHEET_CHARS = str.maketrans({c: "_" for c in "[]:*?/\\"})


def sheet_name(title: str, taken: set[str]) -> str:
    """Excel sheet names: at most 31 characters, none of []:*?/\\, unique."""
    base = title.translate(INVALID_SHEET_CHARS)[:31]
    name, n = base, 2
    while name in taken:
        name = f"{base[:28]}_{n}"
        n += 1
    taken.add(name)
    return name


def _formats(wb: xlsxwriter.Workbook) -> dict[str, Any]:
    base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter"}
    cell = {**base, "border": 1, "border_color": "#C8CED6"}
    return {
        "title": wb.add_format({**base, "bold": True, "font_size": 14, "font_color": "#1F3B5C"}),
        "meta": wb.add_format({**base, "font_color": "#555555"}),
        "head": wb.add_format({**cell, "bold": True, "font_color": "#FFFFFF", "bg_color": "#1F3B5C",
                               "align": "center", "text_wrap": True}),
        "text": wb.add_format({**cell, "text_wrap": True}),
        "money": wb.add_format({**cell, "num_format": "#,##0.00"}),
        "int": wb.add_format({**cell, "num_format": "#,##0"}),
        "percent": wb.add_format({**cell, "num_format": "0.00%"}),
        "empty": wb.add_format({**cell, "align": "center"}),
    }


def _write_cell(ws: Any, row: int, col: int, value: Any, f: dict[str, Any]) -> None:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        ws.write_string(row, col, "—", f["empty"])
    elif isinstance(value, bool):
        ws.write_string(row, col, "是" if value else "否", f["text"])
    elif isinstance(value, Decimal):
        ws.write_number(row, col, float(value), f["money"])  # two decimals, already rounded half up
    elif isinstance(value, int) or (hasattr(value, "dtype") and str(getattr(value, "dtype", "")).startswith("int")):
        ws.write_number(row, col, int(value), f["int"])
    elif isinstance(value, float):
        ws.write_number(row, col, value, f["money"])
    elif isinstance(value, str) and _PERCENT.match(value):  # '17.39%': a number an analyst can sum and chart
        ws.write_number(row, col, float(Decimal(value[:-1]) / 100), f["percent"])
    elif isinstance(value, str) and _NUMBER.match(value):  # '1,234.56', '372'
        number = Decimal(value.replace(",", ""))
        ws.write_number(row, col, float(number), f["money"] if "." in value else f["int"])
    else:
        ws.write_string(row, col, str(value), f["text"])


# Figures the PDF's tables carry as text ('1,234.56', '17.39%'); a leading zero ('0012') is an identifier.
_NUMBER = re.compile(r"^-?(?:0|[1-9]\d{0,2}(?:,\d{3})+|[1-9]\d*)(?:\.\d+)?$")
_PERCENT = re.compile(r"^-?(?:0|[1-9]\d*)(?:\.\d+)?%$")


def _column_width(frame: pd.DataFrame, col: str) -> float:
    # CJK characters are about two Latin widths wide.
    def width(text: str) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)

    longest = max([width(str(col)), *(width(str(v)) for v in frame[col].head(200))])
    return min(max(longest + 2, 8), 60)


def _write_section(ws: Any, title: str, frame: pd.DataFrame, f: dict[str, Any], header_line: str) -> None:
    ws.write_string(0, 0, title, f["title"])
    ws.write_string(1, 0, header_line, f["meta"])
    for col, name in enumerate(frame.columns):
        ws.write_string(HEADER_ROW, col, str(name), f["head"])
        ws.set_column(col, col, _column_width(frame, name))
    for i, row in enumerate(frame.itertuples(index=False), start=HEADER_ROW + 1):
        for col, value in enumerate(row):
            _write_cell(ws, i, col, value, f)
    if frame.empty:
        ws.write_string(HEADER_ROW + 1, 0, "本期无记录", f["meta"])
    elif len(frame.columns):
        ws.autofilter(HEADER_ROW, 0, HEADER_ROW + len(frame), len(frame.columns) - 1)
    ws.freeze_panes(HEADER_ROW + 1, 0)


def _range(sheet: str, first_row: int, last_row: int, col: int) -> str:
    return f"='{sheet}'!{xl_rowcol_to_cell(first_row, col, True, True)}:{xl_rowcol_to_cell(last_row, col, True, True)}"


def _bar_chart(wb: xlsxwriter.Workbook, sheet: str, frame: pd.DataFrame, label_col: str, value_col: str,
               rows: range, colours: list[str] | None, title: str) -> Any:
    chart = wb.add_chart({"type": "column"})
    labels, values = list(frame.columns).index(label_col), list(frame.columns).index(value_col)
    first, last = HEADER_ROW + 1 + rows.start, HEADER_ROW + rows.stop
    series = {"name": value_col, "categories": _range(sheet, first, last, labels),
              "values": _range(sheet, first, last, values), "data_labels": {"value": True, "num_format": "#,##0.00"}}
    if colours:
        series["points"] = [{"fill": {"color": c}} for c in colours]
    chart.add_series(series)
    chart.set_title({"name": title, "name_font": {"size": 11}})
    chart.set_legend({"none": True})
    chart.set_size({"width": 640, "height": 300})
    return chart


def _trend_chart(wb: xlsxwriter.Workbook, sheet: str, frame: pd.DataFrame) -> Any:
    chart = wb.add_chart({"type": "line"})
    first, last = HEADER_ROW + 1, HEADER_ROW + len(frame)
    columns = list(frame.columns)
    for name, secondary in (("不良贷款率（%）", False), ("贷款拨备率（%）", False), ("拨备覆盖率（%）", True)):
        if name in columns:
            chart.add_series({"name": name, "categories": _range(sheet, first, last, 0),
                              "values": _range(sheet, first, last, columns.index(name)),
                              "marker": {"type": "circle", "size": 4}, "y2_axis": secondary})
    chart.set_title({"name": "不良贷款率与拨备覆盖率趋势", "name_font": {"size": 11}})
    chart.set_y_axis({"name": "%"})
    chart.set_y2_axis({"name": "拨备覆盖率 %"})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 720, "height": 320})
    return chart


def _insert(ws: Any, anchor: str, chart: Any) -> None:
    # A chart with nothing to draw (a first month: no arrears, no history yet) is left out; xlsxwriter
    # drops charts that were never inserted, and refuses to save one without series.
    if chart.series:
        ws.insert_chart(anchor, chart)


def _add_charts(wb: xlsxwriter.Workbook, ws: Any, name: str, title: str, frame: pd.DataFrame) -> None:
    anchor = xl_rowcol_to_cell(HEADER_ROW, len(frame.columns) + 1)
    if title == "五级分类分布":
        _insert(ws, anchor, _bar_chart(wb, name, frame, "分类", "余额（万元）", range(0, 5),
                                           list(TIER_COLOURS.values()), "五级分类余额（万元）"))
    elif title == "逾期账龄" and len(frame) > 1:
        _insert(ws, anchor, _bar_chart(wb, name, frame, "账龄", "余额（万元）", range(1, len(frame)), None,
                                           "逾期贷款余额（万元，不含 M0）"))
    elif title == "指标趋势" and len(frame):
        _insert(ws, anchor, _trend_chart(wb, name, frame))
    elif title == "账龄分析" and len(frame):
        _insert(ws, xl_rowcol_to_cell(HEADER_ROW + len(frame) + 2, 0), _vintage_chart(wb, name, frame))
    elif title == "检查逾期账龄" and len(frame) > 1:
        _insert(ws, anchor, _bar_chart(wb, name, frame, "逾期天数", "笔数", range(0, len(frame) - 1), None,
                                           "检查逾期贷款笔数（按逾期天数）"))
    elif title == "催收方式" and len(frame) > 1:
        _insert(ws, anchor, _bar_chart(wb, name, frame, "催收方式", "回收金额（万元）", range(0, len(frame) - 1),
                                           None, "本月回收金额（万元，按催收方式）"))


def _vintage_chart(wb: xlsxwriter.Workbook, sheet: str, frame: pd.DataFrame) -> Any:
    """One line per origination quarter across the MOB columns of the 账龄分析 sheet."""
    chart = wb.add_chart({"type": "line"})
    mob_columns = [i for i, c in enumerate(frame.columns) if str(c).startswith("MOB")]
    if not mob_columns:
        return chart  # no cohort old enough yet: nothing to draw
    first, last = mob_columns[0], mob_columns[-1]
    for offset, values in enumerate(frame.iloc[:, first:last + 1].itertuples(index=False)):
        reached = sum(1 for v in values if v is not None)  # a cohort's points stop where its age does ("—")
        if not reached:
            continue
        row, end = HEADER_ROW + 1 + offset, first + reached - 1
        chart.add_series({"name": [sheet, row, 0], "categories": [sheet, HEADER_ROW, first, HEADER_ROW, end],
                          "values": [sheet, row, first, row, end], "marker": {"type": "circle", "size": 4}})
    chart.set_title({"name": "曾逾期30天以上本金占比（%），按放款季度", "name_font": {"size": 11}})
    chart.set_y_axis({"name": "%"})
    chart.show_blanks_as("gap")
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 720, "height": 320})
    return chart


def code_sheets(pack: dict) -> dict[str, pd.DataFrame]:
    """The detail sheets with codes and Chinese labels side by side: each loan outside 正常 with the codes of
    the rules that fired beside their phrases, and each early-warning signal's code beside its phrase."""
    from plugins.reports.management import TIER_NAMES, mask_name
    from plugins.reports.reader_language import chinese_text, reasons_phrase, severity_phrase, signal_phrase

    out: dict[str, pd.DataFrame] = {}
    book = pack["book"]
    if "rules_fired" in book or "reasons_json" in book:
        loans = book[book["tier"].astype(int) >= 2].sort_values("contract_id")
        found = loans["reasons_json"] if "reasons_json" in loans else [None] * len(loans)
        out["分类原因（代码）"] = pd.DataFrame({
            "合同号": loans["contract_id"].astype(str),
            "借款人": [mask_name(n, k) for n, k in zip(loans["borrower_name"], loans["borrower_kind"])],
            "分类代码": loans["tier"].astype(int), "分类": [TIER_NAMES[int(t)] for t in loans["tier"]],
            "规则代码": loans["rules_fired"].astype(str) if "rules_fired" in loans else "",
            "分类原因": [reasons_phrase(j, r) if j else chinese_text(r) for j, r in zip(found, loans["reasons"])],
            "原因（系统原文）": loans["reasons"].astype(str),
        }).reset_index(drop=True)
    signals = pack.get("early_warning")
    if isinstance(signals, pd.DataFrame) and "signal" in signals:
        out["预警信号（代码）"] = pd.DataFrame({
            "合同号": signals["contract_id"].astype(str), "信号代码": signals["signal"].astype(str),
            "预警信号": [signal_phrase(s) for s in signals["signal"]],
            "级别代码": signals["severity"].astype(str), "级别": [severity_phrase(s) for s in signals["severity"]],
            "依据（系统原文）": signals["evidence"].astype(str) if "evidence" in signals else "",
        }).reset_index(drop=True)
    return out


def render_management_xlsx(pack: dict) -> bytes:
    """The management pack as .xlsx bytes, one sheet per section; byte-identical for identical packs."""
    inst, period = pack["institution"], pack["period"]
    sections = management_sections(pack)
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True})
    wb.set_properties({"title": f"贷后管理月度报告 {period}", "subject": "贷后管理", "author": str(inst.get("preparer", "")),
                       "company": str(inst["name"]), "created": report_datetime(inst["report_date"])})
    f = _formats(wb)
    header_line = f"{inst['name']}　报告期 {period}　报表日期 {inst['report_date']:%Y-%m-%d}　金额单位：万元　借款人名称已脱敏"
    taken: set[str] = set()
    for title, frame in sections.items():
        name = sheet_name(title, taken)
        ws = wb.add_worksheet(name)
        _write_section(ws, title, frame, f, header_line)
        _add_charts(wb, ws, name, title, frame)
    for title, frame in code_sheets(pack).items():  # after the report's sections: the codes behind the phrases
        ws = wb.add_worksheet(sheet_name(title, taken))
        _write_section(ws, title, frame, f, header_line)
    wb.close()
    return normalise_zip(buffer.getvalue())
