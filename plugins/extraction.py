"""Figures out of archived documents, as tables with provenance, and their cross-checks.

Every row names the archived document's SHA-256, the page and the bounding box
it was read from, and the text as printed.
"""
from __future__ import annotations

import json
from dataclasses import fields
from datetime import date
from decimal import Decimal
from typing import Callable, Iterable

import pandas as pd

from plugins.documents import ChartOfAccounts, extract_contract, extract_statement
from plugins.money import to_cents

FIGURE_COLUMNS = ["sha256", "borrower_id", "period_end", "statement", "scope", "canonical", "label", "unit",
                  "multiplier", "currency", "current", "prior", "current_cents", "prior_cents", "page", "bbox"]
TERM_COLUMNS = ["sha256", "contract_id", "field", "value", "page", "bbox", "printed"]
RECONCILED_TERMS = {"principal": "principal", "annual_rate": "annual_rate", "start_date": "start_date",
                    "maturity_date": "original_maturity_date", "term_months": "term_months"}


def statement_figures(documents: Iterable[tuple[dict, bytes]], chart: ChartOfAccounts,
                      progress: Callable[[str], None] = lambda m: None) -> pd.DataFrame:
    """One row per printed line item of every statement document."""
    rows = []
    for doc, data in documents:
        extraction = extract_statement(data, chart)
        for f in extraction.figures:
            rows.append({
                "sha256": doc["sha256"], "borrower_id": doc["borrower_id"],
                "period_end": extraction.period_end.isoformat() if extraction.period_end else None,
                "statement": f.statement, "scope": f.scope, "canonical": f.canonical, "label": f.label,
                "unit": f.unit, "multiplier": str(f.multiplier), "currency": f.currency,
                "current": None if f.current is None else str(f.current),
                "prior": None if f.prior is None else str(f.prior),
                "current_cents": None if f.current_yuan is None else to_cents(f.current_yuan),
                "prior_cents": None if f.prior_yuan is None else to_cents(f.prior_yuan),
                "page": f.page, "bbox": json.dumps([round(v, 2) for v in f.bbox]),
            })
        progress(f"{doc['file_name']}: {len(extraction.figures)} figures on pages {extraction.pages}")
    frame = pd.DataFrame(rows, columns=FIGURE_COLUMNS)
    frame["current_cents"] = frame["current_cents"].astype("Int64")
    frame["prior_cents"] = frame["prior_cents"].astype("Int64")
    return frame


def contract_terms(documents: Iterable[tuple[dict, bytes]],
                   progress: Callable[[str], None] = lambda m: None) -> pd.DataFrame:
    """Long format: one row per extracted term of every contract, with where it was printed."""
    rows = []
    for doc, data in documents:
        extraction = extract_contract(data)
        for f in fields(extraction):
            if f.name in ("provenance", "warnings"):
                continue
            value = getattr(extraction, f.name)
            if value in (None, [], ""):
                continue
            where = extraction.provenance.get(f.name)
            rows.append({
                "sha256": doc["sha256"], "contract_id": extraction.contract_id or doc.get("contract_id"),
                "field": f.name, "value": _text(value),
                "page": where.page if where else None,
                "bbox": json.dumps([round(v, 2) for v in where.bbox]) if where else None,
                "printed": where.text if where else None,
            })
        progress(f"{doc['file_name']}: contract {extraction.contract_id}")
    frame = pd.DataFrame(rows, columns=TERM_COLUMNS)
    frame["page"] = frame["page"].astype("Int64")
    return frame


def _text(value) -> str:
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def balance_sheet_breaks(figures: pd.DataFrame) -> pd.DataFrame:
    """Statements whose total assets differ from total liabilities plus equity (current period)."""
    wanted = figures[figures["canonical"].isin(["total_assets", "total_liabilities", "equity"])
                     & figures["current_cents"].notna()]
    index = ["sha256", "scope"] if "scope" in figures else "sha256"  # consolidated and parent checked apart
    table = wanted.pivot_table(index=index, columns="canonical", values="current_cents", aggfunc="first")
    for column in ("total_assets", "total_liabilities", "equity"):
        if column not in table:
            table[column] = pd.NA
    table = table.dropna()
    table["difference_cents"] = table["total_assets"] - table["total_liabilities"] - table["equity"]
    return table[table["difference_cents"] != 0].reset_index()


def contract_mismatches(terms: pd.DataFrame, loans: pd.DataFrame) -> pd.DataFrame:
    """Terms read from a signed contract that differ from the core system's record, with both values."""
    book = loans.set_index("contract_id")
    rows = []
    for row in terms[terms["field"].isin(list(RECONCILED_TERMS))].itertuples(index=False):
        if row.contract_id not in book.index:
            rows.append({"contract_id": row.contract_id, "field": "contract_id", "document": row.contract_id,
                         "loan_book": None, "sha256": row.sha256, "page": row.page})
            continue
        recorded = book.at[row.contract_id, RECONCILED_TERMS[row.field]]
        if not _same(row.field, row.value, recorded):
            rows.append({"contract_id": row.contract_id, "field": row.field, "document": row.value,
                         "loan_book": recorded, "sha256": row.sha256, "page": row.page})
    return pd.DataFrame(rows, columns=["contract_id", "field", "document", "loan_book", "sha256", "page"])


