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
                  "multiplier", "currency", "current", "prior", "current_cents", "prior_cents", "page", "bbox",
                  "status", "unit_source", "needs_review", "failed_identity"]
# status: checked (an identity of its statement holds with it), derived (not printed: computed, e.g. total
# liabilities = total liabilities and equity − equity) or unchecked (printed, no identity could test it);
# unit_source: where its unit was read ("p13: in thousands"). needs_review / failed_identity belong to the
# document: one whose identities fail whatever reading is tried publishes no figure (plugins.documents.
# statements), so every published row says False / empty, and the document is listed in `held_for_review`.
REVIEW_COLUMNS = ["sha256", "borrower_id", "file_name", "period_end", "failed_identity", "figures_withheld"]
TERM_COLUMNS = ["sha256", "contract_id", "field", "value", "page", "bbox", "printed", "read_by", "confidence", "engine",
                "needs_review"]
# read_by: "text_layer" (pdfplumber reads the printed text; confidence and engine empty) or "ocr" (a scan read by
# the OCR extractor: confidence is the engine's for the line the term was read from, engine its name and
# version); needs_review: read by OCR with less than ocr.min_confidence, to be checked against the scan.
RECONCILED_TERMS = {"principal": "principal", "annual_rate": "annual_rate", "start_date": "start_date",
                    "maturity_date": "original_maturity_date", "term_months": "term_months"}


def statement_figures(documents: Iterable[tuple[dict, bytes]], chart: ChartOfAccounts,
                      progress: Callable[[str], None] = lambda m: None, parent_company: bool = False,
                      held_for_review: list[dict] | None = None) -> pd.DataFrame:
    """One row per printed line item of every statement document (consolidated only where a report prints
    consolidated statements, unless `parent_company`), with its status and unit source. A document flagged
    needs_review publishes no row; it is appended to `held_for_review` (REVIEW_COLUMNS) with its failing
    identities."""
    rows = []
    for doc, data in documents:
        extraction = extract_statement(data, chart, parent_company=parent_company)
        failed = "; ".join(extraction.needs_review) or None
        if failed and held_for_review is not None:
            held_for_review.append({
                "sha256": doc["sha256"], "borrower_id": doc["borrower_id"], "file_name": doc.get("file_name"),
                "period_end": extraction.period_end.isoformat() if extraction.period_end else None,
                "failed_identity": failed, "figures_withheld": len(extraction.withheld)})
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
                "status": f.status, "unit_source": f.unit_source, "needs_review": bool(failed),
                "failed_identity": failed,
            })
        progress(f"{doc['file_name']}: {len(extraction.figures)} figures on pages {extraction.pages}"
                 + (f"; needs_review, withheld: {failed}" if failed else ""))
    frame = pd.DataFrame(rows, columns=FIGURE_COLUMNS)
    frame["needs_review"] = frame["needs_review"].astype(bool)
    frame["current_cents"] = frame["current_cents"].astype("Int64")
    frame["prior_cents"] = frame["prior_cents"].astype("Int64")
    return frame


