"""Each contract's month-end state, rolled forward month by month from last month's state and this month's
deliveries (issue 11, item 3).

The state at a month end E is a dict of frames:

- `contracts`: one row per contract the core system has shown started by E (CONTRACT_COLUMNS): whether it
  is on the book, the tier reported this month, days past due, the start of the current overdue spell, the
  schedule in force and its on-time run, the restructuring facts, what was paid, and for a contract that
  left the book why (结清 / 核销 / 转让) and when. A contract that left stays, with the facts it had at the
  month end it left (`facts_as_of`), and does not come back.
- `instalments`: the open items of the contracts on the book (INSTALMENT_COLUMNS): every instalment of the
  schedule in force due by E and not paid in full, and every instalment not yet due with something paid
  ahead. Everything else about an instalment is final once it is due and settled.
- `events`: what this month's deliveries did (entered, exited, restructured, schedule changed, recomputed
  and why, refused re-entry).
- `provenance`: the month, the month end, `source` (bootstrapped | rolled_forward) and counts.

Rolling forward applies only this month's deliveries to last month's state: the payments dated after last
month end, the instalments of the schedule in force falling due this month (or paid ahead this month), and
the loans table's events (a restructuring date, a write-off, a status, a balance gone to zero, a new
contract). A contract whose delivery cannot be applied on top of last month's state is recomputed from the
month's full extract, and the events say why: a new contract; a payment dated on or before last month end
that last month's state did not have (a backdated delivery: the cumulative payments disagree); a payment
this month on an instalment that was already settled (it makes an on-time instalment late after the fact);
an exit or a restructuring dated on or before last month end. A new schedule version (restructuring,
extension) starts the contract's instalment facts afresh from the new schedule, as the loan book does (the
schedule in force is the highest version).

Bootstrapping (the first month, or after a gap) is the same computation from an empty state: every contract
is computed from the full extract. Rolled forward and bootstrapped states of the same month end are equal
(tests/test_contract_state.py) except where the roll-forward knows more than one extract shows: a contract
restructured more than once (the loans table holds only the latest date: the bootstrap counts it once, the
roll-forward each time); the days past due before a second restructuring (the bootstrap reads schedule
version 1, as plugins/portfolio/loanbook.py does; the roll-forward the schedule in force the day before); a
transfer (转让) whose loans row has no `transferred_on` (an older delivery: `exited_on` stays empty and a
bootstrap after the transfer month takes its facts at the bootstrap's month end; with the date, as the typed
loans carry it (config/schema.yaml, plugins/monitoring/disposal.py with_transfers), `exited_on` is that day
and a later bootstrap takes the facts at the transfer's month end, as the roll-forward does); a contract the extract stops listing (kept as it was,
event `missing_from_extract`). And one difference the roll-forward does not notice: a schedule version's rows
are taken as delivered once, so a version edited in place (rather than versioned anew) shows only in a
bootstrap.

Definitions, the same as the loan book's (plugins/portfolio/loanbook.py open_book) where it has them:
the schedule in force is the contract's highest schedule_version; an instalment is settled by a cut-off
when the payments on it by then cover both its principal and its interest; it was paid on time when settled
and no payment on it came after its due date; days past due count from the oldest instalment due by the
cut-off and not settled. `on_time_periods` counts the instalments paid on time and in full since the last
late one (a late one restarts the count); `observation_met` says whether some such run reached
`observation_min_periods` periods and lasted `observation_min_months` whole months from the first due date of
the schedule in force (once met, it stays met). The overdue spell: an instalment is overdue from the day
after its due date until the day it is settled; overlapping or touching intervals are one spell;
`overdue_since` is the first day of the spell the contract is in at the month end (empty when nothing is
overdue: exactly when dpd is 0). A contract is on the book when it has started and its outstanding
principal is above zero; one that left is 核销 when written off, 转让 when its status says so, otherwise
结清 on the day of its last payment. A restructuring's date is the loans table's restructured_on, or the
start date of a contract issued as a restructuring (重组); `dpd_before_restructuring` is days past due the day
before it, and non-performing before means above `non_performing_after_days` (the 次级 overdue floor).

Pure: DuckDB over whole tables and pandas over one row per contract, no Dagster, no environment reads,
money in int64 cents, dates as dates (pyarrow date32). Input tables are typed (plugins/portfolio/typed.py).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd
import pyarrow as pa

__all__ = ["CONTRACT_COLUMNS", "EVENT_COLUMNS", "INSTALMENT_COLUMNS", "PROVENANCE_COLUMNS", "StateRules",
           "bootstrap_state", "build_state", "conform", "roll_forward", "state_rules", "summary"]

BOOTSTRAPPED, ROLLED_FORWARD = "bootstrapped", "rolled_forward"
SETTLED, WRITTEN_OFF, TRANSFERRED = "结清", "核销", "转让"
RESTRUCTURING_ISSUANCE = "重组"

# Column → kind: text (never null: '' when empty), bool, boolean (nullable), int64, Int64 (nullable), date.
CONTRACT_COLUMNS = {
    "contract_id": "text", "borrower_id": "text",
    "on_book": "bool",                       # started and outstanding principal above zero at the month end
    "tier": "Int64",                         # the tier reported this month (loan_classification); empty off the book
    "balance_cents": "int64",                # outstanding principal at the month end (0 off the book)
    "dpd": "int64", "overdue_since": "date",
    "overdue_principal_cents": "int64", "overdue_interest_cents": "int64",
    "schedule_version": "Int64", "first_due_in_force": "date",
    "on_time_periods": "int64", "last_late_due": "date", "observation_met": "bool",
    "restructured_on": "date", "times_restructured": "int64",
    "on_time_periods_since_restructuring": "Int64",
    "months_since_first_repayment_after_restructuring": "Int64",
    "dpd_before_restructuring": "Int64", "non_performing_before_restructuring": "boolean",
    "paid_principal_cents": "int64", "paid_interest_cents": "int64", "last_paid_on": "date",
    "exit_reason": "text",                   # '' on the book; 结清 / 核销 / 转让
    "exited_on": "date",
    "facts_as_of": "date",                   # the month end the facts are at: this one, or the one the contract left
}
INSTALMENT_COLUMNS = {
    "contract_id": "text", "schedule_version": "int64", "instalment_no": "int64", "due_date": "date",
    "principal_due_cents": "int64", "interest_due_cents": "int64",
    "principal_paid_cents": "int64", "interest_paid_cents": "int64", "last_paid_on": "date",
}
EVENT_COLUMNS = {"contract_id": "text", "event": "text", "event_date": "date", "detail": "text"}
PROVENANCE_COLUMNS = {"month": "text", "as_of": "date", "source": "text", "previous_month": "text",
                      "contracts": "int64", "rolled_forward": "int64", "recomputed": "int64", "entered": "int64"}
_SPECS = {"contracts": CONTRACT_COLUMNS, "instalments": INSTALMENT_COLUMNS, "events": EVENT_COLUMNS,
          "provenance": PROVENANCE_COLUMNS}
_ARROW = {"text": pa.string(), "bool": pa.bool_(), "boolean": pa.bool_(), "int64": pa.int64(),
          "Int64": pa.int64(), "date": pa.date32()}


@dataclass(frozen=True)
class StateRules:
    """The thresholds the state's facts depend on (config/classification.yaml)."""
    observation_min_periods: int
    observation_min_months: int
    non_performing_after_days: int  # more days past due than this is non-performing (the 次级 floor)


