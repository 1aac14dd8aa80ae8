"""Expected credit loss (IFRS 9 / CAS 22): staging, PD term structure, LGD, EAD, scenarios, simplified approach.

Every expected figure is computed here by hand, in closed form, from the rule's numbers.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest

from plugins.config import EclScenario, load_config
from plugins.provisioning import EclInputs, LoanTerms, expected_credit_loss, sensitivity
from plugins.provisioning.ecl import ExpectedCreditLoss, stage_of
from plugins.provisioning.migration import MigrationMatrix, cumulative_pd, estimate_matrix, transition_counts

CFG = load_config().provisioning
D = Decimal
AS_OF = pd.Timestamp("2026-09-30").date()


def with_ecl(**changes) -> object:
    return CFG.model_copy(update={"ecl": CFG.ecl.model_copy(update=changes)})


def only_base() -> object:
    return with_ecl(scenarios={"base": EclScenario(weight=D(1), pd_multiplier=D(1))})


def default_matrix(p: Decimal) -> MigrationMatrix:
    """From 正常: default (次级) with probability p a month, else stay; nothing else moves."""
    identity = [tuple(D(int(i == j)) for j in range(5)) for i in range(5)]
    identity[0] = (1 - p, D(0), p, D(0), D(0))
    return MigrationMatrix(tuple(identity), (100,) * 5, ("cohort",) * 5)


def loan(contract_id="L1", tier=1, dpd=0, balance=300_000_00, product="loan", **extra) -> pd.DataFrame:
    return pd.DataFrame([{"contract_id": contract_id, "tier": tier, "dpd": dpd, "balance_cents": balance,
                          "product": product, **extra}])


def cents(amount: Decimal) -> int:
    return int(amount.quantize(D(1), rounding=ROUND_HALF_UP))


# ---------------------------------------------------------------- staging backstops

@pytest.mark.parametrize(("dpd", "stage"), [(30, 1), (31, 2)])
def test_more_than_30_days_past_due_is_stage_2(dpd, stage):
    assert stage_of(dpd, tier=1, config=CFG.ecl)[0] == stage


@pytest.mark.parametrize(("dpd", "stage"), [(90, 2), (91, 3)])
def test_more_than_90_days_past_due_is_stage_3(dpd, stage):
    assert stage_of(dpd, tier=2, config=CFG.ecl)[0] == stage


def test_special_mention_is_at_best_stage_2():
    assert stage_of(0, tier=2, config=CFG.ecl) == (2, "tier 2 (关注)")


@pytest.mark.parametrize("tier", [3, 4, 5])
def test_every_npl_is_stage_3(tier):
    assert stage_of(0, tier=tier, config=CFG.ecl)[0] == 3


def test_watch_list_and_rating_downgrade_are_stage_2():
    assert stage_of(0, 1, CFG.ecl, watch_list=True) == (2, "on the watch list")
    assert stage_of(0, 1, CFG.ecl, downgrade_notches=1)[0] == 1   # config: 2 notches
    assert stage_of(0, 1, CFG.ecl, downgrade_notches=2)[0] == 2


def test_book_columns_watch_list_and_ratings_drive_staging():
    book = pd.concat([loan("A", watch_list=True), loan("B", rating=5, origination_rating=3),
                      loan("C", watch_list=False, rating=4, origination_rating=3)], ignore_index=True)
    result = expected_credit_loss(book, EclInputs(AS_OF, {}), CFG)
    assert list(result["stage"]) == [2, 2, 1]


# ---------------------------------------------------------------- PD from the migration matrix

def test_lifetime_pd_from_matrix_powers():
    # Absorbing default with monthly p = 2%: cumulative PD after n months = 1 − 0.98ⁿ.
    curve = cumulative_pd(default_matrix(D("0.02")), [3, 4, 5], 3)[1]
    assert curve == [0, D("0.02"), 1 - D("0.98") ** 2, 1 - D("0.98") ** 3]


def test_two_step_default_through_special_mention():
    # 正常 → 关注 10%, 关注 → 次级 20%: PD over 2 months from 正常 = 0.1 × 0.2 = 2%.
    rows = [(D("0.9"), D("0.1"), 0, 0, 0), (0, D("0.8"), D("0.2"), 0, 0), (0, 0, 1, 0, 0), (0, 0, 0, 1, 0),
            (0, 0, 0, 0, 1)]
    matrix = MigrationMatrix(tuple(tuple(D(x) for x in r) for r in rows), (50,) * 5, ("cohort",) * 5)
    assert cumulative_pd(matrix, [3, 4, 5], 2)[1] == [0, 0, D("0.02")]


def test_cohort_counts_and_fallback_when_history_is_short():
    snapshots = [{"A": 1, "B": 1, "C": 2}, {"A": 1, "B": 2, "C": 3, "N": 1}]   # N is new: not counted
    counts = transition_counts(snapshots)
    assert counts[0] == [1, 1, 0, 0, 0] and counts[1] == [0, 0, 1, 0, 0]
    migration = CFG.ecl.migration.model_copy(update={"min_observations": 2})
    matrix = estimate_matrix(counts, migration)
    assert matrix.rows[0] == (D("0.5"), D("0.5"), 0, 0, 0) and matrix.source[0] == "cohort"
    assert matrix.rows[1] == tuple(migration.fallback_matrix[2]) and matrix.source[1] == "fallback"


# ---------------------------------------------------------------- one loan, closed form

def amortising_terms(rate="0.12", **extra) -> LoanTerms:
    # 300,000.00 repaid 100,000.00 a month over the next three months.
    return LoanTerms(annual_rate=D(rate), principal_by_month={1: 100_000_00, 2: 100_000_00, 3: 100_000_00}, **extra)


def closed_form_three_months(p: Decimal, lgd: Decimal, r: Decimal, prepay: Decimal = D(0)) -> Decimal:
    """Σ_{t=1..3} p(1−p)^{t−1} · LGD · EAD_t · (1+r/12)^{−t}, EAD = 300k, 200k, 100k (yuan → cents)."""
    ead = [D(300_000_00), D(200_000_00), D(100_000_00)]
    return sum((p * (1 - p) ** (t - 1) * lgd * ead[t - 1] * (1 - prepay) ** (t - 1) / (1 + r / 12) ** t
                for t in (1, 2, 3)), D(0))


def test_one_loan_over_three_months_in_closed_form():
    p, r = D("0.01"), D("0.12")
    inputs = EclInputs(AS_OF, {"L1": amortising_terms()}, default_matrix(p))
    result = expected_credit_loss(loan(), inputs, only_base()).iloc[0]
    expected = closed_form_three_months(p, D("0.45"), r)   # unsecured LGD 45%
    # 1,336.63 + 873.45 + 428.07 (yuan, per month) = 2,638.15
    assert result["ecl_cents"] == cents(expected) == 263_815
    assert (result["stage"], result["horizon_months"], result["ead_cents"]) == (1, 3, 300_000_00)
    assert result["pd_lifetime"] == pytest.approx(float(1 - (1 - p) ** 3))


def test_prepayment_scales_exposure_month_by_month():
    p, r, smm = D("0.01"), D("0.12"), D("0.02")
    inputs = EclInputs(AS_OF, {"L1": amortising_terms()}, default_matrix(p))
    config = only_base().model_copy(update={"ecl": only_base().ecl.model_copy(update={"prepayment_monthly_rate": smm})})
    assert expected_credit_loss(loan(), inputs, config).iloc[0]["ecl_cents"] == cents(
        closed_form_three_months(p, D("0.45"), r, smm))


def test_stage_1_is_twelve_months_and_stage_2_lifetime():
    # 24 monthly instalments of 10,000.00 on 240,000.00; no discounting (rate 0), LGD 45%.
    p = D("0.01")
    terms = LoanTerms(annual_rate=D(0), principal_by_month={m: 10_000_00 for m in range(1, 25)})
    inputs = EclInputs(AS_OF, {"L1": terms}, default_matrix(p))

    def by_hand(months: int) -> Decimal:
        return sum((p * (1 - p) ** (t - 1) * D("0.45") * D((240_000 - 10_000 * (t - 1)) * 100)
                    for t in range(1, months + 1)), D(0))

    stage1 = expected_credit_loss(loan(balance=240_000_00), inputs, only_base()).iloc[0]
    stage2 = expected_credit_loss(loan(balance=240_000_00, dpd=31), inputs, only_base()).iloc[0]
    assert (stage1["horizon_months"], stage1["ecl_cents"]) == (12, cents(by_hand(12)))
    assert (stage2["horizon_months"], stage2["ecl_cents"]) == (24, cents(by_hand(24)))


def test_scenarios_weight_their_pd_multipliers():
    # 25% upside at 0.8 × PD, 75% downside at 1.4 × PD: ECL = (0.25·0.8 + 0.75·1.4) × base ECL = 1.25 × base.
    p = D("0.01")
    inputs = EclInputs(AS_OF, {"L1": amortising_terms()}, default_matrix(p))
    config = with_ecl(scenarios={"upside": EclScenario(weight=D("0.25"), pd_multiplier=D("0.8")),
                                 "downside": EclScenario(weight=D("0.75"), pd_multiplier=D("1.4"))})
    base = closed_form_three_months(p, D("0.45"), D("0.12"))
    assert expected_credit_loss(loan(), inputs, config).iloc[0]["ecl_cents"] == cents(D("1.25") * base)


def test_sensitivity_shows_each_scenario_alone_and_the_pd_shock():
    p = D("0.01")
    inputs = EclInputs(AS_OF, {"L1": amortising_terms()}, default_matrix(p))
    base = closed_form_three_months(p, D("0.45"), D("0.12"))
    frame = sensitivity(loan(), inputs, CFG).set_index("case")["ecl_cents"]
    weights = {n: s.weight * s.pd_multiplier for n, s in CFG.ecl.scenarios.items()}
    assert frame["weighted"] == cents(sum(weights.values(), D(0)) * base)
    for name, scenario in CFG.ecl.scenarios.items():
        assert frame[f"scenario_{name}"] == cents(scenario.pd_multiplier * base)
    assert frame["pd_plus_0.10"] == cents(D("1.1") * sum(weights.values(), D(0)) * base)
    assert frame["pd_minus_0.10"] == cents(D("0.9") * sum(weights.values(), D(0)) * base)


# ---------------------------------------------------------------- LGD

def test_lgd_with_collateral_haircut_costs_and_recovery_lag():
    # 房产 appraised 800,000.00: haircut 30%, costs 10%, 24 months at 12% → 800,000 × 0.7 × 0.9 / 1.01²⁴.
    terms = LoanTerms(annual_rate=D("0.12"), collateral=(("房产", 800_000_00),))
    recovered = D(800_000_00) * D("0.7") * D("0.9") / D("1.01") ** 24
    lgd = (D(1_000_000_00) - recovered) * D("0.45") / D(1_000_000_00)
    result = expected_credit_loss(loan(tier=3, balance=1_000_000_00), EclInputs(AS_OF, {"L1": terms}), CFG).iloc[0]
    assert result["stage"] == 3 and result["pd_12m"] == 1.0
    assert result["ecl_cents"] == cents(lgd * D(1_000_000_00))   # stage 3: PD 1, ECL = LGD × EAD
    assert result["lgd"] == pytest.approx(float(lgd), abs=1e-6)


def test_guarantee_and_collateral_covering_everything_leave_the_floor():
    # 存单 (no haircut, no lag) of 2,000,000.00 covers a 1,000,000.00 loan: LGD is the 5% floor.
    terms = LoanTerms(annual_rate=D("0.12"), collateral=(("存单", 2_000_000_00),),
                      guarantees=(("连带责任保证", 1_000_000_00),))
    result = expected_credit_loss(loan(tier=4, balance=1_000_000_00), EclInputs(AS_OF, {"L1": terms}), CFG).iloc[0]
    assert result["ecl_cents"] == 50_000_00


# ---------------------------------------------------------------- simplified approach

def test_lease_receivables_use_the_provision_matrix_by_ageing():
    # finance_lease 45 DPD: bucket 31–90 at 20% of 1,000,000.00, lifetime, whatever the stage.
    result = expected_credit_loss(loan(product="finance_lease", tier=2, dpd=45, balance=1_000_000_00),
                                  EclInputs(AS_OF, {}), CFG).iloc[0]
    assert (result["approach"], result["stage"], result["ecl_cents"]) == ("simplified", 2, 200_000_00)


def test_simplified_approach_switched_off_measures_leases_in_general():
    config = with_ecl(simplified_approach=CFG.ecl.simplified_approach.model_copy(update={"enabled": False}))
    result = expected_credit_loss(loan(product="finance_lease"), EclInputs(AS_OF, {}), config).iloc[0]
    assert result["approach"] == "general"


def test_the_ecl_model_books_the_measured_column():
    book = loan().assign(ecl_cents=12_345)
    assert list(ExpectedCreditLoss().provisions(book, CFG)) == [12_345]
    assert ExpectedCreditLoss().name == "ecl"
