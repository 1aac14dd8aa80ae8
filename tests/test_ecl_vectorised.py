"""ECL over the whole book at once: each loan rounded once, half up, to the cent, whatever the float says.

Every expected figure is computed here in exact Decimal from the rule's numbers.
"""
from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from plugins.config import EclScenario, load_config
from plugins.provisioning import EclInputs, LoanTerms, expected_credit_loss
from plugins.provisioning.ecl import inputs_from_extract
from plugins.provisioning.migration import MigrationMatrix

CFG = load_config().provisioning
D = Decimal
AS_OF = date(2026, 9, 30)


def cents(amount: Decimal) -> int:
    return int(amount.quantize(D(1), rounding=ROUND_HALF_UP))


def only_base() -> object:
    return CFG.model_copy(update={"ecl": CFG.ecl.model_copy(
        update={"scenarios": {"base": EclScenario(weight=D(1), pd_multiplier=D(1))}})})


def default_matrix(p: Decimal) -> MigrationMatrix:
    """From 正常: default with probability p a month, else stay."""
    rows = [tuple(D(int(i == j)) for j in range(5)) for i in range(5)]
    rows[0] = (1 - p, D(0), p, D(0), D(0))
    return MigrationMatrix(tuple(rows), (100,) * 5, ("cohort",) * 5)


def book(*loans: dict) -> pd.DataFrame:
    return pd.DataFrame([{"contract_id": "L1", "tier": 1, "dpd": 0, "product": "loan", **loan} for loan in loans])


def test_a_loans_ecl_is_the_sum_over_months_rounded_once():
    # 100,000.75 repaid at month 3, no discounting, PD 1% a month, LGD 45%: the months give
    # 45,000.3375 + 44,550.334125 + 44,104.83078375 cents. Rounded month by month that is 133,655;
    # the ECL is the sum, 133,655.50290875, rounded once: 133,656.
    p, balance = D("0.01"), 10_000_075
    parts = [p * (1 - p) ** (t - 1) * D("0.45") * balance for t in (1, 2, 3)]
    assert sum(cents(x) for x in parts) == 133_655
    inputs = EclInputs(AS_OF, {"L1": LoanTerms(annual_rate=D(0), principal_by_month={3: balance})}, default_matrix(p))
    result = expected_credit_loss(book({"balance_cents": balance}), inputs, only_base()).iloc[0]
    assert (result["horizon_months"], result["ecl_cents"]) == (3, cents(sum(parts, D(0)))) == (3, 133_656)


def test_exact_half_cents_round_up_where_float_would_round_down():
    # 10,000.10 × 0.35 = 3,500.035 yuan: exactly half a cent, up to 350,004 (float(0.35) × balance is 350,003.4999…).
    # Unsecured NPL (stage 3): 10,000.10 × LGD 45% = 450,004.5 cents → 450,005.
    # Current lease (M0, 1%): 10,000.50 × 1% = 10,000.5 cents → 10,001.
    frame = book({"contract_id": "individual", "balance_cents": 1_000_010, "assessed_loss_ratio": 0.35},
                 {"contract_id": "npl", "tier": 3, "balance_cents": 1_000_010, "assessed_loss_ratio": float("nan")},
                 {"contract_id": "lease", "product": "finance_lease", "balance_cents": 1_000_050,
                  "assessed_loss_ratio": float("nan")})
    result = expected_credit_loss(frame, EclInputs(AS_OF, {}), CFG).set_index("contract_id")
    assert result.loc["individual", "ecl_cents"] == cents(1_000_010 * D("0.35")) == 350_004
    assert result.loc["npl", "ecl_cents"] == cents(1_000_010 * D("0.45")) == 450_005
    assert result.loc["lease", "ecl_cents"] == cents(1_000_050 * D("0.010")) == 10_001
    assert list(result["approach"]) == ["individual", "general", "simplified"]


def test_text_and_typed_extracts_give_the_same_terms():
    # The core system's CSV (text, amounts half up to the cent) or typed tables (int64 cents, dates).
    text = {
        "loans": pd.DataFrame({"contract_id": ["L1"], "annual_rate": ["0.0600"]}),
        "schedules": pd.DataFrame({"contract_id": ["L1"] * 4, "schedule_version": ["1", "2", "2", "2"],
                                   "due_date": ["2026-10-15", "2026-09-15", "2026-10-15", "2026-12-01"],
                                   "principal_due": ["9.99", "100.00", "1234.565", "50"]}),
        "collateral": pd.DataFrame({"collateral_id": ["C1", "C1"], "contract_id": ["L1", "L1"],
                                    "collateral_type": ["房产", "房产"], "appraised_value": ["800000.00", "750000.00"],
                                    "valuation_date": ["2025-09-01", "2026-09-01"]}),
        "guarantors": pd.DataFrame({"contract_id": ["L1"], "guarantee_type": ["一般保证"], "guaranteed_amount": [""]}),
    }
    typed = {
        "loans": pd.DataFrame({"contract_id": ["L1"], "annual_rate": [0.06]}),
        "schedules": pd.DataFrame({"contract_id": ["L1"] * 4, "schedule_version": [1, 2, 2, 2],
                                   "due_date": pd.to_datetime(["2026-10-15", "2026-09-15", "2026-10-15", "2026-12-01"]),
                                   "principal_due": [999, 100_00, 1234_57, 50_00]}),
        "collateral": pd.DataFrame({"collateral_id": ["C1", "C1"], "contract_id": ["L1", "L1"],
                                    "collateral_type": ["房产", "房产"], "appraised_value": [800_000_00, 750_000_00],
                                    "valuation_date": [date(2025, 9, 1), date(2026, 9, 1)]}),
        "guarantors": pd.DataFrame({"contract_id": ["L1"], "guarantee_type": ["一般保证"], "guaranteed_amount": [0]}),
    }
    # latest version (2) only, months after 09-30: October 1 and December 3; latest appraisal; empty amount 0
    expected = LoanTerms(annual_rate=D("0.06"), principal_by_month={1: 1234_57, 3: 50_00},
                         collateral=(("房产", 750_000_00),), guarantees=(("一般保证", 0),))
    for extract in (text, typed):
        assert inputs_from_extract(extract, AS_OF).of("L1") == expected
