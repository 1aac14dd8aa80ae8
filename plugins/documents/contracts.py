"""Extract the key terms of a 借款合同 / 融资租赁合同 with pdfplumber.

Contracts print their terms as 'label：value' lines (values may wrap onto hanging
continuation lines); each field records where it was read (page, bbox, text) so
a reviewer can check it against the signed document.
"""
from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

import pdfplumber

from .render import CURRENCY_NAMES, amount_in_chinese


@dataclass(frozen=True)
class Provenance:
    page: int
    bbox: tuple[float, float, float, float]
    text: str


@dataclass(frozen=True)
class ContractExtraction:
    contract_kind: str | None
    contract_id: str | None
    lender: str | None
    borrower_name: str | None
    borrower_id_number: str | None
    guarantors: list[str]
    principal: Decimal | None
    currency: str | None
    annual_rate: Decimal | None
    rate_type: str | None
    lpr_spread_bp: int | None
    term_months: int | None
    start_date: date | None
    maturity_date: date | None
    repayment_method: str | None
    collateral: str | None
    leased_asset: str | None
    purpose: str | None
    signing_date: date | None
    provenance: dict[str, Provenance] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # a facility of several tranches (a US credit agreement's term loan and revolver): principal is the total
    # facility, and each tranche is {"name", "kind" (term_loan | revolver | other), "amount", "currency",
    # "maturity_date", "margins" {base rate: fraction}, "page"}
    # None, not empty, when a contract prints none: the terms table publishes only what was read
    tranches: list[dict] = field(default_factory=list)
    margins: dict[str, Decimal] | None = None   # over each base rate, as a fraction (0.0625)
    floors: dict[str, Decimal] | None = None    # the least each base rate counts as (0.01)
    fees: dict[str, Decimal] | None = None      # e.g. commitment_fee on the unused revolver, default_rate
    template: bool | None = None   # True for a blank form ("[●]", "______" where parties and amounts go)


class Terms(dict):
    """A tranche or a set of rates: a dict that prints as "SOFR=0.0625; ABR=0.0525" in the terms table."""

    def __str__(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.items() if v not in (None, {}, ""))


# printed label (spaces removed) -> raw field; the first occurrence in the document wins
_LABELS = {
    "合同编号": "contract_id",
    "贷款人（甲方）": "lender", "出租人（甲方）": "lender", "贷款人": "lender", "出租人": "lender",
    "借款人（乙方）": "borrower_name", "承租人（乙方）": "borrower_name",
    "借款人": "borrower_name", "承租人": "borrower_name",
    "证件号码": "borrower_id_number", "统一社会信用代码": "borrower_id_number",
    "保证人（丙方）": "guarantors", "保证人": "guarantors",
    "币种": "currency",
    "借款金额（小写）": "principal", "融资本金（小写）": "principal", "租赁本金（小写）": "principal",
    "借款金额（大写）": "principal_words", "融资本金（大写）": "principal_words",
    "租赁本金（大写）": "principal_words",
    "租赁物": "leased_asset",
    "借款用途": "purpose", "租赁用途": "purpose", "用途": "purpose",
    "期限": "term", "借款期限": "term", "租赁期限": "term",
    "起止日期": "period",
    "利率方式": "rate_mode",
    "年利率": "annual_rate", "签约时执行年利率": "annual_rate", "执行年利率": "annual_rate",
    "还款方式": "repayment_method", "租金支付方式": "repayment_method",
    "抵押物": "collateral", "抵押物/质押物": "collateral", "质押物": "collateral",
    "签订日期": "signing_date",
}
_FIELD_LINE = re.compile(r"^\s*(?P<label>[^：:]{1,16}?)\s*[：:](?P<value>.*)$", re.S)
_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日|(\d{4})-(\d{2})-(\d{2})")
_NONE = {"无", "—", "-", "/", ""}


MAX_CONTRACT_PAGES = 12  # key terms of a 借款合同 / 融资租赁合同 are on its first pages


