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
import pyarrow.compute as pc

from plugins.config import EXTRACT_TABLES, ExtractSchema, load_schema
from plugins.money import to_cents
from plugins.portfolio.arrow_memory import keep_freed_memory
from plugins.portfolio.typed import type_tables

__all__ = ["EXTRACT_TABLES", "contract_codes", "day_numbers", "days_past_due", "instalment_status", "latest_versions",
           "open_book", "read_csv_bytes"]

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
# frame from elsewhere); an empty amount counts as zero, as it always has. {key} is the contract's key:
# contract_id, or in open_book `code`, the contract's integer code (see contract_codes).
_VIEWS = {
    "schedules": "SELECT {key}, schedule_version, instalment_no, CAST(due_date AS DATE) AS due_date, "
                 "coalesce(principal_due, 0) AS principal_due, coalesce(interest_due, 0) AS interest_due",
    "payments": "SELECT {key}, schedule_version, instalment_no, CAST(paid_date AS DATE) AS paid_date, "
                "coalesce(principal_paid, 0) AS principal_paid, coalesce(interest_paid, 0) AS interest_paid",
    "loans": "SELECT {key}, {rank}contract_id, borrower_id, product, issuance_type, industry_code, region, "
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


def typed_extract(frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The extract's tables typed by config/schema.yaml (a no-op for tables already typed)."""
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


def _register(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame, columns: list[str],
              codes: np.ndarray | None = None, rank: np.ndarray | None = None) -> pa.Table:
    """`frame`'s `columns` as the view `name` (see _VIEWS), scanned as Arrow without copying the data.

    With `codes` (one integer per row, see contract_codes) the view's key is the column `code`: the
    contract_id of schedules and payments is then left out (their joins and groups run on integers), rows
    of contracts not in the loans table dropped (they belong to no loan of the book). `rank` (loans
    only): each row's place in contract_id order, the column id_rank (an integer sort key).
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"{name}.csv lacks the columns {missing}")
    key = "contract_id" if codes is None else "code"
    if codes is not None and name != "loans":
        columns = [c for c in columns if c != "contract_id"]
    table = pa.Table.from_pandas(frame[columns], preserve_index=False)
    if codes is not None:
        table = table.append_column("code", pa.array(codes))
        if name != "loans" and (codes < 0).any():
            table = table.filter(pa.array(codes >= 0))
    if rank is not None:
        table = table.append_column("id_rank", pa.array(rank))
    con.register(f"{name}_frame", table)
    view = _VIEWS[name].format(key=key, rank="id_rank, " if rank is not None else "")
    con.execute(f"CREATE TEMP VIEW {name} AS {view} FROM {name}_frame")
    return table


def contract_codes(ids: pd.Series, known: pd.Index | pa.Array) -> np.ndarray:
    """Each id's position in `known` (int32; −1 when not there). A categorical column (the lean form of the
    schedules' and payments' contract_id) is looked up once per category, not once per row. `known` may be
    an Arrow string array of distinct ids (looked up in Arrow, without Python strings)."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        if isinstance(known, pa.Array):
            categories = pa.array(ids.cat.categories, type=pa.string(), from_pandas=True)
            if len(categories) == len(known) and categories.equals(known):
                # the instalments' ids listed in the loans' order (a core system exporting both tables in
                # contract order): the categorical's codes are the contract codes, no lookup needed
                return np.asarray(ids.array.codes, dtype=np.int32)
            found = pc.index_in(categories, value_set=known)
            per_category = np.append(pc.fill_null(found, -1).to_numpy(), -1).astype(np.int32)
        else:
            per_category = np.append(known.get_indexer(ids.cat.categories), -1).astype(np.int32)
        return per_category[ids.array.codes]  # code −1 (missing) takes the appended −1
    value_set = known if isinstance(known, pa.Array) else pa.array(known, type=pa.string())
    return pc.fill_null(pc.index_in(pa.array(ids, type=pa.string(), from_pandas=True),
                                    value_set=value_set), -1).to_numpy().astype(np.int32)


def _ints(column: pa.ChunkedArray, nulls_as_zero: bool) -> np.ndarray | None:
    """An integer column as numpy (nulls as 0 when allowed); None when not an integer column (or nulls)."""
    if not pa.types.is_integer(column.type) or (column.null_count and not nulls_as_zero):
        return None
    return (pc.fill_null(column, 0) if column.null_count else column).to_numpy()


def _days(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray] | None:
    """A date32 column as (days since 1970 as int32, valid); None for other types (left to SQL's CAST)."""
    if not pa.types.is_date32(column.type):
        return None
    days = column.cast(pa.int32())
    valid = np.ones(len(column), dtype=bool) if not column.null_count else \
        column.is_valid().to_numpy(zero_copy_only=False)
    return (pc.fill_null(days, 0) if column.null_count else days).to_numpy(), valid


def latest_versions(code: np.ndarray, version: np.ndarray, contracts: int, kind: type = np.int64) -> np.ndarray:
    """The highest schedule_version of each contract code 0 … contracts − 1 (the schedule in force); the lowest
    version found for a code with no schedule rows (no row of it is looked up against it). Rows with code −1
    (no loan) are left out."""
    if not len(version):
        return np.full(max(contracts, 1), np.iinfo(kind).min, dtype=kind)
    known = code >= 0
    if not known.all():
        code, version = code[known], version[known]
    low, high = (int(version.min()), int(version.max())) if len(version) else (0, -1)
    # Every code starts at the lowest version, and only rows of a higher version are written: at bank scale
    # nearly every instalment is of version 1, so this touches the few restructured schedules only.
    latest = np.full(max(contracts, 1), low, dtype=kind)
    if high - low < 16:  # a few versions: each assigned in turn, the highest last (far cheaper than maximum.at)
        for value in range(low + 1, high + 1):
            latest[code[version == value]] = value
    else:
        higher = version > low
        np.maximum.at(latest, code[higher], version[higher].astype(kind, copy=False))
    return latest


def day_numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A typed date column as (days since 1970 as int32, valid) without a Python object per row; missing
    dates are 0 and not valid. Takes Arrow dates (the typed tables' form), datetime64 or date objects."""
    values = column.array if isinstance(column, pd.Series) else column
    if isinstance(values, np.ndarray) or getattr(values, "dtype", None) == object:
        values = np.asarray(values)  # date objects: Arrow infers date32
    array = pa.array(values, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_timestamp(array.type):
        array = pc.cast(array, pa.date32())
    elif not pa.types.is_date32(array.type):
        array = pc.cast(array, pa.date32())
    valid = np.ones(len(array), dtype=bool) if not array.null_count else \
        array.is_valid().to_numpy(zero_copy_only=False)
    days = array.cast(pa.int32())
    return (pc.fill_null(days, 0) if array.null_count else days).to_numpy(zero_copy_only=False), valid


def _now_status(schedules: pa.Table, payments: pa.Table, contracts: int,
                as_of: date, observation: tuple[int, int] = (10**6, 10**6)) -> pa.Table | None:
    """The relations `now_by_contract` and `now_with_late` of _status_sql (cutoff left out), in numpy.

    `schedules` and `payments` are the registered tables keyed by `code` (0 … contracts − 1). Exactly the
    SQL's instalment CTEs: the schedule in force is each code's highest schedule_version; payments by
    `as_of` are summed per (code, schedule_version, instalment_no), by sorting one integer key instead of
    hashing three columns, and looked up for each instalment due; the instalments' status then summed per
    code (segments of the instalments ordered by code), and those of contracts with a late instalment kept
    with the columns the observation CTEs read, with now_ordered's running count of late instalments
    (late_so_far) already computed. None (the SQL computes it all) when a column is not of the
    plain form (integers, date32), the key does not fit, or no instalment is due.
    """
    s_code, s_ver = _ints(schedules["code"], False), _ints(schedules["schedule_version"], False)
    s_inst = _ints(schedules["instalment_no"], False)
    s_due = _days(schedules["due_date"])
    s_pd, s_id = _ints(schedules["principal_due"], True), _ints(schedules["interest_due"], True)
    p_code, p_ver = _ints(payments["code"], False), _ints(payments["schedule_version"], False)
    p_inst = _ints(payments["instalment_no"], False)
    p_day = _days(payments["paid_date"])
    p_pp, p_ip = _ints(payments["principal_paid"], True), _ints(payments["interest_paid"], True)
    if any(a is None for a in (s_code, s_ver, s_inst, s_due, s_pd, s_id, p_code, p_ver, p_inst, p_day, p_pp, p_ip)):
        return None
    cutoff = (as_of - date(1970, 1, 1)).days
    # int32 when the versions fit (half the memory of the per-row lookup below)
    small = len(s_ver) == 0 or (int(s_ver.min()) > np.iinfo(np.int32).min
                                and int(s_ver.max()) <= np.iinfo(np.int32).max)
    latest = latest_versions(s_code, s_ver, contracts, np.int32 if small else np.int64)
    due_day, due_valid = s_due
    # Row positions and keys in int32 when they fit: the arrays below have one element per instalment due
    # (tens of millions at bank scale), and half the bytes is half the memory traffic.
    rows = np.int32 if max(len(s_code), len(p_code)) < 2**31 else np.int64
    due = np.flatnonzero((s_ver == latest[s_code]) & due_valid & (due_day <= cutoff)).astype(rows)
    if len(due) == 0:
        return None
    inst = s_inst[due]
    low, high = int(inst.min()), int(inst.max())
    span = high - low + 1
    if contracts * span >= 2**62:
        return None
    wide = np.int32 if contracts * span < 2**31 else np.int64
    # one version in force per code: (code, instalment_no) names an instalment of it
    key = s_code[due].astype(wide) * span + (inst.astype(wide) - low)
    del inst
    paid_day, paid_valid = p_day
    mine = np.flatnonzero(paid_valid & (paid_day <= cutoff) & (p_ver == latest[p_code])
                          & (p_inst >= low) & (p_inst <= high)).astype(rows)
    pay_key = p_code[mine].astype(wide) * span + (p_inst[mine].astype(wide) - low)
    if len(pay_key) > 1 and (pay_key[1:] < pay_key[:-1]).any():  # payments not in instalment order
        order = np.argsort(pay_key, kind="stable")
        mine, pay_key = mine[order], pay_key[order]
        del order
    principal_paid = np.zeros(len(due), dtype=np.int64)
    interest_paid = np.zeros(len(due), dtype=np.int64)
    matched = np.zeros(len(due), dtype=bool)
    last_paid = np.zeros(len(due), dtype=np.int32)
    if len(pay_key):
        starts = np.flatnonzero(np.concatenate(([True], pay_key[1:] != pay_key[:-1])))
        keys = pay_key[starts]
        hit, matched = _lookup(keys, key, contracts * span)
        del keys, pay_key
        if len(starts) == len(mine):  # one payment per instalment: nothing to sum
            principal_paid[matched] = p_pp[mine[hit]]
            interest_paid[matched] = p_ip[mine[hit]]
            last_paid[matched] = paid_day[mine[hit]]
        else:
            principal_paid[matched] = np.add.reduceat(p_pp[mine].astype(np.int64, copy=False), starts)[hit]
            interest_paid[matched] = np.add.reduceat(p_ip[mine].astype(np.int64, copy=False), starts)[hit]
            last_paid[matched] = np.maximum.reduceat(paid_day[mine], starts)[hit]
        del hit, starts, mine
    overdue_principal = np.maximum(s_pd[due].astype(np.int64, copy=False) - principal_paid, 0)
    overdue_interest = np.maximum(s_id[due].astype(np.int64, copy=False) - interest_paid, 0)
    settled = overdue_principal + overdue_interest == 0
    due_day = due_day[due]
    on_time = settled & (~matched | (last_paid <= due_day))
    code = s_code[due]
    del key, principal_paid, interest_paid, matched, last_paid
    # per contract (now_by_contract): the instalments grouped by code, in instalment order within a code
    if len(code) > 1 and not (code[1:] >= code[:-1]).all():
        order = np.argsort(code, kind="stable")
        code, due, due_day = code[order], due[order], due_day[order]
        overdue_principal, overdue_interest = overdue_principal[order], overdue_interest[order]
        settled, on_time = settled[order], on_time[order]
    starts = np.flatnonzero(np.concatenate(([True], code[1:] != code[:-1])))
    day = due_day.astype(np.int32, copy=False)
    never = np.int32(np.iinfo(np.int32).max)  # after every date: a filtered min/max over no instalment
    oldest_unpaid = np.minimum.reduceat(np.where(settled, never, day), starts)
    last_late = np.maximum.reduceat(np.where(on_time, -never, day), starts)
    has_unpaid, has_late = oldest_unpaid != never, last_late != -never
    # the instalments of the contracts with a late one: the on-time runs between late instalments
    counts = np.diff(np.append(starts, len(code)))
    late_rows = np.flatnonzero(np.repeat(has_late, counts))
    late_code, late_day, late_inst = code[late_rows], day[late_rows], s_inst[due[late_rows]]
    late_on_time = on_time[late_rows]
    # in due date and instalment order within a code (now_ordered's order)
    same = late_code[1:] == late_code[:-1]
    ordered = ((late_code[1:] > late_code[:-1]) | (same & ((late_day[1:] > late_day[:-1]) | (
        (late_day[1:] == late_day[:-1]) & (late_inst[1:] >= late_inst[:-1]))))).all()
    if not ordered:
        order = np.lexsort((late_inst, late_day, late_code))
        late_code, late_day, late_on_time = late_code[order], late_day[order], late_on_time[order]
    first_due = np.minimum.reduceat(day, starts)
    on_time_count = np.add.reduceat(on_time.astype(np.int64), starts)
    position = np.full(max(contracts, 1), -1, dtype=np.int64)  # code → row of by_contract
    position[code[starts]] = np.arange(len(starts))
    min_periods, min_months = observation
    on_time_periods, observation_met = _observation(
        late_code, late_day, late_on_time, position, first_due, on_time_count, has_late,
        np.where(has_late, last_late, 0), cutoff, min_periods, min_months)

    def dates(days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
        return pa.array(days.astype(np.int32), mask=None if valid is None else ~valid).cast(pa.date32())

    return pa.table({
        "code": pa.array(code[starts]),
        "oldest_unpaid_due": dates(np.where(has_unpaid, oldest_unpaid, 0), has_unpaid),
        # settled instalments owe nothing: the sums over all instalments are the sums over the unsettled
        "overdue_principal_cents": pa.array(np.add.reduceat(overdue_principal, starts)),
        "overdue_interest_cents": pa.array(np.add.reduceat(overdue_interest, starts)),
        "settled_periods": pa.array(np.add.reduceat(settled.astype(np.int64), starts)),
        "on_time_count": pa.array(on_time_count),
        "last_late_due": dates(np.where(has_late, last_late, 0), has_late),
        "first_due_in_force": dates(first_due),
        "dpd": pa.array(np.where(has_unpaid, cutoff - oldest_unpaid.astype(np.int64), 0)),
        "on_time_periods": pa.array(on_time_periods),
        "observation_met": pa.array(observation_met),
    })


# A dense key → position table up to this many keys (int32: 256 MiB); beyond it, a binary search.
_DENSE_KEYS = 2**26


def _lookup(keys: np.ndarray, wanted: np.ndarray, key_space: int) -> tuple[np.ndarray, np.ndarray]:
    """(position in `keys` of each wanted key that is there, whether each wanted key is there); `keys`
    sorted and distinct, every key in [0, key_space). A dense table when the key space is small enough
    (one random access per key), else a binary search."""
    if key_space <= _DENSE_KEYS and len(keys) < 2**31:
        table = np.full(key_space, -1, dtype=np.int32)
        table[keys] = np.arange(len(keys), dtype=np.int32)
        at = table[wanted]
        del table
        matched = at >= 0
        return at[matched], matched
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    matched = keys[at] == wanted
    return at[matched], matched


def _months_between_days(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """_MONTHS_BETWEEN on day numbers: whole months from start to end (a month not complete on its day does
    not count)."""
    start_m = start.astype("datetime64[D]").astype("datetime64[M]")
    end_m = end.astype("datetime64[D]").astype("datetime64[M]")
    start_day = start - start_m.astype("datetime64[D]").astype(np.int64)
    end_day = end - end_m.astype("datetime64[D]").astype(np.int64)
    return (end_m.astype(np.int64) - start_m.astype(np.int64)) - (end_day < start_day)


def _observation(late_code: np.ndarray, late_day: np.ndarray, late_on_time: np.ndarray, position: np.ndarray,
                 first_due: np.ndarray, on_time_count: np.ndarray, has_late: np.ndarray, last_late: np.ndarray,
                 cutoff: int, min_periods: int, min_months: int) -> tuple[np.ndarray, np.ndarray]:
    """Per contract (rows of by_contract): on-time periods since the last late instalment, and whether the
    restructuring observation was met — exactly _OBSERVATION_SQL and {prefix}_on_time of _PER_CONTRACT_SQL.

    A contract without a late instalment is one run to the cut-off. Otherwise its on-time instalments form
    runs between late ones (the instalments `late_*`, in due order within a code); a run that reached
    min_periods and lasted min_months from the first due date (to the day before the next late instalment,
    or to the cut-off) meets the observation.
    """
    months_to_cutoff = _months_between_days(first_due.astype(np.int64), np.full(len(first_due), cutoff, np.int64))
    on_time_periods = on_time_count.copy()
    met = ~has_late & (on_time_count >= min_periods) & (months_to_cutoff >= min_months)
    if not len(late_code):
        return on_time_periods, met
    row = position[late_code]
    # the on-time rows after each contract's last late instalment
    after_last = late_on_time & (late_day > last_late[row])
    on_time_periods[has_late] = 0
    on_time_periods += np.bincount(row[after_last], minlength=len(on_time_periods))
    # runs: consecutive on-time rows of one code; a run ends at the next row (a late one of the same code) or
    # at the code's end (the cut-off)
    late = ~late_on_time
    so_far = np.cumsum(late)
    boundary = np.concatenate(([True], (late_code[1:] != late_code[:-1]) | (so_far[1:] != so_far[:-1])))
    on = np.flatnonzero(late_on_time)
    if not len(on):
        return on_time_periods, met
    run_start = np.flatnonzero(boundary[on] | np.concatenate(([True], on[1:] != on[:-1] + 1)))
    periods = np.diff(np.append(run_start, len(on)))
    last_of_run = on[np.append(run_start[1:], len(on)) - 1]
    run_code = late_code[on[run_start]]
    following = last_of_run + 1
    ends_at_late = following < len(late_code)
    ends_at_late[ends_at_late] &= late_code[following[ends_at_late]] == run_code[ends_at_late]
    end = np.full(len(run_start), cutoff, dtype=np.int64)
    end[ends_at_late] = late_day[following[ends_at_late]].astype(np.int64) - 1
    run_row = position[run_code]
    run_met = (periods >= min_periods) & (_months_between_days(first_due[run_row].astype(np.int64), end) >= min_months)
    met[run_row[run_met]] = True
    return on_time_periods, met



# The per-contract CTEs over `{prefix}_status` (see _status_sql).
_PER_CONTRACT_SQL = """
{prefix}_by_contract AS (
    SELECT {key},
           min(due_date) FILTER (WHERE NOT settled) AS oldest_unpaid_due,
           CAST(coalesce(sum(overdue_principal_cents) FILTER (WHERE NOT settled), 0) AS BIGINT)
             AS overdue_principal_cents,
           CAST(coalesce(sum(overdue_interest_cents) FILTER (WHERE NOT settled), 0) AS BIGINT)
             AS overdue_interest_cents,
           count(*) FILTER (WHERE settled) AS settled_periods,
           count(*) FILTER (WHERE on_time) AS on_time_count,
           max(due_date) FILTER (WHERE NOT on_time) AS last_late_due,
           min(due_date) AS first_due_in_force, any_value(cutoff) AS cutoff,
           coalesce(date_diff('day', min(due_date) FILTER (WHERE NOT settled), any_value(cutoff)), 0) AS dpd
    FROM {prefix}_status GROUP BY {key}
),
-- The instalments of the contracts with a late one (the others need no second look at their instalments).
{prefix}_with_late AS (
    SELECT s.*, b.last_late_due
    FROM {prefix}_status AS s JOIN {prefix}_by_contract AS b USING ({key}) WHERE b.last_late_due IS NOT NULL
),
-- Consecutive instalments paid on time and in full, up to the cut-off: a late one restarts the count.
{prefix}_on_time AS (
    SELECT {key}, on_time_count AS on_time_periods FROM {prefix}_by_contract WHERE last_late_due IS NULL
    UNION ALL
    SELECT {key}, count(*) FILTER (WHERE on_time AND due_date > last_late_due) AS on_time_periods
    FROM {prefix}_with_late GROUP BY {key}
)"""


def _status_sql(prefix: str, schedules: str, payments: str, cutoffs: str | None,
                key: str = "contract_id", status: str | None = None) -> str:
    """CTEs `{prefix}_status` (one row per in-force instalment due by the cut-off) and `{prefix}_by_contract`.

    The schedule in force is each contract's highest schedule_version in `schedules`. The cut-off is
    $as_of for every contract, or, when `cutoffs` names a relation (contract_id, cutoff), each contract's
    own date (contracts not in it drop out). `key` is the column naming the contract (see _VIEWS).
    With `status` (the prefix of the relations `_now_status` computes, for the one cut-off $as_of)
    `{prefix}_by_contract` and `{prefix}_with_late` are those relations, and `{prefix}_status` is not defined.
    """
    join = f"JOIN {cutoffs} AS c USING ({key})" if cutoffs else ""
    cutoff = "c.cutoff" if cutoffs else "CAST($as_of AS DATE)"
    if status is not None:
        return f"""
{prefix}_by_contract AS (SELECT *, {cutoff} AS cutoff FROM {status}_by_contract),
{prefix}_on_time AS (SELECT {key}, on_time_periods FROM {prefix}_by_contract)"""
    return f"""
{prefix}_in_force AS (
    SELECT {key}, max(schedule_version) AS schedule_version FROM {schedules} GROUP BY {key}
),
{prefix}_due AS (
    SELECT s.{key}, s.schedule_version, s.instalment_no, s.due_date, s.principal_due, s.interest_due,
           {cutoff} AS cutoff
    FROM {schedules} AS s JOIN {prefix}_in_force USING ({key}, schedule_version) {join}
    WHERE s.due_date <= {cutoff}
),
{prefix}_paid AS (
    SELECT p.{key}, p.schedule_version, p.instalment_no,
           sum(p.principal_paid) AS principal_paid, sum(p.interest_paid) AS interest_paid,
           max(p.paid_date) AS last_paid
    FROM {payments} AS p {join}
    WHERE p.paid_date <= {cutoff}
    GROUP BY p.{key}, p.schedule_version, p.instalment_no
),
{prefix}_status AS (
    SELECT d.{key}, d.schedule_version, d.instalment_no, d.due_date, d.cutoff,
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
    FROM {prefix}_due AS d LEFT JOIN {prefix}_paid AS p USING ({key}, schedule_version, instalment_no)
),
""" + _PER_CONTRACT_SQL.format(prefix=prefix, key=key)


# Whole months between two dates (a month not complete on its day does not count), as facts.py counts them.
_MONTHS_BETWEEN = ("((year({end}) - year({start})) * 12 + month({end}) - month({start})"
                   " - CASE WHEN day({end}) < day({start}) THEN 1 ELSE 0 END)")

# Facts the day before each restructuring recorded on a contract, over the
# relation `restructured` (code, issuance_type, restructured_on); contracts by their integer code.
_BEFORE_SQL = f"""
cutoffs AS (
    SELECT code, issuance_type, CAST(restructured_on - INTERVAL 1 DAY AS DATE) AS cutoff FROM restructured
),
first_schedules AS (
    SELECT * FROM schedules_v1 WHERE schedule_version = 1 AND code IN (SELECT code FROM cutoffs)
),
first_payments AS (
    SELECT * FROM payments_v1 WHERE schedule_version = 1 AND code IN (SELECT code FROM cutoffs)
),
{_status_sql("first", "first_schedules", "first_payments", "cutoffs", "code")},
before AS (
    SELECT c.code,
           coalesce(date_diff('day', f.oldest_unpaid_due, c.cutoff), 0) AS dpd_before_restructure,
           CASE WHEN c.issuance_type = '重组' AND f.first_due_in_force IS NOT NULL
                THEN {_MONTHS_BETWEEN.format(start="f.first_due_in_force", end="c.cutoff")} END
             AS months_observed_at_restructure,
           CASE WHEN c.issuance_type = '重组' AND f.first_due_in_force IS NOT NULL THEN o.on_time_periods END
             AS periods_observed_at_restructure
    FROM cutoffs AS c LEFT JOIN first_by_contract AS f USING (code)
    LEFT JOIN first_on_time AS o USING (code)
)"""

# When a restructured asset's observation period was met (DOMAIN.md §2: from the first repayment date, at
# least $min_periods consecutive periods paid on time and in full and at least $min_months months): some
# run of on-time instalments reached $min_periods periods and lasted, up to the next late instalment or the
# cut-off, until $min_months months after the first due date. Once met, a later late payment does not
# restart the observation.
_OBSERVATION_SQL = f"""
now_ordered AS (
    SELECT code, instalment_no, due_date, on_time, cutoff,
           sum(CASE WHEN on_time THEN 0 ELSE 1 END) OVER (
               PARTITION BY code ORDER BY due_date, instalment_no ROWS UNBOUNDED PRECEDING) AS late_so_far
    FROM now_with_late
),
now_runs AS (
    SELECT code, late_so_far AS run, count(*) AS periods, any_value(cutoff) AS cutoff
    FROM now_ordered WHERE on_time GROUP BY code, late_so_far
),
now_lates AS (SELECT code, late_so_far AS ends_run, due_date FROM now_ordered WHERE NOT on_time),
-- Without a late instalment the contract's instalments are one run, to the cut-off: no ordering needed.
now_observation AS (
    SELECT code, on_time_count >= $min_periods AND {_MONTHS_BETWEEN.format(start="first_due_in_force",
               end="cutoff")} >= $min_months AS observation_met
    FROM now_by_contract WHERE last_late_due IS NULL
    UNION ALL
    SELECT r.code, bool_or(r.periods >= $min_periods AND {_MONTHS_BETWEEN.format(
               start="b.first_due_in_force", end="coalesce(CAST(l.due_date - INTERVAL 1 DAY AS DATE), r.cutoff)")}
               >= $min_months) AS observation_met
    FROM now_runs AS r JOIN now_by_contract AS b USING (code)
    LEFT JOIN now_lates AS l ON l.code = r.code AND l.ends_run = r.run + 1
    GROUP BY r.code
)"""

_BOOK_TEMPLATE = f"""
WITH
@NOW_STATUS@,
@OBSERVATION@,
repaid_since AS (
    SELECT code, sum(principal_paid) AS cents FROM payments
    WHERE paid_date > CAST($as_of AS DATE) GROUP BY code
),
book AS (
    -- Rewinding to an earlier date adds back principal repaid since then (for the previous period's
    -- tiers); a loan written off since then is not rewound.
    SELECT l.*, CAST(l.outstanding_principal + coalesce(r.cents, 0) AS BIGINT) AS balance_cents
    FROM loans AS l LEFT JOIN repaid_since AS r USING (code)
    WHERE l.start_date <= CAST($as_of AS DATE) AND l.outstanding_principal + coalesce(r.cents, 0) > 0
),
restructured AS (
    SELECT code, issuance_type, restructured_on FROM book WHERE restructured_on IS NOT NULL
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
LEFT JOIN now_by_contract AS n USING (code)
LEFT JOIN now_on_time AS t USING (code)
LEFT JOIN now_observation AS o USING (code)
LEFT JOIN before AS r USING (code)
ORDER BY k.id_rank
"""
_BOOK_SQL = _BOOK_TEMPLATE.replace("@NOW_STATUS@", _status_sql("now", "schedules", "payments", None, "code")
                                  ).replace("@OBSERVATION@", _OBSERVATION_SQL)
# The same with the instalments' status, on-time periods and observation computed by _now_status.
_BOOK_STATUS_SQL = _BOOK_TEMPLATE.replace("@NOW_STATUS@", _status_sql("now", "schedules", "payments", None, "code",
                                                                      status="now_status")).replace(
    "@OBSERVATION@", "now_observation AS (SELECT code, observation_met FROM now_by_contract)")


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
    typed = typed_extract({"schedules": schedules, "payments": payments})
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
    typed = typed_extract({"schedules": schedules, "payments": payments})
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
    keep_freed_memory()
    min_periods, min_months = observation if observation is not None else (10**6, 10**6)
    typed = typed_extract({name: extract[name] for name in ("borrowers", "loans", "schedules", "payments")})
    # Contracts by integer code (position among the loans' distinct ids): the instalment joins and groups
    # hash integers, not the contract id text repeated on every instalment.
    for name, columns in (("loans", _LOAN_COLUMNS), ("schedules", _SCHEDULE_COLUMNS), ("payments", _PAYMENT_COLUMNS)):
        if "contract_id" not in typed[name].columns:
            raise KeyError(f"{name}.csv lacks the columns ['contract_id']")
    loan_ids = pa.array(typed["loans"]["contract_id"], type=pa.string(), from_pandas=True)
    # the distinct ids in order of first appearance, as pd.unique gives them
    known = pc.unique(loan_ids) if not loan_ids.null_count else \
        pd.Index(pd.unique(typed["loans"]["contract_id"].to_numpy(dtype=object)))
    with _duckdb() as con:
        _register(con, "borrowers", typed["borrowers"], _BORROWER_COLUMNS)
        _refuse_duplicate_borrowers(con)
        loan_codes = contract_codes(typed["loans"]["contract_id"], known)
        tables = {"loans": _register(con, "loans", typed["loans"], _LOAN_COLUMNS, loan_codes,
                                     _id_ranks(known)[loan_codes])}
        tables.update({name: _register(con, name, typed[name], columns, contract_codes(typed[name]["contract_id"], known))
                       for name, columns in (("schedules", _SCHEDULE_COLUMNS), ("payments", _PAYMENT_COLUMNS))})
        _register_first_versions(con, tables)
        status = _now_status(tables["schedules"], tables["payments"], len(known), as_of, (min_periods, min_months))
        del tables
        if status is not None:
            con.register("now_status_by_contract", status)
        params = {"as_of": as_of} if status is not None else \
            {"as_of": as_of, "min_periods": min_periods, "min_months": min_months}
        table = con.sql(_BOOK_SQL if status is None else _BOOK_STATUS_SQL, params=params).to_arrow_table()
    return _book_frame(table)


def _register_first_versions(con: duckdb.DuckDBPyConnection, tables: Mapping[str, pa.Table]) -> None:
    """Views schedules_v1 and payments_v1: the version-1 rows of restructured contracts only (what the facts
    before a restructuring read), filtered once in Arrow instead of scanning every instalment in SQL."""
    loans = tables["loans"]
    codes = loans["code"].to_numpy()
    restructured = np.zeros(int(codes.max(initial=-1)) + 2, dtype=bool)  # the last slot: code −1
    restructured[codes[loans["restructured_on"].is_valid().to_numpy(zero_copy_only=False)]] = True
    for name in ("schedules", "payments"):
        table = tables[name]
        code, version = table["code"].to_numpy(), table["schedule_version"]
        if version.null_count:
            keep = pc.and_(pc.equal(version, 1), pa.array(restructured[code]))
        else:
            keep = pa.array((version.to_numpy() == 1) & restructured[code])
        first = table.filter(keep)
        con.register(f"{name}_v1_frame", first)
        con.execute(f"CREATE TEMP VIEW {name}_v1 AS {_VIEWS[name].format(key='code', rank='')} FROM {name}_v1_frame")


def _id_ranks(known: pd.Index | pa.Array) -> np.ndarray:
    """Each distinct contract id's place in contract_id order (the book's order): sorting the book by this
    integer is sorting it by its text key, at a fraction of the cost."""
    ids = known if isinstance(known, pa.Array) else pa.array(known, type=pa.string(), from_pandas=True)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[pc.sort_indices(ids).to_numpy()] = np.arange(len(ids), dtype=np.int64)
    return rank


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
