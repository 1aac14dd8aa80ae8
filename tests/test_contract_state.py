"""Each contract's month-end state, rolled forward from last month's state with only this month's deliveries
(plugins/portfolio/contract_state.py): one rule, one case, on one small loan; then, on the bundled sample,
the state rolled forward month by month equals the state bootstrapped from that month's full extract (and
agrees with the loan book), and the same through real Dagster runs.

The small loan: 1,200.00 from 2026-01-01, twelve monthly instalments of 100.00 principal + 10.00 interest due
on the 15th. Each case gives its payments (instalment, day paid, principal, interest) and what the loans
table shows; the core system's extract at a month end holds the payments made by then. Every case also
checks, month by month, that the rolled-forward state equals the one bootstrapped from that month's extract.
"""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from plugins.config import load_config
from plugins.ingest import month_end
from plugins.portfolio import contract_state as cs
from plugins.portfolio.loanbook import open_book, typed_extract

RULES = cs.state_rules(load_config().classification)  # observation 2 periods and 12 months; NPL above 90 days
DUES = [date(2026, m, 15) for m in range(1, 13)]


def on_time(*instalments: int) -> list[tuple]:
    """Each instalment paid in full on its due date."""
    return [(n, DUES[n - 1], "100.00", "10.00") for n in instalments]


def _extract(as_of: date, payments: list[tuple], loan, schedules: list[tuple]) -> dict[str, pd.DataFrame]:
    """The extract at `as_of`: payments made by then (on schedule version 1 unless a fifth element says
    otherwise); the schedule rows (version, instalment, due, principal, interest, delivered from) delivered
    by then; the loans row as `loan` (a function of as_of returning the columns it changes) says."""
    made = [p for p in payments if p[1] <= as_of]
    paid = sum(int(p[2].replace(".", "")) for p in made)
    row = {"contract_id": "HT1", "borrower_id": "B1", "issuance_type": "新增", "start_date": "2026-01-01",
           "restructured_on": "", "written_off_on": "", "status": "正常",
           "outstanding_principal": f"{(120000 - paid) / 100:.2f}", **loan(as_of)}
    visible = [s for s in schedules if s[5] is None or s[5] <= as_of]
    return typed_extract({
        "loans": pd.DataFrame([row]),
        "schedules": pd.DataFrame([{"contract_id": "HT1", "schedule_version": str(v), "instalment_no": str(n),
                                    "due_date": d.isoformat(), "principal_due": p, "interest_due": i}
                                   for v, n, d, p, i, _ in visible]),
        "payments": pd.DataFrame([{"contract_id": "HT1", "schedule_version": str(p[4] if len(p) > 4 else 1),
                                   "instalment_no": str(p[0]), "paid_date": p[1].isoformat(),
                                   "principal_paid": p[2], "interest_paid": p[3]} for p in made],
                                 columns=["contract_id", "schedule_version", "instalment_no", "paid_date",
                                          "principal_paid", "interest_paid"]),
    })


V1 = [(1, n, d, "100.00", "10.00", None) for n, d in enumerate(DUES, start=1)]


def states(months: list[str], payments: list[tuple], loan=lambda as_of: {}, schedules=V1,
           extracts: dict | None = None) -> dict[str, dict]:
    """The state at each month end, the first bootstrapped, each later one rolled forward from the one before;
    each equal to the state bootstrapped from its month's extract. `extracts` overrides a month's extract."""
    out, state = {}, None
    for month in months:
        as_of = month_end(month)
        extract = (extracts or {}).get(month) or _extract(as_of, payments, loan, schedules)
        bootstrapped = cs.bootstrap_state(extract, as_of, RULES)
        state = bootstrapped if state is None else cs.roll_forward(state, extract, as_of, RULES)
        for table in ("contracts", "instalments"):
            pd.testing.assert_frame_equal(state[table], bootstrapped[table], obj=f"{month} {table}")
        out[month] = state
    return out


def contract(state: dict) -> pd.Series:
    """HT1's row of the state, missing values as None."""
    row = state["contracts"].set_index("contract_id").loc["HT1"].astype(object)
    return row.where(row.notna(), None)


def events(state: dict) -> list[tuple]:
    return list(state["events"][["event", "detail"]].itertuples(index=False, name=None))