def state_rules(classification) -> StateRules:
    """From plugins.config.Classification: the restructuring observation and the first NPL overdue floor."""
    npl = [floor.days for floor in classification.overdue_floors if floor.tier >= 3]
    return StateRules(classification.restructured.observation_min_periods,
                      classification.restructured.observation_min_months, min(npl))


# ------------------------------------------------------------------ frames ↔ Arrow


def _arrow(frame: pd.DataFrame | None, spec: Mapping[str, str]) -> pa.Table:
    """`frame`'s columns of `spec` as an Arrow table of exactly those types (missing columns null)."""
    frame = frame if frame is not None else pd.DataFrame()
    arrays = {}
    for name, kind in spec.items():
        if name not in frame.columns:
            arrays[name] = pa.nulls(len(frame), _ARROW[kind])
            continue
        column = frame[name]
        array = pa.array(column.array) if isinstance(column.dtype, pd.ArrowDtype) else \
            pa.array(column, from_pandas=True)
        if pa.types.is_dictionary(array.type):  # a categorical column (the lean form of a contract id)
            array = array.dictionary_decode()
        arrays[name] = array.cast(_ARROW[kind])
    return pa.table(arrays)


def _frame(table: pa.Table, spec: Mapping[str, str]) -> pd.DataFrame:
    """An Arrow table as the state's pandas frame: every column of `spec` in its kind."""
    columns = {}
    for name, kind in spec.items():
        array = table[name].cast(_ARROW[kind]) if name in table.column_names else \
            pa.chunked_array([pa.nulls(table.num_rows, _ARROW[kind])])
        if kind == "date":
            column = pd.Series(pd.arrays.ArrowExtensionArray(array), dtype=pd.ArrowDtype(pa.date32()))
        elif kind == "text":
            column = array.fill_null("").to_pandas().astype("str")
        elif kind == "bool":
            column = pd.Series(array.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
        elif kind == "int64":
            column = pd.Series(array.fill_null(0).to_numpy(), dtype="int64")
        else:  # nullable: Int64, boolean
            column = array.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}.get)
        columns[name] = column.reset_index(drop=True)
    return pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows))


