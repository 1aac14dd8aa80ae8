"""Key terms of an English-language credit agreement (US / LMA style), each with provenance.

Such agreements run to hundreds of pages, and their terms are not 'label: value' lines: the parties
are on the cover ("X, as the Borrower"), the dates and rates in the definitions ("“Term Loan Maturity
Date”: June 21, 2029"), the amounts in Schedule 1.1A. The whole text is read cheaply with pypdfium2;
pdfplumber lays out only the pages a term was found on, to give its bounding box.
"""
from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import pdfplumber

from .locate import PageTexts

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_DATE = r"((?:%s)\s+\d{1,2},\s+\d{4})" % "|".join(m.capitalize() for m in _MONTHS)
_PATTERNS: dict[str, re.Pattern[str]] = {
    "signing_date": re.compile(r"dated\s+as\s+of\s+" + _DATE),
    # a party's name, or in a blank form the bracketed blank for it ("[INSERT NAME OF BORROWER]")
    "borrower_name": re.compile(r"\n([A-Z][A-Z0-9 ,.&'’-]+?|\[[^\]\n]{2,60}\]),?\s*\n\s*as\s+(?:the\s+)?Borrower"),
    "guarantors": re.compile(r"\n([A-Z][A-Z0-9 ,.&'’-]+?|\[[^\]\n]{2,60}\]),?\s*\n\s*as\s+(?:a\s+)?Guarantor"),
    "lender": re.compile(r"\n([A-Z][A-Z0-9 ,.&'’-]+?|\[[^\]\n]{2,60}\]),?\s*\n\s*as\s+Administrative\s+Agent"),
    "maturity_date": re.compile(r"“(?:Term Loan )?Maturity Date”:\s*" + _DATE),
    "principal": re.compile(r"TERM COMMITMENTS.*?\nTotal\s+\$\s?([\d,]+(?:\.\d+)?)", re.S),
    "revolving": re.compile(r"REVOLVING COMMITMENTS.*?\nTotal\s+\$\s?([\d,]+(?:\.\d+)?)", re.S),
    "sofr_margin": re.compile(r"“Applicable Margin”:.*?SOFR Loans,\s*(\d+(?:\.\d+)?)%", re.S),
    # the margin over the base rate (ABR / Base Rate / Prime) in the same definition
    "abr_margin": re.compile(r"“Applicable Margin”:.*?(?:ABR|Base Rate|Prime Rate) Loans,\s*(\d+(?:\.\d+)?)%", re.S),
    "margin_applies_to": re.compile(r"“Applicable Margin”:\s*for\s+(?:the\s+)?([A-Z][^,(]{3,80}?),\s*\(a\)"),
    "floor": re.compile(r"Floor”:\s*(\d+(?:\.\d+)?)%\s*per\s+annum"),
    "abr_floor": re.compile(r"ABR\s+shall\s+at\s+no\s+time\s+be\s+less\s+than\s*(\d+(?:\.\d+)?)%"),
    "commitment_fee": re.compile(r"Commitment\s+Fee\s+Rate”:\s*(?:a\s+rate\s+per\s+annum\s+equal\s+to\s*)?"
                                r"(\d+(?:\.\d+)?)%"),
    "revolving_maturity": re.compile(r"“Revolving Termination Date”:\s*" + _DATE),
}
# a blank form: bracketed or underlined blanks where the parties, amounts and dates go
_PLACEHOLDER = re.compile(r"\[\s*[●•]\s*\]|\[\s*(?:insert|name of|amount|date|lender|borrower)[^\]]{0,40}\]|_{6,}"
                          r"|\[\s*\]|\(\s*[●•]\s*\)", re.I)
TEMPLATE_PLACEHOLDERS = 5   # blanks on the first pages that make a document a template, not a signed agreement


def placeholders(text: str) -> int:
    """Blanks left to fill in a form ("[●]", "[insert name of Lender]", "________")."""
    return len(_PLACEHOLDER.findall(text))


def is_english_agreement(first_page_text: str) -> bool:
    return bool(re.search(r"\b(CREDIT|LOAN|FACILITY|FACILITIES)\s+AGREEMENT\b", first_page_text, re.I))


# agreements that are no loans, by the title on their first page: recognised as such, not as unknown
AGREEMENT_CLASSES = (
    ("research_agreement", re.compile(r"\b(?:SPONSORED\s+)?RESEARCH(?:\s+AND\s+DEVELOPMENT)?\s+(?:SERVICES\s+)?"
                                      r"(?:AGREEMENT|CONTRACT)\b", re.I)),
    ("service_agreement", re.compile(r"\b(?:MASTER\s+)?(?:PROFESSIONAL\s+|CONSULTING\s+)?SERVICES?\s+"
                                     r"(?:AGREEMENT|CONTRACT)\b|\bCONSULTING\s+AGREEMENT\b", re.I)),
    ("purchase_agreement", re.compile(r"\b(?:ASSET\s+|STOCK\s+|SHARE\s+|SUPPLY\s+AND\s+)?PURCHASE\s+"
                                      r"(?:AND\s+SALE\s+)?AGREEMENT\b|\bSUPPLY\s+AGREEMENT\b", re.I)),
)


def agreement_class(first_page_text: str) -> str | None:
    """"loan_agreement" for a credit / loan / facility agreement, else the class of an agreement that lends
    nothing (research, services, purchase), else None."""
    if is_english_agreement(first_page_text):
        return "loan_agreement"
    head = first_page_text[:1500]
    return next((name for name, pattern in AGREEMENT_CLASSES if pattern.search(head)), None)


def extract_agreement(data: bytes) -> dict:
    """Raw terms: name -> (value text, page); dates and amounts parsed by the caller's builder."""
    texts = PageTexts(data)
    try:
        found: dict[str, tuple[str, int, str]] = {}
        for index in range(len(texts)):
            text = texts[index]
            for name, pattern in _PATTERNS.items():
                if name in found:
                    continue
                if (m := pattern.search(text)) is not None:
                    found[name] = (m.group(1).strip().rstrip(","), index + 1, re.sub(r"\s+", " ", m.group(0)).strip())
    finally:
        texts.close()
    return found


def locate_boxes(data: bytes, found: dict[str, tuple[str, int, str]]) -> dict[str, tuple[float, float, float, float]]:
    """Bounding box of each term's value, laying out only the pages the terms were found on."""
    pages = sorted({page for _, page, _ in found.values()})
    boxes: dict[str, tuple[float, float, float, float]] = {}
    with pdfplumber.open(io.BytesIO(data), pages=pages) as pdf:
        for number, page in zip(pages, pdf.pages):
            try:
                lines = page.extract_text_lines(return_chars=False)
            finally:
                page.close()
            for name, (value, where, _) in found.items():
                if where != number:
                    continue
                needle = re.sub(r"\s+", "", value)[:30]
                for line in lines:
                    if needle and needle in re.sub(r"\s+", "", line["text"]):
                        boxes[name] = (round(line["x0"], 2), round(line["top"], 2), round(line["x1"], 2),
                                       round(line["bottom"], 2))
                        break
    return boxes


def parse_date(text: str | None) -> date | None:
    m = re.match(r"(\w+)\s+(\d{1,2}),\s+(\d{4})", text or "")
    if m is None or m.group(1).lower() not in _MONTHS:
        return None
    return date(int(m.group(3)), _MONTHS.index(m.group(1).lower()) + 1, int(m.group(2)))


def parse_money(text: str | None) -> Decimal | None:
    return None if not text else Decimal(text.replace(",", ""))
