"""Disposal (issue 14 item 4): 诉讼 opens a court case and a litigation hold; 转让 takes the claim off the book
in its month with its price and loss; 核销 carries its reason; recoveries on written-off claims flow into the
allowance movement. Hand numbers; the sample test checks that no transferred claim stays classified."""
from datetime import date

import pandas as pd
import pytest

from plugins.config import load_config
from plugins.monitoring.disposal import (
    court_cases, disposal_report, place_litigation_holds, recoveries_after_write_off, with_transfers,
    write_offs_in_month,
)

SETTINGS = load_config().monitoring.disposal
AS_OF, START = date(2026, 9, 30), date(2026, 8, 31)


def _loans(*rows):
    return pd.DataFrame([{"contract_id": c, "borrower_id": b, "principal": p, "status": s, "outstanding_principal": o,
                          "written_off_on": w} for c, b, p, s, o, w in rows])


def _log(*rows):
    return pd.DataFrame(rows, columns=["contract_id", "action_date", "action", "outcome", "amount_recovered"])


def _register(*rows):
    return pd.DataFrame(rows, columns=["contract_id", "event_date", "event", "court", "case_no", "counterparty",
                                       "claim_amount", "amount", "source", "reason"])


def test_a_transfer_takes_the_claim_off_the_book_on_its_date_and_drops_later_payments():
    loans = _loans(("C1", "B1", "1000000.00", "逾期", "800000.00", ""), ("C2", "B2", "500000.00", "正常", "500000.00", ""))
    payments = pd.DataFrame({"contract_id": ["C1", "C1", "C2"], "paid_date": ["2026-09-10", "2026-09-20", "2026-09-20"],
                             "principal_paid": ["1000.00", "2000.00", "3000.00"]})
    log = _log(("C1", "2026-09-15", "转让", "", "0.00"), ("C2", "2026-10-02", "转让", "", "0.00"))
    frames, moved = with_transfers({"loans": loans, "payments": payments, "collections": log}, AS_OF, SETTINGS.transfer_action)
    assert moved == {"C1": date(2026, 9, 15)}  # C2's transfer is next month: not yet
    c1 = frames["loans"].set_index("contract_id").loc["C1"]
    assert (c1["status"], c1["outstanding_principal"], c1["transferred_on"], c1["transferred_principal"]) == \
        ("转让", "0.00", "2026-09-15", "800000.00")
    assert list(frames["payments"]["paid_date"]) == ["2026-09-10", "2026-09-20"]  # C1's 09-20 payment is the buyer's


def test_transfer_price_and_loss_come_from_the_register():
    # Claim 800,000.00 sold for 320,000.00: loss 480,000.00.
    loans = _loans(("C1", "B1", "1000000.00", "转让", "0.00", ""))
    loans["transferred_principal"] = ["800000.00"]
    register = _register(("C1", "2026-09-15", "转让", "", "", "中国华融资产管理股份有限公司", "800000.00", "320000.00", "", ""))
    payments = pd.DataFrame(columns=["contract_id", "paid_date", "principal_paid", "interest_paid"])
    report = disposal_report({"loans": loans, "payments": payments, "disposals": register}, {"C1": date(2026, 9, 15)},
                             START, AS_OF, SETTINGS)
    row = report.transfers.iloc[0]
    assert (row["balance_cents"], row["price_cents"], row["loss_cents"], bool(row["price_known"])) == \
        (80_000_000, 32_000_000, 48_000_000, True)


def test_litigation_opens_a_case_with_its_court_steps_and_one_hold_per_borrower():
    loans = _loans(("C1", "B1", "1000000.00", "逾期", "900000.00", ""), ("C2", "B1", "200000.00", "逾期", "200000.00", ""))
    log = _log(("C1", "2026-05-04", "诉讼", "拒绝", "0.00"), ("C2", "2026-06-01", "诉讼", "拒绝", "0.00"))
    register = _register(("C1", "2026-05-10", "立案", "杭州市中级人民法院", "(2026)浙01民初88号", "", "900000.00", "", "", ""),
                         ("C1", "2026-08-20", "判决", "杭州市中级人民法院", "(2026)浙01民初88号", "", "", "900000.00", "", ""))
    cases = court_cases({"loans": loans, "collections": log, "disposals": register}, AS_OF, SETTINGS)
    c1 = cases.set_index("contract_id").loc["C1"]
    assert (c1["filed_on"], c1["court"], c1["stage"], c1["judgment_on"], c1["judgment_cents"]) == \
        (date(2026, 5, 4), "杭州市中级人民法院", "判决", date(2026, 8, 20), 90_000_000)

    class Holds:
        def __init__(self):
            self.placed = []

        def held_borrowers(self, kind):
            return {b for k, b, _ in self.placed if k == kind}

        def hold_borrower(self, kind, borrower_id, reason):
            self.placed.append((kind, borrower_id, reason))
            return f"H{len(self.placed)}"

    holds = Holds()
    assert place_litigation_holds(cases, holds, SETTINGS) == {"B1": "H1"}  # two cases, one borrower: one hold
    assert place_litigation_holds(cases, holds, SETTINGS) == {}            # a re-run places nothing
    assert holds.placed[0][2].startswith("诉讼：合同 C1 于 2026-05-04 起诉")


