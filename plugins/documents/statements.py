"""Extract the three financial statements from a PDF: locate cheaply, lay out only those pages.

Step one (locate.py) scores every page on its pypdfium2 text and keeps the
statement pages and their continuations. Step two builds the words of only those
pages from pypdfium2's character boxes, grouped as pdfplumber's extract_words
groups its characters (pdfminer's layout of a statement page costs a few hundred
milliseconds, pdfium's a few; pdfplumber still lays out a rotated page), cropped
to the body, and rebuilds rows from words: amounts are
recognised by the value columns they are right-aligned in (so note numbers,
行次 and a lone prior-year value are told apart), current and prior columns are
told apart by the years printed above them (newest column first or last), and
labels that wrap onto a second line are rejoined when the join is a known
label. Labels are mapped to canonical keys through config/chart_of_accounts.yaml,
the same file the renderer prints from; a group's report is read for its
consolidated (合并) statements, and for the parent company's (母公司) too when asked,
each tagged with its scope.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import pdfplumber
import yaml
from pydantic import BaseModel, ConfigDict, PrivateAttr

from . import locate
from .locate import UNIT_MULTIPLIERS, Title

DEFAULT_CHART_PATH = Path(__file__).resolve().parents[2] / "config" / "chart_of_accounts.yaml"
StatementName = Literal["balance_sheet", "income_statement", "cash_flow"]


# --------------------------------------------------------------------------- chart of accounts
class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StatementDef(_Frozen):
    titles: list[str]
    titles_en: list[str] = []


class Account(_Frozen):
    statement: StatementName
    side: Literal["assets", "liabilities_and_equity"] | None = None
    label: str
    synonyms: list[str] = []
    synonyms_en: list[str] = []
    # labels that mean this account only under a heading, e.g. "Borrowings" under "Current liabilities"
    under_heading: dict[str, list[str]] = {}


class ChartOfAccounts(_Frozen):
    version: int
    statements: dict[StatementName, StatementDef]
    accounts: dict[str, Account]
    _index: dict[str, list[str]] = PrivateAttr(default_factory=dict)
    _context: dict[tuple[str, str], str] = PrivateAttr(default_factory=dict)

    def model_post_init(self, __context: Any) -> None:
        # normalised label -> canonical keys (several statements may share a label)
        for key, acc in self.accounts.items():
            for name in (acc.label, *acc.synonyms, *acc.synonyms_en):
                keys = self._index.setdefault(normalize_label(name), [])
                if key not in keys:
                    keys.append(key)
            for heading, labels in acc.under_heading.items():
                for name in labels:
                    self._context[(normalize_label(heading), normalize_label(name))] = key

    def lookup(self, label: str, statement: str | None = None, headings: list[str] | None = None) -> str | None:
        """Canonical key for a printed label, restricted to `statement` when given.

        `headings` are the headings printed above the label, most recent last: a label such as
        "Borrowings" names an account only under one of them.
        """
        normalised = normalize_label(label)
        for key in self._index.get(normalised, []):
            if statement is None or self.accounts[key].statement == statement:
                return key
        for heading in reversed(headings or []):
            key = self._context.get((normalize_label(heading), normalised))
            if key is not None and (statement is None or self.accounts[key].statement == statement):
                return key
        return None

    def keys_for(self, statement: str) -> list[str]:
        """Canonical keys of one statement, in printing order."""
        return [k for k, a in self.accounts.items() if a.statement == statement]

    def titles(self) -> dict[str, list[str]]:
        return {name: [*d.titles, *d.titles_en] for name, d in self.statements.items()}


def load_chart_of_accounts(path: str | Path | None = None) -> ChartOfAccounts:
    """Load and validate config/chart_of_accounts.yaml (or another chart file)."""
    path = Path(path) if path is not None else DEFAULT_CHART_PATH
    with path.open(encoding="utf-8") as fh:
        return ChartOfAccounts.model_validate(yaml.safe_load(fh))


_PREFIX = re.compile(
    r"^(?:[一二三四五六七八九十]+[、.．]|[(（][一二三四五六七八九十\d]+[)）]|\d+[、.．](?!\d)"
    r"|加[:：]|减[:：]|其中[:：]|[:：])+"
)
_REMARK = re.compile(r"[(（][^()（）]*(?:填列|列示)[^()（）]*[)）]")
# a remark cut off by the line end: "营业利润（亏损以“－”号填"
_OPEN_REMARK = re.compile(r"[(（][^()（）]*(?:亏损|损失|以|号|填)[^()（）]*$")
_WIDTH = str.maketrans({"（": "(", "）": ")", "：": ":", "　": "", "’": "'", "‘": "'"})
# English ordinals and cross-references: "IX ", "(a) ", "b) ", "(ii) " before; "(VII-VIII)", "(A+B+C)", "*" after
_PREFIX_EN = re.compile(r"^\s*(?:(?:[IVXL]{1,5}|[A-H])\s+(?=[A-Z(])|\(?[a-z]{1,4}\)\s*|\(?[ivx]{1,5}\)\s*"
                        r"|\([IVXL]{1,5}\)\s*|\([A-Z\d]{1,2}\)\s*)+")
_SUFFIX_EN = re.compile(r"\s*(?:\((?:[IVXL]+|[A-C])(?:\s*[-+]\s*(?:[IVXL]+|[A-C]))*\)|\*)\s*$")


def normalize_label(label: str) -> str:
    """Label as compared: no spaces, ordinal / 加减其中 prefixes or 填列 remarks; half-width."""
    text = _SUFFIX_EN.sub("", _PREFIX_EN.sub("", label)) if label.isascii() or "’" in label else label
    text = re.sub(r"\s+", "", text)
    text = _REMARK.sub("", text)
    text = _OPEN_REMARK.sub("", text)
    text = _PREFIX.sub("", text)
    return text.translate(_WIDTH).rstrip(":").lower()


# --------------------------------------------------------------------------- extraction
SCOPE_PREFERENCE = ("consolidated", "entity", "parent")
CLOSING_KEYS = {"balance_sheet": "total_liabilities_and_equity"}


@dataclass(frozen=True)
class StatementFigure:
    statement: str
    canonical: str | None
    label: str
    current: Decimal | None
    prior: Decimal | None
    unit: str
    multiplier: Decimal
    current_yuan: Decimal | None    # in the currency's base unit (元 for CNY, dollars for USD ...)
    prior_yuan: Decimal | None
    page: int
    bbox: tuple[float, float, float, float]
    scope: str = "entity"           # consolidated (合并) | parent (母公司 / standalone) | entity (a single company)
    currency: str | None = None
    note: str | None = None         # the 附注 / Notes reference printed beside the label


@dataclass(frozen=True)
class StatementExtraction:
    period_end: date | None
    entity: str | None
    unit: str | None
    figures: list[StatementFigure] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)
    currency: str | None = None
    page_count: int | None = None
    located_pages: list[int] = field(default_factory=list)   # pages laid out with pdfplumber

    def scopes(self) -> list[str]:
        return [s for s in SCOPE_PREFERENCE if any(f.scope == s for f in self.figures)]

    def figure(self, canonical: str, scope: str | None = None, statement: str | None = None
               ) -> StatementFigure | None:
        """The figure for a canonical key: consolidated preferred; within a scope the first printed
        with an amount (a line printed blank is nil there, and no other scope stands in for it)."""
        for s in ([scope] if scope else SCOPE_PREFERENCE):
            found = [f for f in self.figures if f.canonical == canonical and f.scope == s
                     and (statement is None or f.statement == statement)]
            if found:
                return next((f for f in found if f.current is not None or f.prior is not None), found[0])
        return None

    def canonical_figures(self, statement: str | None = None, scope: str | None = None) -> list[StatementFigure]:
        """One figure per canonical key (see `figure`), in order of first appearance."""
        keys = list(dict.fromkeys(f.canonical for f in self.figures
                                  if f.canonical and (statement is None or f.statement == statement)))
        chosen = [self.figure(k, scope, statement) for k in keys]
        return [f for f in chosen if f is not None]

    def values(self, statement: str | None = None, scope: str | None = None
               ) -> dict[str, tuple[Decimal | None, Decimal | None]]:
        """canonical key -> (current_yuan, prior_yuan); consolidated first, then first occurrence wins."""
        return {f.canonical: (f.current_yuan, f.prior_yuan)  # type: ignore[misc]
                for f in self.canonical_figures(statement, scope)}


_NUM = re.compile(r"^\(?[-−–]?(?:\d{1,3}(?:[, ]\d{2,3})+|\d+)(?:\.\d+)?\)?$")
_DASH = re.compile(r"^[-−–—]{1,2}$")
_FRAGMENT_HEAD = re.compile(r"^\(?[-−–]?\d{1,3}$")
_FRAGMENT_TAIL = re.compile(r"^\d{3}(?:\.\d+)?\)?$")
_YEAR = re.compile(r"^(?:(?:19|20)\d{2})(?:年度?|,)?$")
_CURRENCY_SIGNS = {"$", "US$", "₹", "¥", "RMB", "HK$"}
_DATE_CN = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_DATE_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_MONTHS = {m: i for i, m in enumerate(("january", "february", "march", "april", "may", "june", "july", "august",
                                       "september", "october", "november", "december"), start=1)}
_MONTH = "(" + "|".join(_MONTHS) + ")"
_DATE_EN = [re.compile(_MONTH + r"\s+(\d{1,2}),?\s+(\d{4})", re.I),
            re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH + r",?\s+(\d{4})", re.I)]
_DAY_MONTH_EN = [re.compile(_MONTH + r"\s+(\d{1,2})\b", re.I), re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH, re.I)]
_ENTITY = re.compile(r"编制单位[:：]\s*(\S+)")
_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef“”]")
_LABEL_GAP = 12.0  # pt: a wider gap between label words starts a note or another item (T-accounts)
_COLUMN_TOLERANCE = 6.0


def parse_amount(text: str) -> Decimal | None:
    """'1,234.50' / '-1,234.50' / '(1,234.50)' / '11 564 077' / '3,40,258.64' -> Decimal; dashes mean zero."""
    t = text.strip().replace("－", "-").replace("−", "-").replace("–", "-")
    if t and set(t) <= set("-—"):
        return Decimal(0)
    negative = t.startswith("(") and t.endswith(")")
    t = t.strip("()").replace(",", "").replace(" ", "")
    try:
        value = Decimal(t)
    except InvalidOperation:
        return None
    return -value if negative else value


def extract_statement(data: bytes, chart: ChartOfAccounts, parent_company: bool = False) -> StatementExtraction:
    """Every statement row of a PDF, located cheaply first; figures are in order of appearance.

    A report that prints consolidated (合并) statements is read for those only, unless `parent_company`
    asks for the parent company's (母公司 / standalone) ones too; a company's own statements are always read.
    """
    texts = locate.PageTexts(data)
    try:
        located = locate.locate_statements(texts, parent_company=parent_company)
        reader = _Reader(chart, located, parent_company)
        previous = None
        for plan in located.pages:
            if previous is None or plan.number != previous + 1 or plan.continues is None:
                reader.section = None  # a gap: nothing carries over
            reader.read_page(plan, _statement_page_words(texts, data, plan.number))
            previous = plan.number
    finally:
        texts.close()
    return reader.result(located)


def _statement_page_words(texts: locate.PageTexts, data: bytes, number: int) -> list[dict]:
    """Words of a statement page from pdfium's characters (the document is open already for locating);
    a rotated page, whose characters pdfium gives unrotated, is laid out by pdfplumber instead."""
    words = pdfium_words(texts.page(number - 1))
    if words is not None:
        return words
    with pdfplumber.open(io.BytesIO(data), pages=[number]) as pdf:
        page = pdf.pages[0]
        try:
            return _page_words(page)
        finally:
            page.close()


_X_TOLERANCE, _Y_TOLERANCE = 1.5, 2.0


def pdfium_words(page: Any) -> list[dict] | None:
    """Words of the page body, grouped as pdfplumber's extract_words(x_tolerance=1.5, y_tolerance=2) groups
    its characters, from pdfium's loose character boxes (font ascent to descent, as pdfminer's): a statement
    page takes a few milliseconds instead of pdfminer's few hundred. None for a rotated page."""
    import pypdfium2.raw as pdfium_c

    try:
        if page.get_rotation() % 360:
            return None
        left, bottom, _, top = page.get_mediabox()
        height = top - bottom
        textpage = page.get_textpage()
        try:
            chars = []
            raw = textpage.raw
            for i in range(textpage.count_chars()):
                if pdfium_c.FPDFText_IsGenerated(raw, i) == 1:
                    continue  # spaces and line breaks pdfium adds between text runs
                text = chr(pdfium_c.FPDFText_GetUnicode(raw, i))
                x0, y0, x1, y1 = textpage.get_charbox(i, loose=True)
                c_top, c_bottom = top - y1, top - y0
                if c_bottom < height * 0.03 or c_top > height * 0.97:
                    continue  # the running header and footer bands, as _page_words crops them
                chars.append({"text": text, "x0": x0 - left, "x1": x1 - left, "top": c_top, "bottom": c_bottom})
        finally:
            textpage.close()
    finally:
        page.close()
    words = []
    for line in _lines(chars):
        word: list[dict] = []
        for c in line:
            if c["text"].isspace():
                _flush(word, words)
                word = []
            elif word and (c["x0"] < word[-1]["x0"] or c["x0"] > word[-1]["x1"] + _X_TOLERANCE
                           or abs(c["top"] - word[-1]["top"]) > _Y_TOLERANCE):
                _flush(word, words)
                word = [c]
            else:
                word.append(c)
        _flush(word, words)
    return [w for w in words if w["text"] not in _CURRENCY_SIGNS]


