"""Triage a received file before extraction: is it a readable PDF of the declared class?

Checks run cheapest first (header, size, page count, then text of the first
pages only), so a bad file is rejected with a specific reason before anyone
tries to extract it.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass

import pdfplumber
from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError

CLASSES = ("loan_contract", "lease_contract", "financial_statement")
CLASS_NAMES = {
    "loan_contract": "a loan contract (借款合同)",
    "lease_contract": "a financing-lease contract (融资租赁合同)",
    "financial_statement": "a financial statement (财务报表)",
    "contract_announcement": "a listed company's announcement of a major contract (重大合同公告), not a signed "
                             "loan or lease contract",
}
# Keywords that identify a class on its first pages; the earliest hit wins, because
# titles come first and contracts mention statements (and vice versa) further down.
CLASS_KEYWORDS: dict[str, tuple[str, ...]] = {
    "lease_contract": ("融资租赁合同", "租赁合同", "售后回租"),
    "loan_contract": ("借款合同", "贷款合同", "流动资金借款", "Credit Agreement", "Loan Agreement",
                      "Facility Agreement"),
    "financial_statement": (
        "资产负债表", "利润表", "损益表", "现金流量表", "财务报表", "季度报告", "年度报告", "半年度报告",
        "Balance Sheet", "Statement of Financial Position", "Income Statement", "Form 10-K", "Annual Report",
        "Annual Financial Statements", "Financial Statements",
    ),
}
DETECTION_PAGES = 2
OCR_HINT = ("To read it, set ocr.enabled: true in config/documents.yaml or run `postloan extract --ocr FILE` "
            "(the engine is the optional `ocr` extra, rapidocr-onnxruntime; `make` installs it)")


@dataclass(frozen=True)
class Triage:
    ok: bool
    reason_code: str | None
    reason: str | None
    detected_class: str | None
    page_count: int | None


def inspect_pdf(data: bytes, declared_class: str, max_bytes: int, max_pages: int) -> Triage:
    """Accept a PDF, or say precisely why it cannot be extracted as `declared_class`."""
    if b"%PDF-" not in data[:1024]:
        return _reject("not_pdf", f"not_pdf: the file has no %PDF header (starts with {data[:8]!r})")
    if len(data) > max_bytes:
        return _reject("oversized", f"oversized: {len(data):,} bytes exceeds the limit of {max_bytes:,} bytes")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            return _reject("encrypted", "encrypted: the PDF requires a password to open")
        pages = len(reader.pages)
    except FileNotDecryptedError:
        return _reject("encrypted", "encrypted: the PDF requires a password to open")
    except Exception as exc:  # pypdf raises many types on damaged files
        return _reject("corrupt", f"corrupt: the PDF cannot be parsed ({type(exc).__name__}: {exc})")
    if pages == 0:
        return _reject("corrupt", "corrupt: the PDF has no readable pages", 0)
    if pages > max_pages:
        return _reject("oversized", f"oversized: {pages} pages exceeds the limit of {max_pages} pages", pages)
    try:
        text, images, detected = _first_pages(data, min(pages, DETECTION_PAGES))
    except Exception as exc:
        return _reject("corrupt", f"corrupt: the page content cannot be read ({type(exc).__name__}: {exc})", pages)
    if not text.strip():
        what = f"{images} image(s) only" if images else "no text or images"
        return _reject(
            "needs_ocr", f"needs_ocr: the first {min(pages, DETECTION_PAGES)} page(s) have no text layer "
            f"({what}); the document must be OCRed before extraction. {OCR_HINT}", pages,
        )
    if detected is None:
        return _reject(
            "unrecognised", "unrecognised: the text is neither a financial statement nor a loan or lease contract", pages,
        )
    if detected != declared_class:
        return Triage(
            False, "mislabelled",
            f"mislabelled: declared as {CLASS_NAMES.get(declared_class, declared_class)} "
            f"but the first page reads as {CLASS_NAMES[detected]}", detected, pages,
        )
    return Triage(True, None, None, detected, pages)


def detect_class(text: str) -> str | None:
    """Class whose keyword appears earliest in the text, or None. An exchange announcement of a contract
    (证券代码 … 公告编号 … 合同公告) is that, whatever contract it names."""
    from .announcements import is_contract_announcement

    if is_contract_announcement(text):
        return "contract_announcement"
    flat = re.sub(r"\s+", "", text).lower()
    best: tuple[int, str] | None = None
    for cls, words in CLASS_KEYWORDS.items():
        for word in words:
            at = flat.find(word.replace(" ", "").lower())
            if at >= 0 and (best is None or at < best[0]):
                best = (at, cls)
    return best[1] if best else None


def _first_pages(data: bytes, count: int) -> tuple[str, int, str | None]:
    """Text, image count and detected class of the first pages, stopping once a class is found."""
    texts: list[str] = []
    images = 0
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        for page in pdf.pages[:count]:
            try:
                texts.append(page.extract_text() or "")
                images += len(page.images)
            finally:
                page.close()
            if (detected := detect_class("\n".join(texts))) is not None:
                return "\n".join(texts), images, detected
    return "\n".join(texts), images, None


def _reject(code: str, reason: str, pages: int | None = None) -> Triage:
    return Triage(False, code, reason, None, pages)
