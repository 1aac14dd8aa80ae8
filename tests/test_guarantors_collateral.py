"""Guarantors and collateral (issue 14 item 5): a guarantor non-performing here or whose own statements
deteriorate is a signal on the loans it guarantees; guarantee coverage per loan; appraisals overdue against the
revaluation period of their type; insurance expiring or lapsed. Hand numbers."""
from datetime import date

import pandas as pd

from plugins.config import load_config
from plugins.early_warning.signals import Signal
from plugins.monitoring.collateral import insurance_status, revaluation_schedule
from plugins.monitoring.guarantors import guarantee_coverage, guarantor_signals

CFG = load_config()
AS_OF = date(2026, 9, 30)
BOOK = pd.DataFrame({"contract_id": ["C1", "C2", "G1"], "borrower_id": ["B1", "B2", "BG"], "tier": [1, 1, 3],
                     "dpd": [0, 0, 120], "balance_cents": [100_000_000, 50_000_000, 30_000_000]})
GUARANTORS = pd.DataFrame({"contract_id": ["C1", "C2"], "guarantor_id": ["BG", "BX"], "guarantor_name": ["甲公司", "乙公司"],
                           "guarantee_type": ["连带责任保证", "一般保证"], "guaranteed_amount": ["1200000.00", "250000.00"]})


def test_a_loan_guaranteed_by_a_non_performing_borrower_here_is_signalled():
    signals = guarantor_signals(GUARANTORS, BOOK, [], CFG.monitoring.guarantors, CFG.early_warning)
    assert [(s.contract_id, s.signal, s.severity, s.evidence["guarantor_contract"], s.evidence["guarantor_tier"])
            for s in signals] == [("C1", "guarantor_non_performing", "high", "G1", 3)]


def test_a_guarantor_whose_own_statements_deteriorate_is_signalled():
    own = [Signal("", "BX", "net_loss", "medium", {})]
    signals = guarantor_signals(GUARANTORS, BOOK, own, CFG.monitoring.guarantors, CFG.early_warning)
    assert [(s.contract_id, s.signal, s.evidence["guarantor_signals"]) for s in signals
            if s.signal == "guarantor_deterioration"] == [("C2", "guarantor_deterioration", "net_loss")]


def test_guarantee_coverage_is_the_guaranteed_amount_over_the_balance():
    coverage = guarantee_coverage(GUARANTORS, BOOK).set_index("contract_id")
    assert coverage.at["C1", "coverage"] == 1.2   # 1,200,000 on 1,000,000
    assert coverage.at["C2", "coverage"] == 0.5   # 250,000 on 500,000


def test_an_appraisal_older_than_its_types_period_is_overdue():
    collateral = pd.DataFrame({"collateral_id": ["K1", "K1", "K2"], "contract_id": ["C1", "C1", "C2"],
                               "collateral_type": ["房产", "房产", "车辆"], "appraised_value": ["1.00"] * 3,
                               "valuation_date": [date(2024, 6, 30), date(2025, 9, 10), date(2026, 2, 28)]})
    schedule = revaluation_schedule(collateral, BOOK, AS_OF, CFG.monitoring.collateral).set_index("collateral_id")
    # 房产 every 12 months: last 2025-09-10, due 2026-09-10, 20 days overdue. 车辆 every 6: due 2026-08-28, 33 days.
    assert (schedule.at["K1", "next_due"], schedule.at["K1", "days_overdue"]) == (date(2026, 9, 10), 20)
    assert (schedule.at["K2", "next_due"], schedule.at["K2", "days_overdue"]) == (date(2026, 8, 28), 33)


def test_insurance_lapsed_or_expiring_within_the_warning_days_is_flagged():
    register = pd.DataFrame({"asset_id": ["A1", "A2", "A3"], "contract_id": ["C1", "C1", "C2"],
                             "collateral_id": ["K1", "", ""], "asset_type": ["房产", "叉车", "网约车"],
                             "insurance_expiry": ["2026-09-01", "2026-10-20", "2027-03-01"]})
    flagged = insurance_status(register, BOOK, AS_OF, CFG.monitoring.collateral)
    assert list(zip(flagged["asset_id"], flagged["days_left"], flagged["lapsed"])) == [("A1", -29, True), ("A2", 20, False)]