def _same(field: str, document: str, recorded: str) -> bool:
    if recorded in (None, ""):
        return False
    if field in ("principal", "annual_rate"):
        return Decimal(document) == Decimal(str(recorded))
    if field == "term_months":
        return int(document) == int(recorded)
    return str(document) == str(recorded)


# Subtotals and the items they add up, as canonical keys: checked when the statement prints all of them.
SUBTOTAL_IDENTITIES = {
    "total_assets": ("current_assets", "non_current_assets"),
    "total_liabilities": ("current_liabilities", "non_current_liabilities"),
    "total_liabilities_and_equity": ("total_liabilities", "equity"),
}
# Subtotals whose items are the printed lines above them, back to the previous subtotal (or the top).
LISTED_SUBTOTALS = {"current_assets": None, "non_current_assets": "current_assets",
                    "current_liabilities": "total_assets", "non_current_liabilities": "current_liabilities"}


def subtotal_breaks(figures: pd.DataFrame) -> pd.DataFrame:
    """Statements whose subtotals differ from the sum of their items (current and prior period).

    Two kinds: identities between canonical subtotals (流动资产合计 + 非流动资产合计 = 资产总计 ...),
    and a subtotal against the lines printed above it (其中 sub-items are parts of the line before them,
    so they are left out). A statement that does not print an item is not checked for it.
    """
    columns = ["sha256", "scope", "statement", "subtotal", "period", "printed_cents", "sum_cents",
               "difference_cents", "page"]
    rows = []
    if figures.empty:
        return pd.DataFrame(rows, columns=columns)
    frame = figures.copy()
    if "scope" not in frame:
        frame["scope"] = "entity"
    for (sha, scope), doc in frame[frame["statement"] == "balance_sheet"].groupby(["sha256", "scope"], sort=False):
        doc = doc.reset_index(drop=True)
        keyed = {}
        for row in doc.itertuples(index=False):
            if row.canonical and row.canonical not in keyed:
                keyed[row.canonical] = row
        for period in ("current_cents", "prior_cents"):
            for total, parts in SUBTOTAL_IDENTITIES.items():
                values = [_cents(keyed.get(k), period) for k in (total, *parts)]
                if all(v is not None for v in values) and values[0] != sum(values[1:]):
                    rows.append(_break(sha, scope, total, period, values[0], sum(values[1:]), keyed[total].page))
            for total, previous in LISTED_SUBTOTALS.items():
                found = _listed_sum(doc, total, previous, period)
                if found is not None and found[0] != found[1]:
                    rows.append(_break(sha, scope, total, period, found[0], found[1], keyed[total].page))
    return pd.DataFrame(rows, columns=columns)


def _cents(row, period: str) -> int | None:
    if row is None:
        return None
    value = getattr(row, period)
    return None if value is None or pd.isna(value) else int(value)


def _break(sha: str, scope: str, total: str, period: str, printed: int, summed: int, page) -> dict:
    return {"sha256": sha, "scope": scope, "statement": "balance_sheet", "subtotal": total,
            "period": period.removesuffix("_cents"), "printed_cents": printed, "sum_cents": summed,
            "difference_cents": printed - summed, "page": page}


def _listed_sum(doc: pd.DataFrame, total: str, previous: str | None, period: str) -> tuple[int, int] | None:
    """(printed subtotal, sum of the lines printed between the previous subtotal and it), or None."""
    where = doc.index[doc["canonical"] == total]
    if len(where) == 0:
        return None
    end = int(where[0])
    start = 0
    if previous is not None:
        before = doc.index[(doc["canonical"] == previous) & (doc.index < end)]
        if len(before) == 0:
            return None
        start = int(before[0]) + 1
    items = doc.iloc[start:end]
    printed = _cents(doc.iloc[end], period)
    if not str(doc.iloc[end]["label"]).replace(" ", "").endswith(("合计", "總計", "总计")):
        return None  # IFRS prints a block's total above its items ("Current assets 8 331 413"): not a listed sum
    if printed is None or items.empty:
        return None
    total_x0 = _x0(doc.iloc[end])
    # the other half of a T-account row is not an item of this subtotal
    mine = [r for r in items.itertuples(index=False)
            if _x0(r) is None or total_x0 is None or abs(_x0(r) - total_x0) <= 150]
    indents = [round(_x0(r)) for r in mine if _x0(r) is not None]
    base = max(set(indents), key=indents.count) if indents else None
    total_cents = 0
    for row in mine:
        x0 = _x0(row)
        if str(row.label).replace(" ", "").startswith("其中") or (base is not None and x0 is not None and x0 > base + 8):
            continue  # 其中 and the lines indented under it break down the line above: not items of the subtotal
        total_cents += _cents(row, period) or 0
    return printed, total_cents


def _x0(row) -> float | None:
    bbox = getattr(row, "bbox", None)
    return json.loads(bbox)[0] if isinstance(bbox, str) else None