def _lines(chars: list[dict]) -> list[list[dict]]:
    """Characters clustered by their top (chained within the y tolerance), each line sorted left to right."""
    tops = sorted({c["top"] for c in chars})
    cluster_of: dict[float, int] = {}
    n, last = -1, None
    for t in tops:
        if last is None or t > last + _Y_TOLERANCE:
            n += 1
        cluster_of[t] = n
        last = t
    lines: list[list[dict]] = [[] for _ in range(n + 1)]
    for c in chars:
        lines[cluster_of[c["top"]]].append(c)
    return [sorted(line, key=lambda c: c["x0"]) for line in lines]


def _flush(word: list[dict], words: list[dict]) -> None:
    if word:
        words.append({"text": "".join(c["text"] for c in word), "x0": min(c["x0"] for c in word),
                      "x1": max(c["x1"] for c in word), "top": min(c["top"] for c in word),
                      "bottom": max(c["bottom"] for c in word)})


def _page_words(page: Any) -> list[dict]:
    """Words of the page body: the running header and footer bands are cropped away first."""
    h = float(page.height)
    body = page.crop((0, h * 0.03, float(page.width), h * 0.97), relative=False, strict=False)
    words = body.extract_words(x_tolerance=1.5, y_tolerance=2, keep_blank_chars=False)
    return [w for w in words if w["text"] not in _CURRENCY_SIGNS]


