"""Covenant headroom (DOMAIN.md §4): each borrower's latest extracted ratios against its covenant thresholds.

The covenant the configuration knows is the debt-to-asset ceiling of config/early_warning.yaml
(`signals.debt_to_asset_covenant.threshold`, 0.70): debt-to-asset = total liabilities / total assets of the
borrower's latest statement (consolidated figures first, as the early-warning signal reads them:
plugins.early_warning.signals.latest_figures). Headroom = threshold - ratio, in
fractions; negative headroom is a breach. Equity is shown beside it (negative equity is its own signal).
Only borrowers with a loan on the book and a statement with total assets above zero are listed, tightest
headroom first. The figures are each borrower's latest filing, whenever delivered (the borrower_statements
state: plugins.monitoring.statement_state.latest_filing_figures); each row names the filing (period end,
its documents' sha256 when the figures carry it) and, given `as_of`, its age in months at that date.
"""
from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from plugins.config import EarlyWarning
from plugins.early_warning.signals import filing_of, latest_figures

COVENANT_COLUMNS = ["borrower_id", "borrower_name", "borrower_kind", "period_end", "debt_to_asset", "covenant",
                    "headroom", "breach", "equity_cents", "balance_cents", "filing_sha256", "age_months"]
FOUR = Decimal("0.0001")


def covenant_headroom(figures: pd.DataFrame, book: pd.DataFrame, config: EarlyWarning,
                      as_of: date | None = None) -> pd.DataFrame:
    signal = config.signals.get("debt_to_asset_covenant")
    if signal is None or signal.threshold is None or figures is None or figures.empty:
        return pd.DataFrame(columns=COVENANT_COLUMNS)
    threshold = Decimal(signal.threshold)
    latest = latest_figures(figures)
    values: dict[str, dict[str, int]] = {}
    for r in latest.itertuples(index=False):
        if not pd.isna(r.current_cents):
            values.setdefault(str(r.borrower_id), {})[r.canonical] = int(r.current_cents)
    period = dict(zip(latest["borrower_id"].astype(str), latest["period_end"]))
    filings = {str(b): f for b, f in filing_of(latest, as_of).items()}
    borrowers = book.groupby("borrower_id").agg(borrower_name=("borrower_name", "first"),
                                                borrower_kind=("borrower_kind", "first"),
                                                balance_cents=("balance_cents", "sum"))
    rows = []
    for borrower, now in sorted(values.items()):
        if borrower not in borrowers.index or now.get("total_assets", 0) <= 0 or "total_liabilities" not in now:
            continue
        exact = Decimal(now["total_liabilities"]) / Decimal(now["total_assets"])
        ratio = exact.quantize(FOUR, ROUND_HALF_UP)
        b = borrowers.loc[borrower]
        rows.append((borrower, b["borrower_name"], b["borrower_kind"], str(period[borrower]), ratio, threshold,
                     (threshold - exact).quantize(FOUR, ROUND_HALF_UP), exact > threshold, now.get("equity"),
                     int(b["balance_cents"]), filings[borrower].get("sha256"), filings[borrower].get("age_months")))
    frame = pd.DataFrame(rows, columns=COVENANT_COLUMNS)
    frame["age_months"] = frame["age_months"].astype("Int64")
    return frame.sort_values(["headroom", "borrower_id"], kind="stable").reset_index(drop=True)
