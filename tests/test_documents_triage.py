"""Specification: each kind of bad file is triaged with its own reason code."""
from __future__ import annotations

import io

import pytest
from reportlab.pdfgen.canvas import Canvas

from plugins.documents import encrypt_pdf, inspect_pdf, render_document
from tests.test_documents_render_extract import LOAN_TERMS, statement_spec

MAX_BYTES, MAX_PAGES = 10_000_000, 50


def bad(defect: str, **extra) -> bytes:
    return render_document({"kind": "bad", "defect": defect, "declared_class": "financial_statement",
                            "terms": LOAN_TERMS, **extra})


@pytest.fixture(scope="module")
def loan_pdf() -> bytes:
    return render_document({"kind": "loan_contract", "terms": LOAN_TERMS})


@pytest.mark.parametrize("defect,code", [
    ("corrupt", "corrupt"), ("encrypted", "encrypted"), ("image_only", "needs_ocr"),
    ("not_pdf", "not_pdf"), ("mislabelled", "mislabelled"),
])
def test_each_defect_has_its_reason_code(defect, code):
    result = inspect_pdf(bad(defect), "financial_statement", MAX_BYTES, MAX_PAGES)
    assert (result.ok, result.reason_code) == (False, code)
    assert result.reason.startswith(code + ":")


def test_a_zip_named_pdf_is_not_a_pdf():
    assert inspect_pdf(bad("not_pdf", format="zip"), "loan_contract", MAX_BYTES, MAX_PAGES).reason_code == "not_pdf"


def test_mislabelled_names_both_classes():
    result = inspect_pdf(bad("mislabelled"), "financial_statement", MAX_BYTES, MAX_PAGES)
    assert result.detected_class == "loan_contract"
    assert "financial statement" in result.reason and "loan contract" in result.reason


def test_empty_user_password_is_accepted(loan_pdf):
    result = inspect_pdf(encrypt_pdf(loan_pdf, "", "owner-secret"), "loan_contract", MAX_BYTES, MAX_PAGES)
    assert result.ok and result.detected_class == "loan_contract"


def test_good_documents_are_accepted_with_class_and_pages(loan_pdf):
    assert inspect_pdf(loan_pdf, "loan_contract", MAX_BYTES, MAX_PAGES) == inspect_pdf(
        loan_pdf, "loan_contract", MAX_BYTES, MAX_PAGES)
    result = inspect_pdf(loan_pdf, "loan_contract", MAX_BYTES, MAX_PAGES)
    assert (result.ok, result.detected_class, result.page_count) == (True, "loan_contract", 3)
    statement = render_document(statement_spec("B", "万元"))
    assert inspect_pdf(statement, "financial_statement", MAX_BYTES, MAX_PAGES).ok


def test_a_good_pdf_over_max_bytes_is_oversized(loan_pdf):
    result = inspect_pdf(loan_pdf, "loan_contract", len(loan_pdf) - 1, MAX_PAGES)
    assert result.reason_code == "oversized"


def test_a_good_pdf_over_max_pages_is_oversized(loan_pdf):
    result = inspect_pdf(loan_pdf, "loan_contract", MAX_BYTES, 2)
    assert (result.reason_code, result.page_count) == ("oversized", 3)


def test_text_that_is_neither_statement_nor_contract_is_unrecognised():
    buf = io.BytesIO()
    canvas = Canvas(buf, invariant=1)
    canvas.drawString(72, 720, "Minutes of the quarterly board meeting")
    canvas.showPage()
    canvas.save()
    assert inspect_pdf(buf.getvalue(), "loan_contract", MAX_BYTES, MAX_PAGES).reason_code == "unrecognised"


def one_page(*lines: str) -> bytes:
    buf = io.BytesIO()
    canvas = Canvas(buf, invariant=1)
    for row, line in enumerate(lines):
        canvas.drawString(72, 720 - 18 * row, line)
    canvas.showPage()
    canvas.save()
    return buf.getvalue()


@pytest.mark.parametrize("title,kind", [
    ("SPONSORED RESEARCH AGREEMENT", "research_agreement"),
    ("MASTER SERVICES AGREEMENT", "service_agreement"),
    ("ASSET PURCHASE AGREEMENT", "purchase_agreement"),
])
def test_an_agreement_that_lends_nothing_is_archived_by_its_class_not_quarantined(title, kind):
    # declared as a loan contract, the title says it lends nothing: archived as such, never read as a loan
    pdf = one_page(title, "This Agreement is entered into as of March 1, 2024 between the Company and",
                   "the University, who agree as follows. See the audited financial statements.")
    result = inspect_pdf(pdf, "loan_contract", MAX_BYTES, MAX_PAGES)
    assert (result.ok, result.reason_code, result.detected_class, result.agreement) == (
        True, None, "non_loan_agreement", kind)


def test_a_credit_agreement_stays_a_loan_contract():
    pdf = one_page("CREDIT AGREEMENT", "dated as of June 21, 2022, with the Lenders and the services agreement")
    assert inspect_pdf(pdf, "loan_contract", MAX_BYTES, MAX_PAGES).detected_class == "loan_contract"


def test_non_loan_agreements_quarantine_keeps_it_for_review_as_mislabelled():
    from pathlib import Path

    from plugins.config import Documents, load_yaml_model

    shipped = load_yaml_model(Path(__file__).parents[1] / "config" / "documents.yaml", Documents).triage
    assert shipped.non_loan_agreements == "archive"
    limits = shipped.model_copy(update={"non_loan_agreements": "quarantine"})
    result = inspect_pdf(one_page("SPONSORED RESEARCH AGREEMENT"), "loan_contract", MAX_BYTES, MAX_PAGES, limits)
    assert (result.ok, result.reason_code, result.detected_class) == (False, "mislabelled", "non_loan_agreement")
    assert "research agreement" in result.reason
