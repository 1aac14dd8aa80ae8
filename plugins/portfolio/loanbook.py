"""The loan book at a period end, from the core system's extracts.

Extract frames arrive as strings (as read from CSV). Days past due are computed
per instalment of the schedule in force (the highest schedule version of each
contract): the oldest instalment due on or before the period end and not fully
paid by then decides.
"""
from __future__ import annotations

import io
from datetime import date, timedelta
from functools import lru_cache

import pandas as pd

from plugins.classification.rules import LoanFacts
from plugins.money import to_cents

EXTRACT_TABLES = ("borrowers", "loans", "schedules", "payments", "collateral", "guarantors")


def read_csv_bytes(data: bytes) -> pd.DataFrame:
    """Core-system CSV as strings; empty cells stay empty strings (not NaN)."""
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8")


@lru_cache(maxsize=65536)
def _text_cents(text: str) -> int:
    # Amounts repeat across instalments and month ends; parse each distinct text once, exactly.
    return to_cents(text) if text else 0


def _cents(column: pd.Series) -> pd.Series:
    return column.map(lambda v: _text_cents(v) if v is not None else 0).astype("int64")


def _dates(column: pd.Series) -> pd.Series:
    return pd.to_datetime(column.replace("", None), format="ISO8601").dt.date


def _on_or_before(days: pd.Series, contract_ids: pd.Series, as_of: date | pd.Series) -> pd.Series:
    """days <= as_of, where as_of is one date or a per-contract date (contract_id → date)."""
    if not isinstance(as_of, pd.Series):
        return days <= as_of
    cutoff = contract_ids.map(as_of)
    known = cutoff.notna()
    within = pd.Series(False, index=days.index)
    within[known] = [d <= c for d, c in zip(days[known], cutoff[known])]
    return within


def instalment_status(schedules: pd.DataFrame, payments: pd.DataFrame, as_of: date | pd.Series) -> pd.DataFrame:
    """Per in-force instalment due by `as_of`: amounts due, paid by `as_of`, and whether settled.

    `as_of` is one date for every contract, or a Series contract_id → date (contracts not in it drop out).
    """
    sched = schedules.copy()
    sched["schedule_version"] = sched["schedule_version"].astype(int)
    in_force = sched.groupby("contract_id")["schedule_version"].transform("max")
    sched = sched[sched["schedule_version"] == in_force].copy()
    sched["due_date"] = _dates(sched["due_date"])
    sched = sched[_on_or_before(sched["due_date"], sched["contract_id"], as_of)]
    sched["principal_due_cents"] = _cents(sched["principal_due"])
    sched["interest_due_cents"] = _cents(sched["interest_due"])

    pay = payments.copy()
    pay["paid_date"] = _dates(pay["paid_date"])
    pay = pay[_on_or_before(pay["paid_date"], pay["contract_id"], as_of)]
    pay["schedule_version"] = pay["schedule_version"].astype(int)
    pay["principal_paid_cents"] = _cents(pay["principal_paid"])
    pay["interest_paid_cents"] = _cents(pay["interest_paid"])
    paid = (pay.groupby(["contract_id", "schedule_version", "instalment_no"], as_index=False)
               [["principal_paid_cents", "interest_paid_cents"]].sum())

    merged = sched.merge(paid, on=["contract_id", "schedule_version", "instalment_no"], how="left")
    for column in ("principal_paid_cents", "interest_paid_cents"):
        merged[column] = merged[column].fillna(0).astype("int64")
    merged["overdue_principal_cents"] = (merged["principal_due_cents"] - merged["principal_paid_cents"]).clip(lower=0)
    merged["overdue_interest_cents"] = (merged["interest_due_cents"] - merged["interest_paid_cents"]).clip(lower=0)
    merged["settled"] = (merged["overdue_principal_cents"] + merged["overdue_interest_cents"]) == 0
    return merged


