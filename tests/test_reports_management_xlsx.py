"""Specification of the management workbook: the PDF's sections, one sheet each, deterministic bytes."""
from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest

from plugins.reports.determinism import ZIP_EPOCH, zip_timestamps
from plugins.reports.management import management_sections
from plugins.reports.management_xlsx import HEADER_ROW, render_management_xlsx, sheet_name
from tests.test_reports_management import FULL_NAMES, make_pack


def _full_pack() -> dict:
    pack = make_pack()
    pack["trend"] = pd.DataFrame({"period": ["2026-07", "2026-08", "2026-09"],
                                  "npl_ratio": ["0.03", "0.031", "0.032"],
                                  "provision_coverage": ["1.3", "1.25", "1.2"],
                                  "loan_provision_ratio": ["0.03", "0.03", "0.03"]})
    pack["watch_list"] = pd.DataFrame({"contract_id": ["HT002"], "borrower_name": ["张三"],
                                       "borrower_kind": ["individual"], "reasons": ["张三连续三期逾期"]})
    return pack


@pytest.fixture(scope="module")
def workbook() -> bytes:
    return render_management_xlsx(_full_pack())


def _sheet_rows(workbook: bytes, name: str) -> list[tuple]:
    sheet = openpyxl.load_workbook(io.BytesIO(workbook))[name]
    return list(sheet.iter_rows(min_row=HEADER_ROW + 1, values_only=True))


def test_one_sheet_per_section_in_report_order(workbook: bytes) -> None:
    sections = management_sections(_full_pack())
    assert openpyxl.load_workbook(io.BytesIO(workbook)).sheetnames == list(sections)
    assert {"指标趋势", "观察名单", "集中度指标", "逾期账龄"} <= set(sections)


def test_sheets_hold_the_same_figures_as_the_sections(workbook: bytes) -> None:
    sections = management_sections(_full_pack())
    for title, frame in sections.items():
        rows = _sheet_rows(workbook, title)
        assert list(rows[0]) == list(frame.columns)
        for got, want in zip(rows[1:], frame.itertuples(index=False)):
            for g, w in zip(got, want):
                if isinstance(w, Decimal):
                    assert Decimal(str(g)).quantize(Decimal("0.01")) == w
                elif w is None:
                    assert g == "—"
                elif isinstance(w, str) and isinstance(g, (int, float)):  # '17.39%', '1,234.56': stored as numbers
                    number = Decimal(w.replace(",", "").rstrip("%")) / (100 if w.endswith("%") else 1)
                    assert Decimal(str(g)) == number
                else:
                    assert str(g) == str(w)


def test_money_cells_are_numbers_with_two_decimals(workbook: bytes) -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(workbook))["五级分类分布"]
    cell = sheet.cell(row=HEADER_ROW + 2, column=3)
    assert isinstance(cell.value, float) and cell.number_format == "#,##0.00"


def test_names_are_masked_in_every_sheet(workbook: bytes) -> None:
    book = openpyxl.load_workbook(io.BytesIO(workbook))
    text = " ".join(str(v) for ws in book for row in ws.iter_rows(values_only=True) for v in row if v is not None)
    for name in FULL_NAMES:
        assert name not in text
    assert "张*连续三期逾期" in text


def test_charts_accompany_tiers_ageing_and_trend(workbook: bytes) -> None:
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(workbook)).namelist()
    assert len([n for n in names if n.startswith("xl/charts/chart")]) == 3


def test_bytes_are_identical_for_identical_packs(workbook: bytes) -> None:
    assert render_management_xlsx(_full_pack()) == workbook
    assert zip_timestamps(workbook) == {ZIP_EPOCH}


def test_optional_sections_are_omitted_cleanly() -> None:
    book = openpyxl.load_workbook(io.BytesIO(render_management_xlsx(make_pack())))
    assert "指标趋势" not in book.sheetnames and "观察名单" not in book.sheetnames
    assert "资产概况" in book.sheetnames


def test_sheet_names_are_valid_and_unique() -> None:
    taken: set[str] = set()
    assert sheet_name("a/b:c", taken) == "a_b_c"
    long = "很" * 40
    first, second = sheet_name(long, taken), sheet_name(long, taken)
    assert len(first) == 31 and first != second and len(second) <= 31


def test_the_overview_figures_are_numbers_an_analyst_can_sum(workbook: bytes) -> None:
    """The PDF's overview carries its figures as text ('3.20%'); the workbook stores numbers with formats."""
    sheet = openpyxl.load_workbook(io.BytesIO(workbook))["资产概况"]
    ratio = next(row for row in sheet.iter_rows(min_row=5) if row[0].value == "不良贷款率")[1]
    assert ratio.value == 0.032 and ratio.number_format == "0.00%"


def test_every_table_has_a_filter_and_a_frozen_header(workbook: bytes) -> None:
    book = openpyxl.load_workbook(io.BytesIO(workbook))
    for name in book.sheetnames:
        sheet = book[name]
        assert sheet.freeze_panes == "A5", name
        if sheet.max_row > 4 and sheet["A5"].value != "本期无记录":
            assert sheet.auto_filter.ref and sheet.auto_filter.ref.startswith("A4:"), name


def test_codes_and_chinese_labels_stand_side_by_side_in_the_detail_sheets() -> None:
    import json

    pack = _full_pack()
    book = pack["book"].copy()
    book["rules_fired"] = ["overdue_days" if t > 1 else "" for t in book["tier"]]
    book["reasons_json"] = [json.dumps([{"rule": "overdue_days", "floor": int(t), "facts": {"dpd": int(d)}}])
                            if t > 1 else "[]" for t, d in zip(book["tier"], book["dpd"])]
    pack["book"] = book
    sheet = openpyxl.load_workbook(io.BytesIO(render_management_xlsx(pack)))["分类原因（代码）"]
    header = [c.value for c in sheet[4]]
    assert header[:6] == ["合同号", "借款人", "分类代码", "分类", "规则代码", "分类原因"]
    first = [c.value for c in sheet[5]]
    assert first[4] == "overdue_days" and first[5].startswith("逾期") and "第九至十一条" in first[5]
