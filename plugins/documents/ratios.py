"""Financial ratios lenders monitor, per borrower and period, from extracted figures.

Input: a figures frame with columns borrower_id, period_end, canonical, current_cents, prior_cents
(plugins/extraction.statement_figures gives one; when it has a `scope` column the consolidated figure
is used, and within a scope the first printed with an amount). A ratio whose inputs are missing or
whose denominator is zero is left empty (NA) rather than guessed.
"""
from __future__ import annotations

from decimal import Decimal

import pandas as pd

RATIO_COLUMNS = ["borrower_id", "period_end", "debt_to_asset", "current_ratio", "quick_ratio",
                 "interest_coverage", "return_on_assets", "revenue_growth_yoy", "ocf_to_total_debt"]
_SCOPES = {"consolidated": 0, "entity": 1, "parent": 2}


def key_figures(figures: pd.DataFrame) -> pd.DataFrame:
    """One row per borrower, period and canonical key: consolidated first, then the first with an amount."""
    frame = figures.dropna(subset=["canonical"]).copy()
    frame["_scope"] = frame["scope"].map(_SCOPES).fillna(1) if "scope" in frame else 1
    frame["_blank"] = frame["current_cents"].isna() & frame["prior_cents"].isna()
    frame["_order"] = range(len(frame))
    frame = frame.sort_values(["_scope", "_blank", "_order"], kind="stable")
    keep = frame.drop_duplicates(["borrower_id", "period_end", "canonical"], keep="first")
    return keep.drop(columns=["_scope", "_blank", "_order"])


def financial_ratios(figures: pd.DataFrame) -> pd.DataFrame:
    """Debt-to-asset, current, quick, interest coverage, ROA, revenue growth YoY, OCF to total debt."""
    rows = []
    for (borrower, period), group in key_figures(figures).groupby(["borrower_id", "period_end"], sort=True):
        cur = {r.canonical: r.current_cents for r in group.itertuples()}
        pri = {r.canonical: r.prior_cents for r in group.itertuples()}
        rows.append({"borrower_id": borrower, "period_end": period, **ratios_of(cur, pri)})
    return pd.DataFrame(rows, columns=RATIO_COLUMNS)


def ratios_of(cur: dict[str, object], pri: dict[str, object]) -> dict[str, Decimal | None]:
    """The ratios from current-period (and prior-period) amounts in cents, keyed by canonical account."""
    def v(d: dict[str, object], key: str) -> Decimal | None:
        value = d.get(key)
        return None if value is None or pd.isna(value) else Decimal(int(value))

    total_assets, total_liabilities = v(cur, "total_assets"), v(cur, "total_liabilities")
    if total_liabilities is None and total_assets is not None and v(cur, "equity") is not None:
        total_liabilities = total_assets - v(cur, "equity")  # statements that print no total (IFRS)
    current_assets, current_liabilities = v(cur, "current_assets"), v(cur, "current_liabilities")
    inventory = v(cur, "inventory") or Decimal(0)
    debt = _sum(v(cur, "short_term_borrowings"), v(cur, "long_term_borrowings"))
    ebit = _sum(v(cur, "total_profit"), v(cur, "interest_expense")) if v(cur, "total_profit") is not None else None
    average_assets = total_assets if v(pri, "total_assets") is None or total_assets is None \
        else (total_assets + v(pri, "total_assets")) / 2
    return {
        "debt_to_asset": _div(total_liabilities, total_assets),
        "current_ratio": _div(current_assets, current_liabilities),
        "quick_ratio": _div(None if current_assets is None else current_assets - inventory, current_liabilities),
        "interest_coverage": _div(ebit, v(cur, "interest_expense")),
        "return_on_assets": _div(v(cur, "net_profit"), average_assets),
        "revenue_growth_yoy": _growth(v(cur, "revenue"), v(pri, "revenue")),
        "ocf_to_total_debt": _div(v(cur, "net_operating_cash_flow"), debt),
    }


def _sum(*values: Decimal | None) -> Decimal | None:
    present = [x for x in values if x is not None]
    return sum(present, Decimal(0)) if present else None


def _div(numerator: Decimal | None, denominator: Decimal | None) -> Decimal | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return (numerator / denominator).quantize(Decimal("0.0001"))


def _growth(current: Decimal | None, prior: Decimal | None) -> Decimal | None:
    if current is None or prior is None or prior == 0:
        return None
    return ((current - prior) / abs(prior)).quantize(Decimal("0.0001"))