def contract_terms(documents: Iterable[tuple[dict, bytes]],
                   progress: Callable[[str], None] = lambda m: None, ocr=None) -> pd.DataFrame:
    """Long format: one row per extracted term of every contract, with where it was printed.

    A document ingest archived as read_by "ocr" (image-only) is read by the OCR extractor of `ocr` (the
    documents.yaml ocr section) when it is enabled and installed; otherwise it yields no terms, and says why."""
    rows = []
    for doc, data in documents:
        read_by, engine = ("ocr" if doc.get("read_by") == "ocr" else "text_layer"), None
        if read_by == "ocr":
            from plugins.documents.ocr import read_scan_contract

            if ocr is None or not ocr.enabled:
                progress(f"{doc['file_name']}: image-only and OCR is off (ocr.enabled: false): no terms read")
                continue
            extraction, engine = read_scan_contract(data, ocr)
            if extraction is None:
                progress(f"{doc['file_name']}: image-only: no terms read. {engine}")
                continue
        else:
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
                "read_by": read_by, "engine": engine,
                "confidence": getattr(where, "confidence", None) if read_by == "ocr" else None,
                "needs_review": read_by == "ocr" and where is not None and where.confidence < ocr.min_confidence,
            })
        progress(f"{doc['file_name']}: contract {extraction.contract_id}"
                 + (f" (OCR by {engine}: {len(extraction.warnings)} warning(s))" if read_by == "ocr" else ""))
    frame = pd.DataFrame(rows, columns=TERM_COLUMNS)
    frame["page"] = frame["page"].astype("Int64")
    frame["confidence"] = frame["confidence"].astype("Float64")
    frame["needs_review"] = frame["needs_review"].astype(bool)
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
    """Terms read from a signed contract that differ from the core system's record, with both values, and how
    the term was read (read_by; needs_review: an OCR reading below ocr.min_confidence may be a misread)."""
    book = loans.set_index("contract_id")
    rows = []
    for row in terms[terms["field"].isin(list(RECONCILED_TERMS))].itertuples(index=False):
        how = {"read_by": getattr(row, "read_by", None) or "text_layer",
               "needs_review": bool(getattr(row, "needs_review", False))}
        if row.contract_id not in book.index:
            rows.append({"contract_id": row.contract_id, "field": "contract_id", "document": row.contract_id,
                         "loan_book": None, "sha256": row.sha256, "page": row.page, **how})
            continue
        recorded = book.at[row.contract_id, RECONCILED_TERMS[row.field]]
        if not _same(row.field, row.value, recorded):
            rows.append({"contract_id": row.contract_id, "field": row.field, "document": row.value,
                         "loan_book": recorded, "sha256": row.sha256, "page": row.page, **how})
    return pd.DataFrame(rows, columns=["contract_id", "field", "document", "loan_book", "sha256", "page", "read_by",
                                       "needs_review"])


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


# ------------------------------------------------------------------ previous filing
PREVIOUS_FILING_COLUMNS = ["sha256", "borrower_id", "period_end", "statement", "scope", "canonical", "label", "page",
                           "prior_cents", "previous_sha256", "previous_period_end", "previous_filed_month",
                           "previous_page", "previous_current_cents", "difference_cents", "tolerance_cents",
                           "consistent"]
LATEST_FILING = "9999-99"  # filed_month of the statements being checked: they are the latest filed


def comparable_period(statement: str, period_end: date, fiscal_year_end: str = "12-31") -> date:
    """The period end whose current column a statement's prior column restates.

    Balance sheet: the prior column (年初 / 上年年末) is the last fiscal year end before the period end.
    Income and cash-flow statements: the prior column (上年同期, year to date) is the same period a year
    before, printed as the current column of that period's filing.
    """
    if statement == "balance_sheet":
        month, day = (int(v) for v in fiscal_year_end.split("-"))
        year_end = _on(period_end.year, month, day)
        return year_end if year_end < period_end else _on(period_end.year - 1, month, day)
    return _on(period_end.year - 1, period_end.month, period_end.day)


def _on(year: int, month: int, day: int) -> date:
    """date(year, month, day), or the month's last day when it has fewer days (29 February)."""
    while True:
        try:
            return date(year, month, day)
        except ValueError:
            day -= 1


