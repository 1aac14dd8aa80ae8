"""Manual overrides: worse always, better only where no hard floor forbids it; each records who, when, why."""
from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from plugins.classification import DEFAULT_RULES, LoanFacts, classify_book, classify_loan, verdicts_frame
from plugins.classification.overrides import (
    Override,
    OverrideRefused,
    apply_override,
    apply_overrides,
    read_overrides,
)
from plugins.config import load_config

CFG = load_config().classification
AS_OF = date(2026, 9, 30)
PERIOD = "2026-09"
WHEN = datetime(2026, 10, 3, 9, 30)


def loan(contract_id: str = "HT1", borrower_id: str = "B1", balance: int = 100_000_00, **facts) -> LoanFacts:
    return LoanFacts(contract_id=contract_id, borrower_id=borrower_id, borrower_kind="corporate", as_of=AS_OF,
                     balance_cents=balance, **{"dpd": 0, **facts})


def override(to_tier: int, contract_id: str = "HT1", when: datetime = WHEN, period: str = PERIOD) -> Override:
    return Override(contract_id, period, to_tier, "张三 (风险管理部)", when, "借款人主要客户流失，经营现金流恶化")


def test_a_worse_tier_is_always_allowed_and_records_who_when_why():
    verdict = apply_override(classify_loan(loan(), CFG, DEFAULT_RULES), override(3), CFG)
    assert verdict.tier == 3
    record = verdict.findings[-1]
    assert record.rule == "manual_override"
    assert record.facts == {"who": "张三 (风险管理部)", "when": "2026-10-03T09:30:00",
                            "why": "借款人主要客户流失，经营现金流恶化", "from_tier": 1}


def test_a_better_tier_below_the_ninety_day_floor_is_refused_naming_the_floor():
    verdict = classify_loan(loan(dpd=91), CFG, DEFAULT_RULES)  # 91 days overdue → 次级
    with pytest.raises(OverrideRefused, match=r"overdue_days \(floor 次级\)"):
        apply_override(verdict, override(2), CFG)


def test_a_better_tier_is_refused_naming_every_floor_it_breaks():
    verdict = classify_loan(loan(dpd=91, issuance_type="借新还旧"), CFG, DEFAULT_RULES)
    with pytest.raises(OverrideRefused) as refused:
        apply_override(verdict, override(1), CFG)
    assert "overdue_days" in str(refused.value) and "refinance_new_to_repay_old" in str(refused.value)


def test_a_better_tier_is_allowed_where_only_a_soft_floor_stands_in_the_way():
    # 展期 → 关注 is institution policy (classification.overrides.soft_rules), not a regulatory floor.
    verdict = apply_override(classify_loan(loan(extended_on=date(2026, 3, 1)), CFG, DEFAULT_RULES), override(1), CFG)
    assert verdict.tier == 1 and verdict.findings[-1].facts["from_tier"] == 2


def test_the_same_floor_made_hard_refuses_the_upgrade():
    strict = CFG.model_copy(update={"overrides": CFG.overrides.model_copy(update={"soft_rules": []})})
    with pytest.raises(OverrideRefused, match="extended"):
        apply_override(classify_loan(loan(extended_on=date(2026, 3, 1)), CFG, DEFAULT_RULES), override(1), strict)


def test_overrides_of_a_period_apply_the_latest_and_list_the_refused():
    verdicts = classify_book([loan("HT1", dpd=100), loan("HT2", "B2"), loan("HT3", "B3")], CFG, DEFAULT_RULES)
    overrides = [override(1, "HT1"),                                        # breaks the 90-day floor
                 override(2, "HT2", datetime(2026, 10, 1)), override(4, "HT2"),  # the later one wins
                 override(3, "HT9"),                                        # not in the book
                 override(3, "HT3", period="2026-08")]                      # another period
    result, refused = apply_overrides(verdicts, overrides, PERIOD, CFG)
    assert [v.tier for v in result] == [3, 4, 1]
    reasons = sorted(r.reason for r in refused)
    assert len(refused) == 4
    assert any("HT1" in r and "overdue_days" in r for r in reasons)
    assert any("superseded" in r for r in reasons)
    assert any("HT9 is not in the 2026-09 loan book" in r for r in reasons)
    assert any("period 2026-08" in r for r in reasons)


def test_the_frame_shows_the_override_and_rules_fired_names_it():
    verdicts, _ = apply_overrides(classify_book([loan()], CFG, DEFAULT_RULES), [override(2)], PERIOD, CFG)
    row = verdicts_frame(verdicts).iloc[0]
    assert row["rules_fired"] == "manual_override"
    assert (row["override_by"], row["override_at"]) == ("张三 (风险管理部)", "2026-10-03T09:30:00")


def test_the_inbox_file_is_parsed_and_incomplete_rows_are_refused_not_fatal():
    frame = pd.DataFrame({"contract_id": ["HT1", "HT2"], "period": [PERIOD, PERIOD], "to_tier": ["次级", "2"],
                          "who": ["张三", "李四"], "when": ["2026-10-03T09:30:00", "2026-10-03"], "why": ["逾期", ""]})
    overrides, refused = read_overrides(frame)
    assert [(o.contract_id, o.to_tier) for o in overrides] == [("HT1", 3)]
    assert len(refused) == 1 and "row 2" in refused[0].reason and "why" in refused[0].reason


def test_the_monthly_asset_applies_inbox_overrides_and_its_check_names_the_refused():
    """loan_classification with an overrides table in the month's extract (as core_system_extract passes it on)."""
    from dagster import build_asset_check_context, build_asset_context

    from assets.classify import loan_classification, overrides_respect_floors
    from pipelines.resources import PostloanConfigResource
    from plugins.sample import core_extract, csv_bytes, generate_portfolio
    from plugins.portfolio.loanbook import read_csv_bytes

    s = load_config().sample
    portfolio = generate_portfolio(seed=s.seed, start=s.start, end=s.end, n_borrowers=s.borrowers,
                                   n_contracts=s.contracts)
    extract = {name: read_csv_bytes(csv_bytes(frame)) for name, frame in core_extract(portfolio, AS_OF).items()}
    book = extract["loans"]
    current = book.loc[(book["outstanding_principal"] != "0.00") & (book["restructured_on"] == "")
                       & (book["issuance_type"] == "新增") & (book["extended_on"] == ""), "contract_id"]
    extract["overrides"] = pd.DataFrame({
        "contract_id": ["HT2023-0003", current.iloc[-1]],
        "period": [PERIOD, PERIOD], "to_tier": ["正常", "关注"], "who": ["王五", "王五"],
        "when": ["2026-10-03T10:00:00"] * 2, "why": ["已与借款人达成还款计划", "行业景气下行"]})
    config = PostloanConfigResource()
    result = loan_classification(build_asset_context(partition_key=PERIOD), core_tables=extract,
                                 previous_classification={}, config=config)
    frame = result.value.set_index("contract_id")
    assert frame.loc[current.iloc[-1], "override_by"] == "王五"
    assert frame.loc[current.iloc[-1], "rules_fired"].endswith("manual_override")
    assert frame.loc["HT2023-0003", "tier"] == 5 and frame.loc["HT2023-0003", "override_by"] == ""  # 541 days overdue
    check = overrides_respect_floors(build_asset_check_context(), loan_classification=result.value)
    assert not check.passed
    assert "HT2023-0003" in check.description and "overdue_days (floor 损失)" in check.description
