"""Five-tier classification, one rule per case, with the regulation's numbers (config/classification.yaml)."""
from __future__ import annotations

from datetime import date

import pytest

from plugins.classification import DEFAULT_RULES, LoanFacts, classify_book, classify_loan
from plugins.config import load_config

CFG = load_config().classification
AS_OF = date(2026, 9, 30)


def loan(contract_id: str = "HT1", borrower_id: str = "B1", kind: str = "corporate", balance: int = 100_000_00,
         **facts) -> LoanFacts:
    return LoanFacts(contract_id=contract_id, borrower_id=borrower_id, borrower_kind=kind, as_of=AS_OF,
                     balance_cents=balance, **{"dpd": 0, **facts})


def tier(facts: LoanFacts) -> int:
    return classify_loan(facts, CFG, DEFAULT_RULES).tier


@pytest.mark.parametrize("dpd, expected", [
    (0, 1),      # nothing overdue → 正常
    (1, 2),      # any amount overdue → 关注
    (90, 2),     # 90 days is not yet "more than 90"
    (91, 3),     # > 90 days → 次级
    (270, 3),
    (271, 4),    # > 270 days → 可疑
    (360, 4),
    (361, 5),    # > 360 days → 损失
])
def test_overdue_days_set_the_hard_floor(dpd, expected):
    assert tier(loan(dpd=dpd)) == expected


def test_ninety_one_days_overdue_with_full_collateral_is_substandard():
    # The floor applies "even when collateral is sufficient": no collateral fact can lift it.
    verdict = classify_loan(loan(dpd=91, balance=1_000_000_00), CFG, DEFAULT_RULES)
    assert verdict.tier == 3
    assert verdict.findings[0].facts == {"dpd": 91, "threshold_days": 90}


def test_new_loan_to_repay_an_old_one_is_at_least_special_mention():
    assert tier(loan(issuance_type="借新还旧")) == 2


def test_restructured_loan_inside_its_observation_period_is_at_least_substandard():
    # 11 months and 3 periods since the first repayment after restructuring: still observing (needs 12 and 2).
    assert tier(loan(restructured_on=date(2025, 9, 1), months_since_first_repayment_after_restructure=11,
                     repayment_periods_since_restructure=3)) == 3


def test_restructured_loan_needs_two_repayment_periods_as_well_as_a_year():
    assert tier(loan(restructured_on=date(2024, 6, 1), months_since_first_repayment_after_restructure=24,
                     repayment_periods_since_restructure=1)) == 3


def test_restructured_loan_past_its_observation_period_may_return_to_normal():
    assert tier(loan(restructured_on=date(2024, 6, 1), months_since_first_repayment_after_restructure=12,
                     repayment_periods_since_restructure=2)) == 1


def test_extended_loan_is_at_least_special_mention():
    assert tier(loan(extended_on=date(2026, 3, 1))) == 2


def test_technical_grace_period_excludes_short_delays_when_configured():
    lenient = CFG.model_copy(update={"technical_grace_days": 7})
    assert classify_loan(loan(dpd=7), lenient, DEFAULT_RULES).tier == 1
    assert classify_loan(loan(dpd=8), lenient, DEFAULT_RULES).tier == 2


def test_more_than_ten_percent_of_a_debtors_claims_non_performing_makes_all_non_performing():
    # 11% of the debtor's balance is 次级 → the rest follows to 次级.
    loans = [loan("HT1", balance=11_000_00, dpd=100), loan("HT2", balance=89_000_00)]
    verdicts = classify_book(loans, CFG, DEFAULT_RULES)
    assert [v.tier for v in verdicts] == [3, 3]
    assert verdicts[1].findings[-1].rule == "debtor_npl_share"


def test_exactly_ten_percent_non_performing_does_not_contaminate():
    loans = [loan("HT1", balance=10_000_00, dpd=100), loan("HT2", balance=90_000_00)]
    assert [v.tier for v in classify_book(loans, CFG, DEFAULT_RULES)] == [3, 1]


def test_retail_borrowers_are_classified_per_loan():
    loans = [loan("HT1", "P1", "individual", 50_000_00, dpd=100), loan("HT2", "P1", "individual", 50_000_00)]
    assert [v.tier for v in classify_book(loans, CFG, DEFAULT_RULES)] == [3, 1]


def test_every_downgrade_carries_its_reasons():
    verdict = classify_loan(loan(dpd=300, issuance_type="借新还旧"), CFG, DEFAULT_RULES)
    assert verdict.tier == 4
    assert {f.rule for f in verdict.findings} == {"overdue_days", "refinance_new_to_repay_old"}
    assert "可疑" in verdict.reason_text
