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
each tagged with its scope. Last, each statement's identities (assets = liabilities +
equity, subtotals, opening cash + net change = closing cash) choose among competing
readings, derive the totals a statement does not print, and give every figure its status
(checked / derived / unchecked); a document they cannot make consistent is flagged
needs_review and publishes nothing (docs/extraction.md).
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


class UnitDef(_Frozen):
    pattern: str
    unit: str

    def model_post_init(self, __context: Any) -> None:
        if self.unit not in UNIT_MULTIPLIERS:
            raise ValueError(f"unit {self.unit!r} is none of {sorted(UNIT_MULTIPLIERS)}")
        re.compile(self.pattern)


class ChartOfAccounts(_Frozen):
    version: int
    units: list[UnitDef] = []
    equity_headings: list[str] = []
    bare_totals: list[str] = []
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

    def unit_markers(self) -> list[locate.UnitMarker]:
        return [locate.UnitMarker(re.compile(u.pattern, re.I), u.unit) for u in self.units]

    def is_equity_heading(self, text: str) -> bool:
        flat = normalize_label(re.sub(r"^\s*(?:\d+|[IVX]+|[A-H])\s*[).:]?\s+", "", text))
        return bool(flat) and any(flat == normalize_label(h) for h in self.equity_headings)

    def is_bare_total(self, label: str) -> bool:
        flat = normalize_label(label)
        return bool(flat) and any(flat == normalize_label(h) for h in self.bare_totals)


def load_chart_of_accounts(path: str | Path | None = None) -> ChartOfAccounts:
    """Load and validate config/chart_of_accounts.yaml (or another chart file)."""
    path = Path(path) if path is not None else DEFAULT_CHART_PATH
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    try:
        return ChartOfAccounts.model_validate(data)
    except ValueError as exc:  # pydantic's ValidationError names the key and the problem
        raise ValueError(f"{path}: {exc}") from exc


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
                        r"|\([IVXL]{1,5}\)\s*|\([A-Z\d]{1,2}\)\s*|[IVXL]{1,5}[.)]\s*|[A-H]\.\s*|\d{1,2}[.)]\s*(?=[A-Za-z]))+")
# "(VII-VIII)", "(A+B+C)", "*" and the bare references "A", "A+B+C", "- 'A'" after a label
_SUFFIX_EN = re.compile(r"\s*(?:\((?:[IVXL]+|[A-C])(?:\s*[-+]\s*(?:[IVXL]+|[A-C]))*\)|\*"
                        r"|\s[-–]?\s*['‘’]?[A-C](?:\s*\+\s*[A-C])*['’]?)\s*$")
# dot leaders and ellipses printed between a label and its amounts: "TOTAL ASSETS ……..", "Total ....."
_LEADERS = re.compile(r"[\s.…·]*[.…·]{2,}[\s.…·]*$|\s*…+\s*$")


def normalize_label(label: str) -> str:
    """Label as compared: no spaces, ordinal / 加减其中 prefixes or 填列 remarks; half-width."""
    label = _LEADERS.sub("", label)
    if label.isascii() or "’" in label:
        text = _PREFIX_EN.sub("", label)
        for _ in range(2):  # "(A+B+C) A+B+C"
            text = _SUFFIX_EN.sub("", text)
        text = text.replace("&", " and ")
    else:
        text = label
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
    # checked: an identity of its statement holds with it (assets = liabilities + equity, a subtotal, opening
    # cash + net change = closing cash); derived: not printed, computed from printed figures (`basis` says
    # how); unchecked: printed, but no identity could be tested with it
    status: str = "unchecked"
    unit_source: str | None = None  # where the unit was read: "p58: ₹ in Lakh"
    basis: str | None = None        # a derived figure's formula, or the identity a checked one passed


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
    # identities that failed whatever reading was tried: the document is for a person to review and none of
    # its figures is published (they are kept in `withheld` for that person)
    needs_review: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)          # identities that held, for the record
    withheld: list[StatementFigure] = field(default_factory=list)

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