# ------------------------------------------------------------------ one rule, one case


def test_the_first_month_bootstraps_and_later_months_roll_forward_and_say_so():
    run = states(["2026-02", "2026-03"], on_time(1, 2, 3))
    assert run["2026-02"]["provenance"].iloc[0][["source", "previous_month"]].tolist() == ["bootstrapped", ""]
    assert run["2026-03"]["provenance"].iloc[0][["source", "previous_month", "rolled_forward"]].tolist() == \
        ["rolled_forward", "2026-02", 1]


def test_a_late_payment_restarts_the_on_time_count():
    # Instalments 1–4 on their due dates, 5 (due 05-15) paid on 05-18, 6 on time.
    paid = on_time(1, 2, 3, 4) + [(5, date(2026, 5, 18), "100.00", "10.00")] + on_time(6)
    run = states(["2026-04", "2026-05", "2026-06"], paid)
    assert [contract(run[m])["on_time_periods"] for m in run] == [4, 0, 1]
    assert contract(run["2026-06"])["last_late_due"] == date(2026, 5, 15)
    assert contract(run["2026-05"])["dpd"] == 0  # paid by the month end: late, but nothing overdue


def test_an_overdue_spell_keeps_its_start_while_unpaid_and_clears_when_cured():
    # Instalment 2 (due 02-15) and 3 missed; both paid with 4 on 04-20.
    paid = on_time(1) + [(n, date(2026, 4, 20), "100.00", "10.00") for n in (2, 3, 4)]
    run = states(["2026-02", "2026-03", "2026-04"], paid)
    assert [contract(run[m])["overdue_since"] for m in run] == [date(2026, 2, 16), date(2026, 2, 16), None]
    assert [contract(run[m])["dpd"] for m in run] == [13, 44, 0]
    assert contract(run["2026-03"])["overdue_principal_cents"] == 200_00


def test_catching_up_the_oldest_instalment_while_a_newer_one_is_overdue_does_not_end_the_spell():
    # Instalment 2 missed, paid on 03-20; by then 3 (due 03-15) was overdue and is still unpaid at 03-31:
    # days past due count from 03-15, the spell from 02-16.
    paid = on_time(1) + [(2, date(2026, 3, 20), "100.00", "10.00")]
    march = contract(states(["2026-02", "2026-03"], paid)["2026-03"])
    assert (march["dpd"], march["overdue_since"]) == (16, date(2026, 2, 16))


def test_a_payment_made_ahead_counts_when_its_instalment_falls_due():
    # Instalment 4 (due 04-15) paid on 03-30: an open item at 03-31, on time at 04-30.
    paid = on_time(1, 2, 3) + [(4, date(2026, 3, 30), "100.00", "10.00")]
    run = states(["2026-03", "2026-04"], paid)
    assert run["2026-03"]["instalments"]["instalment_no"].tolist() == [4]
    assert (contract(run["2026-04"])["on_time_periods"], len(run["2026-04"]["instalments"])) == (4, 0)


def test_a_write_off_leaves_the_book_with_its_date_and_keeps_the_facts_it_left_with():
    def loan(as_of: date) -> dict:
        return {"written_off_on": "2026-05-20", "status": "核销", "outstanding_principal": "0.00"} \
            if as_of >= date(2026, 5, 20) else {}

    run = states(["2026-04", "2026-05", "2026-06"], on_time(1), loan)
    may, june = contract(run["2026-05"]), contract(run["2026-06"])
    assert (may["on_book"], may["exit_reason"], may["exited_on"]) == (False, "核销", date(2026, 5, 20))
    assert events(run["2026-05"]) == [("exited", "核销")]
    assert june.equals(may) and june["facts_as_of"] == date(2026, 5, 31) and june["dpd"] == 105


def test_a_transfer_leaves_the_book_in_the_month_the_loans_table_shows_it_without_a_date():
    # The loans table has no transfer date: the state knows the month, not the day.
    def loan(as_of: date) -> dict:
        return {"status": "转让", "outstanding_principal": "0.00"} if as_of >= date(2026, 4, 1) else {}

    april = contract(states(["2026-03", "2026-04"], on_time(1, 2, 3), loan)["2026-04"])
    assert (april["on_book"], april["exit_reason"], april["exited_on"], april["facts_as_of"]) == \
        (False, "转让", None, date(2026, 4, 30))


