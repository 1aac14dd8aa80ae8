"""The management pack in its readers' language (issue 15 item 2): rules, signals, reasons and statuses as
Chinese phrases with their article or policy reference, amounts in 元 / 万元 and never in cents, a first page
of what needs action, an outline, headings kept with what follows, an approval block."""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pdfplumber
import pytest
from pypdf import PdfReader

from plugins.reports.management import render_management_pdf
from plugins.reports.reader_language import (RULES, SIGNALS, chinese_text, codes_in, quarantine_phrase,
                                             reasons_phrase, rule_phrase, signal_phrase)
from tests.test_reports_management import make_book, make_pack

# a field or rule name; file names (scan_0012.pdf) are not
SNAKE_CASE = re.compile(r"(?<![A-Za-z0-9_.])[a-z][a-z0-9]*(?:_[a-z][a-z0-9]*)+(?![A-Za-z0-9_.])")
# an amount in cents: the word, or a number in 分 (分类, 百分点, 部分 are words, not a unit after a number)
CENTS = re.compile(r"cents|\d\s*分(?![类期析布级险组点])")


def _finding(rule: str, floor: int, **facts) -> dict:
    return {"rule": rule, "floor": floor, "facts": facts, "article": "as in plugins/classification/rules.py"}


def test_an_overdue_floor_reads_as_the_measures_article_with_the_loans_own_days():
    assert rule_phrase("overdue_days", {"dpd": 292, "threshold_days": 270}, 4) == \
        "逾期292天（超过270天） → 至少可疑（《商业银行金融资产风险分类办法》（2023）第九至十一条）"


def test_a_debtors_non_performing_share_reads_as_a_percentage_under_article_8():
    assert rule_phrase("debtor_npl_share", {"borrower_id": "B0124", "npl_share": 0.1753}, 3) == \
        "同一债务人在本机构的不良债权占比17.53% → 至少次级（《商业银行金融资产风险分类办法》（2023）第八条（债务人维度））"


def test_a_loans_reasons_are_every_finding_in_order_and_a_performing_loan_pays_on_time():
    found = json.dumps([_finding("overdue_days", 2, dpd=43, threshold_days=0), _finding("credit_impaired", 3,
                                                                                        credit_impaired=True)])
    assert reasons_phrase(found) == ("逾期43天 → 至少关注（《商业银行金融资产风险分类办法》（2023）第九至十一条）；"
                                     "已发生信用减值 → 至少次级（《商业银行金融资产风险分类办法》（2023）第十条）")
    assert reasons_phrase("[]") == "按期还款"


def test_a_rule_the_pack_does_not_know_shows_a_neutral_phrase_not_its_code():
    assert rule_phrase("guarantor_fled_abroad", {"days": 3}, 3) == "其他分类规则 → 至少次级（本机构分类政策）"
    assert signal_phrase("moon_in_retrograde") == "其他预警信号（本机构贷后管理制度·风险预警）"


def test_every_known_rule_and_signal_has_a_phrase_with_a_reference():
    for rule in RULES:
        assert re.search(r"（.+）$", rule_phrase(rule, {}, 3)), rule
    for signal in SIGNALS:
        assert re.search(r"（.+）$", signal_phrase(signal)), signal


def test_an_amount_in_cents_reads_in_yuan():
    assert chinese_text("flows=1, amount_cents=48720") == "笔数 1, 金额 487.20 元"


def test_free_text_keeps_the_facts_it_can_name_and_drops_the_codes_it_cannot():
    assert chinese_text("overdue_days → 可疑 (dpd=292, threshold_days=270); credit_impaired=True") == \
        "逾期天数下限 → 可疑 (逾期天数 292, 阈值天数 270); 信用减值"
    assert not SNAKE_CASE.search(chinese_text("a_new_rule → 次级 (some_fact=3, other_fact=4)"))


@pytest.mark.parametrize("code, reason, phrase", [
    ("encrypted", "PDF is encrypted (password required); ask the sender for an unencrypted copy", "文件已加密"),
    (None, "not a PDF: the bytes start with PK; run `postloan extract FILE` to see", "不是 PDF 文件"),
    (None, "the document cannot be opened (damaged xref)", "文件损坏"),
])
def test_a_quarantine_reason_reads_as_what_the_sender_should_do(code, reason, phrase):
    assert quarantine_phrase(code, reason).startswith(phrase)