_NUM = re.compile(r"^\(?[-−–‐‑]?(?:\d{1,3}(?:[, ]\d{2,3})+|\d+)(?:\.\d+)?\)?$")
_DASH = re.compile(r"^[-−–—‐‑]{1,2}$")
_FRAGMENT_HEAD = re.compile(r"^\(?[-−–‐‑]?\d{1,3}$")
# the rest of an amount split after its first digits: "1 ,07,179.22" (a text run per glyph group)
_SPLIT_TAIL = re.compile(r"^[,.]\d[\d,]*(?:\.\d+)?\)?$")
_FRAGMENT_TAIL = re.compile(r"^\d{3}(?:\.\d+)?\)?$")
_YEAR = re.compile(r"^(?:(?:19|20)\d{2})(?:年度?|,)?$")
_CURRENCY_SIGNS = {"$", "US$", "₹", "¥", "RMB", "HK$"}
_DATE_CN = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_DATE_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATE_DMY = re.compile(r"\b(\d{1,2})[./-](\d{1,2})[./-]((?:19|20)\d{2})\b")   # "As at 31.03.2025", "31-03-2025"
_MONTHS = {m: i for i, m in enumerate(("january", "february", "march", "april", "may", "june", "july", "august",
                                       "september", "october", "november", "december"), start=1)}
_MONTHS.update({m[:3]: n for m, n in list(_MONTHS.items())})
_MONTHS["sept"] = 9
# full names first, then "Mar", "Sept.": "31-Mar-2025", "Mar. 31, 2025"
_MONTH = r"\b(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_EN = [re.compile(_MONTH + r"\s+(\d{1,2}),?\s+(\d{4})", re.I),
            re.compile(r"(\d{1,2})(?:st|nd|rd|th)?[\s-]+" + _MONTH + r",?[\s-]+(\d{4})", re.I)]
_DAY_MONTH_EN = [re.compile(_MONTH + r"\s+(\d{1,2})\b", re.I), re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH, re.I)]
_ENTITY = re.compile(r"编制单位[:：]\s*(\S+)")
_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef“”]")
_LABEL_GAP = 12.0  # pt: a wider gap between label words starts a note or another item (T-accounts)
_COLUMN_TOLERANCE = 6.0


def parse_amount(text: str) -> Decimal | None:
    """'1,234.50' / '-1,234.50' / '(1,234.50)' / '11 564 077' / '3,40,258.64' -> Decimal; dashes mean zero."""
    t = text.strip().replace("－", "-").replace("−", "-").replace("–", "-").replace("‐", "-").replace("‑", "-")
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
        located = locate.locate_statements(texts, parent_company=parent_company, units=chart.unit_markers())
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
        elif out and _SPLIT_TAIL.match(w["text"]) and _FRAGMENT_HEAD.match(out[-1]["text"]) \
                and w["x0"] - out[-1]["x1"] <= max(3.6, 0.42 * (w["bottom"] - w["top"])):
            prev = out[-1]  # "1 ,07,179.22": the separator follows the split, so the parts are one amount
            out[-1] = {**prev, "text": prev["text"] + w["text"], "x1": w["x1"], "bottom": max(prev["bottom"], w["bottom"])}
        else:
            out.append(w)
    return out


_EQUITY_PARTS = (None, "paid_in_capital", "retained_earnings")
_NO_UNIT = "default: no unit printed"
_NOTE_HEADER = re.compile(r"^(?:notes?|note\s*no\.?|notes?\s*ref\.?)$", re.I)
_MONTH_COUNT = {"three": 3, "six": 6, "nine": 9, "twelve": 12, "3": 3, "6": 6, "9": 9, "12": 12}


def _without_note_columns(columns: list[_Column], rows: list[list[dict]]) -> list[_Column]:
    """Value columns less the notes column: "2.1", "2.10" under a "Note No" heading look like amounts."""
    if len(columns) < 3:
        return columns
    spans = []
    for row in rows:
        for n, w in enumerate(row):
            text = w["text"] + (" " + row[n + 1]["text"] if n + 1 < len(row) else "")
            if _NOTE_HEADER.match(w["text"]) or _NOTE_HEADER.match(text):
                x1 = row[n + 1]["x1"] if n + 1 < len(row) and _NOTE_HEADER.match(text) else w["x1"]
                spans.append((w["x0"], x1))
    if not spans:
        return columns
    kept = [c for c in columns if not any(x0 - 8 <= (c.x0 + c.x1) / 2 <= x1 + 8 for x0, x1 in spans)]
    return kept if len(kept) >= 2 else columns


