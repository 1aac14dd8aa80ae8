"""Extract the three financial statements from a PDF with pdfplumber.

Rows are rebuilt from words (label words followed by amount words), so the same
code reads one-statement-per-page tables (layout A), side-by-side T-account
balance sheets and pages shared by two statements (layout B). Labels are mapped
to canonical keys through config/chart_of_accounts.yaml, the same file the
renderer prints from.
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

DEFAULT_CHART_PATH = Path(__file__).resolve().parents[2] / "config" / "chart_of_accounts.yaml"
StatementName = Literal["balance_sheet", "income_statement", "cash_flow"]
UNIT_MULTIPLIERS: dict[str, Decimal] = {"元": Decimal(1), "万元": Decimal(10000)}


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


class ChartOfAccounts(_Frozen):
    version: int
    statements: dict[StatementName, StatementDef]
    accounts: dict[str, Account]
    _index: dict[str, list[str]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, __context: Any) -> None:
        # normalised label -> canonical keys (several statements may share a label)
        for key, acc in self.accounts.items():
            for name in (acc.label, *acc.synonyms, *acc.synonyms_en):
                keys = self._index.setdefault(normalize_label(name), [])
                if key not in keys:
                    keys.append(key)

    def lookup(self, label: str, statement: str | None = None) -> str | None:
        """Canonical key for a printed label, restricted to `statement` when given."""
        for key in self._index.get(normalize_label(label), []):
            if statement is None or self.accounts[key].statement == statement:
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
_WIDTH = str.maketrans({"（": "(", "）": ")", "：": ":", "　": ""})


def normalize_label(label: str) -> str:
    """Label as compared: no spaces, ordinal / 加减其中 prefixes or 填列 remarks; half-width."""
    text = re.sub(r"\s+", "", label)
    text = _REMARK.sub("", text)
    text = _PREFIX.sub("", text)
    return text.translate(_WIDTH).rstrip(":").lower()


# --------------------------------------------------------------------------- extraction
@dataclass(frozen=True)
class StatementFigure:
    statement: str
    canonical: str | None
    label: str
    current: Decimal
    prior: Decimal | None
    unit: str
    multiplier: Decimal
    current_yuan: Decimal
    prior_yuan: Decimal | None
    page: int
    bbox: tuple[float, float, float, float]


@dataclass(frozen=True)
class StatementExtraction:
    period_end: date | None
    entity: str | None
    unit: str | None
    figures: list[StatementFigure] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)

    def values(self, statement: str | None = None) -> dict[str, tuple[Decimal, Decimal | None]]:
        """canonical key -> (current_yuan, prior_yuan); first occurrence wins."""
        out: dict[str, tuple[Decimal, Decimal | None]] = {}
        for f in self.figures:
            if f.canonical and (statement is None or f.statement == statement):
                out.setdefault(f.canonical, (f.current_yuan, f.prior_yuan))
        return out


_AMOUNT = re.compile(r"^(?:\(-?[\d,]*\d\.\d{1,2}\)|[-－]?[\d,]*\d\.\d{1,2}|[-－—–]{1,2})$")
_LINE_NO = re.compile(r"^\d{1,3}$")
_UNIT = re.compile(r"单位[:：]\s*(?:人民币)?\s*(万元|元)")
_DATE_CN = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_DATE_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_ENTITY = re.compile(r"编制单位[:：]\s*(\S+)")
_LABEL_GAP = 12.0  # pt: a wider gap between label words starts another item (T-accounts)


def parse_amount(text: str) -> Decimal | None:
    """'1,234.50' / '-1,234.50' / '(1,234.50)' -> Decimal; dashes mean zero."""
    t = text.strip().replace("－", "-")
    if t and set(t) <= set("-—–"):
        return Decimal(0)
    negative = t.startswith("(") and t.endswith(")")
    t = t.strip("()").replace(",", "")
    try:
        value = Decimal(t)
    except InvalidOperation:
        return None
    return -value if negative else value


def extract_statement(data: bytes, chart: ChartOfAccounts) -> StatementExtraction:
    """Read every statement row from a PDF; figures are in order of appearance."""
    titles = chart.titles()
    figures: list[StatementFigure] = []
    pages: list[int] = []
    unit: str | None = None
    doc_unit: str | None = None
    period_end: date | None = None
    entity: str | None = None
    section: str | None = None
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        for number, page in enumerate(pdf.pages, start=1):
            try:
                rows = _rows(page.extract_words(x_tolerance=2, y_tolerance=2))
            finally:
                page.close()
            for row in rows:
                text = "".join(w["text"] for w in row)
                if (found := _UNIT.search(text)) is not None:
                    unit = found.group(1)
                    doc_unit = doc_unit or unit
                title = _title_of(row, titles)
                section = title or section
                if section is None:
                    continue  # text before the first statement title (cover, notes)
                if period_end is None:
                    period_end = _find_date(text)
                if entity is None and (m := _ENTITY.search(" ".join(w["text"] for w in row))):
                    entity = m.group(1)
                if title is not None:
                    continue
                for label_words, amounts in _items(row):
                    figure = _figure(label_words, amounts, section, unit or "元", number, chart)
                    if figure is not None:
                        figures.append(figure)
                        if number not in pages:
                            pages.append(number)
    return StatementExtraction(period_end, entity, doc_unit, figures, pages)


def _rows(words: list[dict]) -> list[list[dict]]:
    """Group words into visual rows by their top coordinate, each sorted left to right."""
    rows: list[list[dict]] = []
    for w in sorted(words, key=lambda w: (round(w["top"]), w["x0"])):
        if rows and abs(rows[-1][0]["top"] - w["top"]) <= 3:
            rows[-1].append(w)
        else:
            rows.append([w])
    return [sorted(r, key=lambda w: w["x0"]) for r in rows]


def _title_of(row: list[dict], titles: dict[str, list[str]]) -> str | None:
    """Statement name when the row is a title line (a short word containing a title)."""
    for w in row:
        text = w["text"].replace(" ", "")
        for name, names in titles.items():
            if any(t in text and len(text) <= len(t) + 8 for t in names) and len(row) <= 4:
                return name
    return None


def _find_date(text: str) -> date | None:
    for pattern in (_DATE_CN, _DATE_ISO):
        if (m := pattern.search(text)) is not None:
            try:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                return None
    return None


def _items(row: list[dict]) -> list[tuple[list[dict], list[dict]]]:
    """Split a row into (label words, amount words) items; 行次 numbers are dropped."""
    items: list[tuple[list[dict], list[dict]]] = []
    for w in row:
        text = w["text"]
        if _AMOUNT.match(text):
            if items:
                items[-1][1].append(w)
        elif _LINE_NO.match(text) and items:
            continue
        elif items and not items[-1][1] and w["x0"] - items[-1][0][-1]["x1"] <= _LABEL_GAP:
            items[-1][0].append(w)
        else:
            items.append(([w], []))
    return [(label, amounts) for label, amounts in items if amounts]


def _figure(
    label_words: list[dict], amounts: list[dict], section: str, unit: str, page: int,
    chart: ChartOfAccounts,
) -> StatementFigure | None:
    label = "".join(w["text"] for w in label_words)
    values = [parse_amount(w["text"]) for w in amounts[:2]]
    if values[0] is None:
        return None
    current, prior = values[0], values[1] if len(values) > 1 else None
    mult = UNIT_MULTIPLIERS[unit]
    used = label_words + amounts[:2]
    bbox = (
        min(w["x0"] for w in used), min(w["top"] for w in used),
        max(w["x1"] for w in used), max(w["bottom"] for w in used),
    )
    return StatementFigure(
        statement=section,
        canonical=chart.lookup(label, section),
        label=label,
        current=current,
        prior=prior,
        unit=unit,
        multiplier=mult,
        current_yuan=current * mult,
        prior_yuan=None if prior is None else prior * mult,
        page=page,
        bbox=tuple(round(v, 2) for v in bbox),  # type: ignore[arg-type]
    )
