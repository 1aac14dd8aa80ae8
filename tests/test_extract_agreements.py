"""Specification: agreements beyond the signed 借款合同 — a blank form is flagged as a template, and agreements
that lend nothing are named by their class (the real US credit agreement's facility, tranches, margins, floors
and fees are checked in tests/test_extraction_corpus.py)."""
from __future__ import annotations

import io

from plugins.documents import extract_contract
from plugins.documents.agreements import agreement_class


def _pdf(lines: list[str]) -> bytes:
    from reportlab.lib.pagesizes import LETTER
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    canvas = Canvas(out, pagesize=LETTER)
    canvas.setFont("Helvetica", 11)
    for n, line in enumerate(lines):
        canvas.drawString(72, 720 - 18 * n, line)
    canvas.save()
    return out.getvalue()


def test_a_blank_public_form_of_loan_agreement_is_flagged_as_a_template():
    data = _pdf(["FORM OF TERM LOAN AGREEMENT", "dated as of [●], 20[●]", "among",
                 "[INSERT NAME OF BORROWER],", "as the Borrower,", "[insert name of Lender],", "as Administrative Agent",
                 "Aggregate Commitments: $[●]", "Interest: [●]% per annum above Term SOFR",
                 "Maturity Date: the date falling [●] months after the Closing Date", "Signature: ______________"])
    ex = extract_contract(data)
    assert ex.template is True
    assert any("blank template" in w for w in ex.warnings)
    # the parties are read as the form prints them, blanks and all, for the reviewer to see
    assert (ex.borrower_name, ex.lender) == ("[INSERT NAME OF BORROWER]", "[insert name of Lender]")


def test_a_signed_agreement_is_no_template():
    data = _pdf(["TERM LOAN AGREEMENT", "dated as of June 21, 2024", "among", "ACME WIDGETS, INC.,", "as the Borrower,",
                 "FIRST NATIONAL BANK, N.A.,", "as Administrative Agent"])
    assert extract_contract(data).template is None


def test_agreements_that_lend_nothing_are_named_by_their_class():
    assert agreement_class("SPONSORED RESEARCH AGREEMENT\nbetween the University and ...") == "research_agreement"
    assert agreement_class("MASTER SERVICES AGREEMENT\nThis Agreement is made ...") == "service_agreement"
    assert agreement_class("ASSET PURCHASE AGREEMENT\nby and among ...") == "purchase_agreement"
    assert agreement_class("CREDIT AGREEMENT\ndated as of June 21, 2024") == "loan_agreement"
    assert agreement_class("NOTICE OF ANNUAL MEETING") is None


def test_a_chinese_contract_form_with_blanks_is_a_template():
    from plugins.documents.fonts import register_cjk_font
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    font = register_cjk_font()
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4)
    canvas.setFont(font, 12)
    for n, line in enumerate(["借款合同（示范文本）", "合同编号：________", "贷款人（甲方）：______________",
                              "借款人（乙方）：______________", "借款金额（小写）：________元", "年利率：______%",
                              "期限：______个月"]):
        canvas.drawString(60, 780 - 24 * n, line)
    canvas.save()
    ex = extract_contract(out.getvalue())
    assert (ex.contract_kind, ex.template) == ("loan_contract", True)
