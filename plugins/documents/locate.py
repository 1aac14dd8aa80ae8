"""Find the statement pages of a report cheaply, before any layout work.

pdfplumber lays out a page in 50-250 ms; a 300-page annual report would take a
minute just to find three statements. pypdfium2 returns a page's text in about
a millisecond, so every page is scored on its plain text (a statement title on
a line of its own, a table header, lines of amounts) and only the statement
pages and their continuations are handed to pdfplumber.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import pypdfium2 as pdfium

# Normalised (no whitespace, lower case, half-width brackets) statement titles.
TITLES_CN: dict[str, tuple[str, ...]] = {
    "balance_sheet": ("资产负债表",),
    "income_statement": ("利润表", "损益表", "利润及利润分配表"),
    "cash_flow": ("现金流量表",),
}
TITLES_EN: dict[str, tuple[str, ...]] = {
    "balance_sheet": ("balancesheet", "statementoffinancialposition", "statementsoffinancialposition"),
    "income_statement": (
        "statementofoperations", "statementsofoperations", "incomestatement", "statementofincome",
        "statementsofincome", "statementofprofitorloss", "statementofprofitandloss", "statementsofprofitandloss",
        "statementofcomprehensiveincome", "statementsofcomprehensiveincome", "statementofearnings",
        "profitandlossaccount",
    ),
    "cash_flow": ("statementofcashflows", "statementsofcashflows", "cashflowstatement", "statementofcashflow"),
}
# Titles of other statements: a continuation stops at them.
STOP_TITLES = ("所有者权益变动表", "股东权益变动表", "财务报表附注", "changesinequity", "stockholders'equity",
               "stockholders’equity", "shareholders'equity", "notestothe")
STOP_AFTER = 12  # pages without a statement, once the consolidated statements are found
SHORT_DOCUMENT = 6  # pages: a borrower's own statements rather than a report
EN_TITLE_LINES = 4  # an English title is among the first lines of its page
_SCOPE_PREFIX_EN = ("consolidated", "standalone", "audited", "condensed", "separate", "company", "group",
                    "unaudited", "interim", "the")
# Lines whose presence after the title means the statement ended on this page.
CLOSERS = {
    "balance_sheet": ("负债和所有者权益", "负债和股东权益", "负债及所有者权益", "totalliabilitiesand",
                      "totalequityandliabilities", "totalliabilities,"),
    "income_statement": ("每股收益", "earningspershare", "persharebasic", "pershare,basic"),
    "cash_flow": ("期末现金及现金等价物余额", "endofperiod", "endoftheyear", "endofyear", "endoftheperiod"),
}
_AMOUNT_TEXT = re.compile(r"\(?-?\d{1,3}(?:[, ]\d{2,3})+(?:\.\d+)?\)?|-?\d+\.\d{2}\b")
_HEADER_WORDS = ("项目", "附注", "期末", "期初", "本期", "上期", "年初", "notes", "note", "particulars",
                 "december", "march", "june", "september", "august", "r'000", "r’000", "inthousands",
                 "inmillions", "lakhs", "crores", "单位")

# Units: printed marker (normalised) -> (unit label, multiplier to the base unit)
UNITS_CN = {"百万元": Decimal(1_000_000), "亿元": Decimal(100_000_000), "千元": Decimal(1000),
            "万元": Decimal(10_000), "元": Decimal(1)}
_UNIT_CN = re.compile(r"(?:金额)?单位[:：]\s*(?:人民币|美元|港币|港元)?\s*(百万元|亿元|千元|万元|元)")
_UNIT_EN = [
    (re.compile(r"in\s+thousands|\$\s*'?000|\bthousands of|r['’]\s*000|us\$\s*'?000|'000", re.I), "thousands",
     Decimal(1000)),
    (re.compile(r"in\s+millions|millions of|\$\s*m\b|r\s*m\b", re.I), "millions", Decimal(1_000_000)),
    (re.compile(r"in\s+lakhs?|lakhs", re.I), "lakhs", Decimal(100_000)),
    (re.compile(r"in\s+crores?|crores", re.I), "crores", Decimal(10_000_000)),
]
UNIT_MULTIPLIERS: dict[str, Decimal] = {**UNITS_CN, "units": Decimal(1), "thousands": Decimal(1000),
                                        "millions": Decimal(1_000_000), "lakhs": Decimal(100_000),
                                        "crores": Decimal(10_000_000)}


@dataclass(frozen=True)
class Title:
    statement: str
    scope: str          # consolidated | parent | entity
    position: int       # character offset in the page text, to order titles on one page


@dataclass
class PagePlan:
    """A page worth laying out: the titles it starts and the statement it continues, if any."""
    number: int                      # 1-based
    titles: list[Title] = field(default_factory=list)
    continues: tuple[str, str] | None = None   # (statement, scope) carried over from the previous page
    unit: tuple[str, Decimal] | None = None
    currency: str | None = None


@dataclass
class Located:
    pages: list[PagePlan]
    page_count: int
    language: str           # "zh" or "en"


class PageTexts:
    """Plain text of a PDF's pages on demand (pypdfium2: a few milliseconds a page), so locating can stop
    reading once the statements are behind it."""

    def __init__(self, data: bytes) -> None:
        self._pdf = pdfium.PdfDocument(data)
        self.count = len(self._pdf)
        self._cache: dict[int, str] = {}

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> str:
        if index not in self._cache:
            page = self._pdf[index]
            textpage = page.get_textpage()
            try:
                self._cache[index] = textpage.get_text_range()
            finally:
                textpage.close()
                page.close()
        return self._cache[index]

    def page(self, index: int) -> pdfium.PdfPage:
        """A page of the open document (the caller closes it)."""
        return self._pdf[index]

    def close(self) -> None:
        self._pdf.close()


def page_texts(data: bytes) -> list[str]:
    """Plain text of every page."""
    texts = PageTexts(data)
    try:
        return [texts[i] for i in range(len(texts))]
    finally:
        texts.close()


def norm(text: str) -> str:
    return re.sub(r"\s+", "", text).lower().replace("（", "(").replace("）", ")").replace("：", ":")


_TITLE_HINT = re.compile(r"表|balance|statement|position|operations|income|cash|profit|loss|earnings", re.I)


def match_title(line: str) -> Title | None:
    """The statement a line is the title of (a line of its own, not a sentence that names it)."""
    if not _TITLE_HINT.search(line):
        return None  # most lines: skip the normalising below
    flat = norm(line)
    if not flat or len(flat) > 90:
        return None
    for token in line.split():
        t = re.sub(r"[(（]续[)）]$", "", norm(token)).rstrip(":")
        for statement, names in TITLES_CN.items():
            if any(t.endswith(n) for n in names) and len(t) <= 24 and not t.startswith("其中"):
                return Title(statement, _scope(t), 0)
    stripped = re.sub(r"^[\divx]+[.、)]", "", flat)
    rest = stripped
    while True:
        for p in _SCOPE_PREFIX_EN:
            if rest.startswith(p):
                rest = rest[len(p):]
                break
        else:
            break
    for statement, names in TITLES_EN.items():
        for n in names:
            # the title and nothing else but a qualifier: not a sentence that mentions the statement
            tail = rest[len(n):]
            tail = tail[1:] if tail.startswith("s") else tail
            if rest.startswith(n) and (not tail or tail.startswith(_EN_SUFFIXES)):
                return Title(statement, _scope(stripped), 0)
    return None


_EN_SUFFIXES = ("(continued", "continued", "asat", "asof", "fortheyear", "fortheperiod", "(in")


def _scope(flat: str) -> str:
    if "母公司" in flat or "standalone" in flat or "separate" in flat or flat.startswith("company"):
        return "parent"
    if "合并" in flat or "consolidated" in flat or "group" in flat:
        return "consolidated"
    return "entity"


def find_titles(text: str) -> list[Title]:
    """Statement titles on a page in reading order; two-line English titles are joined."""
    lines = text.splitlines()
    offsets, at = [], 0
    for line in lines:
        offsets.append(at)
        at += len(line) + 1
    found: list[Title] = []
    skip = False
    seen = 0
    for i, line in enumerate(lines):
        if skip:
            skip = False
            continue
        latin = not re.search(r"[\u4e00-\u9fff]", line)
        seen += bool(line.strip())
        if latin and seen > EN_TITLE_LINES:
            continue  # English statements start at the top of a page; further down it is prose or an index
        if i and norm(lines[i - 1]).startswith("notesto"):
            continue
        title = match_title(line)
        if title is None and i + 1 < len(lines) and len(norm(line)) < 40 and latin and not norm(line).startswith("notesto"):
            title = match_title(line + " " + lines[i + 1])
            skip = title is not None
        if title is not None:
            found.append(Title(title.statement, title.scope, offsets[i]))
    return found


def amount_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if _AMOUNT_TEXT.search(line))


def has_header(text: str) -> bool:
    flat = norm(text[:1500])
    return any(w in flat for w in _HEADER_WORDS) or bool(re.search(r"\b(19|20)\d{2}\b", text[:1500]))


def detect_unit(text: str) -> tuple[str, Decimal] | None:
    """Unit printed in the page header (first lines), else anywhere on the page."""
    return _unit_in(text[:700]) or _unit_in(text)


def _unit_in(text: str) -> tuple[str, Decimal] | None:
    if m := _UNIT_CN.search(text):
        return m.group(1), UNITS_CN[m.group(1)]
    for pattern, label, mult in _UNIT_EN:
        if pattern.search(text):
            return label, mult
    return None


def detect_currency(text: str) -> str | None:
    flat = norm(text)
    if "人民币" in flat or "单位:元" in flat or "单位:万元" in flat or "单位:千元" in flat:
        return "CNY"
    if "美元" in flat:
        return "USD"
    if re.search(r"r['’]000|\brand\b", flat) or re.search(r"R['’]\s?000", text):
        return "ZAR"
    if "₹" in text or "lakh" in flat or "crore" in flat or re.search(r"\bRs\.?\s", text):
        return "INR"
    if "$" in text or "us$" in flat:
        return "USD"
    return None


def _closed(text: str, statement: str, after: int) -> bool:
    flat = norm(text[after:])
    return any(c in flat for c in CLOSERS[statement])


def _stops(text: str) -> bool:
    flat = norm(text[:400])
    return any(s in flat for s in STOP_TITLES)


def locate_statements(texts: Sequence[str], min_amount_lines: int = 3, max_continuations: int = 3,
                      stop_after: int = STOP_AFTER, parent_company: bool = True) -> Located:
    """Pages to lay out: statement title pages (with a header and amounts) and their continuations.

    Reading stops `stop_after` pages past the last statement page once the three consolidated
    statements have been found: the rest of an annual report is notes. Without `parent_company`,
    reading stops as soon as the consolidated cash-flow statement ends, and the pages that only hold
    a parent company's (母公司 / standalone) statement printed beside consolidated ones are dropped.
    """
    plans: list[PagePlan] = []
    open_statement: tuple[str, str] | None = None
    continued = 0
    seen: set[tuple[str, str]] = set()  # the primary statements come first; later tables restate them
    language = "zh" if sum(len(re.findall(r"[\u4e00-\u9fff]", texts[i])) for i in range(min(len(texts), 12))) > 200 \
        else "en"
    if len(texts) <= SHORT_DOCUMENT:
        min_amount_lines = 1  # a borrower's own statements: a cash-flow page may hold a line or two
    for number in range(1, len(texts) + 1):
        if plans and _complete(plans) and (number - plans[-1].number > stop_after
                                           or (not parent_company and open_statement is None)):
            break
        text = texts[number - 1]
        amounts = amount_lines(text)
        titles = [t for t in find_titles(text) if (t.statement, t.scope) not in seen]
        if titles and (amounts >= min_amount_lines or _next_has_amounts(texts, number)) and has_header(text):
            last = titles[-1]
            seen.update((t.statement, t.scope) for t in titles)
            plans.append(PagePlan(number, titles, open_statement,
                                  detect_unit(text), detect_currency(text)))
            open_statement = None if _closed(text, last.statement, last.position) else (last.statement, last.scope)
            continued = 0
            continue
        if open_statement and amounts >= min_amount_lines and not _stops(text) and continued < max_continuations:
            plans.append(PagePlan(number, [], open_statement, detect_unit(text), detect_currency(text)))
            continued += 1
            if _closed(text, open_statement[0], 0):
                open_statement = None
            continue
        open_statement = None
    if not parent_company:
        plans = without_parent_pages(plans)
    return Located(plans, len(texts), language)


def without_parent_pages(plans: list[PagePlan]) -> list[PagePlan]:
    """The plans less the pages holding nothing but a parent company's statement whose consolidated
    counterpart is printed too (a page that ends one and starts the other is kept). Beside consolidated
    statements, a statement titled without a scope is the company's own (the reader tags it parent)."""
    consolidated = {t.statement for plan in plans for t in plan.titles if t.scope == "consolidated"}

    def parent_only(plan: PagePlan) -> bool:
        scopes = [(t.statement, t.scope) for t in plan.titles] + ([plan.continues] if plan.continues else [])
        return bool(scopes) and all(scope in ("parent", "entity") and statement in consolidated
                                    for statement, scope in scopes)
    return [plan for plan in plans if not parent_only(plan)]


def _next_has_amounts(texts: list[str], number: int) -> bool:
    """A title at the foot of a page whose table starts on the next page."""
    return number < len(texts) and amount_lines(texts[number]) >= 5


def _complete(plans: list[PagePlan]) -> bool:
    """All three consolidated statements found. A company's own (standalone) statements may come
    first and the group's many pages later (Ind AS annual reports), so they do not stop the search."""
    found = {t.statement for plan in plans for t in plan.titles if t.scope == "consolidated"}
    return len(found) == 3
