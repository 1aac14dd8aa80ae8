"""Specification: scanned (image-only) PDFs are quarantined as needs_ocr, saying how to read them; the
optional OCR extractor (the `ocr` extra, rapidocr-onnxruntime) reads a scanned contract's terms with OCR
provenance: page, bounding box, the engine's confidence and the engine's name. The `test` extra installs the
engine, so these run for real (no skip); the pipeline's use of it is specified in tests/test_ingest_ocr.py."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.cli import main
from plugins.documents import inspect_pdf, render_document
from tests.test_documents_render_extract import LOAN_TERMS

SAMPLE_SCAN = {"kind": "bad", "defect": "image_only", "declared_class": "loan_contract"}  # as docspecs deliver it


def _run(capsys, tmp_path, data: bytes, *extra: str) -> tuple[int, dict]:
    path = tmp_path / "scan.pdf"
    path.write_bytes(data)
    code = main(["extract", str(path), *extra])
    return code, json.loads(capsys.readouterr().out)


def test_by_default_a_scan_is_quarantined_with_how_to_read_it(capsys, tmp_path):
    result = inspect_pdf(render_document(SAMPLE_SCAN), "loan_contract", 50_000_000, 1000)
    assert (result.ok, result.reason_code) == (False, "needs_ocr")
    assert "ocr.enabled: true" in result.reason and "postloan extract --ocr FILE" in result.reason
    code, out = _run(capsys, tmp_path, render_document(SAMPLE_SCAN))  # config: ocr.enabled false
    assert code == 3 and (out["status"], out["reason_code"]) == ("quarantined", "needs_ocr")


def test_the_ocr_extractor_is_registered_and_off_in_the_configuration():
    from plugins import registry
    from plugins.config import load_config
    from plugins.documents.ocr import RapidOcrExtractor

    ocr = load_config().documents.ocr
    assert (ocr.enabled, ocr.engine) == (False, "rapidocr")
    assert isinstance(registry.extractor("rapidocr"), RapidOcrExtractor)  # loads without the engine installed


def test_a_scanned_contract_is_read_with_ocr_provenance():
    from plugins.config import load_config
    from plugins.documents.ocr import RapidOcrExtractor, ocr_contract

    cfg = load_config().documents.ocr
    extractor = RapidOcrExtractor()
    scan = render_document({**SAMPLE_SCAN, "terms": LOAN_TERMS})
    lines = extractor.read(scan, cfg.max_pages, cfg.dpi)
    ex = ocr_contract(lines, extractor.engine, cfg.min_confidence)
    assert (ex.contract_kind, ex.contract_id, ex.lender, ex.borrower_name, ex.principal, ex.term_months) == (
        "loan_contract", "JK-2024-000123", "华信银行股份有限公司杭州分行", "浙江恒远机械制造有限公司",
        Decimal("12345678.90"), 36)
    principal = ex.provenance["principal"]
    assert principal.page == 1 and principal.engine == "rapidocr-onnxruntime 1.4.4"
    assert principal.confidence >= cfg.min_confidence and principal.text == "人民币12,345,678.90元"
    x0, top, x1, bottom = principal.bbox  # PDF points from the top: the fifth line drawn on the A4 page
    assert 60 < x0 < x1 < 595 and 200 < top < bottom < 260


def test_the_analyst_command_reads_the_sample_scan_with_ocr(capsys, tmp_path):
    code, out = _run(capsys, tmp_path, render_document(SAMPLE_SCAN), "--ocr", "--declared-class", "loan_contract")
    assert code == 0 and (out["status"], out["kind"], out["read_by"]) == ("extracted", "loan_contract", "ocr")
    assert out["terms"]["contract_id"]["value"] == "HT-0000-0000"
    assert out["terms"]["principal"]["value"] == "1000000.00"
    assert out["terms"]["principal"]["provenance"]["engine"] == "rapidocr-onnxruntime 1.4.4"


def test_without_a_declared_class_the_analyst_command_accepts_any_scanned_contract(capsys, tmp_path):
    code, out = _run(capsys, tmp_path, render_document(SAMPLE_SCAN), "--ocr")
    assert code == 0 and (out["status"], out["kind"], out["read_by"]) == ("extracted", "loan_contract", "ocr")
    assert out["terms"]["contract_id"]["value"] == "HT-0000-0000"


def _english_scan(lines: list[str]) -> bytes:
    """A one-page image-only PDF of English text (printed, rendered at 150 dpi, the image alone kept)."""
    import io

    import pypdfium2 as pdfium
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    printed = io.BytesIO()
    canvas = Canvas(printed, pagesize=A4)
    canvas.setFont("Helvetica", 13)
    for n, line in enumerate(lines):
        canvas.drawString(60, 760 - 22 * n, line)
    canvas.save()
    pdf = pdfium.PdfDocument(printed.getvalue())
    image = pdf[0].render(scale=150 / 72, grayscale=True).to_pil()
    pdf.close()
    scanned = io.BytesIO()
    canvas = Canvas(scanned, pagesize=A4)
    canvas.drawImage(ImageReader(image), 0, 0, *A4)
    canvas.save()
    return scanned.getvalue()


def _scan_triage(data: bytes, declared: str | None):
    from plugins.config import load_config
    from plugins.documents.ocr import triage_scan

    cfg = load_config().documents.ocr
    first = inspect_pdf(data, declared or "loan_contract", 50_000_000, 1000)
    assert first.reason_code == "needs_ocr"
    return triage_scan(data, declared, first, cfg).triage


def test_an_english_scan_of_a_loan_agreements_clauses_reads_as_a_loan_contract():
    # an excerpt (the scanned Indian syndicated loan agreement is five such pages): its terms, no title page
    data = _english_scan(["4. INTEREST", "The Borrower shall pay interest on the Facility at the rate of",
                          "interest of 9.50 per cent per annum to the Lenders.", "5. REPAYMENT",
                          "The Borrower shall repay the principal amount of the Term Loan",
                          "in twenty quarterly instalments."])
    result = _scan_triage(data, "loan_contract")
    assert (result.ok, result.detected_class) == (True, "loan_contract")


def test_an_english_scan_that_is_no_contract_is_quarantined_with_the_reason_in_english():
    data = _english_scan(["MINUTES OF THE ANNUAL GENERAL MEETING", "Held at the registered office on 12 June 2024.",
                          "The chairman welcomed the members present."])
    result = _scan_triage(data, None)
    assert (result.ok, result.reason_code) == (False, "needs_ocr")
    assert "no title or terms of a loan, credit or facility agreement or of a lease" in result.reason
    assert "借款合同" not in result.reason


@pytest.mark.slow
def test_the_scanned_indian_loan_agreement_is_read_by_ocr_in_english():
    # five scanned definition pages of a syndicated loan agreement (no title page): p1 "BG Facility shall mean a
    # non-fund based bank guarantee facility of up to Rs.2,500,000,000 (Rupees Two Billion Five Hundred
    # Million), which shall be a sub-limit of the Facility"; p4 "Default Rate shall mean 2% (Two percent) per annum"
    from plugins.config import load_config
    from plugins.documents.ocr import read_scan_contract

    path = Path("/work/shared/corpus/contracts/in_global_health_loan_agreement_excerpt_SCANNED.pdf")
    if not path.exists():
        pytest.skip("corpus not available")
    data = path.read_bytes()
    assert _scan_triage(data, "loan_contract").ok
    ex, engine = read_scan_contract(data, load_config().documents.ocr)
    assert (ex.contract_kind, ex.currency) == ("loan_contract", "INR")
    assert [(t["name"], t["amount"], t["page"], t["sub_limit"]) for t in ex.tranches] == \
        [("BG Facility", Decimal("2500000000"), 1, True)]
    assert ex.fees == {"default_rate": Decimal("0.02")} and ex.provenance["fees"].page == 4
