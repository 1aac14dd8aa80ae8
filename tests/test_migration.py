"""Tier migration: the transition matrix and the CBIRC migration rates, with hand numbers.

正常类贷款迁徙率 = 期初正常类贷款中转为不良贷款的金额 / (期初正常类贷款余额 − 期初正常类贷款期间减少金额)
"""
from __future__ import annotations

from decimal import Decimal

import pandas as pd

from plugins.classification.migration import migrate, migration_rates

WAN = 1_000_000  # one 万元 in cents


def frame(rows: list[tuple[str, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["contract_id", "tier", "balance_cents"])


# Opening: four 正常 loans of 100 万元 each; one 关注 of 50 万元; one 次级 of 40 万元; one 可疑 of 20 万元.
OPENING = frame([("A", 1, 100 * WAN), ("B", 1, 100 * WAN), ("C", 1, 100 * WAN), ("D", 1, 100 * WAN),
                 ("E", 2, 50 * WAN), ("F", 3, 40 * WAN), ("G", 4, 20 * WAN)])
# Closing: A repaid 10 and stays 正常; B fell to 次级 with 95 left; C settled (exited); D 关注 at 100;
# E fell to 可疑 at 50; F stays 次级 at 40; G written off (exited); H is new at 30, 正常.
CLOSING = frame([("A", 1, 90 * WAN), ("B", 3, 95 * WAN), ("D", 2, 100 * WAN), ("E", 4, 50 * WAN),
                 ("F", 3, 40 * WAN), ("H", 1, 30 * WAN)])


def rate(name: str) -> dict:
    rates = migration_rates(OPENING, CLOSING)
    return rates[rates["rate_name"] == name].iloc[0].to_dict()


def test_normal_loan_migration_rate_by_the_cbirc_formula():
    # migrated to NPL: B's 95; decrease: A 10 + B 5 + C 100 = 115; 400 − 115 = 285; 95 / 285 = 0.333333
    r = rate("正常类贷款迁徙率")
    assert (r["migrated_cents"], r["decrease_cents"], r["denominator_cents"]) == (95 * WAN, 115 * WAN, 285 * WAN)
    assert r["rate"] == Decimal("0.333333")


def test_special_mention_migration_rate_counts_moves_to_any_non_performing_tier():
    r = rate("关注类贷款迁徙率")  # E: 50 to 可疑, no decrease → 50 / 50
    assert r["rate"] == Decimal("1.000000")


def test_substandard_migration_rate_counts_only_moves_to_doubtful_or_loss():
    r = rate("次级类贷款迁徙率")  # F stays 次级 → 0 / 40
    assert (r["migrated_cents"], r["denominator_cents"], r["rate"]) == (0, 40 * WAN, Decimal("0.000000"))


def test_doubtful_rate_is_undefined_when_every_doubtful_loan_left_the_book():
    r = rate("可疑类贷款迁徙率")  # G written off: 20 − 20 = 0
    assert r["denominator_cents"] == 0 and r["rate"] is None


def test_transition_matrix_by_count_with_new_loans_and_exits():
    matrix = migrate(OPENING, CLOSING).matrix("loans")
    assert matrix.loc["正常"].tolist() == [1, 1, 1, 0, 0, 1]  # A stays, D 关注, B 次级, C exited
    assert matrix.loc["关注", "可疑"] == 1 and matrix.loc["可疑", "exited"] == 1
    assert matrix.loc["new", "正常"] == 1
    assert int(matrix.to_numpy().sum()) == 8


def test_transition_matrix_by_balance_keeps_each_rows_opening_total():
    result = migrate(OPENING, CLOSING)
    opening = result.matrix("opening_balance_cents")
    assert opening.loc["正常"].sum() == 400 * WAN and opening.loc["正常", "exited"] == 100 * WAN
    closing = result.matrix("closing_balance_cents")
    assert closing.loc["正常", "次级"] == 95 * WAN and closing.loc["new", "正常"] == 30 * WAN


def test_a_loan_that_left_the_book_appears_under_why_it_left():
    # C repaid in full (结清), G written off in the month (核销); a transferred loan would show under 转让.
    exits = {"C": "结清", "G": "核销"}
    matrix = migrate(OPENING, CLOSING, exits).matrix("opening_balance_cents")
    assert list(matrix.columns[-3:]) == ["结清", "核销", "转让"]
    assert matrix.loc["正常", "结清"] == 100 * WAN and matrix.loc["可疑", "核销"] == 20 * WAN
    assert matrix["转让"].sum() == 0


def test_exit_reasons_come_from_the_write_off_date_and_the_status():
    from datetime import date

    from plugins.classification.migration import exit_reasons

    loans = pd.DataFrame({"contract_id": ["C", "G", "T"], "status": ["结清", "核销", "转让"],
                          "written_off_on": ["", "2026-09-12", ""]})
    assert exit_reasons(loans, date(2026, 8, 31), date(2026, 9, 30)) == {"C": "结清", "G": "核销", "T": "转让"}