def test_a_write_off_carries_its_reason_and_a_recovery_after_it_reaches_the_movement():
    loans = _loans(("C1", "B1", "100000.00", "核销", "0.00", "2026-09-12"), ("C2", "B2", "50000.00", "核销", "0.00", "2026-03-01"),
                   ("C3", "B3", "80000.00", "核销", "0.00", "2026-09-20"))
    payments = pd.DataFrame(columns=["contract_id", "paid_date", "principal_paid", "interest_paid"])
    register = _register(("C1", "2026-09-12", "核销", "", "", "", "", "", "", "借款人破产清算"),
                         ("C2", "2026-09-05", "收回", "", "", "", "", "1500.00", "保证人代偿", ""),
                         ("C2", "2026-09-25", "收回", "", "", "", "", "500.00", "司法拍卖", ""))
    frames = {"loans": loans, "payments": payments, "disposals": register}
    written = write_offs_in_month(frames, START, AS_OF, SETTINGS).set_index("contract_id")
    assert (written.at["C1", "reason"], bool(written.at["C1", "reason_known"])) == ("借款人破产清算", True)
    assert bool(written.at["C3", "reason_known"]) is False  # 核销原因缺失
    # C2 was written off in March: 1,500.00 from its guarantor and 500.00 from the auction are recoveries.
    assert recoveries_after_write_off(frames, START, AS_OF, SETTINGS) == 200_000


def test_last_month_ends_book_still_holds_a_claim_transferred_since():
    from plugins.provisioning.history import book_at

    loans = pd.DataFrame({"contract_id": ["C1"], "borrower_id": ["B1"], "product": ["loan"], "issuance_type": ["新增"],
                          "industry_code": [""], "region": [""], "start_date": ["2026-01-01"],
                          "maturity_date": ["2027-01-01"], "restructured_on": [""], "extended_on": [""],
                          "written_off_on": [""], "principal": ["1000000.00"], "status": ["转让"],
                          "outstanding_principal": ["0.00"], "transferred_on": ["2026-09-15"]})
    schedules = pd.DataFrame({"contract_id": ["C1"], "schedule_version": ["1"], "instalment_no": ["1"],
                              "due_date": ["2026-06-30"], "principal_due": ["100000.00"], "interest_due": ["0.00"]})
    payments = pd.DataFrame({"contract_id": ["C1"], "schedule_version": ["1"], "instalment_no": ["1"],
                             "paid_date": ["2026-06-30"], "principal_paid": ["100000.00"], "interest_paid": ["0.00"]})
    borrowers = pd.DataFrame({"borrower_id": ["B1"], "name": ["甲公司"], "kind": ["corporate"], "industry_name": [""]})
    extract = {"loans": loans, "schedules": schedules, "payments": payments, "borrowers": borrowers}
    # Transferred on 2026-09-15: at 2026-08-31 it was on the book at 1,000,000.00 less 100,000.00 repaid.
    assert book_at(extract, START).set_index("contract_id").at["C1", "balance_cents"] == 90_000_000
    assert book_at(extract, AS_OF).empty


def test_the_loans_gate_accepts_status_transferred():
    from plugins.validation import load_validation_config

    loans_suite = load_validation_config(load_config().config_dir / "validation.yaml").frames["loans"]
    status = next(e for e in loans_suite.expectations if e.kwargs.get("column") == "status")
    assert "转让" in status.kwargs["value_set"]


