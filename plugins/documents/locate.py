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
    "balance_sheet": ("balancesheet", "statementoffinancialposition", "statementsoffinancialposition",
                      "statementofassetsandliabilities"),
    "income_statement": (
        "statementofoperations", "statementsofoperations", "incomestatement", "statementofincome",
        "statementsofincome", "statementofprofitorloss", "statementofprofitandloss", "statementsofprofitandloss",
        "statementofcomprehensiveincome", "statementsofcomprehensiveincome", "statementofearnings",
        "profitandlossaccount", "profitandlossstatement", "statementofstandaloneprofitandloss",
        "statementofconsolidatedprofitandloss",
    ),
    "cash_flow": ("statementofcashflows", "statementsofcashflows", "cashflowstatement", "statementofcashflow"),
}
# Titles of other statements: a continuation stops at them.
STOP_TITLES = ("所有者权益变动表", "股东权益变动表", "财务报表附注", "changesinequity", "stockholders'equity",
               "stockholders’equity", "shareholders'equity", "notestothe", "changesinshareholders",
               "changesinstockholders", "statementofredeemable", "statementsofredeemable")
STOP_AFTER = 12  # pages without a statement, once the consolidated statements are found
SHORT_DOCUMENT = 6  # pages: a borrower's own statements rather than a report
EN_TITLE_LINES = 8  # an English title is among the first lines of its page (after a company name, CIN, address)
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

# Units: the printed markers are data, in config/chart_of_accounts.yaml (`units`); these multipliers name them.
UNITS_CN = {"百万元": Decimal(1_000_000), "亿元": Decimal(100_000_000), "千元": Decimal(1000),
            "万元": Decimal(10_000), "元": Decimal(1)}
UNIT_MULTIPLIERS: dict[str, Decimal] = {**UNITS_CN, "units": Decimal(1), "thousands": Decimal(1000),
                                        "millions": Decimal(1_000_000), "lakhs": Decimal(100_000),
                                        "crores": Decimal(10_000_000)}


@dataclass(frozen=True)
class UnitMarker:
    """A printed unit declaration: a case-insensitive pattern and the unit it declares."""
    pattern: re.Pattern
    unit: str

    @property
    def multiplier(self) -> Decimal:
        return UNIT_MULTIPLIERS[self.unit]


@dataclass(frozen=True)
class UnitFound:
    unit: str
    multiplier: Decimal
    text: str           # the marker as printed, e.g. "(in € millions, except share and per share data)"

    def pair(self) -> tuple[str, Decimal]:
        return self.unit, self.multiplier


_UNIT_MARKERS: list[UnitMarker] = []


def unit_markers(markers: Sequence[UnitMarker] | None = None) -> list[UnitMarker]:
    """The given markers, or those of the default chart of accounts (loaded once)."""
    if markers is not None:
        return list(markers)
    if not _UNIT_MARKERS:
        from .statements import load_chart_of_accounts

        _UNIT_MARKERS.extend(load_chart_of_accounts().unit_markers())
    return _UNIT_MARKERS


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
    unit_source: str | None = None   # "p58: ₹ in Lakh": the page and the marker the unit was read from


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

    def laid_out(self, index: int) -> str:
        """The page's text rebuilt from its character boxes, row by row top to bottom: for a text layer that
        comes back as one line or out of reading order (titles last)."""
        from .statements import _join, _rows, pdfium_words

        words = pdfium_words(self._pdf[index])
        if words is None:
            return self[index]
        return "\n".join(_join(row) for row in _rows(words))

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


def _title_norm(text: str) -> str:
    """A title as compared: "Statement of Profit & Loss" is "statementofprofitandloss"."""
    return norm(text).replace("&", "and")


_TITLE_HINT = re.compile(r"表|balance|statement|position|operations|income|cash|profit|loss|earnings", re.I)


def match_title(line: str) -> Title | None:
    """The statement a line is the title of (a line of its own, not a sentence that names it)."""
    if not _TITLE_HINT.search(line):
        return None  # most lines: skip the normalising below
    flat = _title_norm(line)
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


