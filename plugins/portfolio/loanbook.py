"""The loan book at a period end, from the core system's extracts, computed by DuckDB over typed columns.

Extract frames arrive as strings (as read from CSV); `plugins.portfolio.typed.type_tables` types them once
by config/schema.yaml (a no-op for frames already typed), and the book is one DuckDB query over them:
the joins and aggregations over the instalments run in DuckDB and only the per-loan result comes back to
pandas. Days past due are computed per instalment of the schedule in force (the highest schedule version
of each contract): the oldest instalment due on or before the period end and not fully paid by then
decides. Money is int64 cents throughout.
"""
from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from functools import lru_cache

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from plugins.config import EXTRACT_TABLES, ExtractSchema, load_schema
from plugins.money import to_cents
from plugins.portfolio.typed import type_tables

__all__ = ["EXTRACT_TABLES", "days_past_due", "instalment_status", "open_book", "read_csv_bytes"]

# DuckDB's own memory (hash tables, sorts) before it spills to disk; the typed frames are pandas' and
# count on top of it. The whole 1M-loan month must stay within 4 GiB.
MEMORY_LIMIT = "2GB"

# The columns each query reads; registering only these keeps the scans narrow.
_SCHEDULE_COLUMNS = ["contract_id", "schedule_version", "instalment_no", "due_date", "principal_due", "interest_due"]
_PAYMENT_COLUMNS = ["contract_id", "schedule_version", "instalment_no", "paid_date", "principal_paid", "interest_paid"]
_LOAN_COLUMNS = ["contract_id", "borrower_id", "product", "issuance_type", "industry_code", "region", "start_date",
                 "maturity_date", "restructured_on", "extended_on", "outstanding_principal"]
_BORROWER_COLUMNS = ["borrower_id", "name", "kind", "industry_name"]

# Views over the registered frames. CAST(… AS DATE) accepts a date32 or a datetime64 column alike (a typed
# frame from elsewhere); an empty amount counts as zero, as it always has.
_VIEWS = {
    "schedules": "SELECT contract_id, schedule_version, instalment_no, CAST(due_date AS DATE) AS due_date, "
                 "coalesce(principal_due, 0) AS principal_due, coalesce(interest_due, 0) AS interest_due",
    "payments": "SELECT contract_id, schedule_version, instalment_no, CAST(paid_date AS DATE) AS paid_date, "
                "coalesce(principal_paid, 0) AS principal_paid, coalesce(interest_paid, 0) AS interest_paid",
    "loans": "SELECT contract_id, borrower_id, product, issuance_type, industry_code, region, "
             "CAST(start_date AS DATE) AS start_date, CAST(maturity_date AS DATE) AS maturity_date, "
             "CAST(restructured_on AS DATE) AS restructured_on, CAST(extended_on AS DATE) AS extended_on, "
             "coalesce(outstanding_principal, 0) AS outstanding_principal",
    "borrowers": "SELECT borrower_id, name, kind, industry_name",
}


def read_csv_bytes(data: bytes) -> pd.DataFrame:
    """Core-system CSV as strings; empty cells stay empty strings (not NaN)."""
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8")


@lru_cache(maxsize=65536)
def _text_cents(text: str) -> int:
    # Amounts repeat across instalments and month ends; parse each distinct text once, exactly.
    return to_cents(text) if text else 0


def _cents(column: pd.Series) -> pd.Series:
    # Kept for plugins/monitoring/inspections.py, which parses its own small log this way.
    return column.map(lambda v: _text_cents(v) if v is not None else 0).astype("int64")


def _dates(column: pd.Series) -> pd.Series:
    # Kept for plugins/monitoring/inspections.py (see _cents).
    return pd.to_datetime(column.replace("", None), format="ISO8601").dt.date


@lru_cache(maxsize=1)
def _schema() -> ExtractSchema:
    # The core system's interface ships with the code (config/schema.yaml); read it once per process.
    return load_schema()


