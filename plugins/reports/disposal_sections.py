"""Management-pack sections for issue 14 items 4–9: 不良处置, 担保与押品, 资金用途监测, 租赁物与车辆,
重大事项与检查发现, 预警处置. Chinese headings and labels only (no raw codes); amounts in 万元.

Input: pack["disposal_monitoring"] = {"disposal": disposal_status value, "findings": monitoring_findings value,
"lifecycle": warning_lifecycle frame, "watch_list": watch_list frame, "previous_end", "as_of", "statuses"}; a part
not given is left out.
"""
from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

SIGNAL_LABELS = {
    "guarantor_non_performing": "保证人本行贷款不良", "guarantor_deterioration": "保证人财务恶化",
    "appraisal_overdue": "押品重估逾期", "insurance_expiring": "保险即将到期", "insurance_lapsed": "保险已过期",
    "fund_misuse": "资金用途异常", "vehicle_inspection_expired": "车辆年检过期", "gps_silent": "GPS失联",
    "lease_end_not_returned": "租期届满未返还", "major_event": "重大事项", "inspection_finding": "检查发现",
    "dpd_over_90": "逾期超90天", "repeated_overdue": "多次逾期", "cured_then_relapsed": "逾期反复",
    "maturity_without_renewal": "临近到期未续", "collateral_value_down": "押品价值下降",
    "loan_to_value_high": "抵押率过高", "refinance_new_to_repay_old": "借新还旧", "debtor_contagion": "债务人关联不良",
    "net_loss": "净亏损", "revenue_down": "收入下滑", "debt_to_asset_covenant": "资产负债率超限",
    "negative_equity": "所有者权益为负", "statements_overdue": "报表逾期未报",
}
ALERT_LABELS = {"vehicle_inspection_expired": "年检过期", "gps_silent": "GPS失联", "lease_end_not_returned": "租期届满未返还"}
SOURCE_LABELS = {"written_off": "核销后收回", "guarantor": "保证人代偿", "collateral": "押品处置", "other": "其他"}