def test_a_transfer_with_its_date_exits_on_that_day():
    # The typed loans carry transferred_on (with_transfers, config/schema.yaml): 转让 on 2026-04-20.
    def loan(as_of: date) -> dict:
        return {"status": "转让", "outstanding_principal": "0.00", "transferred_on": "2026-04-20"} \
            if as_of >= date(2026, 4, 1) else {}

    run = states(["2026-03", "2026-04", "2026-05"], on_time(1, 2, 3), loan)
    april, may = contract(run["2026-04"]), contract(run["2026-05"])
    assert (april["on_book"], april["exit_reason"], april["exited_on"], april["facts_as_of"]) == \
        (False, "转让", date(2026, 4, 20), date(2026, 4, 30))
    assert events(run["2026-04"]) == [("exited", "转让")]
    assert run["2026-04"]["events"].set_index("event").loc["exited", "event_date"] == date(2026, 4, 20)
    assert (may["exited_on"], may["facts_as_of"]) == (date(2026, 4, 20), date(2026, 4, 30))


def test_a_contract_that_left_does_not_come_back():
    # Settled early on 03-10; in May the loans table shows it outstanding again: the state keeps it out.
    paid = on_time(1, 2) + [(n, date(2026, 3, 10), "100.00", "10.00") for n in range(3, 13)]

    def loan(as_of: date) -> dict:
        return {"status": "结清"} if as_of < date(2026, 5, 1) else {"outstanding_principal": "500.00"}

    run = states(["2026-03", "2026-04"], paid, loan)
    march = contract(run["2026-03"])
    assert (march["exit_reason"], march["exited_on"]) == ("结清", date(2026, 3, 10))
    may_extract = _extract(date(2026, 5, 31), paid, loan, V1)
    may = cs.roll_forward(run["2026-04"], may_extract, date(2026, 5, 31), RULES)
    assert not contract(may)["on_book"] and events(may)[0][0] == "re_entered_refused"


def test_restructuring_increments_the_count_and_records_non_performing_before():
    # Instalments 2–5 missed; restructured on 06-10 (114 days past due the day before: non-performing), the
    # arrears carried into schedule version 2 from 07-15; its first instalment paid on time.
    v2 = [(2, n, date(2026, 6 + n, 15), "150.00", "12.00", date(2026, 6, 10)) for n in range(1, 7)]

    def loan(as_of: date) -> dict:
        return {"restructured_on": "2026-06-10"} if as_of >= date(2026, 6, 10) else {}

    paid = on_time(1) + [(1, date(2026, 7, 15), "150.00", "12.00", 2)]
    run = states(["2026-05", "2026-06", "2026-07"], paid, loan, V1 + v2)
    may, june, july = (contract(run[m]) for m in run)
    assert (may["times_restructured"], june["times_restructured"]) == (0, 1)
    assert (june["restructured_on"], june["dpd_before_restructuring"], june["non_performing_before_restructuring"]) \
        == (date(2026, 6, 10), 114, True)
    assert (june["schedule_version"], june["dpd"], june["overdue_since"]) == (2, 0, None)  # arrears carried
    assert (july["on_time_periods_since_restructuring"], july["months_since_first_repayment_after_restructuring"]) \
        == (1, 0)
    assert [e[0] for e in events(run["2026-06"])] == ["restructured", "schedule_changed"]


def test_restructured_again_counts_twice_rolled_forward_where_one_extract_shows_only_the_latest_date():
    # A known limit of bootstrapping: the loans table keeps only the latest restructuring date.
    v2 = [(2, n, date(2026, 3 + n, 15), "100.00", "10.00", date(2026, 3, 5)) for n in range(1, 4)]
    v3 = [(3, n, date(2026, 6 + n, 15), "100.00", "10.00", date(2026, 6, 5)) for n in range(1, 4)]

    def loan(as_of: date) -> dict:
        return {"restructured_on": "2026-06-05" if as_of >= date(2026, 6, 5) else "2026-03-05"} \
            if as_of >= date(2026, 3, 5) else {}

    schedules = V1 + v2 + v3
    march = states(["2026-02", "2026-03"], on_time(1, 2), loan, schedules)["2026-03"]
    april = cs.roll_forward(march, _extract(date(2026, 4, 30), [], loan, schedules), date(2026, 4, 30), RULES)
    may = cs.roll_forward(april, _extract(date(2026, 5, 31), [], loan, schedules), date(2026, 5, 31), RULES)
    june_extract = _extract(date(2026, 6, 30), [], loan, schedules)
    june = cs.roll_forward(may, june_extract, date(2026, 6, 30), RULES)
    assert contract(june)["times_restructured"] == 2
    assert contract(cs.bootstrap_state(june_extract, date(2026, 6, 30), RULES))["times_restructured"] == 1