def conform(state: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """A state as stored (Parquet) or built, in the declared columns and dtypes, rows in key order."""
    out = {}
    for name, spec in _SPECS.items():
        frame = _frame(_arrow(state.get(name), spec), spec)
        keys = {"contracts": ["contract_id"], "instalments": ["contract_id", "schedule_version", "instalment_no"],
                "events": ["contract_id", "event"]}.get(name)
        if keys and len(frame):
            frame = frame.sort_values(keys, kind="stable").reset_index(drop=True)
        out[name] = frame
    return out


# ------------------------------------------------------------------ the extract as DuckDB views

_REQUIRED = {
    "loans": ["contract_id", "start_date", "outstanding_principal"],
    "schedules": ["contract_id", "schedule_version", "instalment_no", "due_date"],
    "payments": ["contract_id", "schedule_version", "instalment_no", "paid_date"],
}
_EXTRACT_SPECS = {
    "loans": {"contract_id": "text", "borrower_id": "text", "issuance_type": "text", "start_date": "date",
              "restructured_on": "date", "written_off_on": "date", "status": "text",
              "outstanding_principal": "int64", "transferred_on": "date"},
    "schedules": {"contract_id": "text", "schedule_version": "int64", "instalment_no": "int64",
                  "due_date": "date", "principal_due": "Int64", "interest_due": "Int64"},
    "payments": {"contract_id": "text", "schedule_version": "int64", "instalment_no": "int64",
                 "paid_date": "date", "principal_paid": "Int64", "interest_paid": "Int64"},
}


def _register_extract(con: duckdb.DuckDBPyConnection, extract: Mapping[str, pd.DataFrame], as_of: date) -> None:
    for name, spec in _EXTRACT_SPECS.items():
        frame = extract[name]
        missing = [c for c in _REQUIRED[name] if c not in frame.columns]
        if missing:
            raise KeyError(f"{name}.csv lacks the columns {missing}")
        con.register(f"{name}_in", _arrow(frame, spec))
    con.execute("""
        CREATE TEMP VIEW loans AS
        SELECT contract_id, coalesce(borrower_id, '') AS borrower_id, coalesce(issuance_type, '') AS issuance_type,
               start_date, restructured_on, written_off_on, transferred_on, coalesce(status, '') AS status,
               coalesce(outstanding_principal, 0) AS outstanding_principal
        FROM loans_in WHERE start_date <= $as_of""".replace("$as_of", f"DATE '{as_of.isoformat()}'"))
    con.execute("""
        CREATE TEMP VIEW schedules AS
        SELECT contract_id, schedule_version, instalment_no, due_date,
               coalesce(principal_due, 0) AS principal_due, coalesce(interest_due, 0) AS interest_due
        FROM schedules_in""")
    con.execute("""
        CREATE TEMP VIEW payments AS
        SELECT contract_id, schedule_version, instalment_no, paid_date,
               coalesce(principal_paid, 0) AS principal_paid, coalesce(interest_paid, 0) AS interest_paid
        FROM payments_in""")
    twice = con.execute("SELECT contract_id FROM loans GROUP BY contract_id HAVING count(*) > 1 "
                        "ORDER BY contract_id LIMIT 5").fetchall()
    if twice:
        raise ValueError(f"loans.csv lists contract_id {[row[0] for row in twice]} more than once")


# ------------------------------------------------------------------ the instalment engine

# Whole months between two dates (a month not complete on its day does not count), as facts.py counts them.
_MONTHS = ("((year({end}) - year({start})) * 12 + month({end}) - month({start})"
           " - CASE WHEN day({end}) < day({start}) THEN 1 ELSE 0 END)")

_CARRY = {"contract_id": "text", "cutoff": "date", "lo": "date", "version": "Int64", "run0": "int64",
          "last_late0": "date", "first_due0": "date", "met0": "bool", "since0": "date"}

# Per instalment the window looks at: the open items carried from last month end (those of the schedule in
# force; none when the window starts from the beginning, lo NULL) and the schedule rows the window brings
# (due in (lo, cutoff], or paid in the window ahead of their due date), with what was paid on each before
# the window and the day its payments first covered it (settled_on).
_STATUS_SQL = """
CREATE OR REPLACE TEMP TABLE engine_status AS
WITH
win_pay AS (
    SELECT p.contract_id, p.schedule_version, p.instalment_no, p.paid_date,
           sum(p.principal_paid) AS pp, sum(p.interest_paid) AS ip
    FROM payments AS p JOIN engine_carry AS c ON p.contract_id = c.contract_id AND p.schedule_version = c.version
    WHERE p.paid_date <= c.cutoff AND (c.lo IS NULL OR p.paid_date > c.lo)
    GROUP BY p.contract_id, p.schedule_version, p.instalment_no, p.paid_date
),
paid_keys AS (SELECT DISTINCT contract_id, schedule_version, instalment_no FROM win_pay),
carried AS (
    SELECT i.contract_id, i.schedule_version, i.instalment_no, i.due_date,
           i.principal_due_cents AS principal_due, i.interest_due_cents AS interest_due,
           i.principal_paid_cents AS paid_p0, i.interest_paid_cents AS paid_i0, i.last_paid_on AS last_paid0,
           TRUE AS carried
    FROM engine_items AS i JOIN engine_carry AS c
      ON i.contract_id = c.contract_id AND i.schedule_version = c.version
    WHERE c.lo IS NOT NULL
),
fresh AS (
    SELECT s.contract_id, s.schedule_version, s.instalment_no, s.due_date, s.principal_due, s.interest_due,
           CAST(0 AS BIGINT) AS paid_p0, CAST(0 AS BIGINT) AS paid_i0, CAST(NULL AS DATE) AS last_paid0,
           FALSE AS carried
    FROM schedules AS s JOIN engine_carry AS c ON s.contract_id = c.contract_id AND s.schedule_version = c.version
    LEFT JOIN paid_keys AS k ON k.contract_id = s.contract_id AND k.schedule_version = s.schedule_version
                            AND k.instalment_no = s.instalment_no
    LEFT JOIN carried AS o ON o.contract_id = s.contract_id AND o.schedule_version = s.schedule_version
                          AND o.instalment_no = s.instalment_no
    WHERE o.contract_id IS NULL
      AND ((s.due_date <= c.cutoff AND (c.lo IS NULL OR s.due_date > c.lo)) OR k.contract_id IS NOT NULL)
),
inst AS (SELECT * FROM carried UNION ALL SELECT * FROM fresh),
running AS (
    SELECT contract_id, schedule_version, instalment_no, paid_date, pp, ip,
           sum(pp) OVER w AS cum_p, sum(ip) OVER w AS cum_i
    FROM win_pay
    WINDOW w AS (PARTITION BY contract_id, schedule_version, instalment_no ORDER BY paid_date
                 ROWS UNBOUNDED PRECEDING)
),
paid AS (
    SELECT i.contract_id, i.schedule_version, i.instalment_no,
           sum(r.pp) AS pp, sum(r.ip) AS ip, max(r.paid_date) AS last_in_window,
           min(r.paid_date) FILTER (WHERE i.paid_p0 + r.cum_p >= i.principal_due
                                    AND i.paid_i0 + r.cum_i >= i.interest_due) AS settled_in_window
    FROM inst AS i JOIN running AS r USING (contract_id, schedule_version, instalment_no)
    GROUP BY i.contract_id, i.schedule_version, i.instalment_no
)
SELECT i.contract_id, i.schedule_version, i.instalment_no, i.due_date, i.principal_due, i.interest_due,
       i.carried, c.cutoff, c.lo, c.since0,
       CAST(i.paid_p0 + coalesce(p.pp, 0) AS BIGINT) AS paid_p,
       CAST(i.paid_i0 + coalesce(p.ip, 0) AS BIGINT) AS paid_i,
       greatest(i.last_paid0, p.last_in_window) AS last_paid,
       CASE WHEN i.paid_p0 >= i.principal_due AND i.paid_i0 >= i.interest_due THEN coalesce(i.last_paid0, i.due_date)
            ELSE p.settled_in_window END AS settled_on
FROM inst AS i JOIN engine_carry AS c USING (contract_id)
LEFT JOIN paid AS p USING (contract_id, schedule_version, instalment_no)
"""

_FACTS_SQL = f"""
WITH
due AS (
    SELECT *, paid_p >= principal_due AND paid_i >= interest_due AS settled
    FROM engine_status WHERE due_date <= cutoff
),
flagged AS (SELECT *, settled AND (last_paid IS NULL OR last_paid <= due_date) AS on_time FROM due),
fresh_due AS (SELECT * FROM flagged WHERE lo IS NULL OR due_date > lo),
agg AS (
    SELECT contract_id, min(due_date) AS first_due_new, max(due_date) FILTER (WHERE NOT on_time) AS last_late_new
    FROM fresh_due GROUP BY contract_id
),
after_late AS (
    SELECT f.contract_id,
           count(*) FILTER (WHERE f.on_time AND (a.last_late_new IS NULL OR f.due_date > a.last_late_new))
             AS on_time_after
    FROM fresh_due AS f JOIN agg AS a USING (contract_id) GROUP BY f.contract_id
),
ordered AS (
    SELECT contract_id, due_date, on_time,
           sum(CASE WHEN on_time THEN 0 ELSE 1 END) OVER (
               PARTITION BY contract_id ORDER BY due_date, instalment_no ROWS UNBOUNDED PRECEDING) AS late_so_far
    FROM fresh_due
),
-- Runs of on-time instalments between late ones; run 0 continues the run carried from last month end.
runs AS (
    SELECT contract_id, run, sum(periods) AS periods FROM (
        SELECT contract_id, 0 AS run, run0 AS periods FROM engine_carry
        UNION ALL
        SELECT contract_id, late_so_far AS run, count(*) AS periods FROM ordered WHERE on_time
        GROUP BY contract_id, late_so_far
    ) GROUP BY contract_id, run
),
run_ends AS (SELECT contract_id, late_so_far - 1 AS run, due_date FROM ordered WHERE NOT on_time),
observed AS (
    SELECT r.contract_id,
           bool_or(r.periods > 0 AND r.periods >= $min_periods AND {_MONTHS.format(
               start="coalesce(c.first_due0, a.first_due_new)",
               end="coalesce(CAST(e.due_date - INTERVAL 1 DAY AS DATE), c.cutoff)")} >= $min_months) AS met
    FROM runs AS r JOIN engine_carry AS c USING (contract_id)
    LEFT JOIN agg AS a USING (contract_id) LEFT JOIN run_ends AS e USING (contract_id, run)
    GROUP BY r.contract_id
),
overdue AS (
    SELECT contract_id, min(due_date) FILTER (WHERE NOT settled) AS oldest_unpaid,
           CAST(sum(greatest(principal_due - paid_p, 0)) AS BIGINT) AS overdue_principal,
           CAST(sum(greatest(interest_due - paid_i, 0)) AS BIGINT) AS overdue_interest
    FROM due GROUP BY contract_id
),
-- Overdue from the day after the due date until the day settled: [a, b). An item overdue at last month
-- end belongs to the spell that started at since0.
spans AS (
    SELECT contract_id, cutoff,
           CASE WHEN carried AND due_date < lo AND since0 IS NOT NULL THEN since0
                ELSE CAST(due_date + 1 AS DATE) END AS a,
           coalesce(settled_on, DATE '9999-12-31') AS b
    FROM due
),
reach AS (
    SELECT contract_id, cutoff, a, b,
           max(b) OVER (PARTITION BY contract_id ORDER BY a, b ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
             AS reach_before
    FROM spans WHERE a <= cutoff AND b > a
),
spell AS (
    SELECT contract_id,
           CASE WHEN max(b) > any_value(cutoff)
                THEN max(a) FILTER (WHERE reach_before IS NULL OR a > reach_before) END AS overdue_since
    FROM reach GROUP BY contract_id
)
SELECT c.contract_id, c.cutoff AS facts_as_of, c.version AS schedule_version,
       coalesce(date_diff('day', o.oldest_unpaid, c.cutoff), 0) AS dpd,
       s.overdue_since,
       coalesce(o.overdue_principal, 0) AS overdue_principal_cents,
       coalesce(o.overdue_interest, 0) AS overdue_interest_cents,
       coalesce(c.first_due0, a.first_due_new) AS first_due_in_force,
       CASE WHEN a.last_late_new IS NULL THEN c.run0 + coalesce(t.on_time_after, 0) ELSE t.on_time_after END
         AS on_time_periods,
       coalesce(a.last_late_new, c.last_late0) AS last_late_due,
       c.met0 OR coalesce(b.met, FALSE) AS observation_met
FROM engine_carry AS c
LEFT JOIN overdue AS o USING (contract_id) LEFT JOIN spell AS s USING (contract_id)
LEFT JOIN agg AS a USING (contract_id) LEFT JOIN after_late AS t USING (contract_id)
LEFT JOIN observed AS b USING (contract_id)
"""

# The open items at the cut-off: due and not settled, or not yet due with something paid ahead.
_ITEMS_SQL = """
SELECT contract_id, schedule_version, instalment_no, due_date, principal_due AS principal_due_cents,
       interest_due AS interest_due_cents, paid_p AS principal_paid_cents, paid_i AS interest_paid_cents,
       last_paid AS last_paid_on
FROM engine_status
WHERE (due_date <= cutoff AND NOT (paid_p >= principal_due AND paid_i >= interest_due))
   OR (due_date > cutoff AND (paid_p > 0 OR paid_i > 0))
"""


def _advance(con: duckdb.DuckDBPyConnection, carry: pa.Table, items: pa.Table,
             rules: StateRules) -> tuple[pa.Table, pa.Table]:
    """Per contract of `carry` (_CARRY) its instalment facts at its cut-off, and its open items then.

    Each contract's window is (lo, cutoff] of its schedule in force (`version`); lo NULL is from the
    beginning (run0, last_late0, first_due0, met0, since0 are then 0/empty). `items` are last month end's
    open items (INSTALMENT_COLUMNS).
    """
    con.register("engine_carry", carry)
    con.register("engine_items", items)
    con.execute(_STATUS_SQL)
    facts = con.sql(_FACTS_SQL, params={"min_periods": rules.observation_min_periods,
                                        "min_months": rules.observation_min_months}).to_arrow_table()
    open_items = con.sql(_ITEMS_SQL).to_arrow_table()
    con.execute("DROP TABLE engine_status")
    con.unregister("engine_carry")
    con.unregister("engine_items")
    return facts, open_items


# ------------------------------------------------------------------ the state


def bootstrap_state(extract: Mapping[str, pd.DataFrame], as_of: date, rules: StateRules,
                    tiers: pd.DataFrame | None = None, month: str | None = None) -> dict[str, pd.DataFrame]:
    """The state at `as_of` from the month's full extract alone (the first month, or after a gap)."""
    return _build(extract, as_of, rules, tiers, None, month or as_of.strftime("%Y-%m"))


def roll_forward(previous: Mapping[str, pd.DataFrame], extract: Mapping[str, pd.DataFrame], as_of: date,
                 rules: StateRules, tiers: pd.DataFrame | None = None,
                 month: str | None = None) -> dict[str, pd.DataFrame]:
    """Last month end's state with this month's deliveries applied: the state at `as_of`."""
    previous = conform(previous)
    provenance = previous["provenance"]
    if provenance.empty:
        raise ValueError("the previous state has no provenance: cannot tell which month end it is")
    previous_end = provenance["as_of"].iloc[0]
    if previous_end != _previous_month_end(as_of):
        raise ValueError(f"the previous state is at {previous_end}, not at the month end before {as_of}")
    return _build(extract, as_of, rules, tiers, previous, month or as_of.strftime("%Y-%m"))


def build_state(month: str, as_of: date, extract: Mapping[str, pd.DataFrame], previous: Mapping | None,
                rules: StateRules, tiers: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Rolled forward from `previous` (last month's state) when there is one, bootstrapped otherwise."""
    if previous:
        return roll_forward(previous, extract, as_of, rules, tiers, month)
    return bootstrap_state(extract, as_of, rules, tiers, month)


def _previous_month_end(as_of: date) -> date:
    return as_of.replace(day=1) - timedelta(days=1)


def _build(extract: Mapping[str, pd.DataFrame], as_of: date, rules: StateRules, tiers: pd.DataFrame | None,
           previous: dict[str, pd.DataFrame] | None, month: str) -> dict[str, pd.DataFrame]:
    rolled = previous is not None
    previous_end = _previous_month_end(as_of)
    con = duckdb.connect(config={"threads": 2})
    try:
        _register_extract(con, extract, as_of)
        con.register("prev_contracts", _arrow(previous["contracts"] if rolled else None, CONTRACT_COLUMNS))
        con.register("prev_items", _arrow(previous["instalments"] if rolled else None, INSTALMENT_COLUMNS))
        con.register("tiers_in", _arrow(tiers, {"contract_id": "text", "tier": "Int64"}))
        params = {"as_of": as_of, "prev_end": previous_end}
        con.execute(_PLAN_SQL, params)
        carry = con.sql(_MAIN_CARRY_SQL, params=params).to_arrow_table()
        facts, items = _advance(con, carry, con.sql("SELECT * FROM prev_items").to_arrow_table(), rules)
        con.register("main_facts", facts)
        con.register("main_items", items)
        before_carry = con.sql(_BEFORE_CARRY_SQL, params={"prev_end": previous_end}).to_arrow_table()
        before, _ = _advance(con, before_carry, con.sql("SELECT * FROM prev_items").to_arrow_table(), rules)
        con.register("before_facts", before)
        con.execute(_PAID_SQL, {"prev_end": previous_end})
        contracts = con.sql(_CONTRACTS_SQL, params={"npl_days": rules.non_performing_after_days}).to_arrow_table()
        con.register("new_contracts", contracts)
        instalments = con.sql(_INSTALMENTS_SQL).to_arrow_table()
        events = con.sql(_EVENTS_SQL).to_arrow_table() if rolled else pa.table(
            {name: pa.array([], _ARROW[kind]) for name, kind in EVENT_COLUMNS.items()})
        counts = con.execute("SELECT count(*), count(*) FILTER (WHERE mode = 'rolled'), "
                             "count(*) FILTER (WHERE mode = 'scratch' AND known), "
                             "count(*) FILTER (WHERE mode = 'scratch' AND NOT known) FROM plan").fetchone()
    finally:
        con.close()
    provenance = pd.DataFrame([{
        "month": month, "as_of": as_of, "source": ROLLED_FORWARD if rolled else BOOTSTRAPPED,
        "previous_month": previous_end.strftime("%Y-%m") if rolled else "",
        "contracts": counts[0], "rolled_forward": counts[1], "recomputed": counts[2], "entered": counts[3]}])
    return conform({"contracts": _frame(contracts, CONTRACT_COLUMNS),
                    "instalments": _frame(instalments, INSTALMENT_COLUMNS),
                    "events": _frame(events, EVENT_COLUMNS), "provenance": provenance})


# Every contract of last month's state or this month's loans table, and how this month treats it:
#   frozen   left the book before: kept as it was (a loans row showing it back on the book is refused)
#   missing  on the book last month end, not in this month's loans table: kept as it was
#   rolled   this month's deliveries applied to last month end's state
#   scratch  computed from the full extract: new, or a delivery that cannot be applied on top (`why`)
_PLAN_SQL = """
CREATE TEMP TABLE plan AS
WITH
in_force AS (SELECT contract_id, max(schedule_version) AS version FROM schedules GROUP BY contract_id),
paid_before AS (  -- what the extract says was paid by last month end (all schedule versions)
    SELECT contract_id, CAST(sum(principal_paid) AS BIGINT) AS principal, CAST(sum(interest_paid) AS BIGINT) AS interest,
           max(paid_date) AS last_paid
    FROM payments WHERE paid_date <= $prev_end GROUP BY contract_id
),
paid_now AS (
    SELECT contract_id, max(paid_date) AS last_paid FROM payments WHERE paid_date <= $as_of GROUP BY contract_id
),
paid_in_month AS (
    SELECT DISTINCT contract_id FROM payments WHERE paid_date > $prev_end AND paid_date <= $as_of
),
-- A payment this month on an instalment of the schedule in force that was due by last month end and is not
-- an open item: it was settled already.
paid_on_settled AS (
    SELECT DISTINCT p.contract_id
    FROM payments AS p JOIN prev_contracts AS c
      ON p.contract_id = c.contract_id AND p.schedule_version = c.schedule_version
    JOIN schedules AS s ON s.contract_id = p.contract_id AND s.schedule_version = p.schedule_version
                       AND s.instalment_no = p.instalment_no
    LEFT JOIN prev_items AS i ON i.contract_id = p.contract_id AND i.schedule_version = p.schedule_version
                             AND i.instalment_no = p.instalment_no
    WHERE p.paid_date > $prev_end AND p.paid_date <= $as_of AND s.due_date <= $prev_end AND i.contract_id IS NULL
),
joined AS (
    SELECT coalesce(l.contract_id, c.contract_id) AS contract_id, l.contract_id IS NOT NULL AS listed,
           c.contract_id IS NOT NULL AS known, coalesce(c.on_book, FALSE) AS was_on_book,
           l.borrower_id, l.issuance_type, l.start_date, l.restructured_on AS listed_restructured_on,
           l.written_off_on, l.transferred_on, l.status, l.outstanding_principal,
           coalesce(l.outstanding_principal, 0) > 0 AS on_book_now,
           v.version,
           CASE WHEN l.contract_id IS NULL THEN NULL
                WHEN l.outstanding_principal > 0 THEN ''
                WHEN l.written_off_on IS NOT NULL THEN '核销'
                WHEN l.status = '转让' THEN '转让' ELSE '结清' END AS exit_reason_now,
           c.paid_principal_cents IS DISTINCT FROM coalesce(b.principal, 0)
             OR c.paid_interest_cents IS DISTINCT FROM coalesce(b.interest, 0)
             OR c.last_paid_on IS DISTINCT FROM b.last_paid AS backdated,
           s.contract_id IS NOT NULL AS paid_on_settled,
           m.contract_id IS NOT NULL AS paid_this_month,
           n.last_paid AS last_paid_now,
           l.restructured_on IS NOT NULL AND l.restructured_on IS DISTINCT FROM c.restructured_on AS restructuring,
           c.schedule_version AS prev_version
    FROM loans AS l FULL OUTER JOIN prev_contracts AS c USING (contract_id)
    LEFT JOIN in_force AS v ON v.contract_id = coalesce(l.contract_id, c.contract_id)
    LEFT JOIN paid_before AS b ON b.contract_id = coalesce(l.contract_id, c.contract_id)
    LEFT JOIN paid_now AS n ON n.contract_id = coalesce(l.contract_id, c.contract_id)
    LEFT JOIN paid_in_month AS m ON m.contract_id = coalesce(l.contract_id, c.contract_id)
    LEFT JOIN paid_on_settled AS s ON s.contract_id = coalesce(l.contract_id, c.contract_id)
),
judged AS (
    SELECT *,
           CASE WHEN NOT known THEN 'new'
                WHEN NOT was_on_book OR NOT listed THEN NULL
                WHEN backdated THEN 'payments dated by last month end that last month did not have'
                WHEN paid_on_settled AND version IS NOT DISTINCT FROM prev_version THEN 'a payment this month on an instalment already settled'
                WHEN exit_reason_now = '核销' AND written_off_on <= $prev_end THEN 'written off on or before last month end'
                WHEN exit_reason_now = '结清' AND NOT paid_this_month THEN 'settled without a payment this month'
                WHEN restructuring AND listed_restructured_on <= $prev_end THEN 'restructured on or before last month end'
           END AS why
    FROM joined
)
SELECT *,
       CASE WHEN known AND NOT was_on_book THEN 'frozen'
            WHEN known AND NOT listed THEN 'missing'
            WHEN why IS NULL THEN 'rolled' ELSE 'scratch' END AS mode,
       CASE WHEN exit_reason_now = '核销' THEN written_off_on
            WHEN exit_reason_now = '结清' THEN last_paid_now
            WHEN exit_reason_now = '转让' THEN transferred_on END AS exited_on_now
FROM judged
"""

# The main window per contract: rolled ones from last month end (afresh when the schedule in force changed),
# the others from the beginning up to the month end, or the month end they left the book.
_MAIN_CARRY_SQL = """
SELECT p.contract_id,
       CASE WHEN p.mode = 'scratch' AND p.exit_reason_now <> '' AND p.exited_on_now IS NOT NULL
            THEN least(CAST($as_of AS DATE), last_day(p.exited_on_now)) ELSE CAST($as_of AS DATE) END AS cutoff,
       CASE WHEN same THEN CAST($prev_end AS DATE) END AS lo,
       p.version,
       CASE WHEN same THEN c.on_time_periods ELSE 0 END AS run0,
       CASE WHEN same THEN c.last_late_due END AS last_late0,
       CASE WHEN same THEN c.first_due_in_force END AS first_due0,
       CASE WHEN same THEN c.observation_met ELSE FALSE END AS met0,
       CASE WHEN same THEN c.overdue_since END AS since0
FROM (SELECT *, mode = 'rolled' AND version IS NOT DISTINCT FROM prev_version AS same FROM plan) AS p
LEFT JOIN prev_contracts AS c USING (contract_id)
WHERE p.mode IN ('rolled', 'scratch')
"""

# Days past due the day before a restructuring: rolled ones on the schedule in force last month end, from
# last month end's open items; the others on schedule version 1 from the beginning (as the loan book does).
_BEFORE_CARRY_SQL = """
SELECT p.contract_id, CAST(p.listed_restructured_on - INTERVAL 1 DAY AS DATE) AS cutoff,
       CASE WHEN p.mode = 'rolled' THEN CAST($prev_end AS DATE) END AS lo,
       CASE WHEN p.mode = 'rolled' THEN p.prev_version ELSE 1 END AS version,
       CASE WHEN p.mode = 'rolled' THEN c.on_time_periods ELSE 0 END AS run0,
       CASE WHEN p.mode = 'rolled' THEN c.last_late_due END AS last_late0,
       CASE WHEN p.mode = 'rolled' THEN c.first_due_in_force END AS first_due0,
       CASE WHEN p.mode = 'rolled' THEN c.observation_met ELSE FALSE END AS met0,
       CASE WHEN p.mode = 'rolled' THEN c.overdue_since END AS since0
FROM plan AS p LEFT JOIN prev_contracts AS c USING (contract_id)
WHERE p.listed_restructured_on IS NOT NULL
  AND ((p.mode = 'rolled' AND p.restructuring) OR p.mode = 'scratch')
"""

# What was paid, all schedule versions: rolled ones last month's totals plus this month's payments; the
# others every payment up to their cut-off.
_PAID_SQL = """
CREATE TEMP TABLE paid AS
SELECT f.contract_id, CAST(sum(y.principal_paid) AS BIGINT) AS principal, CAST(sum(y.interest_paid) AS BIGINT) AS interest,
       max(y.paid_date) AS last_paid
FROM main_facts AS f JOIN plan AS p USING (contract_id) JOIN payments AS y USING (contract_id)
WHERE y.paid_date <= f.facts_as_of AND (p.mode <> 'rolled' OR y.paid_date > $prev_end)
GROUP BY f.contract_id
"""

_CONTRACTS_SQL = f"""
WITH
computed AS (
    SELECT p.contract_id, p.borrower_id, p.exit_reason_now = '' AS on_book,
           CASE WHEN p.exit_reason_now = '' THEN p.outstanding_principal ELSE 0 END AS balance_cents,
           f.dpd, f.overdue_since, f.overdue_principal_cents, f.overdue_interest_cents, f.schedule_version,
           f.first_due_in_force, f.on_time_periods, f.last_late_due, f.observation_met,
           -- a contract the state knew keeps its own count: each new restructuring date adds one
           CASE WHEN p.known AND NOT p.restructuring THEN c.restructured_on
                WHEN p.known THEN p.listed_restructured_on
                ELSE coalesce(p.listed_restructured_on, CASE WHEN p.issuance_type = '{RESTRUCTURING_ISSUANCE}'
                                                             THEN p.start_date END) END AS restructured_on,
           CASE WHEN p.known THEN c.times_restructured + CAST(p.restructuring AS BIGINT)
                ELSE CAST(p.listed_restructured_on IS NOT NULL AS BIGINT)
                     + CAST(p.issuance_type = '{RESTRUCTURING_ISSUANCE}' AS BIGINT) END AS times_restructured,
           CASE WHEN p.mode = 'rolled' AND NOT p.restructuring THEN c.dpd_before_restructuring
                ELSE b.dpd END AS dpd_before_restructuring,
           CASE WHEN p.mode = 'rolled' THEN c.paid_principal_cents ELSE 0 END + coalesce(y.principal, 0)
             AS paid_principal_cents,
           CASE WHEN p.mode = 'rolled' THEN c.paid_interest_cents ELSE 0 END + coalesce(y.interest, 0)
             AS paid_interest_cents,
           CASE WHEN p.mode = 'rolled' THEN greatest(c.last_paid_on, y.last_paid) ELSE y.last_paid END AS last_paid_on,
           p.exit_reason_now AS exit_reason, p.written_off_on, p.transferred_on, f.facts_as_of
    FROM plan AS p JOIN main_facts AS f USING (contract_id)
    LEFT JOIN prev_contracts AS c USING (contract_id)
    LEFT JOIN before_facts AS b USING (contract_id)
    LEFT JOIN paid AS y USING (contract_id)
),
dated AS (
    SELECT *, CASE WHEN exit_reason = '{WRITTEN_OFF}' THEN written_off_on
                   WHEN exit_reason = '{SETTLED}' THEN last_paid_on
                   WHEN exit_reason = '{TRANSFERRED}' THEN transferred_on END AS exited_on
    FROM computed
),
derived AS (
    SELECT d.contract_id, d.borrower_id, d.on_book, t.tier, d.balance_cents, d.dpd, d.overdue_since,
           d.overdue_principal_cents, d.overdue_interest_cents, d.schedule_version, d.first_due_in_force,
           d.on_time_periods, d.last_late_due, d.observation_met, d.restructured_on, d.times_restructured,
           CASE WHEN d.restructured_on IS NOT NULL THEN d.on_time_periods END AS on_time_periods_since_restructuring,
           CASE WHEN d.restructured_on IS NOT NULL AND d.first_due_in_force IS NOT NULL
                     AND d.first_due_in_force <= d.facts_as_of
                THEN {_MONTHS.format(start="d.first_due_in_force", end="d.facts_as_of")} END
             AS months_since_first_repayment_after_restructuring,
           d.dpd_before_restructuring, d.dpd_before_restructuring > $npl_days AS non_performing_before_restructuring,
           d.paid_principal_cents, d.paid_interest_cents, d.last_paid_on, d.exit_reason, d.exited_on, d.facts_as_of
    FROM dated AS d LEFT JOIN tiers_in AS t ON t.contract_id = d.contract_id AND d.on_book
)
SELECT * FROM derived
UNION ALL BY NAME
SELECT c.* REPLACE (CAST(NULL AS BIGINT) AS tier, CASE WHEN p.mode = 'missing' THEN c.balance_cents ELSE 0 END
                    AS balance_cents)
FROM plan AS p JOIN prev_contracts AS c USING (contract_id) WHERE p.mode IN ('frozen', 'missing')
ORDER BY contract_id
"""

_INSTALMENTS_SQL = """
SELECT i.* FROM main_items AS i JOIN new_contracts AS c USING (contract_id) WHERE c.on_book
UNION ALL
SELECT i.* FROM prev_items AS i JOIN plan AS p USING (contract_id) WHERE p.mode = 'missing'
ORDER BY contract_id, schedule_version, instalment_no
"""

_EVENTS_SQL = f"""
SELECT contract_id, 'entered' AS event, start_date AS event_date, '' AS detail FROM plan WHERE why = 'new'
UNION ALL
SELECT contract_id, 'recomputed', NULL, why FROM plan WHERE mode = 'scratch' AND why <> 'new'
UNION ALL
SELECT contract_id, 'schedule_changed', NULL, 'version ' || coalesce(CAST(prev_version AS VARCHAR), 'none') || ' → '
       || coalesce(CAST(version AS VARCHAR), 'none')
FROM plan WHERE mode = 'rolled' AND version IS DISTINCT FROM prev_version
UNION ALL
SELECT n.contract_id, 'restructured', n.restructured_on,
       'times restructured ' || n.times_restructured || ', days past due the day before '
       || coalesce(CAST(n.dpd_before_restructuring AS VARCHAR), 'unknown')
FROM new_contracts AS n JOIN plan AS p USING (contract_id) WHERE p.known AND p.restructuring AND p.mode <> 'frozen'
UNION ALL
SELECT n.contract_id, 'exited', n.exited_on, n.exit_reason
FROM new_contracts AS n JOIN plan AS p USING (contract_id)
WHERE p.mode IN ('rolled', 'scratch') AND NOT n.on_book
UNION ALL
SELECT contract_id, 're_entered_refused', NULL,
       'left the book before; the loans table shows it outstanding again, the state keeps it out'
FROM plan WHERE mode = 'frozen' AND on_book_now
UNION ALL
SELECT contract_id, 'missing_from_extract', NULL, 'on the book last month end, not in this month''s loans table'
FROM plan WHERE mode = 'missing'
ORDER BY contract_id, event
"""


def summary(state: Mapping[str, pd.DataFrame]) -> dict[str, int]:
    """Counts for the asset's metadata."""
    contracts, events = state["contracts"], state["events"]
    on_book = contracts[contracts["on_book"]]
    counts = {"contracts": len(contracts), "on_book": len(on_book), "overdue": int((on_book["dpd"] > 0).sum()),
              "restructured_on_book": int(on_book["restructured_on"].notna().sum()),
              "open_instalments": len(state["instalments"])}
    for reason, key in ((SETTLED, "settled"), (WRITTEN_OFF, "written_off"), (TRANSFERRED, "transferred")):
        counts[f"exited_{key}"] = int((contracts["exit_reason"] == reason).sum())
    for event, n in events["event"].value_counts().sort_index().items():
        counts[f"events_{event}"] = int(n)
    return counts