def _rows(words: list[dict]) -> list[list[dict]]:
    """Group words into visual rows by their vertical middle, each sorted left to right."""
    rows: list[list[dict]] = []
    for w in sorted(words, key=lambda w: ((w["top"] + w["bottom"]) / 2, w["x0"])):
        mid = (w["top"] + w["bottom"]) / 2
        if rows and abs((rows[-1][0]["top"] + rows[-1][0]["bottom"]) / 2 - mid) <= 3:
            rows[-1].append(w)
        else:
            rows.append([w])
    return [_merge_fragments(sorted(r, key=lambda w: w["x0"])) for r in rows]


def _merge_fragments(row: list[dict]) -> list[dict]:
    """'11 564 077' printed with space separators arrives as three words: join them back."""
    out: list[dict] = []
    for w in row:
        if out and _FRAGMENT_TAIL.match(w["text"]) and re.match(r"^\(?[-−–]?[\d ]+$", out[-1]["text"]) \
                and w["x0"] - out[-1]["x1"] <= max(3.6, 0.42 * (w["bottom"] - w["top"])):
            prev = out[-1]
            out[-1] = {**prev, "text": prev["text"] + " " + w["text"], "x1": w["x1"],
                       "bottom": max(prev["bottom"], w["bottom"])}
        else:
            out.append(w)
    return out


