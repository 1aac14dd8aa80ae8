"""Collection cases: one per overdue episode, staged by the dunning ladder of config/collections.yaml
(逾期提醒 from day 1, 电话催收 from day 8, 上门催收 from day 31, 催收函/律师函 from day 61, 法律程序 from day
91; each stage's action due 3, 3, 10, 10 and 30 days after the case reached it), with promises, hardship,
the collector, and the month's figures; and every channel the policies name passes the data-quality gate."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from plugins.collections.cases import build_cases, case_summary, collector_workload
from plugins.config import DEFAULT_CONFIG_DIR, Collections, load_yaml_model

AS_OF = date(2026, 9, 30)
POLICY = load_yaml_model(DEFAULT_CONFIG_DIR / "collections.yaml", Collections)


def _contract(cid, dpd, since, *, on_book=True, exit_reason="", exited_on=None, last_paid_on=None):
    return {"contract_id": cid, "borrower_id": f"B-{cid}", "on_book": on_book, "dpd": dpd, "overdue_since": since,
            "overdue_principal_cents": 100_000 * dpd, "overdue_interest_cents": 0, "exit_reason": exit_reason,
            "exited_on": exited_on, "last_paid_on": last_paid_on}


CONTRACTS = pd.DataFrame([
    _contract("C1", 10, date(2026, 9, 21)),    # reached 电话催收 on 09-28
    _contract("C2", 61, date(2026, 8, 1)),     # reached 催收函/律师函 on 09-30
    _contract("C3", 122, date(2026, 6, 1)),    # 法律程序 since 08-30, no 诉讼 yet
    _contract("C4", 0, None, last_paid_on=date(2026, 9, 12)),               # current again
    _contract("C5", 0, None, on_book=False, exit_reason="核销", exited_on=date(2026, 9, 25)),
    _contract("C6", 0, None),                  # never overdue: no case
])
LOG = pd.DataFrame([
    {"contract_id": c, "action_date": d, "action": a, "outcome": o, "amount_recovered": m, "collector": who,
     "hardship": why} for c, d, a, o, m, who, why in [
        ("C1", "2026-09-22", "短信", "", "0.00", "外包-李雷", ""),
        ("C2", "2026-08-02", "短信", "", "0.00", "", ""),
        ("C2", "2026-08-09", "电话", "承诺还款", "0.00", "", ""),     # no money by 08-16: broken in August
        ("C2", "2026-09-20", "电话", "承诺还款", "0.00", "", ""),     # no money by 09-27: broken this month
        ("C3", "2026-06-01", "短信", "", "0.00", "", ""),
        ("C3", "2026-06-08", "电话", "", "0.00", "", ""),
        ("C3", "2026-07-01", "上门", "拒绝", "0.00", "", "经营困难"),
        ("C3", "2026-07-31", "律师函", "", "0.00", "", ""),
        ("C3", "2026-09-26", "电话", "承诺还款", "0.00", "", ""),     # window open to 10-03: made
        ("C4", "2026-09-12", "电话", "全额还款", "1000.00", "", ""),
        ("C5", "2026-09-25", "核销", "", "0.00", "", ""),
    ]])
PREVIOUS = pd.DataFrame([  # last month's open cases (only the columns the carry-over reads matter here)
    {"case_id": "C2-20260801", "contract_id": "C2", "borrower_id": "B-C2", "opened_on": date(2026, 8, 1),
     "status": "open", "stage_code": "visit", "collector": "外访组-周杰"},
    {"case_id": "C4-20260815", "contract_id": "C4", "borrower_id": "B-C4", "opened_on": date(2026, 8, 15),
     "status": "open", "stage_code": "call", "collector": "电催组-刘洋"},
    {"case_id": "C5-20260301", "contract_id": "C5", "borrower_id": "B-C5", "opened_on": date(2026, 3, 1),
     "status": "open", "stage_code": "legal", "collector": "法务组-孙丽"},
])


@pytest.fixture(scope="module")
def built():
    return build_cases(CONTRACTS, LOG, PREVIOUS, AS_OF, POLICY)


@pytest.fixture(scope="module")
def cases(built):
    return built["cases"].set_index("case_id")


def test_a_case_per_overdue_episode_named_by_its_first_day(cases):
    assert sorted(cases.index) == ["C1-20260921", "C2-20260801", "C3-20260601", "C4-20260815", "C5-20260301"]


def test_stage_by_days_past_due_and_the_next_action_after_the_done_one(cases):
    c1 = cases.loc["C1-20260921"]   # 短信 on 09-22 did the reminder; the call is due 09-28 + 3 days
    assert (c1["stage"], c1["next_action"], c1["next_action_due"]) == ("电话催收", "电话催收", date(2026, 10, 1))
    assert not c1["past_next_action"]


def test_a_stage_action_not_done_by_its_due_date_is_past_due(cases):
    c2 = cases.loc["C2-20260801"]   # reached 上门催收 on 08-31, due 09-10, never visited: 20 days past
    assert c2["stage"] == "催收函/律师函"
    assert (c2["next_action"], c2["next_action_due"], c2["days_past_next_action"]) == \
        ("上门催收", date(2026, 9, 10), 20)


def test_past_ninety_days_without_a_legal_step_is_flagged(cases):
    c3 = cases.loc["C3-20260601"]   # 律师函 is not 诉讼; 法律程序 since 08-30 is due 09-29
    assert c3["needs_legal_step"] and pd.isna(c3["legal_step_on"])
    assert (c3["next_action"], c3["days_past_next_action"]) == ("提起诉讼或仲裁", 1)


def test_promises_made_kept_and_broken(cases):
    c2, c3 = cases.loc["C2-20260801"], cases.loc["C3-20260601"]
    assert (c2["promises_made"], c2["promises_broken"], c2["broken_this_month"], c2["promise_status"]) == \
        (2, 2, 1, "broken")
    assert (c3["promise_status"], c3["promise_date"]) == ("made", date(2026, 9, 26))


def test_hardship_is_the_latest_reason_logged(cases):
    assert cases.loc["C3-20260601", "hardship"] == "经营困难"


def test_a_cured_case_closes_on_the_last_payment_and_a_written_off_one_on_the_write_off(cases):
    c4, c5 = cases.loc["C4-20260815"], cases.loc["C5-20260301"]
    assert (c4["status"], c4["outcome"], c4["closed_on"], c4["recovered_cents"]) == \
        ("closed", "逾期已结清", date(2026, 9, 12), 100_000)
    assert (c5["status"], c5["outcome"], c5["closed_on"]) == ("closed", "核销", date(2026, 9, 25))


def test_the_collector_logged_wins_and_last_months_collector_stays(built):
    tasks = built["tasks"].set_index(["case_id", "stage_code"])
    assert tasks.loc[("C1-20260921", "reminder"), "collector"] == "外包-李雷"
    assert tasks.loc[("C2-20260801", "visit"), "collector"] == "外访组-周杰"


def test_actions_due_and_done_by_collector(built):
    table = collector_workload(built, LOG, AS_OF).set_index("催收员")
    assert table.loc["外包-李雷"].tolist() == [1, 1, 0, 0, 1]      # the reminder, done on time
    assert table.loc["外访组-周杰"].tolist() == [1, 0, 0, 1, 0]    # the visit, not done
    assert table.loc["法务组-孙丽"].tolist() == [1, 0, 0, 1, 3]    # the legal step; C2's and C3's calls, C5's 核销
    assert table.loc["合计"].tolist() == [3, 1, 0, 2, 5]


def test_the_months_figures(built):
    figures = case_summary(built["cases"], AS_OF)
    assert figures["open"] == 3 and figures["opened_this_month"] == 1 and figures["closed_this_month"] == 2
    assert (figures["past_next_action"], figures["broken_promises_this_month"], figures["needs_legal_step"]) == \
        (2, 1, 1)


def test_without_last_months_cases_the_open_ones_are_rebuilt_and_none_is_known_closed():
    rebuilt = build_cases(CONTRACTS, LOG, None, AS_OF, POLICY)["cases"]
    assert sorted(rebuilt["case_id"]) == ["C1-20260921", "C2-20260801", "C3-20260601"]


def test_the_gate_accepts_exactly_the_channels_of_collections_yaml():
    from plugins.validation import load_validation_config

    rules = load_validation_config(DEFAULT_CONFIG_DIR / "validation.yaml")
    [spec] = [e for e in rules.frames["collections"].expectations
              if e.type == "expect_column_values_to_be_in_set" and e.kwargs.get("column") == "action"]
    assert spec.kwargs["value_set"] == POLICY.channels
    for seed_channel in ("短信", "电话", "邮件", "信函", "上门", "律师函", "诉讼", "转让", "核销"):
        assert seed_channel in POLICY.channels


def test_a_log_using_every_channel_passes_the_data_quality_gate():
    from plugins.validation import load_validation_config, validate_extract

    rules = load_validation_config(DEFAULT_CONFIG_DIR / "validation.yaml")
    only = rules.model_copy(update={"frames": {"collections": rules.frames["collections"]}})
    log = pd.DataFrame([{"contract_id": "C1", "action_date": f"2026-09-{i + 1:02d}", "action": channel,
                         "outcome": "" if channel == "核销" else "拒绝", "amount_recovered": "0.00"}
                        for i, channel in enumerate(POLICY.channels)])
    loans = pd.DataFrame([{"contract_id": "C1"}])
    outcome = validate_extract({"collections": log, "loans": loans}, only, month_end=AS_OF)
    assert outcome.success, outcome.summary_lines()


def test_the_management_pack_section_has_chinese_headings_masked_names_and_wan_yuan(built):
    from plugins.reports.management import collection_run_sections

    cases = built["cases"].assign(borrower_name=lambda f: f["contract_id"] + "号商贸有限公司", borrower_kind="corporate")
    penalty = pd.DataFrame([{"contract_id": "C3", "borrower_name": "C3号商贸有限公司", "borrower_kind": "corporate",
                             "penalty_rate": 0.09, "compounding": True, "overdue_principal_cents": 12_200_000,
                             "overdue_interest_cents": 0, "penalty_on_principal_cents": 900_000,
                             "compound_interest_cents": 0, "penalty_interest_cents": 900_000,
                             "accrued_this_month_cents": 305_000}])
    notices = pd.DataFrame([{"kind_name": "逾期通知书", "contract_id": "C1", "borrower_name": "C1号商贸有限公司",
                             "borrower_kind": "corporate", "file_name": "逾期通知书_C1_2026-09.pdf", "sha256": "ab" * 32}])
    run = {"cases": cases, "workload": collector_workload(built, LOG, AS_OF), "penalty": penalty, "notices": notices}
    sections = collection_run_sections(run, "2026-09")
    assert list(sections) == ["催收案件概况", "催收阶段分布", "超期未执行案件", "逾期超90天未采取法律措施", "催收员执行情况",
                              "罚息计提", "罚息明细", "催收通知", "催收通知明细"]
    figures = dict(zip(sections["催收案件概况"]["指标"], sections["催收案件概况"]["本期值"]))
    assert figures["在催案件（件）"] == "3" and figures["其中本月新增"] == "1" and figures["其中核销"] == "1"
    # 10 + 61 + 122 days × 1,000.00 of overdue principal = 193,000.00 元 = 19.30 万元
    assert figures["在催逾期本息（万元）"] == "19.30"
    past = sections["超期未执行案件"]
    assert list(past["合同编号"]) == ["C2", "C3"] and list(past["超期天数"]) == [20, 1]
    assert "商贸有限公司" not in "".join(past["借款人"])                      # names masked
    every_cell = "".join(str(v) for frame in sections.values() for v in frame.to_numpy().ravel())
    assert not any(code in every_cell for code in ("visit", "legal", "demand_letter", "overdue_notice", "open"))
    legal = sections["逾期超90天未采取法律措施"].iloc[0]
    assert legal["合同编号"] == "C3" and str(legal["逾期本息（万元）"]) == "12.20"
    penalty_figures = dict(zip(sections["罚息计提"]["指标"], sections["罚息计提"]["本期值"]))
    assert penalty_figures["本月计提罚息及复利（万元）"] == "0.31"           # 3,050.00 元
    assert sections["催收通知"].values.tolist() == [["逾期通知书", 1], ["合计", 1]]


def test_the_collection_systems_assignment_names_the_collector_and_the_hardship():
    assignments = pd.DataFrame([{"contract_id": "C3", "case_opened_on": "2026-06-01", "collector": "法务组-钱进",
                                 "assigned_on": "2026-06-02", "hardship": "疾病"},
                                {"contract_id": "C1", "case_opened_on": "2026-09-21", "collector": "电催组-周敏",
                                 "assigned_on": "2026-10-01", "hardship": ""}])    # assigned after the month end
    built = build_cases(CONTRACTS, LOG, None, AS_OF, POLICY, assignments=assignments)
    cases, tasks = built["cases"].set_index("case_id"), built["tasks"].set_index(["case_id", "stage_code"])
    assert cases.loc["C3-20260601", "collector"] == "法务组-钱进" and cases.loc["C3-20260601", "hardship"] == "疾病"
    assert tasks.loc[("C3-20260601", "visit"), "collector"] == "法务组-钱进"
    assert tasks.loc[("C1-20260921", "reminder"), "collector"] == "外包-李雷"      # the logged collector did it
    assert tasks.loc[("C1-20260921", "call"), "collector"] != "电催组-周敏"


def test_the_sample_assigns_each_episode_from_its_own_stream_and_leaves_the_log_as_it_was():
    from plugins.sample import generate_portfolio
    from plugins.sample.collections import collection_assignments, collections_as_of
    from plugins.sample.inspections import overdue_episodes

    portfolio = generate_portfolio()
    table = collection_assignments(portfolio, AS_OF)
    begun = sum(1 for episodes in overdue_episodes(portfolio).values() for e in episodes if e.start <= AS_OF)
    assert 0 < len(table) <= begun and not table.duplicated(["contract_id", "case_opened_on"]).any()
    assert (table["hardship"] != "").any() and set(table["collector"]) <= {
        "电催组-陈静", "电催组-刘洋", "电催组-周敏", "外访组-王强", "外访组-赵磊", "法务组-孙丽"}
    assert collection_assignments(portfolio, AS_OF).equals(table)                       # deterministic
    assert list(collections_as_of(portfolio, AS_OF).columns) == [
        "contract_id", "action_date", "action", "outcome", "amount_recovered"]        # the log is unchanged


def test_a_stage_channel_the_gate_would_refuse_is_a_config_error_naming_the_file(tmp_path):
    from plugins.config import ConfigError

    text = (DEFAULT_CONFIG_DIR / "collections.yaml").read_text(encoding="utf-8").replace(
        "channels: [诉讼, 仲裁]", "channels: [诉讼, 仲裁, 支付令]")
    (tmp_path / "collections.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"collections\.yaml: .*not in channels: \['支付令'\]"):
        load_yaml_model(tmp_path / "collections.yaml", Collections)


def test_the_assignments_table_is_validated_when_delivered_and_a_missing_collector_blocks():
    from plugins.validation import load_validation_config, validate_extract

    rules = load_validation_config(DEFAULT_CONFIG_DIR / "validation.yaml")
    only = rules.model_copy(update={"frames": {"collection_assignments": rules.frames["collection_assignments"]}})
    loans = pd.DataFrame([{"contract_id": "C1"}])
    good = pd.DataFrame([{"contract_id": "C1", "case_opened_on": "2026-09-21", "collector": "电催组-陈静",
                          "assigned_on": "2026-09-22", "hardship": ""}])
    assert validate_extract({"collection_assignments": good, "loans": loans}, only, month_end=AS_OF).success
    bad = good.assign(collector=None)
    outcome = validate_extract({"collection_assignments": bad, "loans": loans}, only, month_end=AS_OF)
    assert not outcome.success
    assert any("collector named" in line for line in outcome.summary_lines())
