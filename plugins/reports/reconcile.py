"""Cross-return validation before filing: G11, the EAST extracts and the loan book must agree.

Every check compares two figures read from the *files as filed* (the G11
workbook's cells, the EAST CSVs and their control file) or from the loan book
they were built from. Money is compared in exact yuan (Decimal, to the cent);
the G11 万元 figures are compared with the loan book's exact sum rounded once
(ROUND_HALF_UP), as the return's rounding rule says. One failing row blocks
publication of every return of the period.
"""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import openpyxl
import pandas as pd

from plugins.reports.east import EastSpec, amount_fields, read_east_csv
from plugins.reports.g11 import LAYOUT, TIER_NAMES, WORK_SHEET, yuan_to_wan

COLUMNS = ["check", "scope", "left_source", "left", "right_source", "right", "passed"]
CENT = Decimal("0.01")
G11_SHEET = "G11"


def _yuan_from_cell(value) -> Decimal:
    # Cells hold floats; amounts below 10^13 yuan round-trip exactly at two decimals.
    return Decimal(repr(float(value or 0))).quantize(CENT)


def read_g11(workbook: bytes) -> pd.DataFrame:
    """row_code → balance/provision in exact yuan (working sheet), 万元 and count (G11 sheet), as filed."""
    book = openpyxl.load_workbook(io.BytesIO(workbook), data_only=True, read_only=True)
    start = LAYOUT.first_data_row + 1  # openpyxl rows are 1-based
    filed = {}
    for row in book[G11_SHEET].iter_rows(min_row=start, max_col=5, values_only=True):
        if row[0] is not None and row[2] is not None:
            filed[str(row[0])] = (Decimal(repr(float(row[2]))).quantize(CENT), int(row[4]))
    rows = []
    for row in book[WORK_SHEET].iter_rows(min_row=start, max_col=5, values_only=True):
        if row[0] is None or str(row[0]) not in filed:
            continue
        code = str(row[0])
        rows.append({"row_code": code, "balance_yuan": _yuan_from_cell(row[2]),
                     "provision_yuan": _yuan_from_cell(row[3]), "balance_wan": filed[code][0],
                     "count": filed[code][1]})
    return pd.DataFrame(rows, columns=["row_code", "balance_yuan", "provision_yuan", "balance_wan", "count"])


def _sum(values) -> Decimal:
    return sum((Decimal(v) for v in values if v not in ("", None)), Decimal("0.00"))


def _cents_to_yuan(total_cents: int) -> Decimal:
    return Decimal(int(total_cents)).scaleb(-2).quantize(CENT)


class _Checks:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, check: str, scope: str, left_source: str, left, right_source: str, right) -> None:
        self.rows.append({"check": check, "scope": scope, "left_source": left_source, "left": str(left),
                          "right_source": right_source, "right": str(right), "passed": left == right})

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS)


def reconcile_returns(book: pd.DataFrame, g11_workbook: bytes, east_files: dict[str, bytes], spec: EastSpec,
                      institution_code: str, as_of: date) -> pd.DataFrame:
    """One row per comparison, with both figures and whether they agree.

    `book` is the provisioned loan book (balance_cents, booked_provision_cents, tier) the returns were built from.
    """
    checks = _Checks()
    g11 = read_g11(g11_workbook).set_index("row_code")
    loan_file = spec.file_for("loan", institution_code, as_of)
    lease_file = spec.file_for("lease", institution_code, as_of)
    missing = [name for name in (loan_file, lease_file, spec.control_for(institution_code, as_of))
               if name not in east_files]
    if missing:
        checks.add("EAST 文件齐全", "、".join(missing), "应报文件", len(missing), "缺失", 0)
        return checks.frame()
    east = read_east_csv(east_files[loan_file], spec)
    lease = read_east_csv(east_files[lease_file], spec)
    outstanding = east[east["五级分类"] != ""]

    tiers = book["tier"].astype(int)
    scopes = [("合计", "1", pd.Series(True, index=book.index), outstanding.index == outstanding.index)]
    scopes += [(f"{name}类", f"1.{t}", tiers == t, (outstanding["五级分类"] == name).to_numpy())
               for t, name in TIER_NAMES.items()]
    for label, code, in_book, in_east in scopes:
        book_yuan = _cents_to_yuan(book.loc[in_book, "balance_cents"].sum())
        book_count = int(in_book.sum())
        east_rows = outstanding[in_east]
        checks.add("贷款余额（元）", label, "贷款账簿", book_yuan, "G11", g11.at[code, "balance_yuan"])
        checks.add("贷款余额（元）", label, "贷款账簿", book_yuan, "EAST 借据", _sum(east_rows["借据余额"]))
        checks.add("贷款余额（万元）", label, "贷款账簿", yuan_to_wan(book_yuan), "G11", g11.at[code, "balance_wan"])
        checks.add("贷款笔数", label, "贷款账簿", book_count, "G11", int(g11.at[code, "count"]))
        checks.add("贷款笔数", label, "贷款账簿", book_count, "EAST 借据", len(east_rows))

    book_provision = _cents_to_yuan(book["booked_provision_cents"].sum())
    checks.add("贷款损失准备（元）", "合计", "贷款账簿", book_provision, "G11", g11.at["1", "provision_yuan"])
    checks.add("贷款损失准备（元）", "合计", "贷款账簿", book_provision, "EAST 借据", _sum(east["贷款损失准备"]))
    checks.add("贷款余额（元）", "按贷款投向合计", "G11 各项贷款", g11.at["1", "balance_yuan"], "G11 按贷款投向",
               g11.at["2", "balance_yuan"])
    industries = g11[g11.index.str.match(r"^2\.")]
    checks.add("贷款余额（元）", "投向分项之和", "G11 按贷款投向", g11.at["2", "balance_yuan"], "G11 分项之和",
               sum(industries["balance_yuan"], Decimal("0.00")))

    leases_in_loan_table = east[east["业务品种"] == "融资租赁"]
    checks.add("融资租赁余额（元）", "融资租赁", "EAST 借据", _sum(leases_in_loan_table["借据余额"]),
               "EAST 融资租赁", _sum(lease["租赁本金余额"]))
    checks.add("融资租赁笔数", "融资租赁", "EAST 借据", len(leases_in_loan_table), "EAST 融资租赁", len(lease))
    _control_checks(checks, east_files, spec, institution_code, as_of)
    return checks.frame()


def _control_checks(checks: _Checks, east_files: dict[str, bytes], spec: EastSpec, institution_code: str,
                    as_of: date) -> None:
    """The control file's counts and sums equal what the data files hold."""
    control = read_east_csv(east_files[spec.control_for(institution_code, as_of)], spec)
    for key, table in spec.tables.items():
        name = spec.file_for(key, institution_code, as_of)
        data = read_east_csv(east_files[name], spec)
        entries = control[control["文件名"] == name]
        declared_count = int(entries["记录数"].iloc[0]) if len(entries) else -1
        checks.add("控制文件记录数", name, "控制文件", declared_count, "数据文件", len(data))
        for field in amount_fields(table):
            declared = entries.loc[entries["金额字段"] == field, "金额合计"]
            checks.add("控制文件金额合计", f"{name} {field}", "控制文件",
                       Decimal(declared.iloc[0]) if len(declared) else "缺失", "数据文件", _sum(data[field]))


def failures(reconciliation: pd.DataFrame) -> pd.DataFrame:
    return reconciliation[~reconciliation["passed"].astype(bool)]
