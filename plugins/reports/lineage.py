"""Figure lineage: the loans behind a figure of a report, and for each the documents and pages its facts came
from (`postloan trace g11 2026Q3 ROW COLUMN`).

A G11 figure is a sum over the loans of its row (plugins/reports/g11.py row_members); each loan's facts come
from its contract (terms extracted with their page, contract_terms_extracted) and its borrower's latest
financial statements (figures with their page, borrower_statements). No Dagster import, no environment:
the tables are arguments.
"""
from __future__ import annotations

from decimal import Decimal

import pandas as pd

from plugins.money import yuan
from plugins.reports.g11 import TIER_NAMES, row_members, yuan_to_wan

# G11 columns: A 贷款余额, B 已计提贷款损失准备, C 笔数 (the workbook's column letters)
G11_COLUMNS = {"A": ("贷款余额", "balance_cents"), "B": ("已计提贷款损失准备", "booked_provision_cents"),
               "C": ("笔数", None)}


class LineageError(ValueError):
    """The row or column asked for is not on the form."""


def g11_figure_loans(book: pd.DataFrame, row_code: str, column: str) -> tuple[str, Decimal | int, pd.DataFrame]:
    """(column label, the figure as the return shows it, the loans behind it with each one's contribution)."""
    members = row_members(book)
    if row_code not in members:
        raise LineageError(f"G11 has no row {row_code!r}; rows: {', '.join(members)}")
    column = column.upper()
    if column not in G11_COLUMNS:
        raise LineageError(f"G11 has no column {column!r}; columns: "
                           + ", ".join(f"{k} {v[0]}" for k, v in G11_COLUMNS.items()))
    label, cents_column = G11_COLUMNS[column]
    loans = book[members[row_code].to_numpy()].sort_values("contract_id")
    if cents_column is None:
        figure: Decimal | int = len(loans)
        contribution = [1] * len(loans)
    else:
        total = int(loans[cents_column].astype("int64").sum())
        figure = yuan_to_wan(yuan(total))
        contribution = [str(yuan(int(c))) for c in loans[cents_column]]
    out = pd.DataFrame({"contract_id": loans["contract_id"].astype(str),
                        "borrower_id": loans["borrower_id"].astype(str),
                        "tier": [TIER_NAMES[int(t)] for t in loans["tier"]],
                        "contribution": contribution}).reset_index(drop=True)
    return label, figure, out


def contract_sources(documents: list[dict], terms: pd.DataFrame | None) -> list[dict]:
    """A contract's archived documents, each with the page of every term read from it."""
    out = []
    for doc in documents:
        pages = {}
        if terms is not None and len(terms):
            mine = terms[terms["sha256"] == doc["sha256"]]
            pages = {str(f): int(p) for f, p in zip(mine["field"], mine["page"]) if pd.notna(p)}
        out.append({**doc, "pages": pages})
    return out


def statement_sources(borrower_id: str, figures: pd.DataFrame | None) -> list[dict]:
    """The borrower's latest statements (borrower_statements figures): per document the page of each figure."""
    if figures is None or not len(figures):
        return []
    mine = figures[figures["borrower_id"].astype(str) == borrower_id]
    out = []
    for sha, rows in mine.groupby("sha256", sort=True):
        out.append({"sha256": sha, "class": "financial_statement", "period_end": str(rows["period_end"].iloc[0]),
                    "pages": {str(c): int(p) for c, p in zip(rows["canonical"], rows["page"]) if pd.notna(p)}})
    return out