def _period_headings(row: list[dict]) -> list[tuple[float, float, int]]:
    """"Three months ended September 30," / "Nine months ended …" headings of a row: (x0, x1, months). Each
    heading runs from its first word to the word before the next heading, however close they are printed."""
    starts: list[tuple[int, int]] = []   # (word index, months)
    for i, w in enumerate(row):
        word = w["text"].lower().strip(",")
        after = row[i + 1]["text"].lower() if i + 1 < len(row) else ""
        if word in _MONTH_COUNT and after.startswith("month"):
            starts.append((i, _MONTH_COUNT[word]))
        elif word in ("year", "fiscal") and after.startswith(("ended", "year")) and \
                not (i and row[i - 1]["text"].lower() == "fiscal"):
            starts.append((i, 12))
    out = []
    for n, (i, months) in enumerate(starts):
        end = starts[n + 1][0] - 1 if n + 1 < len(starts) else len(row) - 1
        out.append((row[i]["x0"], row[end]["x1"], months))
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
    if _strong(w["text"]):
        # amounts centred in their column (Word tables) end at different x: the column whose span holds the
        # amount's middle
        mid = (w["x0"] + w["x1"]) / 2
        for i, c in enumerate(columns):
            if c.x0 - 2 <= mid <= c.x1 + 2:
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
    return _with_references_joined(segs)


# a reference printed apart between a label and its amounts: "A", "(VI-VII)", "(IV+V)", "A+B+C"
_REFERENCE = re.compile(r"^\(?[A-Z]{1,4}(?:\s*[-+]\s*[A-Z]{1,4})*\)?$")