def _typed(frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return type_tables(frames, _schema())


# ------------------------------------------------------------------ DuckDB


@contextmanager
def _duckdb() -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh in-memory DuckDB per call (no state shared between calls); spills go to a private temp folder."""
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="postloan-duckdb-") as spill:
        con = duckdb.connect(config={"threads": threads, "memory_limit": MEMORY_LIMIT, "temp_directory": spill,
                                     # every query orders its own result; unordered scans use less memory
                                     "preserve_insertion_order": False})
        try:
            yield con
        finally:
            con.close()


def _register(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame, columns: list[str]) -> None:
    """`frame`'s `columns` as the view `name` (see _VIEWS), scanned as Arrow without copying the data."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"{name}.csv lacks the columns {missing}")
    con.register(f"{name}_frame", pa.Table.from_pandas(frame[columns], preserve_index=False))
    con.execute(f"CREATE TEMP VIEW {name} AS {_VIEWS[name]} FROM {name}_frame")


def _status_sql(prefix: str, schedules: str, payments: str, cutoffs: str | None) -> str:
    """CTEs `{prefix}_status` (one row per in-force instalment due by the cut-off) and `{prefix}_by_contract`.

    The schedule in force is each contract's highest schedule_version in `schedules`. The cut-off is
    $as_of for every contract, or, when `cutoffs` names a relation (contract_id, cutoff), each contract's
    own date (contracts not in it drop out).
    """
    join = f"JOIN {cutoffs} AS c USING (contract_id)" if cutoffs else ""
    cutoff = "c.cutoff" if cutoffs else "CAST($as_of AS DATE)"
    return f"""
{prefix}_in_force AS (
    SELECT contract_id, max(schedule_version) AS schedule_version FROM {schedules} GROUP BY contract_id
),
{prefix}_due AS (
    SELECT s.contract_id, s.schedule_version, s.instalment_no, s.due_date, s.principal_due, s.interest_due,
           {cutoff} AS cutoff
    FROM {schedules} AS s JOIN {prefix}_in_force USING (contract_id, schedule_version) {join}
    WHERE s.due_date <= {cutoff}
),
{prefix}_paid AS (
    SELECT p.contract_id, p.schedule_version, p.instalment_no,
           sum(p.principal_paid) AS principal_paid, sum(p.interest_paid) AS interest_paid,
           max(p.paid_date) AS last_paid
    FROM {payments} AS p {join}
    WHERE p.paid_date <= {cutoff}
    GROUP BY p.contract_id, p.schedule_version, p.instalment_no
),
{prefix}_status AS (
    SELECT d.contract_id, d.schedule_version, d.instalment_no, d.due_date, d.cutoff,
           d.principal_due AS principal_due_cents, d.interest_due AS interest_due_cents,
           CAST(coalesce(p.principal_paid, 0) AS BIGINT) AS principal_paid_cents,
           CAST(coalesce(p.interest_paid, 0) AS BIGINT) AS interest_paid_cents,
           greatest(d.principal_due - coalesce(p.principal_paid, 0), 0) AS overdue_principal_cents,
           greatest(d.interest_due - coalesce(p.interest_paid, 0), 0) AS overdue_interest_cents,
           greatest(d.principal_due - coalesce(p.principal_paid, 0), 0)
             + greatest(d.interest_due - coalesce(p.interest_paid, 0), 0) = 0 AS settled,
           -- paid in full, and no payment after the due date: the instalment was paid on time
           greatest(d.principal_due - coalesce(p.principal_paid, 0), 0)
             + greatest(d.interest_due - coalesce(p.interest_paid, 0), 0) = 0
             AND coalesce(p.last_paid <= d.due_date, TRUE) AS on_time
    FROM {prefix}_due AS d LEFT JOIN {prefix}_paid AS p USING (contract_id, schedule_version, instalment_no)
),
{prefix}_by_contract AS (
    SELECT contract_id,
           min(due_date) FILTER (WHERE NOT settled) AS oldest_unpaid_due,
           CAST(coalesce(sum(overdue_principal_cents) FILTER (WHERE NOT settled), 0) AS BIGINT)
             AS overdue_principal_cents,
           CAST(coalesce(sum(overdue_interest_cents) FILTER (WHERE NOT settled), 0) AS BIGINT)
             AS overdue_interest_cents,
           count(*) FILTER (WHERE settled) AS settled_periods,
           max(due_date) FILTER (WHERE NOT on_time) AS last_late_due,
           min(due_date) AS first_due_in_force,
           coalesce(date_diff('day', min(due_date) FILTER (WHERE NOT settled), any_value(cutoff)), 0) AS dpd
    FROM {prefix}_status GROUP BY contract_id
),
-- Consecutive instalments paid on time and in full, up to the cut-off: a late one restarts the count.
{prefix}_on_time AS (
    SELECT s.contract_id, count(*) FILTER (
               WHERE s.on_time AND (b.last_late_due IS NULL OR s.due_date > b.last_late_due)) AS on_time_periods
    FROM {prefix}_status AS s JOIN {prefix}_by_contract AS b USING (contract_id) GROUP BY s.contract_id
)"""


# Whole months between two dates (a month not complete on its day does not count), as facts.py counts them.
_MONTHS_BETWEEN = ("((year({end}) - year({start})) * 12 + month({end}) - month({start})"
                   " - CASE WHEN day({end}) < day({start}) THEN 1 ELSE 0 END)")

# Facts the day before each restructuring recorded on a contract, over the
# relation `restructured` (contract_id, issuance_type, restructured_on).
_BEFORE_SQL = f"""
cutoffs AS (
    SELECT contract_id, issuance_type, CAST(restructured_on - INTERVAL 1 DAY AS DATE) AS cutoff FROM restructured
),
first_schedules AS (
    SELECT * FROM schedules WHERE schedule_version = 1 AND contract_id IN (SELECT contract_id FROM cutoffs)
),
first_payments AS (
    SELECT * FROM payments WHERE schedule_version = 1 AND contract_id IN (SELECT contract_id FROM cutoffs)
),
{_status_sql("first", "first_schedules", "first_payments", "cutoffs")},
before AS (
    SELECT c.contract_id,
           coalesce(date_diff('day', f.oldest_unpaid_due, c.cutoff), 0) AS dpd_before_restructure,
           CASE WHEN c.issuance_type = '重组' AND f.first_due_in_force IS NOT NULL
                THEN {_MONTHS_BETWEEN.format(start="f.first_due_in_force", end="c.cutoff")} END
             AS months_observed_at_restructure,
           CASE WHEN c.issuance_type = '重组' AND f.first_due_in_force IS NOT NULL THEN o.on_time_periods END
             AS periods_observed_at_restructure
    FROM cutoffs AS c LEFT JOIN first_by_contract AS f USING (contract_id)
    LEFT JOIN first_on_time AS o USING (contract_id)
)"""

# When a restructured asset's observation period was met (DOMAIN.md §2: from the first repayment date, at
# least $min_periods consecutive periods paid on time and in full and at least $min_months months): some
# run of on-time instalments reached $min_periods periods and lasted, up to the next late instalment or the
# cut-off, until $min_months months after the first due date. Once met, a later late payment does not
# restart the observation.
_OBSERVATION_SQL = f"""
now_ordered AS (
    SELECT contract_id, instalment_no, due_date, on_time, cutoff,
           sum(CASE WHEN on_time THEN 0 ELSE 1 END) OVER (
               PARTITION BY contract_id ORDER BY due_date, instalment_no ROWS UNBOUNDED PRECEDING) AS late_so_far
    FROM now_status
),
now_runs AS (
    SELECT contract_id, late_so_far AS run, count(*) AS periods, any_value(cutoff) AS cutoff
    FROM now_ordered WHERE on_time GROUP BY contract_id, late_so_far
),
now_lates AS (SELECT contract_id, late_so_far AS ends_run, due_date FROM now_ordered WHERE NOT on_time),
now_observation AS (
    SELECT r.contract_id, bool_or(r.periods >= $min_periods AND {_MONTHS_BETWEEN.format(
               start="b.first_due_in_force", end="coalesce(CAST(l.due_date - INTERVAL 1 DAY AS DATE), r.cutoff)")}
               >= $min_months) AS observation_met
    FROM now_runs AS r JOIN now_by_contract AS b USING (contract_id)
    LEFT JOIN now_lates AS l ON l.contract_id = r.contract_id AND l.ends_run = r.run + 1
    GROUP BY r.contract_id
)"""

_BOOK_SQL = f"""
WITH
{_status_sql("now", "schedules", "payments", None)},
{_OBSERVATION_SQL},
repaid_since AS (
    SELECT contract_id, sum(principal_paid) AS cents FROM payments
    WHERE paid_date > CAST($as_of AS DATE) GROUP BY contract_id
),
book AS (
    -- Rewinding to an earlier date adds back principal repaid since then (for the previous period's
    -- tiers); a loan written off since then is not rewound.
    SELECT l.*, CAST(l.outstanding_principal + coalesce(r.cents, 0) AS BIGINT) AS balance_cents
    FROM loans AS l LEFT JOIN repaid_since AS r USING (contract_id)
    WHERE l.start_date <= CAST($as_of AS DATE) AND l.outstanding_principal + coalesce(r.cents, 0) > 0
),
restructured AS (
    SELECT contract_id, issuance_type, restructured_on FROM book WHERE restructured_on IS NOT NULL
),
{_BEFORE_SQL}
SELECT k.contract_id, k.borrower_id, b.name AS borrower_name, b.kind AS borrower_kind, k.product,
       k.issuance_type, k.industry_code, b.industry_name, k.region, k.start_date,
       strftime(k.maturity_date, '%Y-%m-%d') AS maturity_date, k.balance_cents,
       coalesce(n.dpd, 0) AS dpd,
       coalesce(n.overdue_principal_cents, 0) AS overdue_principal_cents,
       coalesce(n.overdue_interest_cents, 0) AS overdue_interest_cents,
       coalesce(n.settled_periods, 0) AS settled_periods, coalesce(t.on_time_periods, 0) AS on_time_periods,
       n.first_due_in_force, coalesce(o.observation_met, FALSE) AS observation_met,
       k.restructured_on,
       CAST(k.restructured_on IS NOT NULL AS BIGINT) + CAST(coalesce(k.issuance_type = '重组', false) AS BIGINT)
         AS restructure_count,
       k.extended_on,
       r.dpd_before_restructure, r.months_observed_at_restructure, r.periods_observed_at_restructure
FROM book AS k
LEFT JOIN borrowers AS b USING (borrower_id)
LEFT JOIN now_by_contract AS n USING (contract_id)
LEFT JOIN now_on_time AS t USING (contract_id)
LEFT JOIN now_observation AS o USING (contract_id)
LEFT JOIN before AS r USING (contract_id)
ORDER BY k.contract_id
"""


# ------------------------------------------------------------------ Arrow → the frames callers know


def _int64(column: pa.ChunkedArray) -> np.ndarray:
    return column.to_numpy().astype("int64", copy=False)


def _nullable_int(column: pa.ChunkedArray) -> pd.array:
    return pd.array(column.cast(pa.int64()).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get), dtype="Int64")


