"""Concentration limits of the institution's profile (DOMAIN.md §3), as shares of net assets."""
from __future__ import annotations

from decimal import Decimal

import pandas as pd

from plugins.config import load_config
from plugins.provisioning.concentration import concentration_checks

CFG = load_config().provisioning.concentration.model_copy(update={"net_assets": Decimal("1000000.00")})


def portfolio(*rows: tuple[str, str, bool, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(borrower_id, group_id, related_party, balance in yuan) → book and borrowers as the extract gives them."""
    book = pd.DataFrame([{"borrower_id": b, "balance_cents": y * 100} for b, _, _, y in rows])
    borrowers = pd.DataFrame([{"borrower_id": b, "group_id": g, "related_party": "true" if r else "false"}
                              for b, g, r, _ in rows])
    return book, borrowers


def breaches(book, borrowers, kind: str) -> set[tuple[str, str]]:
    checks = concentration_checks(book, borrowers, kind, CFG)
    return {(r.limit, r.subject) for r in checks.itertuples() if r.breach}


def test_financing_leasing_single_lessee_above_30_percent_of_net_assets():
    book, borrowers = portfolio(("A", "", False, 300_000), ("B", "", False, 300_001))
    assert breaches(book, borrowers, "financing_leasing") == {("single_borrower", "B")}   # 30% is allowed


def test_financing_leasing_single_group_above_50_percent():
    book, borrowers = portfolio(("A", "G1", False, 260_000), ("B", "G1", False, 250_000), ("C", "", False, 10_000))
    assert breaches(book, borrowers, "financing_leasing") == {("single_group", "G1")}   # 510,000 > 500,000


def test_financing_leasing_related_parties_single_30_and_all_50_percent():
    book, borrowers = portfolio(("R1", "", True, 310_000), ("R2", "", True, 200_000), ("X", "", False, 10_000))
    assert breaches(book, borrowers, "financing_leasing") == {
        ("single_borrower", "R1"), ("single_related_party", "R1"), ("all_related_parties", "all")}


def test_small_loan_single_borrower_10_and_with_related_15_percent():
    book, borrowers = portfolio(("A", "", False, 100_000), ("B", "", False, 100_001),
                                ("C", "G1", False, 90_000), ("D", "G1", False, 70_000))
    assert breaches(book, borrowers, "small_loan") == {
        ("single_borrower", "B"),
        ("borrower_with_related", "C"), ("borrower_with_related", "D")}   # C + D = 160,000 > 150,000


def test_every_check_is_listed_with_its_share():
    book, borrowers = portfolio(("A", "", False, 250_000))
    checks = concentration_checks(book, borrowers, "financing_leasing", CFG)
    row = checks[checks["limit"] == "single_borrower"].iloc[0]
    assert (row["exposure_cents"], row["share"], row["limit_share"], row["breach"]) == (250_000_00, 0.25, 0.30, False)


def test_a_kind_without_a_profile_has_no_checks():
    book, borrowers = portfolio(("A", "", False, 900_000))
    assert concentration_checks(book, borrowers, "bank", CFG).empty
