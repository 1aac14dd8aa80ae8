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

FIGURE_COLUMNS = ["sha256", "borrower_id", "period_end", "statement", "canonical", "label", "unit", "multiplier",
                  "current", "prior", "current_cents", "prior_cents", "page", "bbox"]
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
                "statement": f.statement, "canonical": f.canonical, "label": f.label, "unit": f.unit,
                "multiplier": str(f.multiplier), "current": str(f.current),
                "prior": None if f.prior is None else str(f.prior),
                "current_cents": to_cents(f.current_yuan),
                "prior_cents": None if f.prior_yuan is None else to_cents(f.prior_yuan),
                "page": f.page, "bbox": json.dumps([round(v, 2) for v in f.bbox]),
            })
        progress(f"{doc['file_name']}: {len(extraction.figures)} figures on pages {extraction.pages}")
    frame = pd.DataFrame(rows, columns=FIGURE_COLUMNS)
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
    wanted = figures[figures["canonical"].isin(["total_assets", "total_liabilities", "equity"])]
    table = wanted.pivot_table(index="sha256", columns="canonical", values="current_cents", aggfunc="first")
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