def _is_amount(text: str) -> bool:
    return bool(_NUM.match(text)) or bool(_DASH.match(text))


def _strong(text: str) -> bool:
    """An amount no note number looks like: separators, decimals or four digits and more."""
    return bool(_NUM.match(text)) and (any(c in text for c in ",. ") or len(re.sub(r"\D", "", text)) >= 4) \
        and not _YEAR.match(text)


@dataclass
class _Column:
    x0: float
    x1: float


def _columns(rows: list[list[dict]]) -> list[_Column]:
    """Value columns of a page: clusters of right edges of unmistakable amounts."""
    edges = sorted((w["x1"], w["x0"]) for r in rows for w in r if _strong(w["text"]))
    clusters: list[list[tuple[float, float]]] = []
    for x1, x0 in edges:
        if clusters and x1 - clusters[-1][-1][0] <= _COLUMN_TOLERANCE:
            clusters[-1].append((x1, x0))
        else:
            clusters.append([(x1, x0)])
    # a column holds a good share of the amounts; a few share counts inside long labels do not make one
    least = max(1 if len(edges) < 6 else 2, 0.3 * max((len(c) for c in clusters), default=0))
    return [_Column(min(x0 for _, x0 in c), max(x1 for x1, _ in c)) for c in clusters if len(c) >= least]


