"""Individually assessed impairment (core/YYYY-MM/impairment.csv) feeds the impairment floors.

The book at 2026-08-31 of tests/test_performance.py: lease A (borrower B1) 47 days past due, balance
1,100.00, so 关注 by the overdue floor; lease B (B1) current, 300.00. B1 is an individual here, so the
debtor-level rule for corporates stays out of the way unless a test says otherwise.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from plugins.classification import DEFAULT_RULES
from plugins.classification.impairment import IMPAIRMENT_COLUMNS, read_impairment
from plugins.classification.period import classify_period
from plugins.config import load_config
from plugins.provisioning import EclInputs, expected_credit_loss
from tests.test_performance import AUGUST, extract

CFG = load_config()


def impairment(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame([[str(v) for v in row] for row in rows], columns=list(IMPAIRMENT_COLUMNS))


def classify(table: pd.DataFrame | None, borrower_kind: str = "individual") -> dict[str, tuple[int, str]]:
    ex = extract()
    ex["borrowers"] = ex["borrowers"].assign(kind=borrower_kind)
    book, verdicts, _ = classify_period(ex, AUGUST, CFG.classification, DEFAULT_RULES,
                                        impairment=read_impairment(table, AUGUST))
    return {c: (t, r) for c, t, r in zip(verdicts["contract_id"], verdicts["tier"], verdicts["rules_fired"])}


def test_without_the_table_only_the_overdue_floor_applies():
    assert classify(None) == {"A": (2, "overdue_days"), "B": (1, "")}


def test_credit_impaired_is_at_least_substandard():
    table = impairment(("A", "true", "false", "0.30", "信用审批委员会", "2026-08-20"))
    assert classify(table)["A"] == (3, "overdue_days,credit_impaired")


def test_credit_impaired_with_half_the_balance_expected_lost_is_doubtful():
    table = impairment(("A", "true", "false", "0.50", "信用审批委员会", "2026-08-20"))
    assert classify(table)["A"] == (4, "overdue_days,credit_impaired,impaired_ecl_doubtful")


def test_the_doubtful_floor_needs_the_loan_to_be_credit_impaired():
    table = impairment(("A", "false", "false", "0.60", "信用审批委员会", "2026-08-20"))
    assert classify(table)["A"] == (2, "overdue_days")


def test_ninety_percent_expected_lost_is_loss():
    table = impairment(("A", "true", "false", "0.90", "信用审批委员会", "2026-08-20"))
    tier, rules = classify(table)["A"]
    assert tier == 5 and "impaired_ecl_loss" in rules


def test_a_borrower_in_liquidation_has_every_claim_at_loss():
    # Assessed on contract A; B belongs to the same borrower B1 and is current, yet is 损失 too.
    table = impairment(("A", "true", "true", "", "法务部", "2026-08-25"))
    result = classify(table)
    assert result["A"][0] == 5 and result["B"] == (5, "borrower_in_liquidation")


def test_an_assessment_dated_after_the_period_end_is_not_yet_known():
    table = impairment(("A", "true", "false", "0.95", "信用审批委员会", "2026-09-02"))
    assert classify(table)["A"] == (2, "overdue_days")


def test_the_latest_assessment_counts():
    table = impairment(("A", "true", "false", "0.95", "信用审批委员会", "2026-07-10"),
                       ("A", "true", "false", "0.30", "信用审批委员会", "2026-08-20"))
    assert read_impairment(table, AUGUST)["A"].assessed_loss_ratio == Decimal("0.30")
    assert classify(table)["A"] == (3, "overdue_days,credit_impaired")


def test_the_book_carries_the_facts_and_who_assessed_them():
    ex = extract()
    table = impairment(("A", "true", "false", "0.30", "信用审批委员会", "2026-08-20"))
    book, _, _ = classify_period(ex, AUGUST, CFG.classification, DEFAULT_RULES,
                                 impairment=read_impairment(table, AUGUST))
    a = book.set_index("contract_id").loc["A"]
    assert (bool(a["credit_impaired"]), a["assessed_loss_ratio"], a["assessed_by"], a["assessed_on"]) == (
        True, 0.3, "信用审批委员会", date(2026, 8, 20))


@pytest.mark.parametrize(("row", "problem"), [
    (("A", "yes", "false", "0.3", "x", "2026-08-20"), "row 1: credit_impaired 'yes' is not true or false"),
    (("A", "true", "false", "1.2", "x", "2026-08-20"), "row 1: assessed_loss_ratio 1.2 is not within 0–1"),
    (("A", "true", "false", "0.3", "", "2026-08-20"), "row 1: assessed_by is empty"),
    (("A", "true", "false", "0.3", "x", "20.8.2026"), "row 1: assessed_on '20.8.2026' is not a date"),
])
def test_a_bad_row_is_named(row, problem):
    with pytest.raises(ValueError, match=problem):
        read_impairment(impairment(row), AUGUST)


def test_an_individually_assessed_loan_books_its_assessed_loss():
    # 1,100.00 × 60% = 660.00, whatever the model's PD and LGD would say.
    book = pd.DataFrame([{"contract_id": "A", "tier": 4, "dpd": 47, "balance_cents": 110_000, "product": "loan",
                          "assessed_loss_ratio": 0.6}])
    row = expected_credit_loss(book, EclInputs(AUGUST, {}), CFG.provisioning).iloc[0]
    assert (row["approach"], row["stage"], row["ecl_cents"], row["loss_rate_basis"]) == (
        "individual", 3, 66_000, "individually assessed")


def test_the_sample_committee_makes_each_impairment_floor_fire_in_september_2026():
    from plugins import registry
    from plugins.portfolio.loanbook import read_csv_bytes
    from plugins.sample import core_extract, csv_bytes, generate_portfolio

    s = CFG.sample
    portfolio = generate_portfolio(s.seed, s.start, s.end, s.borrowers, s.contracts)
    assert "impairment" not in core_extract(portfolio, date(2026, 7, 31))  # before the first meeting
    assert len(core_extract(portfolio, date(2026, 8, 31))["impairment"]) == 1
    ex = {n: read_csv_bytes(csv_bytes(f)) for n, f in core_extract(portfolio, date(2026, 9, 30)).items()}
    _, verdicts, _ = classify_period(ex, date(2026, 9, 30), CFG.classification, registry.classification_rules(),
                                     impairment=read_impairment(ex["impairment"], date(2026, 9, 30)))
    fired = {rule for rules in verdicts["rules_fired"] for rule in rules.split(",") if rule}
    assert {"credit_impaired", "impaired_ecl_doubtful", "impaired_ecl_loss", "borrower_in_liquidation"} <= fired
