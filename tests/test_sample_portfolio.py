"""Specification of the deterministic sample portfolio (plugins.sample)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal

import pytest

from plugins.sample import core_extract, csv_bytes, documents_for_month, generate_portfolio
from plugins.sample.ids import id_check_char, uscc_check_char
from plugins.sample.portfolio import TABLES, specs_json

END = date(2026, 9, 30)
BUCKETS = [(0, 0), (1, 90), (91, 270), (271, 360), (361, 10**9)]


@pytest.fixture(scope="module")
def portfolio():
    return generate_portfolio()


def _all_bytes(p) -> list[bytes]:
    return [csv_bytes(getattr(p, t)) for t in TABLES] + [specs_json(p)]


def _cents(s: str) -> int:
    return int(Decimal(s) * 100)


def _dpd(loans, schedules, payments, as_of: date) -> dict[str, int]:
    """Independent DPD: oldest instalment of the in-force version due by as_of and not fully paid by then."""
    paid = defaultdict(lambda: [0, 0])
    for r in payments.itertuples():
        if r.paid_date <= as_of:
            acc = paid[(r.contract_id, r.schedule_version, r.instalment_no)]
            acc[0] += _cents(r.principal_paid)
            acc[1] += _cents(r.interest_paid)
    version = {}
    for r in loans.itertuples():
        event = r.restructured_on or r.extended_on
        version[r.contract_id] = 2 if event is not None and event <= as_of else 1
    oldest: dict[str, date] = {}
    for r in schedules.itertuples():
        if r.schedule_version != version.get(r.contract_id) or r.due_date > as_of:
            continue
        p, i = paid[(r.contract_id, r.schedule_version, r.instalment_no)]
        if p < _cents(r.principal_due) or i < _cents(r.interest_due):
            oldest[r.contract_id] = min(oldest.get(r.contract_id, date.max), r.due_date)
    return {cid: (as_of - oldest[cid]).days if cid in oldest else 0 for cid in loans["contract_id"]}


def test_same_seed_same_bytes_different_seed_differs(portfolio):
    assert _all_bytes(portfolio) == _all_bytes(generate_portfolio())
    other = generate_portfolio(seed=7)
    assert csv_bytes(other.loans) != csv_bytes(portfolio.loans)
    assert specs_json(other) != specs_json(portfolio)


def test_csv_format(portfolio):
    text = csv_bytes(portfolio.loans).decode("utf-8")
    assert "\r" not in text
    header, first = text.split("\n")[:2]
    assert header.startswith("contract_id,borrower_id,product,issuance_type,principal,")
    assert re.search(r",\d+\.\d{2},CNY,0\.\d{4},", first)
    assert re.search(r",(true|false)$", csv_bytes(portfolio.borrowers).decode().split("\n")[1])


def test_size_and_variety(portfolio):
    b, loans = portfolio.borrowers, portfolio.loans
    assert len(b) >= 300 and len(loans) >= 500
    assert 0.5 <= (b["kind"] == "corporate").mean() <= 0.7
    assert set(loans["product"]) == {"loan", "finance_lease"}
    assert b["industry_code"].nunique() >= 6 and b["region"].nunique() >= 8
    assert (b["group_id"] != "").sum() >= 6 and b["related_party"].sum() >= 3
    assert set(loans["issuance_type"]) == {"新增", "借新还旧", "重组", "无还本续贷"}
    assert set(loans["repayment_method"]) == {"等额本息", "等额本金", "按月付息到期还本"}
    assert set(loans["rate_type"]) == {"fixed", "lpr_spread"}
    assert loans["term_months"].between(12, 60).all()
    assert ((loans["product"] == "finance_lease") == (loans["leased_asset"] != "")).all()
    assert loans["contract_id"].str.match(r"^(HT|ZL)\d{4}-\d{4}$").all()
    assert loans["start_date"].min() >= date(2023, 10, 1) and loans["start_date"].max() <= END


def test_identifiers_are_well_formed(portfolio):
    for kind, number in zip(portfolio.borrowers["kind"], portfolio.borrowers["id_number"]):
        assert len(number) == 18
        if kind == "corporate":
            assert number[-1] == uscc_check_char(number[:17])
        else:
            assert number[:17].isdigit() and number[-1] == id_check_char(number[:17])


def test_every_dpd_bucket_populated_at_end(portfolio):
    loans = portfolio.loans
    dpd = _dpd(loans, portfolio.schedules, portfolio.payments, END)
    in_force = loans[loans["status"].isin(["正常", "逾期"])]
    counts = Counter(next(i for i, (lo, hi) in enumerate(BUCKETS) if lo <= dpd[c] <= hi) for c in in_force["contract_id"])
    assert all(counts[i] > 0 for i in range(5)), counts
    assert all((dpd[c] > 0) == (s == "逾期") for c, s in zip(in_force["contract_id"], in_force["status"]))


def test_restructured_extended_written_off_settled(portfolio):
    loans = portfolio.loans
    restructured = loans[loans["restructured_on"].notna()]
    extended = loans[loans["extended_on"].notna()]
    assert len(restructured) >= 5 and len(extended) >= 5
    assert (extended["maturity_date"] > extended["original_maturity_date"]).all()
    v2 = set(portfolio.schedules.loc[portfolio.schedules["schedule_version"] == 2, "contract_id"])
    assert v2 == set(restructured["contract_id"]) | set(extended["contract_id"])
    written_off = loans[loans["status"] == "核销"]
    assert len(written_off) >= 3 and (written_off["outstanding_principal"] == "0.00").all()
    settled = loans[loans["status"] == "结清"]
    assert len(settled) >= 20 and (settled["outstanding_principal"] == "0.00").all()


def test_guarantors_and_collateral(portfolio):
    g, c = portfolio.guarantors, portfolio.collateral
    assert len(g) >= 100 and set(g["guarantee_type"]) <= {"连带责任保证", "一般保证"}
    assert set(c["collateral_type"]) == {"房产", "土地使用权", "机器设备", "车辆", "存单"}
    assert set(g["contract_id"]) <= set(portfolio.loans["contract_id"])
    assert (c["appraised_value"].map(Decimal) > 0).all()


def test_outstanding_principal_matches_payments(portfolio):
    loans, pay = portfolio.loans, portfolio.payments
    paid = Counter()
    for cid, p in zip(pay["contract_id"], pay["principal_paid"]):
        paid[cid] += _cents(p)
    in_force = loans[loans["status"].isin(["正常", "逾期"])]
    for r in in_force.iloc[::7].itertuples():
        assert _cents(r.outstanding_principal) == _cents(r.principal) - paid[r.contract_id]
    assert (loans["outstanding_principal"].map(_cents) >= 0).all()


def test_schedule_versions_amortise_principal(portfolio):
    s = portfolio.schedules
    v1 = Counter()
    for cid, v, p in zip(s["contract_id"], s["schedule_version"], s["principal_due"]):
        if v == 1:
            v1[cid] += _cents(p)
    assert all(v1[c] == _cents(p) for c, p in zip(portfolio.loans["contract_id"], portfolio.loans["principal"]))


def _identities(items: dict[str, list[str]], col: int) -> None:
    v = {k: _cents(pair[col]) for k, pair in items.items()}
    assert v["current_assets"] == v["cash"] + v["receivables"] + v["inventory"] + v["other_current_assets"]
    assert v["non_current_assets"] == v["fixed_assets"] + v["other_non_current_assets"]
    assert v["total_assets"] == v["current_assets"] + v["non_current_assets"]
    assert v["current_liabilities"] == v["short_term_borrowings"] + v["accounts_payable"] + v["other_current_liabilities"]
    assert v["non_current_liabilities"] == v["long_term_borrowings"] + v["other_non_current_liabilities"]
    assert v["total_liabilities"] == v["current_liabilities"] + v["non_current_liabilities"]
    assert v["equity"] == v["paid_in_capital"] + v["retained_earnings"]
    assert v["total_liabilities_and_equity"] == v["total_liabilities"] + v["equity"] == v["total_assets"]
    assert v["operating_profit"] == (v["revenue"] - v["operating_cost"] - v["selling_expenses"]
                                     - v["admin_expenses"] - v["financial_expenses"])
    assert 0 <= v["interest_expense"] <= v["financial_expenses"]
    assert v["net_profit"] == v["total_profit"] - v["income_tax"]
    assert v["net_increase_in_cash"] == (v["net_operating_cash_flow"] + v["net_investing_cash_flow"]
                                         + v["net_financing_cash_flow"])


def test_statement_identities(portfolio):
    from plugins.sample.statements import ALL_KEYS

    specs = [s for s in portfolio.document_specs if s["kind"] == "financial_statement"]
    assert 0 < len({s["borrower_id"] for s in specs}) <= 60
    for s in specs:
        st = s["statement"]
        assert sorted(st["items"]) == sorted(ALL_KEYS) and st["layout"] in "AB" and st["unit"] in ("元", "万元")
        for col in (0, 1):
            _identities(st["items"], col)
        items = st["items"]  # YTD cash flow ties to the change in cash since year start
        assert _cents(items["net_increase_in_cash"][0]) == _cents(items["cash"][0]) - _cents(items["cash"][1])
    assert {s["statement"]["layout"] for s in specs} == {"A", "B"}
    assert {s["statement"]["unit"] for s in specs} == {"元", "万元"}


def test_defaulting_borrowers_deteriorate(portfolio):
    loans = portfolio.loans
    bad = set(loans.loc[loans["status"].isin(["逾期", "核销"]) | loans["restructured_on"].notna(), "borrower_id"])
    worse = set()
    for s in portfolio.document_specs:
        if s["kind"] == "financial_statement" and s["borrower_id"] in bad:
            rev, net = s["statement"]["items"]["revenue"], s["statement"]["items"]["net_profit"]
            if _cents(rev[0]) < 0.7 * _cents(rev[1]) and _cents(net[0]) < 0:
                worse.add(s["borrower_id"])
    assert len(worse) >= 5


def test_documents(portfolio):
    specs = portfolio.document_specs
    assert len({s["file_name"] for s in specs}) == len(specs)
    kinds = Counter(s["kind"] for s in specs)
    assert kinds["loan_contract"] + kinds["lease_contract"] == len(portfolio.loans)
    last = documents_for_month(portfolio, "2026-09")
    assert Counter(s["defect"] for s in last if s["kind"] == "bad") == Counter(
        ["corrupt", "encrypted", "image_only", "not_pdf", "mislabelled"])
    assert any(s["kind"] in ("loan_contract", "lease_contract") for s in last)
    assert any(s["kind"] == "financial_statement" and s["statement"]["period_end"] == "2026-06-30" for s in last)
    mislabelled = [s for s in specs if s.get("defect") == "mislabelled"]
    assert all(s["declared_class"] == "financial_statement" and "terms" in s for s in mislabelled)
    for s in specs:
        assert s["received_date"][:7] == s["period"] <= "2026-09"
    contract = next(s for s in specs if s["kind"] == "lease_contract")
    assert contract["terms"]["leased_asset"] and contract["file_name"].endswith("_融资租赁合同.pdf")


def test_core_extract_is_a_snapshot(portfolio):
    month_end = date(2024, 12, 31)
    ex = core_extract(portfolio, month_end)
    assert set(ex) == {"borrowers", "loans", "schedules", "payments", "collateral", "guarantors", "inspections",
                       "collections", "collection_assignments", "disposals", "events", "fund_flows", "asset_register", "warning_dispositions"}
    assert (ex["loans"]["start_date"] <= month_end).all()
    assert len(ex["loans"]) == (portfolio.loans["start_date"] <= month_end).sum()
    assert (ex["payments"]["paid_date"] <= month_end).all() and len(ex["payments"]) > 0
    assert set(ex["schedules"]["contract_id"]) == set(ex["loans"]["contract_id"])
    for col in ("restructured_on", "extended_on", "written_off_on"):
        assert all(d is None or d <= month_end for d in ex["loans"][col])
    dpd = _dpd(ex["loans"], ex["schedules"], ex["payments"], month_end)
    for r in ex["loans"].itertuples():
        assert (r.status == "逾期") == (dpd[r.contract_id] > 0 and r.written_off_on is None)
    assert core_extract(portfolio, END)["loans"].equals(portfolio.loans)
