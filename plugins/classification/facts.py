"""The facts frame: one row per loan with the columns of LoanFacts, what every rule reads.

Built from the month-end loan book in whole-column operations (no loop per loan),
or from LoanFacts objects (tests, small books).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields
from datetime import date

import numpy as np
import pandas as pd

from plugins.classification.impairment import Assessment
from plugins.classification.rules import LoanFacts

FACT_COLUMNS = [f.name for f in fields(LoanFacts)]
_DATES = ("as_of", "restructured_on", "extended_on")
_OPTIONAL_INTS = ("months_since_first_repayment_after_restructure", "months_observed_at_restructure",
                  "periods_observed_at_restructure", "dpd_before_restructure")
IMPAIRMENT_FRAME_COLUMNS = ["contract_id", "credit_impaired", "borrower_in_liquidation", "assessed_loss_ratio",
                            "assessed_by", "assessed_on"]


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The facts frame's dtypes: datetime64 dates, nullable ints, exact ecl_ratio text, booleans."""
    frame = frame[FACT_COLUMNS].copy()
    for column in _DATES:
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[s]")
    for column in _OPTIONAL_INTS:
        frame[column] = frame[column].astype("Int64")
    for column in ("balance_cents", "dpd", "restructure_count", "repayment_periods_since_restructure"):
        frame[column] = frame[column].astype("int64")
    ratio = frame["ecl_ratio"].to_numpy(dtype=object, copy=True)
    given = ~pd.isna(ratio)
    ratio[~given] = None
    ratio[given] = [str(r) for r in ratio[given]]  # the assessed loans only: few
    frame["ecl_ratio"] = pd.Series(ratio, index=frame.index, dtype=object)
    for column in ("credit_impaired", "borrower_in_liquidation"):
        frame[column] = frame[column].fillna(False).astype(bool)
    frame["observation_met"] = frame["observation_met"].astype("boolean")
    frame["previous_tier"] = frame["previous_tier"].astype("Int64")
    return frame.reset_index(drop=True)


def facts_from_loans(loans: Sequence[LoanFacts]) -> pd.DataFrame:
    rows = [asdict(loan) for loan in loans]
    return _typed(pd.DataFrame(rows, columns=FACT_COLUMNS))


def _months_between(start: pd.Series, end: pd.Timestamp) -> pd.Series:
    """Whole months from each start to `end` (a month not yet complete on its day does not count)."""
    return ((end.year - start.dt.year) * 12 + end.month - start.dt.month - (start.dt.day > end.day).astype(int))


def facts_frame(book: pd.DataFrame, as_of: date, previous_tiers: Mapping[str, int] | None = None) -> pd.DataFrame:
    """The facts of every loan of `book` (loanbook.open_book) at `as_of`, with the tiers reported at the
    previous month end when known."""
    end = pd.Timestamp(as_of)
    start = pd.to_datetime(book["start_date"])
    restructured = pd.to_datetime(book["restructured_on"])
    # A contract issued as a restructuring (重组) is a restructured asset from its start date.
    restructured = restructured.where(restructured.notna(), start.where(book["issuance_type"] == "重组"))
    first_due = pd.to_datetime(book["first_due_in_force"])
    observed = restructured.notna() & first_due.notna() & (first_due <= end)
    months = _months_between(first_due, end).where(observed)
    frame = pd.DataFrame({
        "contract_id": book["contract_id"], "borrower_id": book["borrower_id"],
        "borrower_kind": book["borrower_kind"], "as_of": end, "balance_cents": book["balance_cents"],
        "dpd": book["dpd"], "issuance_type": book["issuance_type"], "restructured_on": restructured,
        "restructure_count": book["restructure_count"],
        "months_since_first_repayment_after_restructure": months,
        # "Two consecutive repayment periods": instalments paid on time and in full, a late one restarts.
        "repayment_periods_since_restructure": book["on_time_periods"].where(restructured.notna(), 0),
        "extended_on": pd.to_datetime(book["extended_on"]), "product": book["product"],
        "months_observed_at_restructure": book["months_observed_at_restructure"],
        "periods_observed_at_restructure": book["periods_observed_at_restructure"],
        "dpd_before_restructure": book["dpd_before_restructure"],
        "ecl_ratio": None, "credit_impaired": False, "borrower_in_liquidation": False,
        "observation_met": book["observation_met"] if "observation_met" in book else None,
        "previous_tier": book["contract_id"].map(previous_tiers) if previous_tiers
        else pd.Series(pd.NA, index=book.index, dtype="Int64"),
    })
    return _typed(frame)


def with_impairment(facts: pd.DataFrame, assessments: Mapping[str, Assessment] | None) -> pd.DataFrame:
    """The facts with each assessment: credit_impaired, ecl_ratio, and liquidation borrower-wide."""
    if not assessments:
        return facts
    facts = facts.copy()
    found = facts["contract_id"].map(assessments)
    assessed = found.notna()
    facts.loc[assessed, "credit_impaired"] = [a.credit_impaired for a in found[assessed]]
    facts.loc[assessed, "ecl_ratio"] = [None if a.assessed_loss_ratio is None else str(a.assessed_loss_ratio)
                                        for a in found[assessed]]
    # Liquidation is a fact of the borrower: every claim of a liquidating borrower in the book.
    liquidating = set(facts.loc[assessed, "borrower_id"][[a.borrower_in_liquidation for a in found[assessed]]])
    facts.loc[facts["borrower_id"].isin(liquidating), "borrower_in_liquidation"] = True
    facts["credit_impaired"] = facts["credit_impaired"].astype(bool)
    return facts


def impairment_columns(facts: pd.DataFrame, assessments: Mapping[str, Assessment] | None) -> pd.DataFrame:
    """Per loan of the book: the impairment facts the rules saw and the assessment they came from."""
    assessed_by = np.full(len(facts), "", dtype=object)
    assessed_on = np.full(len(facts), None, dtype=object)
    if assessments:
        found = facts["contract_id"].map(assessments)
        rows = np.flatnonzero(found.notna().to_numpy())  # the assessed loans only: few
        assessed_by[rows] = [a.assessed_by for a in found.iloc[rows]]
        assessed_on[rows] = [a.assessed_on for a in found.iloc[rows]]
    ratio = facts["ecl_ratio"]
    return pd.DataFrame({
        "contract_id": facts["contract_id"], "credit_impaired": facts["credit_impaired"],
        "borrower_in_liquidation": facts["borrower_in_liquidation"],
        "assessed_loss_ratio": pd.to_numeric(ratio, errors="coerce").astype("float64") if ratio.notna().any()
        else np.full(len(facts), np.nan),
        "assessed_by": assessed_by, "assessed_on": assessed_on,
    }, columns=IMPAIRMENT_FRAME_COLUMNS)