def days_past_due(schedules: pd.DataFrame, payments: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """contract_id → dpd, overdue principal and interest (cents), settled periods, first due in force."""
    status = instalment_status(schedules, payments, as_of)
    unpaid = status[~status["settled"]]
    oldest = unpaid.groupby("contract_id")["due_date"].min()
    overdue = unpaid.groupby("contract_id")[["overdue_principal_cents", "overdue_interest_cents"]].sum()
    settled = status[status["settled"]].groupby("contract_id").size().rename("settled_periods")
    first_due = status.groupby("contract_id")["due_date"].min().rename("first_due_in_force")
    result = pd.concat([oldest.rename("oldest_unpaid_due"), overdue, settled, first_due], axis=1)
    result["dpd"] = result["oldest_unpaid_due"].map(lambda d: 0 if pd.isna(d) else (as_of - d).days)
    result = result.fillna({"overdue_principal_cents": 0, "overdue_interest_cents": 0, "settled_periods": 0})
    return result.astype({"overdue_principal_cents": "int64", "overdue_interest_cents": "int64",
                          "settled_periods": "int64", "dpd": "int64"})


def _months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month - (1 if end.day < start.day else 0)


def open_book(extract: dict[str, pd.DataFrame], as_of: date) -> pd.DataFrame:
    """One row per loan outstanding at `as_of`, with borrower attributes and delinquency facts."""
    loans = extract["loans"].copy()
    loans["start_date"] = _dates(loans["start_date"])
    loans = loans[loans["start_date"] <= as_of]
    # Rewinding to an earlier date adds back principal repaid since then (for the
    # previous period's tiers); a loan written off since then is not rewound.
    pay = extract["payments"]
    later = pay[_dates(pay["paid_date"]) > as_of]
    repaid_since = _cents(later["principal_paid"]).groupby(later["contract_id"]).sum()
    loans["balance_cents"] = _cents(loans["outstanding_principal"]) + loans["contract_id"].map(repaid_since).fillna(0).astype("int64")
    loans = loans[loans["balance_cents"] > 0]
    borrowers = extract["borrowers"][["borrower_id", "name", "kind", "industry_name"]].rename(
        columns={"name": "borrower_name", "kind": "borrower_kind"})
    book = loans.merge(borrowers, on="borrower_id", how="left", validate="many_to_one")
    dpd = days_past_due(extract["schedules"], extract["payments"], as_of)
    book = book.merge(dpd, left_on="contract_id", right_index=True, how="left")
    book = book.fillna({"dpd": 0, "overdue_principal_cents": 0, "overdue_interest_cents": 0, "settled_periods": 0})
    book["restructured_on"] = _dates(book["restructured_on"])
    book["extended_on"] = _dates(book["extended_on"])
    book["restructure_count"] = (book["restructured_on"].notna().astype(int)
                                 + (book["issuance_type"] == "重组").astype(int))
    book["restructured"] = book["restructure_count"] > 0
    book["extended"] = book["extended_on"].notna()
    book = book.merge(_before_restructuring(extract, book), on="contract_id", how="left")
    columns = ["contract_id", "borrower_id", "borrower_name", "borrower_kind", "product", "issuance_type",
               "industry_code", "industry_name", "region", "start_date", "maturity_date", "balance_cents", "dpd",
               "overdue_principal_cents", "overdue_interest_cents", "settled_periods", "first_due_in_force",
               "restructured_on", "restructure_count", "restructured", "extended_on", "extended",
               "dpd_before_restructure", "months_observed_at_restructure", "periods_observed_at_restructure"]
    return book[columns].astype({"dpd": "int64", "overdue_principal_cents": "int64",
                                 "overdue_interest_cents": "int64", "settled_periods": "int64"}
                                ).sort_values("contract_id", ignore_index=True)


def _before_restructuring(extract: dict[str, pd.DataFrame], book: pd.DataFrame) -> pd.DataFrame:
    """Facts as they stood the day before each restructuring recorded on a contract (restructured_on).

    The schedule before the restructuring is the first version. For a contract that was itself issued as
    a restructuring (重组), its first schedule's repayments are the previous restructuring's observation:
    how many months and settled periods it had run when the contract was restructured again.
    """
    columns = ["contract_id", "dpd_before_restructure", "months_observed_at_restructure",
               "periods_observed_at_restructure"]
    restructured = book[book["restructured_on"].notna()]
    if restructured.empty:
        return pd.DataFrame(columns=columns).astype({c: "Int64" for c in columns[1:]})
    day_before = pd.Series([d - timedelta(days=1) for d in restructured["restructured_on"]],
                           index=restructured["contract_id"].to_numpy())
    schedules, payments = extract["schedules"], extract["payments"]
    first = schedules[schedules["contract_id"].isin(day_before.index)]
    first = first[first["schedule_version"].astype(int) == 1]
    paid = payments[payments["contract_id"].isin(day_before.index)]
    paid = paid[paid["schedule_version"].astype(int) == 1]
    status = instalment_status(first, paid, day_before)  # all contracts at once, each at its own date
    by_contract = {cid: part for cid, part in status.groupby("contract_id")}
    rows = []
    for row in restructured.itertuples(index=False):
        cid, before = row.contract_id, day_before[row.contract_id]
        part = by_contract.get(cid, status.iloc[:0])
        unpaid = part[~part["settled"]]
        dpd = int((before - unpaid["due_date"].min()).days) if len(unpaid) else 0
        months = periods = None
        if row.issuance_type == "重组" and len(part):
            months = _months_between(part["due_date"].min(), before)
            periods = int(part["settled"].sum())
        rows.append({"contract_id": cid, "dpd_before_restructure": dpd,
                     "months_observed_at_restructure": months, "periods_observed_at_restructure": periods})
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({c: "Int64" for c in columns[1:]})


def _int_or_none(value) -> int | None:
    return None if pd.isna(value) else int(value)


def _date_or_none(value) -> date | None:
    # pd.NaT is an instance of date, so test for missing values first.
    return None if pd.isna(value) else value


def loan_facts(book: pd.DataFrame, as_of: date) -> list[LoanFacts]:
    facts = []
    for row in book.itertuples(index=False):
        # A contract issued as a restructuring (重组) is a restructured asset from its start date.
        restructured_on = _date_or_none(row.restructured_on) or (
            _date_or_none(row.start_date) if row.issuance_type == "重组" else None)
        first_due = _date_or_none(row.first_due_in_force)
        months = _months_between(first_due, as_of) if restructured_on and first_due and first_due <= as_of else None
        facts.append(LoanFacts(
            contract_id=row.contract_id, borrower_id=row.borrower_id, borrower_kind=row.borrower_kind,
            as_of=as_of, balance_cents=int(row.balance_cents), dpd=int(row.dpd), issuance_type=row.issuance_type,
            restructured_on=restructured_on, restructure_count=int(row.restructure_count),
            months_since_first_repayment_after_restructure=months,
            repayment_periods_since_restructure=int(row.settled_periods) if restructured_on else 0,
            extended_on=_date_or_none(row.extended_on), product=row.product,
            dpd_before_restructure=_int_or_none(row.dpd_before_restructure),
            months_observed_at_restructure=_int_or_none(row.months_observed_at_restructure),
            periods_observed_at_restructure=_int_or_none(row.periods_observed_at_restructure),
        ))
    return facts