_EN_SUFFIXES = ("(", "/(", "continued", "asat", "asof", "ason", "for", "annexed", "(in", "andcomprehensive",
                "andothercomprehensive")


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


def detect_unit(text: str, markers: Sequence[UnitMarker] | None = None) -> tuple[str, Decimal] | None:
    """Unit printed in the page header (first lines), else anywhere on the page."""
    found = find_unit(text, markers)
    return None if found is None else found.pair()


def find_unit(text: str, markers: Sequence[UnitMarker] | None = None) -> UnitFound | None:
    """The unit a page or a header row declares, with the text it was read from: in the first lines if
    declared there, else anywhere. Of several markers the one printed first wins: "in millions, except per
    share data, in thousands" declares millions, the exception names another quantity."""
    return _unit_in(text[:700], markers) or _unit_in(text, markers)


def unit_candidates(text: str, markers: Sequence[UnitMarker] | None = None) -> list[UnitFound]:
    """Every unit a header row declares, in printed order: the first is the statement's, the others are the
    readings its identities may choose instead."""
    found: list[tuple[int, UnitFound]] = []
    for marker in unit_markers(markers):
        for m in marker.pattern.finditer(text):
            found.append((m.start(), UnitFound(marker.unit, marker.multiplier, _caption(text, m))))
    out: list[UnitFound] = []
    for _, unit in sorted(found, key=lambda x: x[0]):
        if all(u.unit != unit.unit for u in out):
            out.append(unit)
    return out


_SPACED_CAPTION = re.compile(r"[(（][^()（）\n]{1,40}[)）]")


def _unit_in(text: str, markers: Sequence[UnitMarker] | None) -> UnitFound | None:
    best: tuple[int, UnitMarker, str] | None = None
    # a caption printed letter-spaced, "(Rs . In La khs)", is also read with its spaces closed up
    closed = _SPACED_CAPTION.sub(lambda m: re.sub(r"[ \t]+", "", m.group(0)), text)
    for marker in unit_markers(markers):
        for candidate in (text, closed):
            m = marker.pattern.search(candidate)
            if m is not None and (best is None or m.start() < best[0]):
                best = (m.start(), marker, _caption(candidate, m))
    return None if best is None else UnitFound(best[1].unit, best[1].multiplier, best[2])


def _caption(text: str, m: re.Match) -> str:
    """The printed line the marker sits on (at most 80 characters), for a figure's provenance."""
    start = text.rfind("\n", 0, m.start()) + 1
    end = text.find("\n", m.end())
    line = text[start:end if end >= 0 else len(text)].strip()
    return line if len(line) <= 80 else text[m.start():m.end()]


def detect_currency(text: str) -> str | None:
    flat = norm(text)
    if "人民币" in flat or "单位:元" in flat or "单位:万元" in flat or "单位:千元" in flat:
        return "CNY"
    if "美元" in flat:
        return "USD"
    if re.search(r"r['’]000|\brand\b", flat) or re.search(r"R['’]\s?000", text):
        return "ZAR"
    if "₹" in text or "lakh" in flat or "crore" in flat or re.search(r"\b(?:Rs\.|Rs\b|INR\b|Rupees\b)", text) \
            or re.search(r"\blacs\b", text, re.I):
        return "INR"
    if "€" in text or re.search(r"\bEUR\b", text):
        return "EUR"
    if "$" in text or "us$" in flat:
        return "USD"
    return None


def _closed(text: str, statement: str, after: int) -> bool:
    flat = norm(text[after:])
    return any(c in flat for c in CLOSERS[statement])


# stop titles that only stop a continuation when a line starts with them: "See accompanying notes to the
# financial statements" closes a balance sheet whose last lines run onto the next page, it does not open the notes
LINE_START_STOPS = ("notestothe",)


