"""Collection results (催收) of a month: actions, outcomes, promises kept and cure rates, by hand."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from plugins.config import Collections, DelinquencyBucket
from plugins.monitoring.collections import actions_by_type, cure_rates, outcomes, promises

AS_OF = date(2026, 9, 30)
POLICY = Collections(promise_kept_within_days=7)
BUCKETS = [DelinquencyBucket(label=label, max_dpd=days) for label, days in
           (("M0", 0), ("M1", 30), ("M2", 60), ("M3", 90), ("M4", 120), ("M5", 150), ("M6+", None))]

LOG = pd.DataFrame([
    {"contract_id": c, "action_date": d, "action": a, "outcome": o, "amount_recovered": m}
    for c, d, a, o, m in [
        ("C1", "2026-09-02", "短信", "承诺还款", "0.00"),
        ("C1", "2026-09-05", "电话", "部分还款", "1000.00"),   # 3 days after C1's promise: kept
        ("C2", "2026-09-01", "短信", "承诺还款", "0.00"),       # next money 09-20, 19 days later: broken
        ("C2", "2026-09-10", "电话", "拒绝", "0.00"),
        ("C2", "2026-09-20", "上门", "全额还款", "2500.50"),
        ("C3", "2026-08-30", "电话", "承诺还款", "0.00"),       # August: not this month's
        ("C3", "2026-09-03", "电话", "部分还款", "300.00"),
        ("C4", "2026-09-27", "电话", "承诺还款", "0.00"),       # window runs to 10-04: pending
    ]])


def test_actions_by_type_count_loans_and_money_of_the_month():
    table = actions_by_type(LOG, AS_OF).set_index("催收方式")
    assert table.loc["短信"].tolist() == [2, 2, 0]
    assert table.loc["电话"].tolist() == [4, 4, 130_000]   # 1000.00 + 300.00
    assert table.loc["上门"].tolist() == [1, 1, 250_050]
    assert table.loc["合计"].tolist() == [7, 4, 380_050]
    assert list(table.index) == ["短信", "电话", "上门", "合计"]


def test_outcomes_of_the_month():
    table = outcomes(LOG, AS_OF).set_index("结果")
    assert table["次数"].to_dict() == {"承诺还款": 3, "部分还款": 2, "全额还款": 1, "失联": 0, "拒绝": 1}


def test_a_promise_is_kept_by_money_within_the_window_broken_after_it_pending_inside_it():
    assert promises(LOG, AS_OF, POLICY) == {"made": 3, "kept": 1, "broken": 1, "pending": 1}
    # With a 20-day window C2's 09-20 payment keeps its 09-01 promise.
    assert promises(LOG, AS_OF, Collections(promise_kept_within_days=20))["kept"] == 2


def _book(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["contract_id", "dpd", "balance_cents"])


def test_cure_rate_by_last_month_end_bucket():
    previous = _book([("X1", 10, 100_000), ("X2", 45, 200_000), ("X3", 20, 300_000), ("X4", 200, 400_000),
                      ("X5", 0, 500_000)])
    current = _book([("X1", 0, 90_000), ("X2", 75, 200_000), ("X5", 0, 450_000)])  # X3 repaid, X4 written off
    written_off = {"X1": None, "X2": None, "X3": None, "X4": date(2026, 9, 15), "X5": None}
    table = cure_rates(previous, current, written_off, AS_OF, BUCKETS).set_index("上月末账龄")
    assert table.loc["M1"].tolist() == [2, 400_000, 2, 400_000, Decimal("1.000000")]  # X1 current, X3 repaid
    assert table.loc["M2"].tolist() == [1, 200_000, 0, 0, Decimal("0.000000")]
    assert table.loc["M6+"].tolist() == [1, 400_000, 0, 0, Decimal("0.000000")]       # written off: not cured
    assert table.loc["M3", "cure_rate"] is None                                          # no loan in M3
    assert table.loc["合计"].tolist() == [4, 1_000_000, 2, 400_000, Decimal("0.500000")]


@pytest.fixture(scope="module")
def sample_log():
    from plugins.sample import core_extract, generate_portfolio

    portfolio = generate_portfolio()
    return portfolio, core_extract(portfolio, AS_OF)


def test_the_sample_collects_only_on_overdue_contracts_and_logs_payments_on_their_day(sample_log):
    portfolio, extract = sample_log
    log = extract["collections"]
    assert set(log["action"]) <= {"短信", "电话", "上门", "律师函", "诉讼", "转让", "核销"}
    assert {"短信", "电话", "上门", "律师函", "诉讼"} <= set(log["action"])
    money = log[log["amount_recovered"] != "0.00"]
    assert set(money["outcome"]) == {"部分还款", "全额还款"}
    paid = extract["payments"]
    days = set(zip(paid["contract_id"], paid["paid_date"]))
    assert all((c, d) in days for c, d in zip(money["contract_id"], money["action_date"]))
    assert (log["action_date"] <= AS_OF).all()


def test_a_month_without_collection_actions_reports_empty_sections():
    # The sample's first month has no collection log yet: every section is empty, nothing fails.
    from datetime import date

    import pandas as pd

    from plugins.monitoring.collections import actions_by_type

    empty = pd.DataFrame(columns=["contract_id", "action_date", "action", "amount_recovered", "outcome"])
    table = actions_by_type(empty, date(2023, 10, 31))
    assert table.to_dict("records") == [{"催收方式": "合计", "次数": 0, "loans": 0, "recovered_cents": 0}]


def test_the_new_channels_of_the_seeds_are_counted_in_their_own_order():
    # 邮件 and 信函 (the seeds' 电话、邮件、信函等方式) come right after 短信/电话, before 上门.
    log = pd.DataFrame([
        {"contract_id": "C9", "action_date": "2026-09-03", "action": "信函", "outcome": "", "amount_recovered": "0.00"},
        {"contract_id": "C9", "action_date": "2026-09-02", "action": "邮件", "outcome": "", "amount_recovered": "0.00"},
        {"contract_id": "C9", "action_date": "2026-09-04", "action": "上门", "outcome": "部分还款",
         "amount_recovered": "200.00"}])
    table = actions_by_type(log, AS_OF)
    assert list(table["催收方式"]) == ["邮件", "信函", "上门", "合计"]
    assert table.set_index("催收方式").loc["合计"].tolist() == [3, 1, 20_000]