def extract_contract(data: bytes) -> ContractExtraction:
    """Key terms of a loan or lease contract PDF, each with its provenance."""
    from .agreements import is_english_agreement
    from .locate import PageTexts

    texts = PageTexts(data)
    try:
        english = len(texts) > 0 and is_english_agreement(texts[0])
    finally:
        texts.close()
    if english:
        return _english_agreement(data)
    raw: dict[str, Provenance] = {}
    kind: str | None = None
    lines = list(_lines(data))
    for i, (page, line) in enumerate(lines):
        if kind is None and page == 1:
            kind = _kind_from_title(line["text"].replace(" ", ""))
        name = _label_of(line["text"])
        if name is None or name in raw:
            continue
        m = _FIELD_LINE.match(line["text"])
        value, bbox = m.group("value"), (line["x0"], line["top"], line["x1"], line["bottom"])
        prev = line
        for page2, nxt in lines[i + 1:]:
            if page2 != page or not _continues(line, prev, nxt):
                break
            prev = nxt
            value += nxt["text"]  # lines keep their spaces (strip=False), so the join is exact
            bbox = (min(bbox[0], nxt["x0"]), bbox[1], max(bbox[2], nxt["x1"]), nxt["bottom"])
        raw[name] = Provenance(page, tuple(round(v, 2) for v in bbox), value.strip())  # type: ignore[arg-type]
    extraction = _build(kind, raw)
    from .agreements import TEMPLATE_PLACEHOLDERS, placeholders

    if sum(placeholders(line["text"]) for _, line in lines) >= TEMPLATE_PLACEHOLDERS:
        from dataclasses import replace

        return replace(extraction, template=True, warnings=[
            *extraction.warnings, f"a blank template: {TEMPLATE_PLACEHOLDERS} or more blanks to fill in"])
    return extraction


def _lines(data: bytes) -> Iterator[tuple[int, dict]]:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        for number, page in enumerate(pdf.pages[:MAX_CONTRACT_PAGES], start=1):
            try:
                found = page.extract_text_lines(strip=False, return_chars=False)
            finally:
                page.close()
            for line in found:
                yield number, line


def _kind_from_title(text: str) -> str | None:
    if "融资租赁合同" in text or text.endswith("租赁合同"):
        return "lease_contract"
    if "借款合同" in text or "贷款合同" in text:
        return "loan_contract"
    return None


def _continues(line: dict, prev: dict, nxt: dict) -> bool:
    """A wrapped value hangs indented under the value, right below, with no label of its own."""
    if nxt["x0"] < line["x0"] + 10 or nxt["top"] - prev["bottom"] > 12:
        return False
    return _label_of(nxt["text"]) is None


def _label_of(text: str) -> str | None:
    """Raw field name when the line starts with a known 'label：'."""
    m = _FIELD_LINE.match(text)
    return None if m is None else _LABELS.get(re.sub(r"\s+", "", m.group("label")))


def _build(kind: str | None, raw: dict[str, Provenance]) -> ContractExtraction:
    text = {k: p.text for k, p in raw.items()}
    warnings: list[str] = []
    principal = _money(text.get("principal"))
    words = text.get("principal_words")
    if principal is not None and words is not None and amount_in_chinese(principal) not in words:
        warnings.append(f"principal in words ({words}) does not match the figures ({principal})")
    start, maturity = _dates(text.get("period", ""))
    rate_mode = text.get("rate_mode", "")
    bp = re.search(r"LPR\s*([加减])\s*(\d+)\s*个?基点", rate_mode)
    rate = re.search(r"(\d+(?:\.\d+)?)\s*%", text.get("annual_rate", ""))
    term = re.search(r"(\d+)\s*个月", text.get("term", ""))
    years = re.search(r"(\d+)\s*年", text.get("term", ""))
    provenance = {_PUBLIC.get(k, k): p for k, p in raw.items()}
    if "period" in raw:
        provenance["maturity_date"] = raw["period"]
    return ContractExtraction(
        contract_kind=kind,
        contract_id=text.get("contract_id"),
        lender=text.get("lender"),
        borrower_name=text.get("borrower_name"),
        borrower_id_number=_optional(text.get("borrower_id_number")),
        guarantors=[g for g in re.split(r"[、，,；;]", text.get("guarantors", "")) if g and g not in _NONE],
        principal=principal,
        currency=_currency(text.get("currency")),
        annual_rate=Decimal(rate.group(1)) / 100 if rate else None,
        rate_type="lpr_spread" if "LPR" in rate_mode else ("fixed" if "固定" in rate_mode else None),
        lpr_spread_bp=(int(bp.group(2)) * (-1 if bp.group(1) == "减" else 1)) if bp else None,
        term_months=int(term.group(1)) if term else (int(years.group(1)) * 12 if years else None),
        start_date=start,
        maturity_date=maturity,
        repayment_method=_optional(text.get("repayment_method")),
        collateral=_optional(text.get("collateral")),
        leased_asset=_optional(text.get("leased_asset")),
        purpose=_optional(text.get("purpose")),
        signing_date=_dates(text.get("signing_date", ""))[0],
        provenance=provenance,
        warnings=warnings,
    )


_PUBLIC = {"period": "start_date", "term": "term_months", "rate_mode": "rate_type"}


def _optional(value: str | None) -> str | None:
    return None if value is None or value in _NONE else value


def _money(value: str | None) -> Decimal | None:
    m = re.search(r"-?[\d,]+(?:\.\d+)?", value or "")
    try:
        return Decimal(m.group(0).replace(",", "")) if m else None
    except InvalidOperation:
        return None