def _coded_pack() -> dict:
    """The hand-made pack of test_reports_management with what the pipeline's frames carry: findings as JSON,
    early-warning signals with their codes and evidence in cents, a quarantine reason in English."""
    book = make_book()
    book["reasons_json"] = [
        json.dumps([_finding("overdue_days", t, dpd=d, threshold_days={1: 0, 2: 0, 3: 90, 4: 270, 5: 360}[t])])
        if t > 1 else "[]" for t, d in zip(book["tier"], book["dpd"])]
    book["reasons"] = [f"overdue_days → x (dpd={d})" for d in book["dpd"]]
    book["previous_tier"] = [1, 1, 1, 3, 5, 2, 1, 2]  # HT003 and HT008 became non-performing this month
    pack = make_pack(book)
    pack["early_warning"] = pd.DataFrame({
        "contract_id": ["HT004", "HT005"], "signal": ["fund_misuse", "guarantor_non_performing"],
        "severity": ["high", "high"],
        "evidence": ["flows=1, amount_cents=48720, payee_id=P01", "guarantor_name=李四, guarantor_tier=3"]})
    pack["documents"]["quarantine"].append({"file_name": "scan_0013.pdf", "reason_code": "encrypted",
                                            "reason": "encrypted: ask for an unencrypted copy (postloan extract)"})
    return pack


@pytest.fixture(scope="module")
def coded_pdf() -> bytes:
    return render_management_pdf(_coded_pack())


def _pdftotext(pdf: bytes, tmp: Path) -> str:
    """The PDF's text as pdftotext (poppler-utils) gives it, or, where it is not installed, as pypdf reads it
    (the checks below look at the text with its white space removed, so both serve)."""
    if shutil.which("pdftotext") is None or os.environ.get("POSTLOAN_TEST_WITHOUT_PDFTOTEXT"):
        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    path = tmp / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def assert_reads_without_codes_or_cents(text: str) -> None:
    """No rule or signal code, no other snake_case field name, no amount in cents."""
    flat = re.sub(r"\s+", "", text)  # a code may be broken across lines by a table cell
    assert codes_in(text) == [] and codes_in(flat) == []
    assert SNAKE_CASE.findall(text) == []
    assert not CENTS.search(text)


def test_the_pdf_text_has_no_rule_or_signal_code_and_no_amount_in_cents(coded_pdf, tmp_path):
    text = _pdftotext(coded_pdf, tmp_path)
    assert_reads_without_codes_or_cents(text)
    flat = re.sub(r"\s+", "", text)  # table cells wrap
    assert "第九至十一条" in flat and "贷款资金用途异常" in flat and "保证人已为不良" in flat
    assert "487.20元" in flat and "文件已加密" in flat and "缺少签章页" in flat


def test_the_first_page_says_what_needs_action_and_carries_the_approval_block(coded_pdf):
    with pdfplumber.open(io.BytesIO(coded_pdf)) as pdf:
        first = pdf.pages[0].extract_text()
    assert "本月需关注事项" in first and "审批栏" in first and "待审批" in first
    assert "本月新转入不良" in first and "2 笔" in first  # HT003 and HT008
    assert "拨备覆盖率" in first  # 120.00% against ≥ 150.00%: 未达标


def test_the_outline_bookmarks_every_section_on_its_page(coded_pdf):
    reader = PdfReader(io.BytesIO(coded_pdf))
    outline = {item.title: reader.get_destination_page_number(item) for item in reader.outline}
    assert list(outline)[:2] == ["本月需关注事项", "审批栏"]
    for title, page in outline.items():
        assert title in reader.pages[page].extract_text(), title


def test_no_section_heading_is_the_last_line_of_a_page(coded_pdf):
    reader = PdfReader(io.BytesIO(coded_pdf))
    headings = {item.title for item in reader.outline}
    with pdfplumber.open(io.BytesIO(coded_pdf)) as pdf:
        for page in pdf.pages:
            lines = [l for l in (page.extract_text() or "").splitlines() if l.strip()]
            body = [l for l in lines if "第 " not in l and "内部资料" not in l]  # the footer
            assert body and body[-1].strip() not in headings


@pytest.mark.slow
def test_the_published_management_pdf_of_a_real_month_reads_without_codes_or_cents(s3_env, tmp_path):
    """A real Dagster month on the stressed sample: the PDF as published, read by pdftotext (~2 minutes)."""
    from pipelines import cli

    cfg = cli.cli_config()
    cli.ensure_object_store(cfg)
    cli.deliver_sample(cfg, ["2026-09"])
    assert cli.run_job("monthly_post_loan", "2026-09").success
    assert cli.main(["reports", "get", "management_report", "2026-09", "-o", str(tmp_path), "--draft"]) == 0
    text = _pdftotext((tmp_path / "贷后管理月度报告_2026-09.pdf").read_bytes(), tmp_path)
    flat = re.sub(r"\s+", "", text)  # a code may be broken across lines by a table cell
    assert codes_in(text) == [] and codes_in(flat) == []  # no rule or signal code …
    assert not CENTS.search(text)  # … and no amount in cents
    assert "本月需关注事项" in text and "审批栏" in text
