"""Post-loan inspections (贷后检查): due dates from the policy, done on time / late / overdue, by hand."""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from plugins.config import DEFAULT_CONFIG_DIR, ConfigError, Inspections, load_config
from plugins.monitoring.inspections import (
    add_working_days,
    inspection_report,
    inspection_status,
    month_summary,
    overdue_ageing,
    overdue_since,
)

AS_OF = date(2026, 9, 30)
# The seeds' policy: first within 5 working days, 正常 quarterly, riskier monthly, special within 10 days.
POLICY = Inspections.model_validate({
    "first_inspection": {"within_working_days": 5},
    "periodic": {"months_by_tier": {1: 3, 2: 1, 3: 1, 4: 1, 5: 1}},
    "special": {"within_days": 10, "triggers": ["overdue", "downgrade"]},
    "overdue_bands": [30, 90],
})


def _book(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame([{"contract_id": c, "borrower_id": f"B{c}", "borrower_name": f"借款人{c}",
                          "borrower_kind": "corporate", "start_date": start, "tier": tier, "previous_tier": prev,
                          "dpd": dpd, "balance_cents": cents} for c, start, tier, prev, dpd, cents in rows])


def _log(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame([{"contract_id": c, "borrower_id": f"B{c}", "inspection_type": kind, "due_date": "",
                          "done_date": done, "inspector": "王磊" if done else "", "finding": ""}
                         for c, kind, done in rows])


# A: started Fri 2026-09-04, no inspection → first due 5 working days later, Fri 09-11: 19 days overdue.
# B: started Mon 06-01 → first due Mon 06-08, done 06-05; 正常 quarterly → due 09-05, done 09-10 (5 days late).
# C: 关注 (monthly), first due 03-09 done 03-09, periodic due 04-09 done 04-08, next due 05-08 never done:
#    05-08 → 09-30 is 145 days.
# D: 关注, 25 days past due (overdue since 09-06 → special due 09-16, not done: 14 days); periodic due
#    08-31 + 1 month = 09-30, not yet overdue.
# E: downgraded 正常 → 关注 at this month end → special due 10-10; monthly periodic 09-07 done on 09-07.
BOOK = _book([
    ("A", date(2026, 9, 4), 1, 1, 0, 100_000_000),
    ("B", date(2026, 6, 1), 1, 1, 0, 80_000_000),
    ("C", date(2026, 3, 2), 2, 2, 0, 50_000_000),
    ("D", date(2026, 1, 5), 2, 2, 25, 20_000_000),
    ("E", date(2026, 7, 1), 2, 1, 0, 10_000_000),
])
LOG = _log([
    ("B", "首次检查", "2026-06-05"), ("B", "定期检查", "2026-09-10"),
    ("C", "首次检查", "2026-03-09"), ("C", "定期检查", "2026-04-08"),
    ("D", "首次检查", "2026-01-12"), ("D", "定期检查", "2026-08-31"),
    ("E", "首次检查", "2026-07-08"), ("E", "定期检查", "2026-08-07"), ("E", "定期检查", "2026-09-07"),
    ("A", "定期检查", ""),  # a task planned but not done: not an inspection
])


def test_working_days_skip_the_weekend():
    assert add_working_days(date(2026, 9, 4), 5) == date(2026, 9, 11)  # Friday → next Friday
    assert add_working_days(date(2026, 6, 1), 5) == date(2026, 6, 8)   # Monday → next Monday


def test_next_inspection_per_loan_and_days_overdue():
    status = inspection_status(BOOK, LOG, AS_OF, POLICY).set_index("contract_id")
    expected = {  # next kind, due, overdue days, last inspection done
        "A": ("首次检查", date(2026, 9, 11), 19, None),
        "B": ("定期检查", date(2026, 12, 10), 0, date(2026, 9, 10)),
        "C": ("定期检查", date(2026, 5, 8), 145, date(2026, 4, 8)),
        "D": ("专项检查", date(2026, 9, 16), 14, date(2026, 8, 31)),
        "E": ("定期检查", date(2026, 10, 7), 0, date(2026, 9, 7)),
    }
    for cid, (kind, due, days, last) in expected.items():
        row = status.loc[cid]
        assert (row["next_inspection"], row["next_due"], row["days_overdue"], row["last_inspection"]) == \
            (kind, due, days, last), cid
        assert bool(row["overdue"]) == (days > 0)
    assert list(status.index[:3]) == ["C", "A", "D"]  # most overdue first


def test_the_month_counts_due_on_time_late_and_not_done():
    summary = month_summary(BOOK, LOG, AS_OF, POLICY).set_index("检查类型")
    # 首次: A (not done). 定期: B late, D due today not done, E on time. 专项: D not done (E's falls in October).
    assert summary.loc["首次检查"].tolist() == [1, 0, 0, 1]
    assert summary.loc["定期检查"].tolist() == [3, 1, 1, 1]
    assert summary.loc["专项检查"].tolist() == [1, 0, 0, 1]
    assert summary.loc["合计"].tolist() == [5, 1, 1, 3]


def test_overdue_inspections_by_age_band():
    ageing = overdue_ageing(inspection_status(BOOK, LOG, AS_OF, POLICY), POLICY).set_index("逾期天数")
    assert ageing.loc["1–30天"].tolist() == [2, 120_000_000]   # A (19 days) and D (14)
    assert ageing.loc["31–90天"].tolist() == [0, 0]
    assert ageing.loc["90天以上"].tolist() == [1, 50_000_000]  # C (145)
    assert ageing.loc["合计"].tolist() == [3, 170_000_000]


def _schedule(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame([{"contract_id": "S", "schedule_version": "1", "instalment_no": str(no), "due_date": due,
                          "principal_due": "1000.00", "interest_due": "0.00"} for no, due in rows])


def test_a_special_inspection_counts_from_the_start_of_the_overdue_spell():
    # 07-15 paid late on 08-20; 08-15 and 09-15 unpaid. DPD counts from 08-15 (46 days), but the loan has been
    # overdue without a break since 07-16, so the special inspection of 07-25 meets the requirement.
    schedules = _schedule([(1, "2026-07-15"), (2, "2026-08-15"), (3, "2026-09-15")])
    payments = pd.DataFrame([{"contract_id": "S", "schedule_version": "1", "instalment_no": "1",
                              "paid_date": "2026-08-20", "principal_paid": "1000.00", "interest_paid": "0.00"}])
    assert overdue_since(schedules, payments, AS_OF) == {"S": date(2026, 7, 16)}
    book = _book([("S", date(2026, 6, 1), 2, 2, 46, 2_000_00)])
    log = _log([("S", "首次检查", "2026-06-05"), ("S", "专项检查", "2026-07-25"), ("S", "定期检查", "2026-09-20")])
    extract = {"inspections": log, "schedules": schedules, "payments": payments}
    status = inspection_report(book, extract, AS_OF, POLICY)["status"].iloc[0]
    assert (status["next_inspection"], status["next_due"], status["overdue"]) == ("定期检查", date(2026, 10, 20), False)
    # Counted from the oldest unpaid instalment alone (08-16), the 07-25 inspection would not have counted.
    status = inspection_status(book, log, AS_OF, POLICY).iloc[0]
    assert (status["next_inspection"], status["next_due"], status["days_overdue"]) == ("专项检查", date(2026, 8, 26), 35)


def test_the_bundled_policy_takes_the_seeds_numbers():
    policy = load_config().inspections
    assert policy.first_inspection.within_working_days == 5
    assert policy.periodic.months_by_tier[1] == 3 and policy.periodic.months_by_tier[2] == 1


def test_a_bad_policy_names_file_and_key(tmp_path: Path):
    target = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, target)
    path = target / "inspections.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("{1: 3, 2: 1,", "{1: 3,"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"inspections\.yaml: key 'periodic\.months_by_tier'"):
        load_config(target)


@pytest.fixture(scope="module")
def sample():
    from plugins.sample import core_extract, generate_portfolio

    portfolio = generate_portfolio()
    return portfolio, core_extract(portfolio, AS_OF)["inspections"], core_extract(portfolio, date(2026, 8, 31))["inspections"]


def test_the_sample_log_has_on_time_late_and_missing_inspections(sample):
    _, log, _ = sample
    assert set(log["inspection_type"]) == {"首次检查", "定期检查", "专项检查"}
    done = log[log["done_date"].notna()]
    late = done[done["done_date"] > done["due_date"]]
    missing = log[log["done_date"].isna() & (log["due_date"] < AS_OF)]
    assert len(late) > 0.05 * len(log) and len(missing) > 0.02 * len(log)
    assert len(done) - len(late) > 0.8 * len(log)  # most on time


def test_the_sample_log_at_an_earlier_month_end_knows_nothing_later(sample):
    _, september, august = sample
    assert all(d is None or d <= date(2026, 8, 31) for d in august["done_date"])
    keys = ["contract_id", "inspection_type", "due_date"]
    later = september.merge(august, on=keys, suffixes=("", "_aug"))
    done_in_september = later[later["done_date"].map(lambda d: d is not None and d > date(2026, 8, 31))]
    assert len(done_in_september) and done_in_september["done_date_aug"].isna().all()
