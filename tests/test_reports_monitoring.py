"""The management pack's monitoring sections: 2012 general reserve, vintage and roll rates, inspections and
collections - in the PDF (rendered to PNG) and one sheet each in the workbook; names masked."""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from plugins.reports.management import management_sections, render_management_pdf
from plugins.reports.management_xlsx import render_management_xlsx
from tests.test_reports_management import make_pack

D = Decimal


def _monitoring_pack() -> dict:
    pack = make_pack()
    # Potential risk 900.00万 less allowance 700.00万 = 200.00万, below the 1.5% floor of 300.00万: the floor binds.
    pack["general_reserve"] = {"potential_risk_cents": 900_000_000, "impairment_allowance_cents": 700_000_000,
                               "difference_cents": 200_000_000, "floor_cents": 300_000_000,
                               "required_cents": 300_000_000, "binding": "floor", "floor_rate": D("0.015")}
    vintage = pd.DataFrame([("2025Q1", mob, 2, 40_000_000, bad30, bad90, D(s30), D(s90)) for mob, bad30, bad90, s30, s90 in
                            [(0, 0, 0, "0", "0"), (3, 10_000_000, 0, "0.25", "0"), (6, 40_000_000, 30_000_000, "1", "0.75")]]
                           + [("2025Q2", 0, 1, 5_000_000, 0, 0, D("0"), D("0"))],
                           columns=["cohort", "mob", "loans", "principal_cents", "bad_30_cents", "bad_90_cents",
                                    "share_30", "share_90"])
    rolls = pd.DataFrame([("M0", "M1", 120_000, D("0.8333"), None, D("0.1667"), D("0")),
                          ("M1", "M2", 80_000, D("0.625"), D("0.375"), D("0"), D("0"))],
                         columns=["from_bucket", "to_bucket", "balance_cents", "roll_rate", "cure_rate", "closed_rate",
                                  "written_off_rate"])
    pack["performance"] = {"vintage": vintage, "roll_rates": rolls, "month_ends": 6}
    summary = pd.DataFrame([("首次检查", 1, 0, 0, 1), ("定期检查", 3, 1, 1, 1), ("专项检查", 1, 0, 0, 1),
                            ("合计", 5, 1, 1, 3)], columns=["检查类型", "本月应检查", "按时完成", "逾期完成", "未完成"])
    ageing = pd.DataFrame([("1–30天", 2, 120_000_000), ("31–90天", 0, 0), ("90天以上", 1, 50_000_000),
                           ("合计", 3, 170_000_000)], columns=["逾期天数", "loans", "balance_cents"])
    status = pd.DataFrame([("HT004", "B04", "李四", "individual", 4, 80_000_000, date(2026, 4, 8), "定期检查",
                            date(2026, 5, 8), True, 145),
                           ("HT001", "B01", "江苏恒达机械制造有限公司", "corporate", 1, 100_000_000, None, "首次检查",
                            date(2026, 9, 11), True, 19),
                           ("HT002", "B02", "张三", "individual", 2, 5_000, date(2026, 9, 7), "定期检查",
                            date(2026, 10, 7), False, 0)],
                          columns=["contract_id", "borrower_id", "borrower_name", "borrower_kind", "tier",
                                   "balance_cents", "last_inspection", "next_inspection", "next_due", "overdue",
                                   "days_overdue"])
    pack["inspections"] = {"summary": summary, "ageing": ageing, "status": status}
    pack["collections"] = {
        "figures": pd.DataFrame([("催收行动次数", "7"), ("接触贷款笔数", "4"), ("回收金额（万元）", "0.38")],
                                columns=["指标", "本期值"]),
        "actions": pd.DataFrame([("短信", 2, 2, 0), ("电话", 4, 4, 130_000), ("上门", 1, 1, 250_050), ("合计", 7, 4, 380_050)],
                                columns=["催收方式", "次数", "loans", "recovered_cents"]),
        "outcomes": pd.DataFrame([("承诺还款", 3, 3), ("部分还款", 2, 2), ("全额还款", 1, 1), ("失联", 0, 0), ("拒绝", 1, 1)],
                                 columns=["结果", "次数", "loans"]),
        "cures": pd.DataFrame([("M1", 2, 400_000, 2, 400_000, D("1")), ("M2", 1, 200_000, 0, 0, D("0")),
                               ("合计", 3, 600_000, 2, 400_000, D("0.666667"))],
                              columns=["上月末账龄", "loans", "balance_cents", "cured", "cured_balance_cents", "cure_rate"]),
    }
    return pack


