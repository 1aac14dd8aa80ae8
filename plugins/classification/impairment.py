"""Individually assessed impairment, delivered by the lender: the inputs of the impairment floors.

The rules credit_impaired, impaired_ecl_doubtful, impaired_ecl_loss and
borrower_in_liquidation look at LoanFacts.credit_impaired, ecl_ratio and
borrower_in_liquidation. They come from the optional inbox table
`core/YYYY-MM/impairment.csv`, one row per individually assessed contract
(IMPAIRMENT_COLUMNS):

- credit_impaired: true | false, the credit committee's judgement (IFRS 9 / CAS 22
  credit-impaired, stage 3);
- borrower_in_liquidation: true | false; bankruptcy liquidation is a fact of the
  borrower, so it applies to every claim of that borrower in the book;
- assessed_loss_ratio: the individually assessed expected credit loss as a share
  of the book balance (0–1), or empty when not assessed; it is the loan's
  ecl_ratio for the rules, and the ECL booked for the loan (approach "individual");
- assessed_by, assessed_on: who assessed it and when (an assessment dated after
  the period end is not yet known at it and is ignored).

Why not the model ECL of the pipeline itself: the model ECL is measured on the
classified book (stage and PD depend on the tier), so feeding it back into the
classification is a cycle. Dagster rejects a dependency of loan_classification on
the previous month's loan_provisions even through a previous-partition mapping
(CircularDependencyError: assets may not depend on each other in both directions),
and under the general approach a stage 3 loan's model ECL ratio is its LGD, at most
the unsecured LGD (45%), below the 50% / 90% thresholds anyway. The individual
assessment is what a lender's credit committee delivers for large impaired
exposures, and it is an input: no cycle, nothing read behind the asset graph.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

import pandas as pd

from plugins.classification.rules import LoanFacts

IMPAIRMENT_COLUMNS = ("contract_id", "credit_impaired", "borrower_in_liquidation", "assessed_loss_ratio",
                      "assessed_by", "assessed_on")
_FLAGS = {"true": True, "false": False}


@dataclass(frozen=True)
class Assessment:
    contract_id: str
    credit_impaired: bool
    borrower_in_liquidation: bool
    assessed_loss_ratio: Decimal | None
    assessed_by: str
    assessed_on: date


def _flag(text: str, column: str, row_no: int) -> bool:
    value = str(text).strip().lower()
    if value not in _FLAGS:
        raise ValueError(f"impairment.csv row {row_no}: {column} {text!r} is not true or false")
    return _FLAGS[value]


def read_impairment(frame: pd.DataFrame | None, as_of: date) -> dict[str, Assessment] | None:
    """contract_id → its latest assessment dated on or before `as_of`; None when the table was not delivered."""
    if frame is None:
        return None
    missing = [c for c in IMPAIRMENT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"impairment.csv lacks columns: {', '.join(missing)}")
    found: dict[str, Assessment] = {}
    for row_no, row in enumerate(frame[list(IMPAIRMENT_COLUMNS)].itertuples(index=False), start=1):
        try:
            on = date.fromisoformat(str(row.assessed_on).strip())
        except ValueError:
            raise ValueError(f"impairment.csv row {row_no}: assessed_on {row.assessed_on!r} is not a date") from None
        ratio = None
        if str(row.assessed_loss_ratio).strip():
            try:
                ratio = Decimal(str(row.assessed_loss_ratio).strip())
            except InvalidOperation:
                raise ValueError(f"impairment.csv row {row_no}: assessed_loss_ratio {row.assessed_loss_ratio!r} "
                                 "is not a number") from None
            if not Decimal(0) <= ratio <= Decimal(1):
                raise ValueError(f"impairment.csv row {row_no}: assessed_loss_ratio {ratio} is not within 0–1")
        if not str(row.assessed_by).strip():
            raise ValueError(f"impairment.csv row {row_no}: assessed_by is empty (who assessed it?)")
        assessment = Assessment(str(row.contract_id), _flag(row.credit_impaired, "credit_impaired", row_no),
                                _flag(row.borrower_in_liquidation, "borrower_in_liquidation", row_no), ratio,
                                str(row.assessed_by).strip(), on)
        previous = found.get(assessment.contract_id)
        if on <= as_of and (previous is None or on >= previous.assessed_on):
            found[assessment.contract_id] = assessment
    return found
