"""The portfolio's regulatory ratios month by month, for the management report's trend chart."""
from __future__ import annotations

import pandas as pd

from plugins.config import Provisioning
from plugins.provisioning import indicators

TREND_COLUMNS = ["period", "loans", "balance_cents", "npl_cents", "allowance_cents", "npl_ratio",
                 "provision_coverage", "loan_provision_ratio"]


def previous_months(period: str, count: int) -> list[str]:
    """The `count` months before `period` ("YYYY-MM"), oldest first."""
    year, month = int(period[:4]), int(period[5:7])
    index = year * 12 + month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count, index)]


def trend_books(stored: dict[str, pd.DataFrame], period: str, count: int) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The provisioned books of `period` and of its `count` previous months found in `stored` ({month: book},
    the loan_provisions materialized), and the previous months missing (never run: left out of the trend,
    not rebuilt). `period` itself must be there."""
    if period not in stored:
        raise ValueError(f"loan_provisions has not been materialized for {period}: run that partition first")
    months = previous_months(period, count)
    books = {month: stored[month] for month in [*months, period] if month in stored}
    return books, [month for month in months if month not in stored]


def trend_point(period: str, book: pd.DataFrame, config: Provisioning) -> dict:
    """One month's figures from its provisioned book (booked provisions), ratios as Decimal fractions."""
    result = indicators(book, book["booked_provision_cents"], config)
    return {"period": period, "loans": result.loans, "balance_cents": result.balance_cents,
            "npl_cents": result.npl_cents, "allowance_cents": result.allowance_cents,
            "npl_ratio": result.npl_ratio, "provision_coverage": result.provision_coverage,
            "loan_provision_ratio": result.loan_provision_ratio}


def trend_frame(books: dict[str, pd.DataFrame], config: Provisioning) -> pd.DataFrame:
    """Months in order with their figures; months without a book are simply absent (not zero)."""
    rows = [trend_point(period, books[period], config) for period in sorted(books)]
    return pd.DataFrame(rows, columns=TREND_COLUMNS)


def trend_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Decimals as strings, for storage (Parquet has no Decimal of arbitrary scale) and manifests."""
    return frame.astype({c: str for c in ("npl_ratio", "provision_coverage", "loan_provision_ratio")}).replace("None", "")
