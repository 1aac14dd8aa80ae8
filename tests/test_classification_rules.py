"""Five-tier classification, one rule per case, with the regulation's numbers (config/classification.yaml)."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from plugins.classification import DEFAULT_RULES, LoanFacts, classify_book, classify_loan, verdicts_frame
from plugins.classification.engine import CROSS_INSTITUTION_ABSENT
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


# --- credit cards: their own DPD bands ------------------------------------------------------------

@pytest.mark.parametrize("dpd, expected", [
    (0, 1),
    (1, 2),      # 1–90 days → 关注
    (90, 2),
    (91, 3),     # 91–120 days → 次级
    (120, 3),
    (121, 4),    # 121–180 days → 可疑
    (180, 4),
    (181, 5),    # > 180 days → 损失
])
def test_credit_cards_follow_their_own_overdue_bands(dpd, expected):
    verdict = classify_loan(loan(kind="individual", product="credit_card", dpd=dpd), CFG, DEFAULT_RULES)
    assert verdict.tier == expected
    assert "overdue_days" not in {f.rule for f in verdict.findings}  # the loan floors do not apply on top


def test_a_card_181_days_overdue_is_loss_where_a_loan_would_still_be_substandard():
    assert tier(loan(kind="individual", product="credit_card", dpd=181)) == 5
    assert tier(loan(kind="individual", product="loan", dpd=181)) == 3


# --- impairment: credit-impaired, ECL ≥ 50% → 可疑, ECL ≥ 90% or liquidation → 损失 -----------------

def test_a_credit_impaired_loan_is_at_least_substandard():
    assert tier(loan(credit_impaired=True)) == 3


@pytest.mark.parametrize("ecl_ratio, expected", [
    ("0.4999", 3),   # below half the balance: only the credit-impaired floor
    ("0.50", 4),     # ECL ≥ 50% of the book balance → 可疑
    ("0.8999", 4),
    ("0.90", 5),     # ECL ≥ 90% → 损失
])
def test_credit_impaired_loans_follow_their_expected_credit_loss(ecl_ratio, expected):
    assert tier(loan(credit_impaired=True, ecl_ratio=Decimal(ecl_ratio))) == expected


def test_half_the_balance_as_ecl_without_credit_impairment_sets_no_doubtful_floor():
    assert tier(loan(credit_impaired=False, ecl_ratio=Decimal("0.50"))) == 1


def test_ninety_percent_ecl_is_loss_even_when_current():
    verdict = classify_loan(loan(ecl_ratio=Decimal("0.90")), CFG, DEFAULT_RULES)
    assert verdict.tier == 5
    assert verdict.findings[0].facts == {"ecl_ratio": "0.90", "threshold": "0.9"}


def test_a_borrower_in_bankruptcy_liquidation_is_loss():
    assert tier(loan(borrower_in_liquidation=True)) == 5


# --- restructured assets: again inside the observation period; previously non-performing ---------

def _in_observation(**facts) -> LoanFacts:
    # Restructured 2026-01-10, 8 months and 8 periods observed: inside the year of observation.
    return loan(restructured_on=date(2026, 1, 10), restructure_count=2,
                months_since_first_repayment_after_restructure=8, repayment_periods_since_restructure=8, **facts)


def test_restructured_again_inside_the_previous_observation_period_is_at_least_substandard():
    # The earlier restructuring had run 11 months (< 12) when the loan was restructured again.
    lenient = CFG.model_copy(update={"restructured": CFG.restructured.model_copy(update={"floor_tier": 2})})
    verdict = classify_loan(_in_observation(months_observed_at_restructure=11, periods_observed_at_restructure=11),
                            lenient, DEFAULT_RULES)
    assert verdict.tier == 3
    assert "restructured_again_in_observation" in {f.rule for f in verdict.findings}


def test_restructured_again_after_the_previous_observation_ended_is_a_fresh_restructuring():
    lenient = CFG.model_copy(update={"restructured": CFG.restructured.model_copy(update={"floor_tier": 2})})
    verdict = classify_loan(_in_observation(months_observed_at_restructure=12, periods_observed_at_restructure=2),
                            lenient, DEFAULT_RULES)
    assert verdict.tier == 2
    assert "restructured_again_in_observation" not in {f.rule for f in verdict.findings}


@pytest.mark.parametrize("dpd_before, fires", [(90, False), (91, True)])
def test_restructured_loan_non_performing_before_restructuring_is_at_least_substandard(dpd_before, fires):
    # 91 days overdue the day before restructuring was 次级; 90 days was 关注.
    lenient = CFG.model_copy(update={"restructured": CFG.restructured.model_copy(update={"floor_tier": 2})})
    verdict = classify_loan(_in_observation(dpd_before_restructure=dpd_before), lenient, DEFAULT_RULES)
    assert verdict.tier == (3 if fires else 2)
    assert ("restructured_previously_non_performing" in {f.rule for f in verdict.findings}) is fires


def test_restructuring_history_no_longer_matters_once_observation_has_ended():
    done = loan(restructured_on=date(2024, 6, 1), months_since_first_repayment_after_restructure=12,
                repayment_periods_since_restructure=2, dpd_before_restructure=200,
                months_observed_at_restructure=3, periods_observed_at_restructure=3)
    assert tier(done) == 1


def test_a_restructured_loan_under_observation_is_not_upgraded_from_last_months_tier():
    # 可疑 last month, nothing overdue now, 8 months into the observation: stays 可疑.
    verdict = classify_loan(_in_observation(previous_tier=4), CFG, DEFAULT_RULES)
    assert verdict.tier == 4
    assert "restructured_no_upgrade_in_observation" in {f.rule for f in verdict.findings}


def test_once_the_observation_is_met_a_restructured_loan_may_be_upgraded():
    met = loan(restructured_on=date(2024, 6, 1), months_since_first_repayment_after_restructure=24,
               repayment_periods_since_restructure=12, previous_tier=3)
    assert tier(met) == 1


def test_a_met_observation_does_not_restart_on_a_later_late_payment():
    # 25 months in, met long ago; an instalment 4 days late now counts 0 periods on time, but the
    # observation is over: 关注 for the days overdue, not 次级 for a restarted observation.
    late = loan(restructured_on=date(2024, 6, 1), months_since_first_repayment_after_restructure=25,
                repayment_periods_since_restructure=0, observation_met=True, dpd=4)
    assert tier(late) == 2


# --- 20% of a debtor's debts at all institutions > 90 days overdue (external input) ---------------

def test_more_than_twenty_percent_overdue_across_institutions_makes_the_claims_non_performing():
    verdicts = classify_book([loan("HT1", "B1")], CFG, DEFAULT_RULES, external_overdue_share={"B1": Decimal("0.21")})
    assert verdicts[0].tier == 3
    assert verdicts[0].findings[-1].facts == {"borrower_id": "B1", "overdue_share": "0.2100", "threshold": "0.2"}


def test_exactly_twenty_percent_overdue_across_institutions_does_not():
    verdicts = classify_book([loan("HT1", "B1")], CFG, DEFAULT_RULES, external_overdue_share={"B1": Decimal("0.20")})
    assert verdicts[0].tier == 1 and verdicts[0].notes == ()


def test_without_the_external_input_the_cross_institution_rule_is_silent_and_says_so():
    verdict = classify_book([loan("HT1", "B1")], CFG, DEFAULT_RULES)[0]
    assert verdict.tier == 1
    assert verdict.notes == (CROSS_INSTITUTION_ABSENT,)


def test_the_cross_institution_rule_applies_to_non_retail_debtors_only():
    verdict = classify_book([loan("HT1", "P1", "individual")], CFG, DEFAULT_RULES,
                            external_overdue_share={"P1": Decimal("0.50")})[0]
    assert verdict.tier == 1 and verdict.notes == ()


def test_claims_made_non_performing_across_institutions_count_towards_the_ten_percent_rule():
    # B1's 30% claim is 次级 by the 20% rule; with 30% of its balance non-performing here, all follow.
    verdicts = classify_book([loan("HT1", "B1", balance=30_000_00), loan("HT2", "B1", balance=70_000_00)],
                             CFG, DEFAULT_RULES, external_overdue_share={"B1": Decimal("0.25")})
    assert [v.tier for v in verdicts] == [3, 3]


# --- the output of every verdict ------------------------------------------------------------------

def test_the_frame_shows_tier_rules_with_facts_tier_before_floors_and_previous_tier():
    verdicts = classify_book([loan("HT1", dpd=91), loan("HT2")], CFG, DEFAULT_RULES)
    frame = verdicts_frame(verdicts, previous={"HT1": 2})
    first = frame.iloc[0]
    assert (first["tier"], first["tier_before_floors"], first["previous_tier"]) == (3, 1, 2)
    assert first["rules_fired"] == "overdue_days"
    assert json.loads(first["reasons_json"])[0]["facts"] == {"dpd": 91, "threshold_days": 90}
    assert pd.isna(frame.iloc[1]["previous_tier"])
