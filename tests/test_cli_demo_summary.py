"""Specification: the run summary (`postloan demo`, `postloan run month`) names a few of each post-loan duty the
month has — transfers, court cases, guarantor and collateral signals, fund-flow findings, vehicle alerts,
events, escalated warnings — and leaves out a duty with nothing to name."""
from __future__ import annotations

from datetime import date

import pandas as pd

from pipelines import cli
from plugins.monitoring.disposal import CASE_COLUMNS, TRANSFER_COLUMNS
from plugins.monitoring.dispositions import LIFECYCLE_COLUMNS
from plugins.monitoring.use_of_funds import FINDING_COLUMNS
from plugins.monitoring.vehicles import ALERT_COLUMNS


def frame(columns: list[str], *rows: dict) -> pd.DataFrame:
    return pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns)


def signals(*pairs: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame([{"contract_id": c, "borrower_id": "B" + c, "signal": s, "severity": "high"} for c, s in pairs])


MONTH = "2026-09"
VALUES = {
    "disposal_status": {
        # 转让 of C7 this month (balance 1,200,000.00, price 800,000.00: loss 400,000.00); C3's in August is not
        "transfers": frame(TRANSFER_COLUMNS,
                           {"contract_id": "C3", "transferred_on": date(2026, 8, 20), "buyer": "华融", "loss_cents": 1},
                           {"contract_id": "C7", "transferred_on": date(2026, 9, 15), "buyer": "东方资产",
                            "balance_cents": 120_000_000, "price_cents": 80_000_000, "loss_cents": 40_000_000}),
        # one case open at 杭州中院, one closed
        "cases": frame(CASE_COLUMNS, {"contract_id": "C9", "court": "杭州市中级人民法院", "stage": "judgment"},
                       {"contract_id": "C5", "court": "余杭区人民法院", "stage": "closed", "closed_on": date(2026, 9, 1)}),
    },
    "monitoring_findings": {
        "signals": signals(("C1", "guarantor_non_performing"), ("C2", "appraisal_overdue"),
                           ("C4", "major_event"), ("C6", "fund_misuse"), ("C8", "gps_silent")),
        "fund_flows": frame(FINDING_COLUMNS, {"contract_id": "C6", "payee": "某证券营业部", "amount_cents": 50_000_000,
                                              "finding": "禁止用途"}),
        "asset_alerts": frame(ALERT_COLUMNS, {"asset_id": "V1", "contract_id": "C8", "plate": "浙A12345",
                                              "alert": "gps_silent"}),
    },
    "warning_lifecycle": frame(LIFECYCLE_COLUMNS,
                               {"contract_id": "C2", "signal": "appraisal_overdue", "age_days": 45, "escalated": True},
                               {"contract_id": "C4", "signal": "major_event", "age_days": 3, "escalated": False}),
}


def test_each_duty_of_the_month_is_named_with_a_few_examples():
    duties = cli._duties_summary(VALUES.get, MONTH)
    assert duties == {
        "transfers": {"count": 1, "examples": ["C7 to 东方资产, loss 400,000.00 元"]},
        "court_cases": {"count": 1, "examples": ["C9 杭州市中级人民法院 (judgment)"]},
        "guarantors": {"count": 1, "examples": ["C1 guarantor_non_performing"]},
        "collateral": {"count": 1, "examples": ["C2 appraisal_overdue"]},
        "events": {"count": 1, "examples": ["C4 major_event"]},
        "fund_flows": {"count": 1, "examples": ["C6 500,000.00 元 to 某证券营业部 (禁止用途)"]},
        "vehicle_alerts": {"count": 1, "examples": ["C8 浙A12345 gps_silent"]},
        "escalated": {"count": 1, "examples": ["C2 appraisal_overdue (45 days)"]},
    }


def test_a_month_without_those_duties_names_none():
    assert cli._duties_summary({}.get, MONTH) == {}


def test_the_printed_summary_names_them_and_says_how_many_more(capsys):
    many = {"monitoring_findings": {**VALUES["monitoring_findings"],
                                    "signals": signals(*[(f"C{i}", "insurance_lapsed") for i in range(1, 6)])}}
    data = {"period": MONTH, "kind": "month", "published": [], "manifests": [], "failed_checks": [],
            "failed_steps": [], "duties": cli._duties_summary(many.get, MONTH)}
    cli._print_summary(data)
    out = capsys.readouterr().out
    assert "collateral signals (appraisal, insurance): 5 — C1 insurance_lapsed; C2 insurance_lapsed; " \
           "C3 insurance_lapsed and 2 more" in out
    assert "fund-flow findings: 1 — C6 500,000.00 元 to 某证券营业部 (禁止用途)" in out