def _stops(text: str) -> bool:
    flat = norm(text[:400])
    if any(s in flat for s in STOP_TITLES if s not in LINE_START_STOPS):
        return True
    lines = [norm(re.sub(r"^\s*(?:\d+|[IVX]+)[.)]?\s+", "", line)) for line in text[:400].splitlines()]
    return any(line.startswith(s) for line in lines for s in LINE_START_STOPS)


def locate_statements(texts: Sequence[str], min_amount_lines: int = 3, max_continuations: int = 3,
                      stop_after: int = STOP_AFTER, parent_company: bool = True,
                      units: Sequence[UnitMarker] | None = None) -> Located:
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
        if _needs_layout(text) and hasattr(texts, "laid_out"):
            text = texts.laid_out(number - 1)
        amounts = amount_lines(text)
        titles = [t for t in find_titles(text) if (t.statement, t.scope) not in seen]
        if titles and _transition_table(text):
            titles = []  # a new standard's opening adjustments, titled like the statement it adjusts
        if titles and (amounts >= min_amount_lines or _next_has_amounts(texts, number)) and has_header(text):
            last = titles[-1]
            seen.update((t.statement, t.scope) for t in titles)
            plans.append(_plan(number, titles, open_statement, text, units))
            open_statement = None if _closed(text, last.statement, last.position) else (last.statement, last.scope)
            continued = 0
            continue
        if open_statement and amounts >= min_amount_lines and not _stops(text) and continued < max_continuations \
                and not _restates(text, seen):
            plans.append(_plan(number, [], open_statement, text, units))
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


def _plan(number: int, titles: list[Title], continues: tuple[str, str] | None, text: str,
          units: Sequence[UnitMarker] | None) -> PagePlan:
    found = find_unit(text, units)
    return PagePlan(number, titles, continues, None if found is None else found.pair(), detect_currency(text),
                    None if found is None else f"p{number}: {found.text}")


# column headings of a table restating a statement on adopting a new accounting standard (首次执行新收入准则 /
# 新租赁准则调整首次执行当年年初财务报表相关项目情况): 调整数 beside 2019年12月31日 and 2020年1月1日
TRANSITION_HEADINGS = ("调整数", "首次执行", "adjustment on adoption", "impact of adoption",
                       "effect of adoption")


def _transition_table(text: str) -> bool:
    head = norm(text[:1500])
    return any(norm(h) in head for h in TRANSITION_HEADINGS)


def _needs_layout(text: str) -> bool:
    """A text layer that cannot be scored line by line: one long line (a page drawn as a single text run),
    or a statement title printed as one of the page's last lines (content streams written out of reading
    order). Such a page's text is rebuilt from its character boxes, which costs a few milliseconds."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) <= 3 and len(text) > 400:
        return True
    return len(lines) > 12 and any(_TITLE_HINT.search(line) and match_title(line) for line in lines[-6:])


def _restates(text: str, seen: set[tuple[str, str]]) -> bool:
    """A page titled as a statement already read, the statement of comprehensive income printed after the
    statement of operations (US GAAP, IFRS two-statement form): not a continuation of the previous page."""
    lines = [line for line in text.splitlines() if line.strip()][:EN_TITLE_LINES]
    for i, line in enumerate(lines):
        joined = line + (" " + lines[i + 1] if i + 1 < len(lines) else "")
        for candidate in (line, joined):
            title = match_title(candidate)
            if title is not None and "comprehensive" in norm(candidate) and (title.statement, title.scope) in seen:
                return True
    return False


def _next_has_amounts(texts: list[str], number: int) -> bool:
    """A title at the foot of a page whose table starts on the next page."""
    return number < len(texts) and amount_lines(texts[number]) >= 5


def _complete(plans: list[PagePlan]) -> bool:
    """All three consolidated statements found. A company's own (standalone) statements may come
    first and the group's many pages later (Ind AS annual reports), so they do not stop the search."""
    found = {t.statement for plan in plans for t in plan.titles if t.scope == "consolidated"}
    return len(found) == 3