def _with_references_joined(segs: list[_Segment]) -> list[_Segment]:
    out: list[_Segment] = []
    for seg in segs:
        if out and seg.amounts and not out[-1].amounts and out[-1].label and seg.label \
                and _REFERENCE.match(_join(seg.label)):
            prev = out[-1]
            out[-1] = _Segment(prev.label + seg.label, prev.note + seg.note, seg.amounts)
        else:
            out.append(seg)
    return out


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
    unit_source: str | None = None
    started: bool = False           # a figure was read: later dates (signatures) are not the period's
    assets_total: bool = False      # total assets read: a bare "Total" now closes liabilities and equity
    equity_heading: str | None = None   # the equity heading the lines being read are printed under
    equity_lines: list[StatementFigure] = field(default_factory=list)
    periods: list[tuple[float, float, int]] = field(default_factory=list)  # (x0, x1, months) of period headings
    period_columns: set[int] | None = None   # the columns of the longest period (year to date), when several


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
        self.markers = chart.unit_markers()
        self.page = 0
        # the lines printed under each scope's equity heading, for an equity total that is not printed
        self.equity_lines: dict[str, list[StatementFigure]] = {}
        # (statement, scope) -> other units its header declared: (unit, multiplier, where)
        self.other_units: dict[tuple[str, str], list[tuple[str, Decimal, str]]] = {}

    # ---------------------------------------------------------------- page
    def _new_section(self, statement: str, scope: str, plan: locate.PagePlan) -> _Section:
        if plan.unit:
            return _Section(statement, scope, plan.unit, unit_source=plan.unit_source)
        if self.section and self.section.unit:  # a later statement on the page shares the page's unit
            return _Section(statement, scope, self.section.unit, unit_source=self.section.unit_source)
        return _Section(statement, scope, self.default_unit, unit_source=_NO_UNIT)

    def read_page(self, plan: locate.PagePlan, words: list[dict]) -> None:
        self.page = plan.number
        rows = _rows(words)
        blocks = self._blocks(rows)
        titled = False
        if self.section is None and plan.continues is not None:
            self.section = _Section(*plan.continues, unit=plan.unit, unit_source=plan.unit_source)
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
                    self.section = self._new_section(title.statement, title.scope, plan)
                    if (found := _find_date(text)) is not None:  # "Balance Sheet as at 31st March 2025"
                        self.dates.append((title.statement, found))
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
                self.section = self._new_section(plan.titles[0].statement, plan.titles[0].scope, plan)
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
            columns = _without_note_columns(_columns(rows[a:b]), rows[a:b])
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
            scope=section.scope, currency=self.currency, note=" ".join(w["text"] for w in seg.note) or None,
            unit_source=section.unit_source or _NO_UNIT))

    def _header_row(self, text: str, row: list[dict], header: list[list[dict]]) -> None:
        """Rows between a title and the table: unit, date, entity, column years; or a heading inside."""
        section = self.section
        assert section is not None
        if not section.started and (unit := locate.find_unit(text, self.markers)) is not None:
            section.unit, section.unit_source = unit.pair(), f"p{self.page}: {unit.text}"
            others = [u for u in locate.unit_candidates(text, self.markers) if u.unit != unit.unit]
            if others:  # "(Shares in thousands; amounts in millions)": the identities may choose another
                self.other_units[(section.statement, section.scope)] = \
                    [(u.unit, u.multiplier, f"p{self.page}: {u.text}") for u in others]
        if self.entity is None and (m := _ENTITY.search(" ".join(w["text"] for w in row))):
            self.entity = m.group(1)
        if section.statement == "balance_sheet":
            if self.chart.is_equity_heading(text):
                section.equity_heading, section.equity_lines = text, []
            elif section.equity_heading and re.search(r"liabilit|负债", text, re.I):
                section.equity_heading = None
        if not section.started:
            section.periods.extend(_period_headings(row))
        found = _latest_date(text)
        if found is not None:
            if not section.started:  # a date below the table is a signature's, not the period's
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
        months = {m for _, _, m in section.periods}
        if len(months) >= 2 and columns:
            # "Three months ended … | Nine months ended …": read the longest period, as the cash-flow
            # statement (year to date) is; each column belongs to the period heading above it
            def period_of(c: int) -> int:
                mid = (columns[c].x0 + columns[c].x1) / 2
                inside = [m for x0, x1, m in section.periods if x0 - 12 <= mid <= x1 + 12]
                if inside:
                    return inside[0]
                return min(section.periods, key=lambda p: abs((p[0] + p[1]) / 2 - mid))[2]
            section.period_columns = {c for c in range(len(columns)) if period_of(c) == max(months)}
            years = {c: y for c, y in years.items() if c in section.period_columns}
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
            if self._bare_total(label):
                canonical = "total_liabilities_and_equity" if section.assets_total else "total_assets"
            elif len(segs) == 1:
                label, label_words, canonical = self._wrapped_label(rows, i, seg, columns, consumed)
            else:
                canonical = self.chart.lookup(label, section.statement, section.headings)
            current_w, prior_w = self._roles(seg, columns, limit)
            if not label.strip() and section.equity_heading and section.equity_lines and len(segs) == 1 \
                    and len(seg.amounts) >= 2 and self.located.language == "en":
                # an unlabelled subtotal closing the lines under "EQUITY": total equity as printed
                label, canonical = f"{section.equity_heading.strip()} (subtotal)", "equity"
                section.equity_heading = None
            if not label.strip():
                continue  # amounts without a label of their own: a page number, or a table outside the statement
            figure = self._figure(page, section, label, label_words, seg, current_w, prior_w, canonical)
            if figure is None:
                continue
            self.figures.append(figure)
            section.started = True
            if canonical == "total_assets" and section.statement == "balance_sheet":
                section.assets_total = True
            if section.equity_heading is not None and canonical in _EQUITY_PARTS:
                section.equity_lines.append(figure)
                self.equity_lines[section.scope] = list(section.equity_lines)
            elif section.equity_heading is not None:
                section.equity_heading = None  # a total, or a known line that is no part of equity, ends them
            if page not in self.pages:
                self.pages.append(page)
            if canonical is not None and CLOSING_KEYS.get(section.statement) == canonical:
                section.closed = True

    def _bare_total(self, label: str) -> bool:
        section = self.section
        return section is not None and section.statement == "balance_sheet" and self.located.language == "en" \
            and self.chart.is_bare_total(label)

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
        if section.period_columns:
            mine = [c for c in mine if c in section.period_columns]
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
            note=" ".join(w["text"] for w in seg.note) or None, unit_source=section.unit_source or _NO_UNIT,
        )

    # ---------------------------------------------------------------- result
    def result(self, located: locate.Located) -> StatementExtraction:
        figures = self.figures
        statements = {(f.statement, f.scope) for f in figures}
        equity_lines = dict(self.equity_lines)
        if any(scope == "consolidated" for _, scope in statements):
            # a group that prints consolidated statements calls the company's own ones standalone / parent
            figures = [f if f.scope != "entity" else _replace(f, scope="parent") for f in figures]
            if "entity" in equity_lines:
                equity_lines["parent"] = [_replace(f, scope="parent") for f in equity_lines.pop("entity")]
            if not self.parent_company:  # a page that ends a consolidated statement may start a parent one
                figures = [f for f in figures if f.scope != "parent"]
        else:
            # a company that prints no consolidated statements: its "standalone" ones are simply its own
            figures = [f if f.scope != "parent" else _replace(f, scope="entity") for f in figures]
            if "parent" in equity_lines:
                equity_lines["entity"] = [_replace(f, scope="entity") for f in equity_lines.pop("parent")]
        retag = {"entity": "parent"} if any(s == "consolidated" for _, s in statements) else {"parent": "entity"}
        other_units = {(statement, retag.get(scope, scope)): units
                       for (statement, scope), units in self.other_units.items()}
        figures, checks, failures = self_check(figures, equity_lines, self.chart, other_units)
        period = next((d for s, d in self.dates if s == "balance_sheet"), None) or \
            next((d for _, d in self.dates), None)
        units = [f.unit for f in figures]
        return StatementExtraction(
            period_end=period, entity=self.entity, unit=units[0] if units else None,
            figures=[] if failures else figures,
            pages=[n for n in self.pages if any(f.page == n for f in figures)], currency=self.currency,
            page_count=located.page_count,
            located_pages=[p.number for p in located.pages],
            needs_review=failures, checks=checks, withheld=figures if failures else [],
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
    if (m := _DATE_DMY.search(text)) is not None:
        try:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
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


def _latest_date(text: str) -> date | None:
    """The latest date a header row prints: the current period's, whether its column comes first or last
    ("December 31, 2023   December 31, 2024" is oldest first)."""
    found = []
    rest = text
    while rest and (d := _find_date(rest)) is not None:
        found.append(d)
        cut = _date_end(rest)
        if cut is None or cut <= 0:
            break
        rest = rest[cut:]
    return max(found) if found else None


def _date_end(text: str) -> int | None:
    ends = [m.end() for p in (_DATE_CN, _DATE_ISO, _DATE_DMY, *_DATE_EN) if (m := p.search(text)) is not None]
    return min(ends) if ends else None


def _month_day(text: str) -> tuple[int, int] | None:
    """'December 31,' or '31 AUGUST' printed without the year (the year heads the columns)."""
    for i, pattern in enumerate(_DAY_MONTH_EN):
        if (m := pattern.search(text)) is not None:
            month, day = (m.group(1), m.group(2)) if i == 0 else (m.group(2), m.group(1))
            return _MONTHS[month.lower()], int(day)
    return None


# --------------------------------------------------------------------------- self-checking
# A statement's own identities choose among competing readings of a line and give every figure a status:
# checked (an identity holds with it), derived (not printed: computed from printed figures), unchecked.
# Identities that fail whatever reading is tried put the document up for review (needs_review), unpublished.
_PERIODS = (("current", "current_yuan"), ("prior", "prior_yuan"))


def self_check(figures: list[StatementFigure], equity_lines: dict[str, list[StatementFigure]],
               chart: ChartOfAccounts, other_units: dict[tuple[str, str], list[tuple[str, Decimal, str]]] | None = None
               ) -> tuple[list[StatementFigure], list[str], list[str]]:
    """(figures with statuses and any derived totals, identities that held, identities that failed).
    `other_units`: further units a statement's header declared, for the identities to choose between."""
    out = list(figures)
    checks: list[str] = []
    failures: list[str] = []
    for scope in dict.fromkeys(f.scope for f in figures):
        _reconcile_units(out, scope, other_units or {}, checks)
        _check_balance_sheet(out, scope, equity_lines.get(scope, []), chart, checks, failures)
        _check_income_statement(out, scope, chart, checks)
        _check_cash_flow(out, scope, checks, failures)
    return out, checks, failures


def _reconcile_units(out: list[StatementFigure], scope: str,
                     other_units: dict[tuple[str, str], list[tuple[str, Decimal, str]]], checks: list[str]) -> None:
    """Cash on the balance sheet is the cash-flow statement's closing cash: where the two disagree by a unit
    and another unit one of the statements' headers declared makes them agree, that unit is the statement's."""
    cash = _printed(out, "balance_sheet", scope, "cash")
    closing = _printed(out, "cash_flow", scope, "closing_cash")
    if not cash or not closing:
        return
    bs, cf = out[cash[0]], out[closing[0]]
    if bs.current is None or cf.current is None or bs.current_yuan == cf.current_yuan:
        return
    for statement, mine, theirs in (("balance_sheet", bs, cf), ("cash_flow", cf, bs)):
        for unit, multiplier, where in other_units.get((statement, scope), []):
            if mine.current * multiplier == theirs.current_yuan:
                for i, f in enumerate(out):
                    if f.statement == statement and f.scope == scope:
                        out[i] = _replace(f, unit=unit, multiplier=multiplier, unit_source=where,
                                          current_yuan=None if f.current is None else f.current * multiplier,
                                          prior_yuan=None if f.prior is None else f.prior * multiplier)
                checks.append(f"{statement.replace('_', ' ')} ({scope}): read in {unit} ({where}), the unit in "
                              f"which its cash equals the other statement's")
                return


def _printed(out: list[StatementFigure], statement: str, scope: str, key: str) -> list[int]:
    """Indexes of the printed figures of a key with an amount, in order of appearance."""
    return [i for i, f in enumerate(out) if f.statement == statement and f.scope == scope and f.canonical == key
            and f.status != "derived" and (f.current is not None or f.prior is not None)]


def _tolerance(figures: list[StatementFigure], attr: str) -> Decimal:
    """Half a unit of the last printed digit per term: "5,885.90" = "1,094.68 + 5,628.04 − …" to the paisa."""
    total = Decimal(0)
    for f in figures:
        value = getattr(f, attr.replace("_yuan", ""))
        exponent = value.as_tuple().exponent if value is not None else 0
        total += Decimal(1).scaleb(min(int(exponent), 0)) * f.multiplier / 2
    return total


def _holds(total: StatementFigure, parts: list[StatementFigure], signs: list[int] | None = None) -> bool:
    """total = Σ sign·part in every period where all are printed, and in at least one."""
    signs = signs or [1] * len(parts)
    tested = 0
    for _, attr in _PERIODS:
        values = [getattr(f, attr) for f in (total, *parts)]
        if any(v is None for v in values):
            continue
        tested += 1
        if abs(values[0] - sum(s * v for s, v in zip(signs, values[1:]))) > _tolerance([total, *parts], attr):
            return False
    return tested > 0


def _mark(out: list[StatementFigure], indexes: list[int], basis: str) -> None:
    for i in indexes:
        if out[i].status != "derived":
            out[i] = _replace(out[i], status="checked", basis=out[i].basis or basis)


def _choose(out: list[StatementFigure], statement: str, scope: str, chosen: list[StatementFigure]) -> list[int]:
    """Move each reading an identity chose before the other printed readings of its key (so it is the one
    reported); the chosen readings' new indexes."""
    for figure in chosen:
        at = next(i for i, f in enumerate(out) if f is figure)
        printed = _printed(out, statement, scope, figure.canonical) if figure.canonical else []
        first = min(printed) if printed and at in printed else at
        if first < at:
            out.insert(first, out.pop(at))
    return [next(i for i, f in enumerate(out) if f is figure) for figure in chosen]


def _derive(out: list[StatementFigure], chart: ChartOfAccounts, key: str, template: StatementFigure,
            terms: list[tuple[int, StatementFigure]], basis: str, page_from: StatementFigure | None = None) -> None:
    """Append a figure computed as Σ sign·term, in the template's unit, at the template's place."""
    values: dict[str, Decimal | None] = {}
    for name, _ in _PERIODS:
        parts = [(s, getattr(f, name)) for s, f in terms]
        values[name] = None if any(v is None for _, v in parts) else sum((s * v for s, v in parts), Decimal(0))
    if values["current"] is None and values["prior"] is None:
        return
    account = chart.accounts[key]
    label = account.synonyms_en[0] if template.label.isascii() and account.synonyms_en else account.label
    where = page_from or template
    out.append(_replace(
        template, canonical=key, label=label, current=values["current"], prior=values["prior"],
        current_yuan=None if values["current"] is None else values["current"] * template.multiplier,
        prior_yuan=None if values["prior"] is None else values["prior"] * template.multiplier,
        page=where.page, bbox=where.bbox, note=None, status="derived", basis=basis))


def _check_balance_sheet(out: list[StatementFigure], scope: str, equity_lines: list[StatementFigure],
                         chart: ChartOfAccounts, checks: list[str], failures: list[str]) -> None:
    bs = "balance_sheet"
    name = f"balance sheet ({scope})"
    if not _printed(out, bs, scope, "total_assets") and not _printed(out, bs, scope, "total_liabilities_and_equity"):
        return
    if not _printed(out, bs, scope, "equity"):
        parents, nci = _printed(out, bs, scope, "equity_parent"), _printed(out, bs, scope, "minority_interest")
        if parents and nci:
            _derive(out, chart, "equity", out[parents[0]], [(1, out[parents[0]]), (1, out[nci[0]])],
                    "equity attributable to the parent + non-controlling interests")
        elif parents:
            _derive(out, chart, "equity", out[parents[0]], [(1, out[parents[0]])],
                    "equity attributable to the parent (no non-controlling interests printed)")
        elif equity_lines:
            _derive(out, chart, "equity", equity_lines[-1], [(1, f) for f in equity_lines],
                    f"sum of the {len(equity_lines)} lines printed under the equity heading")
    equity = [i for i, f in enumerate(out) if f.statement == bs and f.scope == scope and f.canonical == "equity"
              and (f.current is not None or f.prior is not None)]
    assets = _printed(out, bs, scope, "total_assets")
    closing = _printed(out, bs, scope, "total_liabilities_and_equity")
    if assets and closing:
        pair = next(((a, c) for a in assets for c in closing if _holds(out[a], [out[c]])), None)
        if pair is None:
            failures.append(f"{name}: total assets {_show(out[assets[0]])} ≠ total liabilities and equity "
                            f"{_show(out[closing[0]])}")
            return
        _mark(out, _choose(out, bs, scope, [out[i] for i in pair]), "total assets = total liabilities and equity")
        checks.append(f"{name}: total assets = total liabilities and equity")
    liabilities = _printed(out, bs, scope, "total_liabilities")
    if not liabilities and equity:
        base = _printed(out, bs, scope, "total_liabilities_and_equity") or _printed(out, bs, scope, "total_assets")
        if base:
            total = out[base[0]]
            _derive(out, chart, "total_liabilities", total, [(1, total), (-1, out[equity[0]])],
                    f"{'total liabilities and equity' if total.canonical != 'total_assets' else 'total assets'}"
                    f" − total equity")
            parts = [_printed(out, bs, scope, k) for k in ("current_liabilities", "non_current_liabilities")]
            if out[-1].canonical == "total_liabilities" and all(parts) \
                    and _holds(out[-1], [out[parts[0][0]], out[parts[1][0]]]):
                # the derived total agrees with the printed liability subtotals: equity is borne out
                _mark(out, [equity[0], parts[0][0], parts[1][0]], "total liabilities and equity − total equity = "
                      "current + non-current liabilities")
                checks.append(f"{name}: total liabilities and equity − total equity = current + non-current "
                              f"liabilities")
        return
    assets = _printed(out, bs, scope, "total_assets")
    if assets and liabilities and equity:
        combo = next(((a, l, e) for a in assets for l in liabilities for e in equity
                      if _holds(out[a], [out[l], out[e]])), None)
        if combo is None:
            failures.append(f"{name}: total assets {_show(out[assets[0]])} ≠ total liabilities "
                            f"{_show(out[liabilities[0]])} + total equity {_show(out[equity[0]])}")
            return
        _mark(out, _choose(out, bs, scope, [out[i] for i in combo]), "total assets = total liabilities + total equity")
        checks.append(f"{name}: total assets = total liabilities + total equity")
    for total, parts, basis in (("total_assets", ("current_assets", "non_current_assets"),
                                 "total assets = current + non-current assets"),
                                ("total_liabilities", ("current_liabilities", "non_current_liabilities"),
                                 "total liabilities = current + non-current liabilities"),
                                ("equity", ("equity_parent", "minority_interest"),
                                 "total equity = attributable to the parent + non-controlling interests")):
        _subtotal(out, bs, scope, total, parts, basis, checks, name)


def _subtotal(out: list[StatementFigure], statement: str, scope: str, total: str, parts: tuple[str, ...],
              basis: str, checks: list[str], name: str, signs: list[int] | None = None) -> bool:
    found = [_printed(out, statement, scope, k) for k in (total, *parts)]
    if not all(found):
        return False
    indexes = [f[0] for f in found]
    if _holds(out[indexes[0]], [out[i] for i in indexes[1:]], signs):
        _mark(out, indexes, basis)
        checks.append(f"{name}: {basis}")
        return True
    return False


def _check_income_statement(out: list[StatementFigure], scope: str, chart: ChartOfAccounts,
                            checks: list[str]) -> None:
    inc = "income_statement"
    if not _printed(out, inc, scope, "net_profit"):
        parents, nci = _printed(out, inc, scope, "net_profit_parent"), _printed(out, inc, scope, "minority_profit")
        if parents and nci:
            _derive(out, chart, "net_profit", out[parents[0]], [(1, out[parents[0]]), (1, out[nci[0]])],
                    "net profit attributable to the parent + non-controlling interests")
        elif parents:
            _derive(out, chart, "net_profit", out[parents[0]], [(1, out[parents[0]])],
                    "net profit attributable to the parent (no non-controlling interests printed)")
    totals = _printed(out, inc, scope, "total_revenue")
    if not _printed(out, inc, scope, "revenue") and totals and out[totals[0]].label.isascii():
        # "Revenues: Product … Service … Total revenues" (US GAAP): the total is the revenue; 营业总收入 is not
        # 营业收入, so a Chinese statement is left as printed
        out.append(_replace(out[totals[0]], canonical="revenue",
                            basis="printed as total revenues, no revenue line of its own"))
    name = f"income statement ({scope})"
    _subtotal(out, inc, scope, "total_profit", ("net_profit", "income_tax"), "profit before tax = net profit + tax",
              checks, name)
    _subtotal(out, inc, scope, "net_profit", ("net_profit_parent", "minority_profit"),
              "net profit = attributable to the parent + non-controlling interests", checks, name)


def _check_cash_flow(out: list[StatementFigure], scope: str, checks: list[str], failures: list[str]) -> None:
    cf = "cash_flow"
    name = f"cash-flow statement ({scope})"
    activities = ("net_operating_cash_flow", "net_investing_cash_flow", "net_financing_cash_flow")
    _subtotal(out, cf, scope, "net_increase_in_cash", (*activities, "fx_effect_on_cash"),
              "operating + investing + financing + exchange effect = net change in cash", checks, name) or \
        _subtotal(out, cf, scope, "net_increase_in_cash", activities,
                  "operating + investing + financing = net change in cash", checks, name)
    _subtotal(out, cf, scope, "closing_cash", ("opening_cash", "net_increase_in_cash"),
              "opening cash + net change = closing cash", checks, name) or \
        _subtotal(out, cf, scope, "closing_cash", ("opening_cash", "net_increase_in_cash", "fx_effect_on_cash"),
                  "opening cash + net change + exchange effect = closing cash", checks, name)


def _show(f: StatementFigure) -> str:
    return f"{f.current} / {f.prior} {f.unit} (p{f.page})"