def _date_objects(column: pa.ChunkedArray, missing: object) -> np.ndarray:
    """datetime.date objects (what the callers compare with `date`s), `missing` for nulls."""
    values = column.to_pandas(date_as_object=True).to_numpy(dtype=object, copy=True)
    values[pd.isna(values)] = missing
    return values


def _text(column: pa.ChunkedArray) -> pd.Series:
    return column.to_pandas().astype("str")


# ------------------------------------------------------------------ public


def instalment_status(schedules: pd.DataFrame, payments: pd.DataFrame, as_of: date | pd.Series) -> pd.DataFrame:
    """Per in-force instalment due by `as_of`: amounts due, paid by `as_of`, and whether settled.

    `as_of` is one date for every contract, or a Series contract_id → date (contracts not in it drop out).
    Rows by contract_id, schedule_version, instalment_no; due_date as datetime.date.
    """
    typed = _typed({"schedules": schedules, "payments": payments})
    per_contract = isinstance(as_of, pd.Series)
    with _duckdb() as con:
        _register(con, "schedules", typed["schedules"], _SCHEDULE_COLUMNS)
        _register(con, "payments", typed["payments"], _PAYMENT_COLUMNS)
        if per_contract:
            cutoffs = pa.table({"contract_id": pa.array(as_of.index.astype(str), pa.string()),
                                "cutoff": pa.array(list(as_of), pa.date32())})
            con.register("cutoffs", cutoffs)
        sql = (f"WITH {_status_sql('s', 'schedules', 'payments', 'cutoffs' if per_contract else None)} "
               "SELECT * EXCLUDE (cutoff) FROM s_status ORDER BY contract_id, schedule_version, instalment_no")
        table = con.sql(sql, params=None if per_contract else {"as_of": as_of}).to_arrow_table()
    frame = pd.DataFrame({
        "contract_id": _text(table["contract_id"]),
        "schedule_version": _int64(table["schedule_version"]),
        "instalment_no": _int64(table["instalment_no"]),
        "due_date": _date_objects(table["due_date"], None),
    })
    for column in ("principal_due_cents", "interest_due_cents", "principal_paid_cents", "interest_paid_cents",
                   "overdue_principal_cents", "overdue_interest_cents"):
        frame[column] = _int64(table[column])
    frame["settled"] = table["settled"].to_numpy()
    return frame


