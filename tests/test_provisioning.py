"""Provisions and regulatory indicators with the rates of the 2002 guideline and the 2012 rules."""
from __future__ import annotations

from decimal import Decimal

import pandas as pd

from plugins.config import load_config
from plugins.provisioning import Regulatory2002, Standard2012, indicators

CFG = load_config().provisioning


def book(*rows: tuple[int, int]) -> pd.DataFrame:
    return pd.DataFrame({"tier": [t for t, _ in rows], "balance_cents": [b for _, b in rows]})


def test_regulatory_2002_rates_by_tier():
    # 正常 0, 关注 2%, 次级 25%, 可疑 50%, 损失 100% of 1,000,000.00 each.
    b = book(*((t, 1_000_000_00) for t in range(1, 6)))
    assert list(Regulatory2002().provisions(b, CFG)) == [0, 20_000_00, 250_000_00, 500_000_00, 1_000_000_00]


def test_standard_2012_potential_risk_estimate_by_tier():
    # 正常 1.5%, 关注 3%, 次级 30%, 可疑 60%, 损失 100%.
    b = book(*((t, 1_000_000_00) for t in range(1, 6)))
    assert list(Standard2012().provisions(b, CFG)) == [15_000_00, 30_000_00, 300_000_00, 600_000_00, 1_000_000_00]


def test_substandard_rate_may_float_by_twenty_percent():
    floated = CFG.model_copy(update={"regulatory_2002": CFG.regulatory_2002.model_copy(
        update={"float": {3: Decimal("0.2"), 4: Decimal("-0.2")}})})
    b = book((3, 1_000_000_00), (4, 1_000_000_00))
    assert list(Regulatory2002().provisions(b, floated)) == [300_000_00, 400_000_00]  # 25%×1.2, 50%×0.8


def test_provisions_round_half_up_to_the_cent():
    # 2% of 0.25 yuan = 0.005 yuan → 0.01
    assert list(Regulatory2002().provisions(book((2, 25)), CFG)) == [1]


def test_npl_ratio_coverage_and_loan_provision_ratio():
    # 9,600,000 正常 + 400,000 次级: NPL ratio 4%; provisions 100,000 specific + 100,000 general (1%).
    b = book((1, 9_600_000_00), (3, 400_000_00))
    result = indicators(b, Regulatory2002().provisions(b, CFG), CFG)
    assert result.npl_ratio == Decimal("0.04")
    assert result.allowance_cents == 200_000_00
    assert result.provision_coverage == Decimal("0.5")       # 200,000 / 400,000
    assert result.loan_provision_ratio == Decimal("0.02")    # 200,000 / 10,000,000
    assert result.npl_ratio_ok and not result.provision_coverage_ok and not result.loan_provision_ratio_ok
    # 150% × 400,000 = 600,000 needed for coverage versus 2.5% × 10,000,000 = 250,000: coverage binds.
    assert result.binding_constraint == "provision_coverage"


def test_npl_ratio_above_five_percent_is_flagged():
    b = book((1, 9_400_000_00), (5, 600_000_00))
    assert not indicators(b, Regulatory2002().provisions(b, CFG), CFG).npl_ratio_ok


def test_ecl_may_be_booked_and_carries_no_general_provision():
    # Under ECL the allowance is the ECL itself: 9,600,000 正常 + 400,000 次级 with 300,000 ECL.
    b = book((1, 9_600_000_00), (3, 400_000_00))
    ecl_booked = CFG.model_copy(update={"booked_method": "ecl"})
    result = indicators(b, pd.Series([100_000_00, 200_000_00]), ecl_booked)
    assert (result.general_provision_cents, result.allowance_cents) == (0, 300_000_00)
    assert result.provision_coverage == Decimal("0.75")


def test_every_method_runs_side_by_side_from_the_registry():
    from plugins import registry

    assert [m.name for m in registry.provisioning_models()][:3] == ["regulatory_2002", "standard_2012", "ecl"]


def test_ecl_on_a_bare_book_uses_the_fallback_matrix_and_unsecured_lgd():
    # A 正常 loan with nothing known beyond the book: one month, fallback 1-month PD 0.0020 + 0.0007 + 0.0003
    # = 0.3%, weighted by the scenarios' multipliers, LGD 45%, no discounting (rate unknown).
    from plugins.provisioning import ExpectedCreditLoss

    b = book((1, 1_000_000_00)).assign(dpd=0, product="loan")
    multiplier = sum((s.weight * s.pd_multiplier for s in CFG.ecl.scenarios.values()), Decimal(0))
    expected = Decimal(1_000_000_00) * Decimal("0.003") * multiplier * Decimal("0.45")
    assert list(ExpectedCreditLoss().provisions(b, CFG)) == [int(expected.quantize(Decimal(1)))]