def _wan(cents: int) -> str:
    return str((Decimal(int(cents)) / Decimal(1_000_000)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _label(signal: str) -> str:
    return SIGNAL_LABELS.get(signal, "其他预警")


def disposal_section(disposal: dict, this_month_start, as_of) -> pd.DataFrame:
    cases, transfers = disposal["cases"], disposal["transfers"]
    write_offs, recoveries = disposal["write_offs"], disposal["recoveries"]
    in_month = [this_month_start < pd.Timestamp(d).date() <= as_of for d in transfers["transferred_on"]]
    moved = transfers[pd.Series(in_month, index=transfers.index, dtype=bool)]
    rows = [("诉讼案件（累计）", str(len(cases)), "—"),
            ("其中未结案", str(int(cases["closed_on"].isna().sum())), "—"),
            ("本月转让", str(len(moved)), _wan(int(moved["balance_cents"].sum()))),
            ("本月转让价款", "—", _wan(int(moved["price_cents"].sum()))),
            ("本月转让损失", "—", _wan(int(moved["loss_cents"].sum()))),
            ("本月核销", str(len(write_offs)), _wan(int(write_offs["written_off_cents"].sum()))),
            ("其中核销原因缺失", str(int((~write_offs["reason_known"].astype(bool)).sum())), "—")]
    for line, group in recoveries.groupby("line", sort=True):
        rows.append((f"本月收回：{SOURCE_LABELS.get(line, '其他')}", str(len(group)), _wan(int(group["amount_cents"].sum()))))
    return pd.DataFrame(rows, columns=["项目", "笔数", "金额（万元）"])


def _count_signal(signals: pd.DataFrame, name: str) -> str:
    return str(int(signals.loc[signals["signal"] == name, "contract_id"].nunique()))


def guarantee_section(findings: dict) -> pd.DataFrame:
    signals, coverage, schedule = findings["signals"], findings["coverage"], findings["revaluation"]
    insurance = findings["insurance"]
    covered = coverage["coverage"].dropna()
    rows = [("有保证担保的贷款（笔）", str(len(coverage))),
            ("担保覆盖率中位数（%）", f"{Decimal(str(covered.median() * 100)).quantize(Decimal('0.1'))}" if len(covered) else "—"),
            ("保证人本行贷款不良（笔）", _count_signal(signals, "guarantor_non_performing")),
            ("保证人财务恶化（笔）", _count_signal(signals, "guarantor_deterioration")),
            ("押品件数", str(len(schedule))),
            ("押品重估逾期（件）", str(int(schedule["overdue"].sum()) if len(schedule) else 0)),
            ("保险已过期（件）", str(int(insurance["lapsed"].sum()) if len(insurance) else 0)),
            ("保险即将到期（件）", str(int((~insurance["lapsed"].astype(bool)).sum()) if len(insurance) else 0))]
    return pd.DataFrame(rows, columns=["项目", "数值"])


def use_of_funds_section(findings: dict) -> pd.DataFrame:
    flows = findings["fund_flows"]
    rows = [(finding, int(len(group)), int(group["contract_id"].nunique()), _wan(int(group["amount_cents"].sum())))
            for finding, group in flows.groupby("finding", sort=True)]
    return pd.DataFrame(rows, columns=["异常类型", "笔数", "涉及贷款", "金额（万元）"])


def vehicles_section(findings: dict) -> pd.DataFrame:
    alerts = findings["asset_alerts"]
    rows = [(ALERT_LABELS.get(alert, "其他"), int(len(group)), int(group["contract_id"].nunique()),
             int(group["days"].max())) for alert, group in alerts.groupby("alert", sort=True)]
    return pd.DataFrame(rows, columns=["提示类型", "资产数", "涉及贷款", "最长天数"])


def events_section(findings: dict, watched: set[str]) -> pd.DataFrame:
    signals = findings["signals"]
    rows = []
    for name in ("major_event", "inspection_finding"):
        mine = signals[signals["signal"] == name]
        kinds = mine["evidence_json"].map(lambda j: json.loads(j).get("event_type") or json.loads(j).get("finding"))
        for kind, group in mine.groupby(kinds, sort=True):
            loans = set(group["contract_id"])
            rows.append((_label(name), kind, len(loans), len(loans - watched)))
    return pd.DataFrame(rows, columns=["来源", "事项", "涉及贷款", "未列入观察名单"])


def disposition_section(lifecycle: pd.DataFrame, statuses: list[str]) -> pd.DataFrame:
    firing = lifecycle[lifecycle["firing"]]
    rows = []
    for status in ["未处置", *statuses]:
        mine = firing[firing["status"] == status]
        rows.append((status, len(mine), int(mine["escalated"].sum()), int(mine["age_days"].max()) if len(mine) else 0))
    return pd.DataFrame(rows, columns=["处置状态", "预警数", "已超期升级", "最长天数"])


def disposal_monitoring_sections(part: dict | None) -> dict[str, pd.DataFrame]:
    """The six sections (those whose inputs are given), keyed by their headings. `part` also carries
    `previous_end` and `as_of` (the month: transfers in between are the month's) and `statuses`."""
    if not part:
        return {}
    out: dict[str, pd.DataFrame] = {}
    statuses = part.get("statuses")
    if isinstance(part.get("disposal"), dict):
        out["不良处置"] = disposal_section(part["disposal"], part["previous_end"], part["as_of"])
    findings = part.get("findings")
    if isinstance(findings, dict):
        out["担保与押品"] = guarantee_section(findings)
        out["资金用途监测"] = use_of_funds_section(findings)
        out["租赁物与车辆"] = vehicles_section(findings)
        watched = set(part["watch_list"]["contract_id"]) if isinstance(part.get("watch_list"), pd.DataFrame) else set()
        out["重大事项与检查发现"] = events_section(findings, watched)
    if isinstance(part.get("lifecycle"), pd.DataFrame):
        out["预警处置"] = disposition_section(part["lifecycle"], statuses or ["已确认", "已采取措施", "已解除"])
    return out