def previous_filing_comparisons(figures: pd.DataFrame, earlier: pd.DataFrame,
                                fiscal_year_end: str = "12-31") -> pd.DataFrame:
    """Each prior-period figure of this month's statements beside the current figure of the borrower's
    earlier filing for that period, when one was extracted (this month or in `earlier`).

    Compared per canonical key, statement and scope (consolidated with consolidated, ...). Of several filings
    for the same period the latest filed wins (a resubmission corrects the first). Two figures printed in
    different units agree within half the coarser unit's last printed digit; in the same unit, exactly.
    """
    rows: list[dict] = []
    if figures.empty:
        return pd.DataFrame(rows, columns=PREVIOUS_FILING_COLUMNS)
    this = _chosen(figures.assign(filed_month=LATEST_FILING))
    pool = this if earlier is None or earlier.empty else pd.concat([_chosen(earlier), this], ignore_index=True)
    pool = pool[pool["current_cents"].notna()]
    filings = {key: group for key, group in pool.groupby(["borrower_id", "period_end", "statement", "scope"], sort=False)}
    for row in this[this["prior_cents"].notna()].itertuples(index=False):
        target = comparable_period(row.statement, date.fromisoformat(row.period_end), fiscal_year_end).isoformat()
        candidates = filings.get((row.borrower_id, target, row.statement, row.scope))
        if candidates is None:
            continue
        candidates = candidates[candidates["sha256"] != row.sha256]
        if candidates.empty:
            continue
        latest = candidates.sort_values("filed_month", kind="stable")["filed_month"].iloc[-1]
        sha = candidates[candidates["filed_month"] == latest]["sha256"].iloc[-1]
        match = candidates[(candidates["sha256"] == sha) & (candidates["canonical"] == row.canonical)]
        if match.empty:
            continue
        before = match.iloc[0]
        tolerance = max(_resolution_cents(row.prior, row.multiplier),
                        _resolution_cents(before["current"], before["multiplier"])) // 2
        if _resolution_cents(row.prior, row.multiplier) == _resolution_cents(before["current"], before["multiplier"]):
            tolerance = 0  # printed alike: equal to the digit
        difference = int(row.prior_cents) - int(before["current_cents"])
        rows.append({
            "sha256": row.sha256, "borrower_id": row.borrower_id, "period_end": row.period_end,
            "statement": row.statement, "scope": row.scope, "canonical": row.canonical, "label": row.label,
            "page": row.page, "prior_cents": int(row.prior_cents), "previous_sha256": sha,
            "previous_period_end": target,
            "previous_filed_month": None if latest == LATEST_FILING else latest,
            "previous_page": int(before["page"]), "previous_current_cents": int(before["current_cents"]),
            "difference_cents": difference, "tolerance_cents": tolerance, "consistent": abs(difference) <= tolerance,
        })
    frame = pd.DataFrame(rows, columns=PREVIOUS_FILING_COLUMNS)
    return frame.sort_values(["borrower_id", "period_end", "sha256"], kind="stable").reset_index(drop=True)


def previous_filing_breaks(figures: pd.DataFrame, earlier: pd.DataFrame, fiscal_year_end: str = "12-31") -> pd.DataFrame:
    """Prior-period figures that differ from the earlier filing's current figure (see previous_filing_comparisons)."""
    compared = previous_filing_comparisons(figures, earlier, fiscal_year_end)
    return compared[~compared["consistent"].astype(bool)].reset_index(drop=True)


def _chosen(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per statement document, statement, scope and canonical key: the first printed with an amount
    (a line printed blank is nil), as StatementExtraction.figure chooses."""
    usable = frame.dropna(subset=["sha256", "borrower_id", "period_end", "canonical"]).copy()
    if "scope" not in usable:
        usable["scope"] = "entity"
    if "filed_month" not in usable:
        usable["filed_month"] = LATEST_FILING
    usable["_blank"] = usable["current_cents"].isna() & usable["prior_cents"].isna()
    usable["_order"] = range(len(usable))
    usable = usable.sort_values(["_blank", "_order"], kind="stable")
    chosen = usable.drop_duplicates(["sha256", "statement", "scope", "canonical"], keep="first")
    return chosen.sort_values("_order").drop(columns=["_blank", "_order"]).reset_index(drop=True)


def _resolution_cents(printed, multiplier) -> int:
    """Cents in one unit of the last digit printed: 1 for 元 with 2 decimals, 10 000 for 万元 with 2."""
    if printed is None or (not isinstance(printed, str) and pd.isna(printed)):
        return 1
    text = str(printed)
    decimals = len(text.split(".")[1]) if "." in text else 0
    return max(1, int(Decimal(str(multiplier)) * 100 / Decimal(10) ** decimals))