def test_a_payment_delivered_late_is_recomputed_from_the_full_extract_and_said_so():
    # The 03-15 payment of instalment 3 reaches the core system's extract only in April.
    paid = on_time(1, 2, 3, 4)
    march = _extract(date(2026, 3, 31), on_time(1, 2), lambda as_of: {}, V1)
    run = states(["2026-03", "2026-04"], paid, extracts={"2026-03": march})
    assert events(run["2026-04"]) == [("recomputed", "payments dated by last month end that last month did not have")]
    assert contract(run["2026-04"])["on_time_periods"] == 4


def test_the_tier_is_the_tier_reported_this_month_and_empty_off_the_book():
    extract = _extract(date(2026, 2, 28), on_time(1), lambda as_of: {}, V1)
    state = cs.bootstrap_state(extract, date(2026, 2, 28), RULES, pd.DataFrame({"contract_id": ["HT1"], "tier": [2]}))
    assert contract(state)["tier"] == 2
    settled = _extract(date(2026, 12, 31), on_time(*range(1, 13)), lambda as_of: {}, V1)
    assert contract(cs.bootstrap_state(settled, date(2026, 12, 31), RULES, pd.DataFrame(
        {"contract_id": ["HT1"], "tier": [1]})))["tier"] is None


def test_the_state_survives_its_storage_unchanged():
    import io

    state = states(["2026-02"], on_time(1))["2026-02"]
    stored = {}
    for name, frame in state.items():
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        stored[name] = pd.read_parquet(io.BytesIO(buffer.getvalue()))
    for name in state:
        pd.testing.assert_frame_equal(cs.conform(stored)[name], state[name])


# ------------------------------------------------------------------ the sample, month by month

# Twelve consecutive months with new contracts, settlements, write-offs, restructurings and schedule changes.
WINDOW = [f"2025-{m:02d}" for m in range(9, 13)] + [f"2026-{m:02d}" for m in range(1, 9)]
ALL_MONTHS = [f"{y}-{m:02d}" for y in (2023, 2024, 2025, 2026) for m in range(1, 13) if "2023-10" <= f"{y}-{m:02d}" <= "2026-09"]


@pytest.fixture(scope="module")
def sample():
    from plugins.sample import generate_portfolio

    s = load_config().sample
    return generate_portfolio(seed=s.seed, start=s.start, end=s.end, n_borrowers=s.borrowers, n_contracts=s.contracts)


def _sample_extract(portfolio, month: str) -> dict[str, pd.DataFrame]:
    from plugins.sample import core_extract

    tables = core_extract(portfolio, month_end(month))
    return typed_extract({name: tables[name] for name in ("borrowers", "loans", "schedules", "payments")})


def _rolled_equals_bootstrapped(portfolio, months: list[str]) -> dict[str, int]:
    seen: dict[str, int] = {}
    state = None
    for month in months:
        as_of, extract = month_end(month), _sample_extract(portfolio, month)
        bootstrapped = cs.bootstrap_state(extract, as_of, RULES)
        state = bootstrapped if state is None else cs.roll_forward(state, extract, as_of, RULES)
        for table in ("contracts", "instalments"):
            pd.testing.assert_frame_equal(state[table], bootstrapped[table], obj=f"{month} {table}")
        _agrees_with_the_loan_book(state, extract, as_of)
        for event, n in state["events"]["event"].value_counts().items():
            seen[event] = seen.get(event, 0) + int(n)
    return seen