def test_scenario_weights_must_sum_to_one(tmp_path):
    import shutil

    import pytest

    from plugins.config import DEFAULT_CONFIG_DIR, ConfigError

    shutil.copytree(DEFAULT_CONFIG_DIR, tmp_path / "config")
    path = tmp_path / "config" / "provisioning.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('weight: "0.60"', 'weight: "0.70"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"provisioning\.yaml.*ecl\.scenarios.*sum to exactly 1"):
        load_config(tmp_path / "config")


def test_the_institutions_own_targets_are_judged_beside_the_regulators():
    # NPL ratio 4%: within the regulator's 5% ceiling, above a board target of 3%.
    b = book((1, 9_600_000_00), (3, 400_000_00))
    targets = CFG.thresholds.model_copy(update={"npl_ratio_max": Decimal("0.03")})
    result = indicators(b, Regulatory2002().provisions(b, CFG), CFG.model_copy(update={"targets": targets}))
    assert result.npl_ratio_ok and result.targets_met["npl_ratio"] is False


def test_without_targets_only_the_thresholds_are_judged():
    b = book((1, 1_000_000_00))
    assert indicators(b, Regulatory2002().provisions(b, CFG), CFG.model_copy(update={"targets": None})).targets_met is None


def test_2012_general_reserve_is_the_potential_risk_above_the_impairment_allowance():
    # 10,000,000 正常 (1.5% → 150,000) + 1,000,000 次级 (30% → 300,000): potential risk 450,000.
    # Impairment allowance 200,000 → difference 250,000, above the floor 1.5% × 11,000,000 = 165,000.
    from plugins.provisioning import general_reserve_2012

    reserve = general_reserve_2012(book((1, 10_000_000_00), (3, 1_000_000_00)), 200_000_00, CFG)
    assert (reserve.potential_risk_cents, reserve.difference_cents, reserve.floor_cents) == (
        450_000_00, 250_000_00, 165_000_00)
    assert reserve.required_cents == 250_000_00 and reserve.binding == "difference"


def test_2012_general_reserve_never_falls_below_one_and_a_half_percent_of_risk_assets():
    # Allowance 400,000 leaves a difference of 50,000 (450,000 − 400,000), below the floor of 165,000.
    from plugins.provisioning import general_reserve_2012

    reserve = general_reserve_2012(book((1, 10_000_000_00), (3, 1_000_000_00)), 400_000_00, CFG)
    assert reserve.required_cents == 165_000_00 and reserve.binding == "floor"


def test_vectorised_rate_equals_cents_times_rate_on_half_cents_and_signs():
    # The per-tier provisions use money.cents_times_rate_array: integers, half up (away from zero) at the cent.
    import numpy as np

    from plugins.money import cents_times_rate, cents_times_rate_array

    cents = np.array([0, 1, 2, 3, 25, 49, 50, 51, 75, 125, 12345, -25, -75, -1, 10**12 + 5, 999_999_999_999], np.int64)
    rates = [Decimal("0.02"), Decimal("0.25") * Decimal("1.2"), Decimal("0.5") * Decimal("0.8"), Decimal("0.015"),
             Decimal("0.03"), Decimal("1"), Decimal("0"), Decimal("-0.02"), Decimal("0.0123456789"),
             Decimal("0.3333333333333333333333333333")]  # the last: num · 2 · cents overflows int64, exact fallback
    for rate in rates:
        assert list(cents_times_rate_array(cents, rate)) == [cents_times_rate(int(c), rate) for c in cents], rate


def test_by_tier_provisions_equal_the_per_loan_decimal_rounding():
    import numpy as np

    from plugins.money import cents_times_rate

    rng = np.random.default_rng(7)
    b = pd.DataFrame({"tier": rng.integers(1, 6, 2000), "balance_cents": rng.integers(0, 10**11, 2000)})
    b.loc[:9, "balance_cents"] = [25, 75, 125, 50, 150, 250, 1, 2, 3, 5]  # x.5-cent products at 2%, 25%, …
    rates = {t: r * (1 + CFG.regulatory_2002.float.get(t, Decimal(0))) for t, r in CFG.regulatory_2002.rates.items()}
    expected = [cents_times_rate(int(c), rates[int(t)]) for c, t in zip(b["balance_cents"], b["tier"])]
    assert list(Regulatory2002().provisions(b, CFG)) == expected
    expected_2012 = [cents_times_rate(int(c), CFG.standard_2012.rates[int(t)]) for c, t in zip(b["balance_cents"], b["tier"])]
    assert list(Standard2012().provisions(b, CFG)) == expected_2012