def _currency(value: str | None) -> str | None:
    if not value:
        return None
    if m := re.search(r"\b([A-Z]{3})\b", value):
        return m.group(1)
    return next((code for code, name in CURRENCY_NAMES.items() if name in value), None)


def _dates(value: str) -> tuple[date | None, date | None]:
    found: list[date] = []
    for m in _DATE.finditer(value):
        y, mo, d = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(4), m.group(5), m.group(6))
        try:
            found.append(date(int(y), int(mo), int(d)))
        except ValueError:
            continue
    return (found + [None, None])[0], (found + [None, None])[1]  # type: ignore[return-value]


def _english_agreement(data: bytes) -> ContractExtraction:
    """A US / LMA-style credit agreement: parties from the cover, dates and margin from the definitions,
    the term facility from Schedule 1.1A (see agreements.py)."""
    from .agreements import extract_agreement, locate_boxes, parse_date, parse_money

    from .agreements import TEMPLATE_PLACEHOLDERS, placeholders

    found = extract_agreement(data)
    boxes = locate_boxes(data, found)
    value = {k: v[0] for k, v in found.items()}

    def where(key: str) -> Provenance:
        _, page, printed = found[key]
        return Provenance(page, boxes.get(key, (0.0, 0.0, 0.0, 0.0)), printed)
    provenance = {k: where(k) for k in found if k in ("signing_date", "borrower_name", "guarantors", "lender",
                                                      "maturity_date")}
    if "sofr_margin" in found:
        provenance["rate_type"] = where("sofr_margin")
    if "signing_date" in provenance:
        provenance["start_date"] = provenance["signing_date"]
    start, maturity = parse_date(value.get("signing_date")), parse_date(value.get("maturity_date"))
    months = None if not (start and maturity) else (maturity.year - start.year) * 12 + maturity.month - start.month
    margins = Terms({base: Decimal(value[key]) / 100 for base, key in (("SOFR", "sofr_margin"), ("ABR", "abr_margin"))
                     if key in value})
    floors = Terms({base: Decimal(value[key]) / 100 for base, key in (("SOFR", "floor"), ("ABR", "abr_floor"))
                    if key in value})
    fees = Terms({"commitment_fee": Decimal(value["commitment_fee"]) / 100} if "commitment_fee" in value else {})
    applies = value.get("margin_applies_to", "")
    tranches = []
    for key, kind, name, matures in (("principal", "term_loan", "Term Loans", maturity),
                                     ("revolving", "revolver", "Revolving Loans",
                                      parse_date(value.get("revolving_maturity")) or maturity)):
        if key in value:
            shared = not applies or name.split()[0].lower() in applies.lower()
            tranches.append(Terms({"name": name, "kind": kind, "amount": parse_money(value[key]), "currency": "USD",
                                   "maturity_date": matures, "margins": margins if shared else Terms(),
                                   "page": found[key][1]}))
    total = sum((tr["amount"] for tr in tranches), Decimal(0)) if tranches else None
    if tranches:
        first = min(found[k][1] for k in ("principal", "revolving") if k in found)
        provenance["principal"] = Provenance(first, boxes.get("principal", (0.0, 0.0, 0.0, 0.0)), " + ".join(
            found[k][2] for k in ("principal", "revolving") if k in found))
    for name in ("margins", "floors", "fees", "tranches"):
        keys = {"margins": ("sofr_margin", "abr_margin"), "floors": ("floor", "abr_floor"),
                "fees": ("commitment_fee",), "tranches": ("principal", "revolving")}[name]
        if any(k in found for k in keys):
            provenance[name] = where(next(k for k in keys if k in found))
    template = _english_template(data, TEMPLATE_PLACEHOLDERS, placeholders)
    warnings = [f"a blank template: {TEMPLATE_PLACEHOLDERS} or more blanks to fill in on its first pages"] \
        if template else []
    return ContractExtraction(
        contract_kind="loan_contract", contract_id=None, lender=value.get("lender"),
        borrower_name=value.get("borrower_name"), borrower_id_number=None,
        guarantors=[value["guarantors"]] if "guarantors" in value else [],
        principal=total, currency="USD" if tranches else None,
        annual_rate=None, rate_type="sofr_spread" if "sofr_margin" in value else None,
        lpr_spread_bp=None, term_months=months, start_date=start, maturity_date=maturity,
        repayment_method=None, collateral=None, leased_asset=None, purpose=None, signing_date=start,
        provenance=provenance, warnings=warnings, tranches=tranches, margins=margins or None, floors=floors or None,
        fees=fees or None, template=template or None,
    )


def _english_template(data: bytes, least: int, count) -> bool:
    from .locate import PageTexts

    texts = PageTexts(data)
    try:
        return sum(count(texts[i]) for i in range(min(len(texts), 5))) >= least
    finally:
        texts.close()
