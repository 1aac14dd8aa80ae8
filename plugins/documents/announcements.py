"""A listed company's announcement of a major contract (重大合同公告), read for its key facts.

Listed borrowers announce their material contracts on the exchanges: a sale or purchase of goods, a
construction contract, a loan or a financing lease. The announcement names the parties (甲方 / 乙方,
需方 / 供方, 出租人 / 承租人 ...), the amount (often in 万元), the signing date and the term. Each fact is
found with a pattern on pdfplumber's page text and carries the page and bounding box it was printed in.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

import pdfplumber

from .contracts import Provenance
from .locate import UNITS_CN

MAX_ANNOUNCEMENT_PAGES = 8
_DATE = r"(\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)"
_AMOUNT = r"([\d,]+(?:\.\d+)?)\s*(亿元|万元|千元|元)\s*(人民币|美元)?"
# field -> patterns in order of preference (a 'label：value' line before a sentence); of one pattern's
# matches the first page's wins. Groups 1.. are the values.
_PATTERNS: dict[str, list[str]] = {
    "stock_code": [r"证券代码[:：]\s*(\d{6})"],
    "announcement_no": [r"公告编号[:：]\s*(\d{4}\s*-\s*\d+)"],
    "announcer": [r"([^\s，。]{4,40}?(?:公司|银行))\s*\n\s*(?:关于[^\n]*)?(?:重大)?合同(?:的)?公告"],
    "contract_title": [r"《([^》]{2,40}合同)》"],
    "contract_count": [r"(\d+)\s*个\s*《[^》]{2,40}合同》"],
    "amount": [r"合同(?:总)?金额[:：]\s*" + _AMOUNT, r"合同总金额\s*" + _AMOUNT],
    "signing_date": [r"合同签(?:署|订)(?:时间|日期)[:：]\s*" + _DATE],
    "performance_until": [r"履行期限[:：]\s*自签订之日起至\s*" + _DATE],
    "subject": [r"合同标的[:：]\s*([^\n]+)"],
    "first_party": [r"合同(甲方(?:[(（][^)）]+[)）])?)[:：]\s*([^\n]+)"],
    "second_party": [r"合同(乙方(?:[(（][^)）]+[)）])?)[:：]\s*([^\n]+)"],
    "announcement_date": [r"([二〇○零一三四五六七八九]{4}年[一二三四五六七八九十]{1,3}月[一二三四五六七八九十]{1,3}日)"],
}
# what the contract is, from its printed name
_TEXT_FIELDS = {"first_party", "second_party", "subject", "announcer"}  # spaces kept as printed (one)
_NATURES = (("融资租赁", "lease"), ("租赁", "lease"), ("借款", "loan"), ("贷款", "loan"), ("授信", "loan"),
            ("采购", "purchase_and_sale"), ("销售", "purchase_and_sale"), ("购销", "purchase_and_sale"),
            ("买卖", "purchase_and_sale"), ("施工", "construction"), ("工程", "construction"))


@dataclass(frozen=True)
class Party:
    role: str        # as printed: 甲方（需方）, 乙方（供方） ...
    name: str


@dataclass(frozen=True)
class AnnouncementExtraction:
    kind: str                       # "contract_announcement"
    nature: str | None              # lease | loan | purchase_and_sale | construction (from the contract's name)
    announcer: str | None
    stock_code: str | None
    announcement_no: str | None
    contract_title: str | None
    contract_count: int | None
    parties: list[Party]
    amount: Decimal | None          # as printed, in `unit`
    unit: str | None
    amount_yuan: Decimal | None     # in the currency's base unit
    currency: str | None
    signing_date: date | None
    performance_until: date | None
    subject: str | None
    announcement_date: date | None
    provenance: dict[str, Provenance] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def is_contract_announcement(text: str) -> bool:
    """An exchange announcement (证券代码 … 公告编号) whose title announces a contract."""
    flat = re.sub(r"\s+", "", text[:1500])
    return "证券代码" in flat and "公告" in flat and bool(re.search(r"合同(?:的)?公告", flat))


def extract_announcement(data: bytes) -> AnnouncementExtraction:
    """The key facts of a 重大合同公告, each with the page and bounding box it was printed in."""
    best: dict[str, tuple[int, tuple[str, ...], Provenance]] = {}   # field -> (pattern rank, values, where)
    amounts: list[tuple[tuple[str, ...], Provenance]] = []
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        for number, page in enumerate(pdf.pages[:MAX_ANNOUNCEMENT_PAGES], start=1):
            try:
                for name, patterns in _PATTERNS.items():
                    for rank, pattern in enumerate(patterns):
                        if name in best and best[name][0] <= rank:
                            break
                        matches = page.search(pattern, return_chars=False)
                        if name == "amount":
                            amounts += [(_groups(name, m), _provenance(number, m)) for m in matches]
                        if matches:
                            best[name] = (rank, _groups(name, matches[0]), _provenance(number, matches[0]))
                            break
            finally:
                page.close()
    return _build({k: (v, where) for k, (_, v, where) in best.items()}, amounts)


def _groups(name: str, match: dict) -> tuple[str, ...]:
    """The values: numbers and dates without spaces; names and text with their spaces collapsed to one."""
    def clean(g: str | None) -> str:
        if g is None:
            return ""
        return re.sub(r"\s+", " ", g).strip() if name in _TEXT_FIELDS else re.sub(r"\s+", "", g)
    return tuple(clean(g) for g in match.get("groups", ()))


def _provenance(page: int, match: dict) -> Provenance:
    bbox = tuple(round(float(match[k]), 2) for k in ("x0", "top", "x1", "bottom"))
    return Provenance(page, bbox, re.sub(r"\s*\n\s*", "", match["text"]).strip())  # type: ignore[arg-type]


def _build(found: dict[str, tuple[tuple[str, ...], Provenance]],
           amounts: list[tuple[tuple[str, ...], Provenance]]) -> AnnouncementExtraction:
    value = {k: v[0] for k, v in found.items()}
    provenance = {k: v[1] for k, v in found.items()}
    warnings: list[str] = []
    amount = unit = currency = amount_yuan = None
    if "amount" in value:
        number, unit, currency_name = value["amount"]
        amount = _decimal(number)
        currency = "USD" if currency_name == "美元" else "CNY"
        amount_yuan = None if amount is None else (amount * UNITS_CN[unit]).quantize(Decimal("0.01"))
        others = {(_decimal(n), u) for (n, u, _), _ in amounts} - {(amount, unit)}
        if others:
            warnings.append(f"the announcement also prints other contract amounts: {sorted(map(str, others))}")
    parties = [Party(*value[k]) for k in ("first_party", "second_party") if k in value]
    title = value.get("contract_title", ("",))[0] or None
    nature = next((n for word, n in _NATURES if title and word in title), None)
    return AnnouncementExtraction(
        kind="contract_announcement", nature=nature, announcer=_first(value, "announcer"),
        stock_code=_first(value, "stock_code"), announcement_no=_first(value, "announcement_no"),
        contract_title=title,
        contract_count=int(value["contract_count"][0]) if "contract_count" in value else None,
        parties=parties, amount=amount, unit=unit, amount_yuan=amount_yuan, currency=currency,
        signing_date=_date(_first(value, "signing_date")),
        performance_until=_date(_first(value, "performance_until")),
        subject=_first(value, "subject"), announcement_date=_chinese_date(_first(value, "announcement_date")),
        provenance=provenance, warnings=warnings,
    )


def _first(value: dict[str, tuple[str, ...]], name: str) -> str | None:
    return value[name][0] if name in value and value[name][0] else None


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def _date(text: str | None) -> date | None:
    m = re.match(r"(\d{4})年(\d{1,2})月(\d{1,2})日", text or "")
    return date(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"○": 0, "零": 0}


def _chinese_date(text: str | None) -> date | None:
    """'二○一○年十二月二十日' -> 2010-12-20 (the date an announcement is signed off in words)."""
    m = re.match(r"(.{4})年(.{1,3})月(.{1,3})日", text or "")
    if m is None:
        return None
    try:
        year = int("".join(str(_DIGITS[c]) for c in m.group(1)))
        return date(year, _chinese_number(m.group(2)), _chinese_number(m.group(3)))
    except (KeyError, ValueError):
        return None


def _chinese_number(text: str) -> int:
    """1-31 in words: 九, 十, 十二, 二十, 三十一."""
    if "十" not in text:
        return _DIGITS[text]
    tens, _, units = text.partition("十")
    return (_DIGITS[tens] if tens else 1) * 10 + (_DIGITS[units] if units else 0)