def _column_of(w: dict, columns: list[_Column]) -> int | None:
    if not _is_amount(w["text"]) or _YEAR.match(w["text"]):
        return None  # a bare year heads a column; amounts that size print a separator or decimals
    for i, c in enumerate(columns):
        if abs(w["x1"] - c.x1) <= _COLUMN_TOLERANCE:
            return i
        if _DASH.match(w["text"]) and c.x0 - 4 <= (w["x0"] + w["x1"]) / 2 <= c.x1 + 4:
            return i
    return None


@dataclass
class _Segment:
    label: list[dict] = field(default_factory=list)
    note: list[dict] = field(default_factory=list)
    amounts: dict[int, dict] = field(default_factory=dict)


def _segments(row: list[dict], columns: list[_Column]) -> list[_Segment]:
    """Split a row into label / note / amounts items (two items per row in a T-account)."""
    segs: list[_Segment] = []
    for w in row:
        col = _column_of(w, columns)
        if col is not None:
            if not segs:
                segs.append(_Segment())
            segs[-1].amounts[col] = w
            continue
        if not segs or segs[-1].amounts:
            segs.append(_Segment([w]))
        elif segs[-1].label and (w["x0"] - (segs[-1].note or segs[-1].label)[-1]["x1"] > _LABEL_GAP or segs[-1].note) \
                and re.search(r"\d", w["text"]) and len(w["text"]) <= 10:
            segs[-1].note.append(w)
        elif segs[-1].note or (segs[-1].label and (
                segs[-1].label[-1]["text"].endswith((":", "：")) or w["x0"] - segs[-1].label[-1]["x1"] > 3 * _LABEL_GAP)):
            segs.append(_Segment([w]))  # a heading on the left half of a T-account, an item on the right
        else:
            segs[-1].label.append(w)
    return segs


def _join(words: list[dict]) -> str:
    out = ""
    for w in words:
        t = w["text"]
        out += (" " if out and not (_CJK.match(out[-1]) or _CJK.match(t[0])) else "") + t
    return out


@dataclass
class _Section:
    statement: str
    scope: str
    unit: tuple[str, Decimal] | None
    newest_first: bool = True
    year_columns: dict[int, int] = field(default_factory=dict)   # column index -> year printed above it
    closed: bool = False
    headings: list[str] = field(default_factory=list)


