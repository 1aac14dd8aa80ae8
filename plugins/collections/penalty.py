"""Penalty interest (罚息) on overdue amounts, accrued daily, over the whole book in DuckDB.

Per contract on the book at the cut-off, from the schedule in force (the highest schedule_version) and the
payments on it:

* every instalment due by the cut-off and not paid in full is overdue from the day after its due date;
  each day's **penalty** is the unpaid principal at that day's end × the penalty rate / `day_count_basis`
  (360: 日利率 = 年利率 / 360); a payment counts from its own day (the day it is paid bears no penalty on
  what it paid);
* when the contract compounds (复利), the unpaid interest of those instalments bears the penalty rate too;
* the penalty rate is the contract's own (loans.penalty_rate, annual) or its product's default of
  config/collections.yaml `penalty_interest.defaults` (the contract rate raised by a share, e.g. +50%,
  or a rate of its own, e.g. leases 万分之五 a day = 0.18 a year); the compounding flag likewise.

The day sums are exact integers (cents × days): Σ over days d after the due date up to the cut-off of
the unpaid amount = due × (cut-off − due date) − Σ payments × (cut-off − max(due date, paid date − 1)).
Each contract's penalty and compound interest are then rounded once, half up, to the cent (plugins/money.py's
rule), in integers. Accrued to date and accrued this month (to date less to the previous month end, the
same computation at that cut-off) are both given. To date means over the contract's life, late-paid
instalments included: the core system delivers no payment of penalty interest, so none is netted. Pure: no Dagster, no environment; typed tables in.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from plugins.config import PenaltyInterest

PENALTY_COLUMNS = ["contract_id", "borrower_id", "product", "penalty_rate", "compounding",
                   "overdue_principal_cents", "overdue_interest_cents", "penalty_on_principal_cents",
                   "compound_interest_cents", "penalty_interest_cents", "accrued_this_month_cents"]
_RATE_SCALE = 10**14  # rates carried as integers: rate × 10^14 (10 decimals of the rate × 10^4 of the markup)

_DAY_SUMS_SQL = """
WITH version AS (
    SELECT contract_id, max(schedule_version) AS v FROM schedules GROUP BY contract_id
), due AS (
    SELECT s.contract_id, s.schedule_version, s.instalment_no, s.due_date,
           coalesce(s.principal_due, 0)::BIGINT AS p_due, coalesce(s.interest_due, 0)::BIGINT AS i_due
    FROM schedules s JOIN version v ON s.contract_id = v.contract_id AND s.schedule_version = v.v
    WHERE s.due_date <= $cutoff AND s.contract_id IN (SELECT contract_id FROM book)
), paid AS (
    SELECT d.contract_id, d.instalment_no,
           sum(coalesce(p.principal_paid, 0))::BIGINT AS p_paid, sum(coalesce(p.interest_paid, 0))::BIGINT AS i_paid,
           sum(coalesce(p.principal_paid, 0) * date_diff('day', greatest(d.due_date, p.paid_date - 1), $cutoff::DATE))::HUGEINT AS p_paid_days,
           sum(coalesce(p.interest_paid, 0) * date_diff('day', greatest(d.due_date, p.paid_date - 1), $cutoff::DATE))::HUGEINT AS i_paid_days
    FROM due d JOIN payments p ON p.contract_id = d.contract_id AND p.schedule_version = d.schedule_version
         AND p.instalment_no = d.instalment_no AND p.paid_date <= $cutoff
    GROUP BY d.contract_id, d.instalment_no
), per_instalment AS (
    SELECT d.contract_id,
           greatest(d.p_due - coalesce(q.p_paid, 0), 0) AS p_open,
           greatest(d.i_due - coalesce(q.i_paid, 0), 0) AS i_open,
           greatest(d.p_due::HUGEINT * date_diff('day', d.due_date, $cutoff::DATE) - coalesce(q.p_paid_days, 0), 0) AS p_days,
           greatest(d.i_due::HUGEINT * date_diff('day', d.due_date, $cutoff::DATE) - coalesce(q.i_paid_days, 0), 0) AS i_days
    FROM due d LEFT JOIN paid q ON q.contract_id = d.contract_id AND q.instalment_no = d.instalment_no
)
SELECT b.contract_id,
       coalesce(sum(p_open), 0)::BIGINT AS overdue_principal_cents, coalesce(sum(i_open), 0)::BIGINT AS overdue_interest_cents,
       -- one rounding per amount, half up, in integers: (2·n + d) // (2·d)
       coalesce((2 * sum(p_days) * b.rate_scaled + $den) // (2 * $den), 0)::BIGINT AS penalty_on_principal_cents,
       CASE WHEN b.compounding THEN coalesce((2 * sum(i_days) * b.rate_scaled + $den) // (2 * $den), 0)
            ELSE 0 END::BIGINT AS compound_interest_cents
FROM book b LEFT JOIN per_instalment i ON i.contract_id = b.contract_id
GROUP BY b.contract_id, b.rate_scaled, b.compounding
"""


def penalty_terms(loans: pd.DataFrame, policy: PenaltyInterest) -> pd.DataFrame:
    """Per contract its penalty rate (annual, and × 10^14 as an integer) and compounding flag: its own, or
    its product's default. A product without a default and without its own rate is refused, naming it."""
    own_rate = pd.to_numeric(loans["penalty_rate"], errors="coerce") if "penalty_rate" in loans else \
        pd.Series(np.nan, index=loans.index)
    own_flag = loans["penalty_compounding"] if "penalty_compounding" in loans else \
        pd.Series(pd.NA, index=loans.index, dtype="boolean")
    own_flag = own_flag.map(lambda v: None if v is None or v is pd.NA or v == "" or (isinstance(v, float) and v != v)
                            else (str(v).lower() == "true" if isinstance(v, str) else bool(v)))
    products = loans["product"].fillna("").astype(str)
    lacking = sorted(set(products[own_rate.isna().to_numpy()]) - set(policy.defaults))
    if lacking:
        raise ValueError(f"config/collections.yaml penalty_interest.defaults: no default for product(s) {lacking} "
                         "and contracts without loans.penalty_rate; add a default or deliver the rate")
    contract_rate = np.rint(pd.to_numeric(loans["annual_rate"], errors="coerce").fillna(0).to_numpy() * 1e10)
    scaled = np.zeros(len(loans), dtype=np.int64)
    flags = np.zeros(len(loans), dtype=bool)
    for product, default in policy.defaults.items():
        mine = (products == product).to_numpy()
        if default.over_contract_rate is not None:
            scaled[mine] = contract_rate[mine].astype(np.int64) * (10_000 + round(default.over_contract_rate * 10_000))
        else:
            scaled[mine] = round(default.annual_rate * 1e10) * 10_000
        flags[mine] = default.compounding
    has_own = own_rate.notna().to_numpy()
    scaled[has_own] = np.rint(own_rate.to_numpy()[has_own] * 1e10).astype(np.int64) * 10_000
    given = own_flag.notna().to_numpy()
    flags[given] = own_flag.to_numpy()[given].astype(bool)
    return pd.DataFrame({"contract_id": loans["contract_id"].astype(str).to_numpy(),
                         "borrower_id": loans["borrower_id"].astype(str).to_numpy(),
                         "product": products.to_numpy(), "rate_scaled": scaled,
                         "penalty_rate": scaled / _RATE_SCALE, "compounding": flags})


def _accrued(con: duckdb.DuckDBPyConnection, cutoff: date, basis: int) -> pd.DataFrame:
    return con.execute(_DAY_SUMS_SQL, {"cutoff": cutoff, "den": basis * _RATE_SCALE}).df()


def penalty_interest(extract: Mapping[str, pd.DataFrame], on_book: pd.Series, as_of: date,
                     policy: PenaltyInterest) -> pd.DataFrame:
    """PENALTY_COLUMNS per contract of `on_book` (contract ids on the book at `as_of`), by contract id.

    `extract`: the typed core tables (loans, schedules, payments). Accrued to `as_of`, and this month's part
    (to `as_of` less to the previous month end)."""
    loans = extract["loans"]
    terms = penalty_terms(loans[loans["contract_id"].astype(str).isin(set(on_book.astype(str)))], policy)
    con = duckdb.connect()
    try:
        con.register("book", terms)
        con.register("schedules", extract["schedules"][["contract_id", "schedule_version", "instalment_no",
                                                        "due_date", "principal_due", "interest_due"]])
        con.register("payments", extract["payments"][["contract_id", "schedule_version", "instalment_no",
                                                      "paid_date", "principal_paid", "interest_paid"]])
        now = _accrued(con, as_of, policy.day_count_basis)
        before = _accrued(con, as_of.replace(day=1) - timedelta(days=1), policy.day_count_basis)
    finally:
        con.close()
    out = terms.merge(now, on="contract_id", how="left")
    before_total = before.set_index("contract_id")
    before_total = (before_total["penalty_on_principal_cents"] + before_total["compound_interest_cents"])
    for column in ("overdue_principal_cents", "overdue_interest_cents", "penalty_on_principal_cents",
                   "compound_interest_cents"):
        out[column] = out[column].fillna(0).astype("int64")
    out["penalty_interest_cents"] = out["penalty_on_principal_cents"] + out["compound_interest_cents"]
    out["accrued_this_month_cents"] = (out["penalty_interest_cents"]
                                       - out["contract_id"].map(before_total).fillna(0).astype("int64"))
    return out[PENALTY_COLUMNS].sort_values("contract_id", ignore_index=True)


def penalty_summary(table: pd.DataFrame) -> dict[str, int]:
    """Book totals: contracts accruing this month, overdue principal and interest, penalty to date and this month."""
    accruing = table[table["accrued_this_month_cents"] > 0]
    return {"contracts_accruing": len(accruing),
            "overdue_principal_cents": int(table["overdue_principal_cents"].sum()),
            "overdue_interest_cents": int(table["overdue_interest_cents"].sum()),
            "penalty_on_principal_cents": int(table["penalty_on_principal_cents"].sum()),
            "compound_interest_cents": int(table["compound_interest_cents"].sum()),
            "penalty_interest_cents": int(table["penalty_interest_cents"].sum()),
            "accrued_this_month_cents": int(table["accrued_this_month_cents"].sum())}
