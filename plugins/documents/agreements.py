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
    "borrower_name": re.compile(r"\n([A-Z][A-Z0-9 ,.&'’-]+?),?\s*\n\s*as\s+(?:the\s+)?Borrower"),
    "guarantors": re.compile(r"\n([A-Z][A-Z0-9 ,.&'’-]+?),?\s*\n\s*as\s+(?:a\s+)?Guarantor"),
    "lender": re.compile(r"\n([A-Z][A-Z0-9 ,.&'’-]+?),?\s*\n\s*as\s+Administrative\s+Agent"),
    "maturity_date": re.compile(r"“(?:Term Loan )?Maturity Date”:\s*" + _DATE),
    "principal": re.compile(r"TERM COMMITMENTS.*?\nTotal\s+\$\s?([\d,]+(?:\.\d+)?)", re.S),
    "revolving": re.compile(r"REVOLVING COMMITMENTS.*?\nTotal\s+\$\s?([\d,]+(?:\.\d+)?)", re.S),
    "sofr_margin": re.compile(r"“Applicable Margin”:.*?SOFR Loans,\s*(\d+(?:\.\d+)?)%", re.S),
}


def is_english_agreement(first_page_text: str) -> bool:
    return bool(re.search(r"\b(CREDIT|LOAN|FACILITY|FACILITIES)\s+AGREEMENT\b", first_page_text))


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