class _Reader:
    """Walks the located pages' rows, keeping the current statement, scope, unit and column roles."""

    def __init__(self, chart: ChartOfAccounts, located: locate.Located, parent_company: bool = True) -> None:
        self.chart, self.located, self.parent_company = chart, located, parent_company
        self.section: _Section | None = None
        self.figures: list[StatementFigure] = []
        self.pages: list[int] = []
        self.dates: list[tuple[str, date]] = []
        self.entity: str | None = None
        self.currency = next((p.currency for p in located.pages if p.currency), None)
        if self.currency is None and located.language == "zh":
            self.currency = "CNY"
        self.default_unit = ("元", Decimal(1)) if located.language == "zh" else ("units", Decimal(1))

    # ---------------------------------------------------------------- page
    def read_page(self, plan: locate.PagePlan, words: list[dict]) -> None:
        rows = _rows(words)
        blocks = self._blocks(rows)
        titled = False
        if self.section is None and plan.continues is not None:
            self.section = _Section(*plan.continues, unit=plan.unit)
        header: list[list[dict]] = []
        consumed: set[int] = set()
        for i, row in enumerate(rows):
            columns = blocks[i]
            segs = _segments(row, columns)
            has_amounts = any(s.amounts for s in segs)
            text = _join(row)
            if not has_amounts:
                title = self._title(rows, i, titled)
                if title is not None:
                    titled = True
                    self.section = _Section(title.statement, title.scope, plan.unit or self._unit())
                    header = []
                    continue
                if self.section is None:
                    continue
                self._header_row(text, row, header)
                if not self.section.closed and i not in consumed and len(segs) == 1:
                    self._blank(plan.number, segs[0])
                continue
            if self.section is None and plan.titles and not titled:
                # the title row was cropped or split beyond recognition: trust the page's text
                titled = True
                self.section = _Section(plan.titles[0].statement, plan.titles[0].scope, plan.unit or self._unit())
            if self.section is None or self.section.closed:
                continue
            if header:
                self._roles_from_header(header, columns)
                header = []
            if i in consumed:
                continue
            self._figures(plan.number, rows, i, segs, columns, consumed)

    def _blocks(self, rows: list[list[dict]]) -> list[list[_Column]]:
        """Value columns per row: each table on the page (rows between two titles) has its own."""
        starts = [i for i in range(len(rows)) if self._title(rows, i, False) is not None]
        bounds = [0, *starts, len(rows)]
        out: list[list[_Column]] = []
        for a, b in zip(bounds, bounds[1:]):
            columns = _columns(rows[a:b])
            out.extend([columns] * (b - a))
        return out

    def _title(self, rows: list[list[dict]], i: int, titled: bool) -> Title | None:
        text = " ".join(w["text"] for w in rows[i])
        title = locate.match_title(text)
        if title is None and i + 1 < len(rows) and text.isascii() and len(text) < 40:
            title = locate.match_title(text + " " + " ".join(w["text"] for w in rows[i + 1]))
        if title is not None and self.located.language == "en" and i > 6:
            return None  # an English title opens its page
        return title

    def _unit(self) -> tuple[str, Decimal]:
        return self.section.unit if self.section and self.section.unit else self.default_unit

    def _blank(self, page: int, seg: _Segment) -> None:
        """A known line item printed without amounts: nil in this statement, so no other scope stands in."""
        section = self.section
        assert section is not None
        label = _join(seg.label)
        canonical = self.chart.lookup(label, section.statement)
        if canonical is None or not seg.label:
            return
        unit, mult = self._unit()
        bbox = (min(w["x0"] for w in seg.label), min(w["top"] for w in seg.label),
                max(w["x1"] for w in seg.label), max(w["bottom"] for w in seg.label))
        self.figures.append(StatementFigure(
            statement=section.statement, canonical=canonical, label=label, current=None, prior=None, unit=unit,
            multiplier=mult, current_yuan=None, prior_yuan=None, page=page,
            bbox=tuple(round(v, 2) for v in bbox),  # type: ignore[arg-type]
            scope=section.scope, currency=self.currency, note=" ".join(w["text"] for w in seg.note) or None))

    def _header_row(self, text: str, row: list[dict], header: list[list[dict]]) -> None:
        """Rows between a title and the table: unit, date, entity, column years; or a heading inside."""
        section = self.section
        assert section is not None
        if (unit := locate.detect_unit(text)) is not None:
            section.unit = unit
        if self.entity is None and (m := _ENTITY.search(" ".join(w["text"] for w in row))):
            self.entity = m.group(1)
        found = _find_date(text)
        if found is not None:
            self.dates.append((section.statement, found))
        elif any(_MONTHS.get(w["text"].lower().strip(",")) for w in row) and re.search(r"\d", text):
            header.append(row)
        if any(_YEAR.match(w["text"]) for w in row):
            header.append(row)
        section.headings = [*section.headings[-5:], text]

    def _roles_from_header(self, header: list[list[dict]], columns: list[_Column]) -> None:
        """Which column is the current period: the one headed by the latest year."""
        section = self.section
        assert section is not None
        years: dict[int, int] = {}
        for row in header:
            for w in row:
                if _YEAR.match(w["text"]) and columns:
                    mid = (w["x0"] + w["x1"]) / 2
                    col = min(range(len(columns)), key=lambda c: abs((columns[c].x0 + columns[c].x1) / 2 - mid))
                    years.setdefault(col, int(w["text"][:4]))
        if len(set(years.values())) >= 2:
            section.year_columns = years
            ordered = [years[c] for c in sorted(years)]
            section.newest_first = ordered[0] >= ordered[-1]
        month_day = _month_day(" ".join(_join(r) for r in header))
        if month_day and years and not any(s == section.statement for s, _ in self.dates):
            try:
                self.dates.append((section.statement, date(max(years.values()), *month_day)))
            except ValueError:
                pass

    # ---------------------------------------------------------------- rows
    def _figures(self, page: int, rows: list[list[dict]], i: int, segs: list[_Segment], columns: list[_Column],
                 consumed: set[int]) -> None:
        section = self.section
        assert section is not None
        for n, seg in enumerate(segs):
            if not seg.amounts:
                continue
            following = [w for later in segs[n + 1:] for w in later.label]
            limit = following[0]["x0"] if following else float("inf")
            label_words = seg.label
            label = _join(label_words)
            canonical = None
            if len(segs) == 1:
                label, label_words, canonical = self._wrapped_label(rows, i, seg, columns, consumed)
            else:
                canonical = self.chart.lookup(label, section.statement, section.headings)
            current_w, prior_w = self._roles(seg, columns, limit)
            if not label.strip():
                continue  # amounts without a label of their own: a page number, or a table outside the statement
            figure = self._figure(page, section, label, label_words, seg, current_w, prior_w, canonical)
            if figure is None:
                continue
            self.figures.append(figure)
            if page not in self.pages:
                self.pages.append(page)
            if canonical is not None and CLOSING_KEYS.get(section.statement) == canonical:
                section.closed = True

    def _wrapped_label(self, rows: list[list[dict]], i: int, seg: _Segment, columns: list[_Column],
                       consumed: set[int]) -> tuple[str, list[dict], str | None]:
        """A label may wrap: the amounts sit on its first line or on its last; keep the join that is a label."""
        section = self.section
        assert section is not None
        own = seg.label
        nxt = self._label_only(rows, i + 1, i, columns)
        prev = self._label_only(rows, i - 1, i, columns) if i - 1 not in consumed else None
        candidates: list[tuple[list[dict], int | None]] = []
        if nxt is not None and own:
            candidates.append((own + nxt, i + 1))
        candidates.append((own, None))
        if prev is not None:
            candidates.append((prev + own, None))
            if nxt is not None and not own:
                candidates.append((prev + nxt, i + 1))
        for words, used in candidates:
            if not words:
                continue
            key = self.chart.lookup(_join(words), section.statement, section.headings)
            if key is not None:
                if used is not None:
                    consumed.add(used)
                return _join(words), words, key
        if not own and prev is not None:
            return _join(prev), prev, None
        return _join(own), own, None

    def _label_only(self, rows: list[list[dict]], j: int, i: int, columns: list[_Column]) -> list[dict] | None:
        """Row j as the continuation of row i's label: adjacent, text only, not a heading."""
        if j < 0 or j >= len(rows):
            return None
        row = rows[j]
        if any(_column_of(w, columns) is not None for w in row):
            return None
        gap = abs(((row[0]["top"] + row[0]["bottom"]) - (rows[i][0]["top"] + rows[i][0]["bottom"])) / 2)
        height = rows[i][0]["bottom"] - rows[i][0]["top"]
        text = _join(row)
        if gap > 2.2 * height or text.rstrip().endswith((":", "：")) or locate.match_title(text):
            return None
        return row

    def _roles(self, seg: _Segment, columns: list[_Column], limit: float) -> tuple[dict | None, dict | None]:
        """(current, prior) words of an item, by the years above the columns or, failing them, by position."""
        section = self.section
        assert section is not None
        label_x = seg.label[-1]["x1"] if seg.label else min(w["x0"] for w in seg.amounts.values()) - 1
        # an item owns the columns right of its label, up to the next item of a T-account row
        mine = [c for c in range(len(columns)) if label_x < columns[c].x1 < limit]
        if section.year_columns and all(c in section.year_columns for c in mine[:2]):
            ordered = sorted(mine, key=lambda c: -section.year_columns[c] if c in section.year_columns else 0)
        else:
            ordered = mine if section.newest_first else list(reversed(mine))
        cur = seg.amounts.get(ordered[0]) if ordered else None
        prior = seg.amounts.get(ordered[1]) if len(ordered) > 1 else None
        return cur, prior

    def _figure(self, page: int, section: _Section, label: str, label_words: list[dict], seg: _Segment,
                current_w: dict | None, prior_w: dict | None, canonical: str | None) -> StatementFigure | None:
        current = parse_amount(current_w["text"]) if current_w else None
        prior = parse_amount(prior_w["text"]) if prior_w else None
        if current is None and prior is None:
            return None
        unit, mult = self._unit()
        used = label_words + [w for w in (current_w, prior_w) if w]
        bbox = (min(w["x0"] for w in used), min(w["top"] for w in used),
                max(w["x1"] for w in used), max(w["bottom"] for w in used))
        return StatementFigure(
            statement=section.statement, canonical=canonical, label=label, current=current, prior=prior,
            unit=unit, multiplier=mult,
            current_yuan=None if current is None else current * mult,
            prior_yuan=None if prior is None else prior * mult,
            page=page, bbox=tuple(round(v, 2) for v in bbox),  # type: ignore[arg-type]
            scope=section.scope, currency=self.currency,
            note=" ".join(w["text"] for w in seg.note) or None,
        )

    # ---------------------------------------------------------------- result
    def result(self, located: locate.Located) -> StatementExtraction:
        figures = self.figures
        statements = {(f.statement, f.scope) for f in figures}
        if any(scope == "consolidated" for _, scope in statements):
            # a group that prints consolidated statements calls the company's own ones standalone / parent
            figures = [f if f.scope != "entity" else _replace(f, scope="parent") for f in figures]
            if not self.parent_company:  # a page that ends a consolidated statement may start a parent one
                figures = [f for f in figures if f.scope != "parent"]
        period = next((d for s, d in self.dates if s == "balance_sheet"), None) or \
            next((d for _, d in self.dates), None)
        units = [f.unit for f in figures]
        return StatementExtraction(
            period_end=period, entity=self.entity, unit=units[0] if units else None, figures=figures,
            pages=[n for n in self.pages if any(f.page == n for f in figures)], currency=self.currency,
            page_count=located.page_count,
            located_pages=[p.number for p in located.pages],
        )


def _replace(figure: StatementFigure, **changes: Any) -> StatementFigure:
    from dataclasses import replace

    return replace(figure, **changes)


def _find_date(text: str) -> date | None:
    for pattern in (_DATE_CN, _DATE_ISO):
        if (m := pattern.search(text)) is not None:
            try:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                return None
    for i, pattern in enumerate(_DATE_EN):
        if (m := pattern.search(text)) is not None:
            month, day = (m.group(1), m.group(2)) if i == 0 else (m.group(2), m.group(1))
            try:
                return date(int(m.group(3)), _MONTHS[month.lower()], int(day))
            except ValueError:
                return None
    return None


def _month_day(text: str) -> tuple[int, int] | None:
    """'December 31,' or '31 AUGUST' printed without the year (the year heads the columns)."""
    for i, pattern in enumerate(_DAY_MONTH_EN):
        if (m := pattern.search(text)) is not None:
            month, day = (m.group(1), m.group(2)) if i == 0 else (m.group(2), m.group(1))
            return _MONTHS[month.lower()], int(day)
    return None