def _agrees_with_the_loan_book(state: dict, extract: dict, as_of: date) -> None:
    """The contracts on the book are open_book's, with its days past due, overdue amounts, on-time run,
    observation and restructuring facts."""
    book = open_book(extract, as_of, (RULES.observation_min_periods, RULES.observation_min_months))
    book = book.set_index("contract_id").sort_index()
    mine = state["contracts"][state["contracts"]["on_book"]].set_index("contract_id").sort_index()
    assert list(mine.index) == list(book.index), as_of
    for column, theirs in (("balance_cents", "balance_cents"), ("dpd", "dpd"),
                           ("overdue_principal_cents", "overdue_principal_cents"),
                           ("overdue_interest_cents", "overdue_interest_cents"),
                           ("on_time_periods", "on_time_periods"), ("observation_met", "observation_met"),
                           ("times_restructured", "restructure_count"),
                           ("dpd_before_restructuring", "dpd_before_restructure")):
        assert mine[column].astype(object).where(mine[column].notna(), None).tolist() == \
            book[theirs].astype(object).where(book[theirs].notna(), None).tolist(), (as_of, column)
    first_due = [None if pd.isna(d) else d for d in book["first_due_in_force"]]
    assert [None if pd.isna(d) else d for d in mine["first_due_in_force"]] == first_due, as_of


def test_over_twelve_sample_months_the_rolled_forward_state_equals_the_bootstrapped_one(sample):
    seen = _rolled_equals_bootstrapped(sample, WINDOW)
    # The window exercises every kind of delivery the sample makes.
    assert {"entered", "exited", "restructured", "schedule_changed"} <= set(seen), seen


@pytest.mark.slow
def test_over_every_sample_month_the_rolled_forward_state_equals_the_bootstrapped_one(sample):
    _rolled_equals_bootstrapped(sample, ALL_MONTHS)


# ------------------------------------------------------------------ real Dagster runs

# Months no other suite runs, before the history and trend windows other suites count (2024-09 onwards, for
# 2026-08's 24 month ends); 2024-02 is never run, so 2024-03 bootstraps.
DAGSTER_MONTHS = ["2024-03", "2024-04"]
SELECTION = ["core_system_extract", "core_tables", "loan_classification", "contract_state"]


def test_dagster_rolls_the_state_forward_month_by_month_through_its_previous_month(s3_env, sample):
    from dagster import AssetKey

    from pipelines import cli
    from pipelines.definitions import defs
    from plugins.archive import ObjectStore, s3_settings
    from plugins.inbox import deliver
    from plugins.sample import core_extract, csv_bytes

    store = ObjectStore(s3_settings(load_config().storage))
    store.ensure_buckets()
    instance = cli._instance()
    job = defs.resolve_implicit_global_asset_job_def()
    runs = {}
    for month in DAGSTER_MONTHS:
        tables = {name: csv_bytes(frame) for name, frame in core_extract(sample, month_end(month)).items()}
        deliver(store, month, tables, [])
        result = job.execute_in_process(partition_key=month, instance=instance,
                                        asset_selection=[AssetKey(k) for k in SELECTION], raise_on_error=False)
        assert result.success, month
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()
                  if e.asset_key == AssetKey("contract_state")}
        assert checks == {"contract_state_covers_the_book": True, "exited_contracts_stay_out": True}, month
        runs[month] = (result.asset_value(AssetKey("contract_state")),
                       result.asset_materializations_for_node("contract_state")[0].metadata,
                       result.asset_value(AssetKey("core_tables")), result.asset_value(AssetKey("loan_classification")))
    sources = [(runs[m][1]["state_source"].value, runs[m][1]["previous_month"].value) for m in DAGSTER_MONTHS]
    assert sources == [("bootstrapped", "none"), ("rolled_forward", "2024-03")]
    # The stored, rolled-forward state of the last month equals the one bootstrapped from its typed core tables.
    state, _, core, classification = runs[DAGSTER_MONTHS[-1]]
    bootstrapped = cs.bootstrap_state(core, month_end(DAGSTER_MONTHS[-1]), RULES,
                                      classification[["contract_id", "tier"]])
    for table in ("contracts", "instalments"):
        pd.testing.assert_frame_equal(cs.conform(state)[table], bootstrapped[table], obj=table)
    on_book = bootstrapped["contracts"][bootstrapped["contracts"]["on_book"]]
    assert on_book["tier"].notna().all() and len(on_book) == len(classification)