NEW_SECTIONS = ["一般准备", "账龄分析", "账龄分析明细", "滚动率", "贷后检查", "检查逾期账龄", "检查逾期明细", "检查计划", "催收概况",
                "催收方式", "催收结果", "逾期转正常率"]


@pytest.fixture(scope="module")
def sections() -> dict[str, pd.DataFrame]:
    return management_sections(_monitoring_pack())


def test_the_sections_appear_only_when_their_data_is_in_the_pack(sections):
    assert not set(NEW_SECTIONS) & set(management_sections(make_pack()))
    order = list(sections)
    assert set(NEW_SECTIONS) <= set(order)
    assert order.index("一般准备") == 1 and order.index("逾期账龄") < order.index("账龄分析") < order.index("前十大借款人")
    assert order.index("贷后检查") < order.index("催收概况") < order.index("文档归档统计")


def test_the_general_reserve_shows_the_floor_and_which_side_binds(sections):
    reserve = sections["一般准备"].set_index("项目")
    assert reserve.loc["差额", "金额（万元）"] == D("200.00")
    assert reserve.loc["下限：风险资产 × 1.50%", ["金额（万元）", "说明"]].tolist() == [D("300.00"), "约束"]
    assert reserve.loc["应计提一般准备", ["金额（万元）", "说明"]].tolist() == [D("300.00"), "按下限计提"]


def test_vintage_and_roll_rates_in_percent(sections):
    wide = sections["账龄分析"].set_index("放款季度")
    assert wide.loc["2025Q1", "MOB3（%）"] == D("25.00") and wide.loc["2025Q1", "MOB6（%）"] == D("100.00")
    assert wide.loc["2025Q1", "MOB9（%）"] is None and wide.loc["2025Q1", "放款本金（万元）"] == D("40.00")
    rolls = sections["滚动率"].set_index("迁徙")
    assert rolls.loc["M0→M1", "滚动率（%）"] == D("83.33") and rolls.loc["M0→M1", "回到M0（%）"] is None
    assert rolls.loc["M1→M2", "回到M0（%）"] == D("37.50")


def test_inspection_and_collection_tables_mask_names_and_show_wan(sections):
    detail = sections["检查逾期明细"]
    assert detail["合同号"].tolist() == ["HT004", "HT001"]  # overdue ones only, most overdue first
    assert detail["借款人"].tolist() == ["李*", "江苏****有限公司"]
    assert detail["上次检查"].tolist() == ["2026-04-08", "无"]
    assert sections["检查计划"]["合同号"].tolist() == ["HT004", "HT001", "HT002"]  # every loan, for the workbook
    assert sections["检查逾期账龄"]["余额（万元）"].tolist() == [D("120.00"), D("0.00"), D("50.00"), D("170.00")]
    actions = sections["催收方式"].set_index("催收方式")
    assert actions.loc["合计", "回收金额（万元）"] == D("0.38")  # 3 800.50 yuan
    assert sections["逾期转正常率"].iloc[-1]["转正常率（%）"] == D("66.67")


def test_pdf_pages_render_the_new_charts_and_the_workbook_has_a_sheet_each(tmp_path: Path):
    import pypdfium2

    pack = _monitoring_pack()
    pdf = render_management_pdf(pack)
    assert render_management_pdf(pack) == pdf  # deterministic
    document = pypdfium2.PdfDocument(pdf)
    text = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    for heading in ("一般准备（2012）", "账龄分析与滚动率", "贷后检查", "催收情况", "逾期贷款转正常"):
        assert heading in text
    assert "江苏恒达机械制造有限公司" not in text and "李四" not in text
    page = next(i for i in range(len(document)) if "账龄分析与滚动率" in document[i].get_textpage().get_text_range())
    image = document[page].render(scale=1.0).to_pil().convert("RGB")
    image.save(tmp_path / "vintage.png")
    colours = set(image.get_flattened_data())
    assert any(r < 90 and g > 100 and b < 90 for r, g, b in colours)  # the 2025Q2 line is green
    workbook = openpyxl.load_workbook(io.BytesIO(render_management_xlsx(pack)))
    assert set(NEW_SECTIONS) <= set(workbook.sheetnames)
    assert workbook["账龄分析"]._charts and workbook["检查逾期账龄"]._charts
    sheet = workbook["检查逾期明细"]
    assert [c.value for c in sheet[5]][:2] == ["HT004", "李*"]