def days_past_due(schedules: pd.DataFrame, payments: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """contract_id → dpd, overdue principal and interest (cents), settled periods, first due in force."""
    typed = _typed({"schedules": schedules, "payments": payments})
    with _duckdb() as con:
        _register(con, "schedules", typed["schedules"], _SCHEDULE_COLUMNS)
        _register(con, "payments", typed["payments"], _PAYMENT_COLUMNS)
        sql = (f"WITH {_status_sql('s', 'schedules', 'payments', None)} "
               "SELECT * FROM s_by_contract ORDER BY contract_id")
        table = con.sql(sql, params={"as_of": as_of}).to_arrow_table()
    frame = pd.DataFrame({
        "oldest_unpaid_due": _date_objects(table["oldest_unpaid_due"], np.nan),
        "overdue_principal_cents": _int64(table["overdue_principal_cents"]),
        "overdue_interest_cents": _int64(table["overdue_interest_cents"]),
        "settled_periods": _int64(table["settled_periods"]),
        "first_due_in_force": _date_objects(table["first_due_in_force"], np.nan),
        "dpd": _int64(table["dpd"]),
    }, index=pd.Index(_text(table["contract_id"]), name="contract_id"))
    return frame


def open_book(extract: Mapping[str, pd.DataFrame], as_of: date,
              observation: tuple[int, int] | None = None) -> pd.DataFrame:
    """One row per loan outstanding at `as_of`, with borrower attributes and delinquency facts.

    `extract` may be the CSV text frames or frames already typed by `type_tables`. `observation` is the
    restructuring observation period (min periods, min months; config classification.restructured):
    column observation_met says whether it was met by `as_of` (False when not given).
    """
    min_periods, min_months = observation if observation is not None else (10**6, 10**6)
    typed = _typed({name: extract[name] for name in ("borrowers", "loans", "schedules", "payments")})
    with _duckdb() as con:
        _register(con, "borrowers", typed["borrowers"], _BORROWER_COLUMNS)
        _refuse_duplicate_borrowers(con)
        _register(con, "loans", typed["loans"], _LOAN_COLUMNS)
        _register(con, "schedules", typed["schedules"], _SCHEDULE_COLUMNS)
        _register(con, "payments", typed["payments"], _PAYMENT_COLUMNS)
        table = con.sql(_BOOK_SQL, params={"as_of": as_of, "min_periods": min_periods,
                                           "min_months": min_months}).to_arrow_table()
    return _book_frame(table)


def _refuse_duplicate_borrowers(con: duckdb.DuckDBPyConnection) -> None:
    # Each loan takes its borrower's attributes: a borrower listed twice would duplicate its loans.
    twice = con.execute("SELECT borrower_id FROM borrowers GROUP BY borrower_id HAVING count(*) > 1 "
                        "ORDER BY borrower_id LIMIT 5").fetchall()
    if twice:
        raise ValueError(f"borrowers.csv lists borrower_id {[row[0] for row in twice]} more than once")


def _book_frame(table: pa.Table) -> pd.DataFrame:
    """The book as open_book has always returned it: dates as datetime.date (NaT, or NaN for the first due
    date, where missing), maturity_date as ISO text, counts and cents int64, restructuring facts Int64."""
    frame = pd.DataFrame({column: _text(table[column]) for column in (
        "contract_id", "borrower_id", "borrower_name", "borrower_kind", "product", "issuance_type",
        "industry_code", "industry_name", "region")})
    frame["start_date"] = _date_objects(table["start_date"], pd.NaT)
    frame["maturity_date"] = _text(table["maturity_date"])
    for column in ("balance_cents", "dpd", "overdue_principal_cents", "overdue_interest_cents", "settled_periods",
                   "on_time_periods"):
        frame[column] = _int64(table[column])
    frame["first_due_in_force"] = _date_objects(table["first_due_in_force"], np.nan)
    frame["observation_met"] = table["observation_met"].to_numpy(zero_copy_only=False).astype(bool)
    frame["restructured_on"] = _date_objects(table["restructured_on"], pd.NaT)
    frame["restructure_count"] = _int64(table["restructure_count"])
    frame["restructured"] = frame["restructure_count"] > 0
    frame["extended_on"] = _date_objects(table["extended_on"], pd.NaT)
    frame["extended"] = table["extended_on"].is_valid().to_numpy()
    for column in ("dpd_before_restructure", "months_observed_at_restructure", "periods_observed_at_restructure"):
        frame[column] = _nullable_int(table[column])
    return frame