@pytest.fixture(scope="module")
def sample_month():
    from plugins.portfolio.loanbook import read_csv_bytes
    from plugins.sample import core_extract, csv_bytes, generate_portfolio

    cfg = load_config()
    extract = core_extract(generate_portfolio(), AS_OF)
    delivered = {name: read_csv_bytes(csv_bytes(frame)) for name, frame in extract.items()}  # as the inbox reads it
    frames, moved = with_transfers(delivered, AS_OF, cfg.monitoring.disposal.transfer_action)
    return cfg, extract, frames, moved


def test_on_the_sample_no_claim_named_in_a_transfer_stays_classified(sample_month):
    from plugins import registry
    from plugins.classification.migration import exit_reasons
    from plugins.classification.period import classify_period
    from plugins.portfolio.typed import type_tables

    cfg, extract, frames, moved = sample_month
    named = set(extract["collections"].loc[extract["collections"]["action"] == "转让", "contract_id"])
    assert len(named) == 12 and set(moved) == named
    typed = type_tables({k: frames[k] for k in ("borrowers", "loans", "schedules", "payments", "collateral", "guarantors")},
                        cfg.extract_schema)
    book, _, _ = classify_period(typed, AS_OF, cfg.classification, registry.classification_rules())
    assert not set(book["contract_id"]) & named
    # The two sold in September (ZL2025-0068 on 09-13, ZL2025-0024 on 09-19) leave the book as 转让 this month.
    in_month = {c for c, d in moved.items() if START < d <= AS_OF}
    assert in_month == {"ZL2025-0068", "ZL2025-0024"}
    reasons = exit_reasons(typed["loans"], START, AS_OF)
    assert {reasons[c] for c in in_month} == {"转让"}


def test_on_the_sample_east_lists_a_september_transfer_with_no_balance_and_status_transferred(sample_month):
    from plugins import registry
    from plugins.classification.period import classify_period
    from plugins.portfolio.typed import type_tables
    from plugins.reports.east import east_rows

    cfg, _, frames, _ = sample_month
    typed = type_tables({k: frames[k] for k in ("borrowers", "loans", "schedules", "payments", "collateral", "guarantors")},
                        cfg.extract_schema)
    book, verdicts, _ = classify_period(typed, AS_OF, cfg.classification, registry.classification_rules())
    from plugins.classification import with_previous_and_overrides

    book = book.merge(with_previous_and_overrides(verdicts, {})[["contract_id", "tier_name"]], on="contract_id")
    book = book.assign(booked_provision_cents=0)
    rows = east_rows(book, frames, AS_OF, date(2026, 7, 1), cfg.institution.code).set_index("contract_id")
    for cid in ("ZL2025-0068", "ZL2025-0024"):
        assert (rows.at[cid, "balance_cents"], rows.at[cid, "status"], rows.at[cid, "tier_name"]) == (0, "转让", "")
    assert "HT2024-0041" not in rows.index  # transferred in June: closed before the quarter, not listed


def test_the_management_pack_shows_the_months_transfers_in_chinese_and_wan_yuan():
    from plugins.reports.disposal_sections import disposal_section

    transfers = pd.DataFrame({"contract_id": ["C1", "C0"], "borrower_id": ["B1", "B0"],
                              "transferred_on": [date(2026, 9, 15), date(2026, 6, 1)], "buyer": ["甲", "乙"],
                              "balance_cents": [80_000_000, 10_000_000], "price_cents": [32_000_000, 5_000_000],
                              "loss_cents": [48_000_000, 5_000_000], "price_known": [True, True]})
    cases = pd.DataFrame({"contract_id": ["C1"], "closed_on": [None]})
    write_offs = pd.DataFrame({"contract_id": ["C9"], "written_off_cents": [12_345_600], "reason_known": [False]})
    recoveries = pd.DataFrame({"contract_id": ["C8"], "line": ["guarantor"], "amount_cents": [150_000]})
    table = disposal_section({"cases": cases, "transfers": transfers, "write_offs": write_offs,
                              "recoveries": recoveries}, START, AS_OF).set_index("项目")
    # Only C1 was sold in September: 80.00 万元 claim, 32.00 price, 48.00 loss.
    assert (table.at["本月转让", "笔数"], table.at["本月转让", "金额（万元）"]) == ("1", "80.00")
    assert (table.at["本月转让价款", "金额（万元）"], table.at["本月转让损失", "金额（万元）"]) == ("32.00", "48.00")
    assert (table.at["本月核销", "金额（万元）"], table.at["其中核销原因缺失", "笔数"]) == ("12.35", "1")
    assert table.at["本月收回：保证人代偿", "金额（万元）"] == "0.15"
