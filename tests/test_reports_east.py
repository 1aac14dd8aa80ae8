"""Specification of the EAST-style detail extracts: rows, field order and formats from config/east.yaml,
GB18030 CSV, and a control file whose counts and sums match the data files."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from plugins.config import ConfigError
from plugins.reports.east import (
    EastField,
    east_rows,
    format_value,
    load_east_spec,
    overdue_facts,
    pack_files,
    read_east_csv,
    render_east_files,
    unpack_files,
)

AS_OF = date(2026, 9, 30)
QUARTER_START = date(2026, 7, 1)
CODE = "L0001H000000001"


def _extract() -> dict[str, pd.DataFrame]:
    """Four contracts: an overdue loan, a current direct lease, one settled in the quarter, one settled before."""
    loans = pd.DataFrame([
        # contract, borrower, product, issuance, principal, start, orig. maturity, maturity, method, industry,
        # region, purpose, leased asset, restructured, extended, written off, status, outstanding
        ("HT1", "B1", "loan", "借新还旧", "120000.00", "2026-01-15", "2027-01-15", "2027-01-15", "等额本金", "C",
         "江苏省", "流动资金周转", "", "", "", "", "逾期", "90000.00"),
        ("ZL1", "B2", "finance_lease", "新增", "300000.00", "2026-03-01", "2029-03-01", "2029-03-01", "等额本息", "G",
         "上海市", "直租购置叉车", "叉车", "", "", "", "正常", "250000.00"),
        ("HT2", "B1", "loan", "新增", "50000.00", "2025-08-01", "2026-08-01", "2026-08-01", "按月付息到期还本", "C",
         "江苏省", "流动资金周转", "", "", "", "", "结清", "0.00"),
        ("HT3", "B2", "loan", "新增", "10000.00", "2025-01-01", "2026-01-01", "2026-01-01", "按月付息到期还本", "G",
         "上海市", "流动资金周转", "", "", "", "", "结清", "0.00"),
    ], columns=["contract_id", "borrower_id", "product", "issuance_type", "principal", "start_date",
                "original_maturity_date", "maturity_date", "repayment_method", "industry_code", "region", "purpose",
                "leased_asset", "restructured_on", "extended_on", "written_off_on", "status", "outstanding_principal"])
    loans.insert(5, "currency", "CNY")
    loans.insert(6, "annual_rate", "0.1200")
    borrowers = pd.DataFrame([("B1", "江苏恒达机械制造有限公司", "corporate"), ("B2", "张三", "individual")],
                             columns=["borrower_id", "name", "kind"])
    schedules = pd.DataFrame(
        [("HT1", "1", str(i), f"2026-{i + 1:02d}-15", "10000.00", "1000.00") for i in range(1, 12)]
        + [("ZL1", "1", str(i), f"2026-{i + 3:02d}-01", "10000.00", "2000.00") for i in range(1, 10)]
        + [("HT2", "1", "1", "2026-08-01", "50000.00", "500.00"), ("HT3", "1", "1", "2026-01-01", "10000.00", "100.00")],
        columns=["contract_id", "schedule_version", "instalment_no", "due_date", "principal_due", "interest_due"])
    # HT1: instalments 1–3 paid (2 of them late), 4–6 (due 05-15 … 07-15) paid, 7 and 8 (08-15, 09-15) unpaid.
    paid_dates = {1: "2026-02-15", 2: "2026-03-20", 3: "2026-04-25", 4: "2026-05-15", 5: "2026-06-15", 6: "2026-07-15"}
    payments = [("HT1", "1", str(i), d, "10000.00", "1000.00") for i, d in paid_dates.items()]
    payments += [("ZL1", "1", str(i), f"2026-{i + 3:02d}-01", "10000.00", "2000.00") for i in range(1, 7)]
    payments += [("HT2", "1", "1", "2026-08-01", "50000.00", "500.00"), ("HT3", "1", "1", "2026-01-01", "10000.00", "100.00")]
    payments = pd.DataFrame(payments, columns=["contract_id", "schedule_version", "instalment_no", "paid_date",
                                               "principal_paid", "interest_paid"])
    return {"loans": loans, "borrowers": borrowers, "schedules": schedules, "payments": payments}


def _book() -> pd.DataFrame:
    """The provisioned book at AS_OF for the two outstanding contracts (as loan_provisions carries it)."""
    return pd.DataFrame([
        ("HT1", "B1", 9_000_000, "关注", 2, 77, 2_000_000, 200_000, 180_000),
        ("ZL1", "B2", 25_000_000, "正常", 1, 0, 0, 0, 0),
    ], columns=["contract_id", "borrower_id", "balance_cents", "tier_name", "tier", "dpd", "overdue_principal_cents",
                "overdue_interest_cents", "booked_provision_cents"])


@pytest.fixture(scope="module")
def spec():
    return load_east_spec("config")


@pytest.fixture(scope="module")
def files(spec) -> dict[str, bytes]:
    rows = east_rows(_book(), _extract(), AS_OF, QUARTER_START, CODE)
    return render_east_files(rows, spec, CODE, AS_OF)


def _table(files, spec, code: str) -> pd.DataFrame:
    return read_east_csv(files[f"{CODE}_{code}_20260930.csv"], spec)


def test_one_file_per_table_and_a_control_file_named_by_institution_table_and_date(files):
    assert sorted(files) == [f"{CODE}_CONTROL_20260930.csv", f"{CODE}_DKJJ_20260930.csv", f"{CODE}_RZZL_20260930.csv"]


def test_files_are_gb18030_with_the_spec_field_names_in_order_and_crlf(files, spec):
    data = files[f"{CODE}_DKJJ_20260930.csv"]
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # really GB18030, not UTF-8
    header = data.decode("gb18030").split("\r\n")[0].split(",")
    assert header == [f.name for f in spec.tables["loan"].fields]
    assert header[:5] == ["采集日期", "机构代码", "借据号", "合同号", "客户号"]


def test_loan_table_has_outstanding_loans_and_those_closed_in_the_period(files, spec):
    loans = _table(files, spec, "DKJJ").set_index("合同号")
    assert list(loans.index) == ["HT1", "HT2", "ZL1"]  # HT3 was settled before the quarter
    assert loans.loc["HT2", "贷款状态"] == "结清" and loans.loc["HT2", "借据余额"] == "0.00"
    assert loans.loc["HT2", "五级分类"] == "" and loans.loc["HT2", "下次应还款日期"] == ""


def test_overdue_loan_fields_formats_and_periods(files, spec):
    row = _table(files, spec, "DKJJ").set_index("合同号").loc["HT1"]
    assert row["采集日期"] == "20260930" and row["发放日期"] == "20260115"
    assert row["借据金额"] == "120000.00" and row["借据余额"] == "90000.00"
    assert row["逾期本金"] == "20000.00" and row["逾期利息"] == "2000.00"
    assert row["本金逾期日期"] == "20260815" and row["利息逾期日期"] == "20260815"
    assert row["连续欠款期数"] == "2"       # 08-15 and 09-15 unpaid
    assert row["累计欠款期数"] == "4"       # two paid late, two unpaid
    assert row["下次应还款日期"] == "20261015"
    assert row["发放类型"] == "借新还旧" and row["五级分类"] == "关注" and row["客户类型"] == "对公"
    assert row["执行利率"] == "0.120000" and row["贷款损失准备"] == "1800.00"
    assert row["担保方式"] == ""            # in the standard, not delivered: empty, with a note in the spec


def test_leasing_table_for_finance_leases_only(files, spec):
    leases = _table(files, spec, "RZZL")
    assert list(leases["租赁合同号"]) == ["ZL1"]
    row = leases.iloc[0]
    assert row["租赁类型"] == "直接租赁" and row["租赁物名称"] == "叉车" and row["承租人名称"] == "张三"
    assert row["租赁本金余额"] == "250000.00" and row["手续费"] == "" and row["保证金"] == ""


def test_control_file_counts_and_sums_match_the_data_files(files, spec):
    control = read_east_csv(files[f"{CODE}_CONTROL_20260930.csv"], spec)
    loans = control[control["文件名"] == f"{CODE}_DKJJ_20260930.csv"].set_index("金额字段")
    assert set(loans["记录数"]) == {"3"}
    assert loans.loc["借据余额", "金额合计"] == "340000.00"  # 90000 + 0 + 250000
    assert loans.loc["逾期本金", "金额合计"] == "20000.00"


def test_every_empty_column_is_explained_in_the_spec(spec):
    for table in spec.tables.values():
        for field in table.fields:
            assert field.source is not None or field.note


def test_field_formats():
    def fmt(value, **kw):
        return format_value(value, EastField(name="f", source="x", **kw))

    assert fmt(date(2026, 1, 5), format="date") == "20260105" and fmt("2026-01-05", format="date") == "20260105"
    assert fmt(None, format="date") == "" and fmt(float("nan"), format="amount") == ""
    assert fmt(123456, format="amount") == "1234.56" and fmt(-5, format="amount") == "-0.05"
    assert fmt("0.0725", format="rate", decimals=6) == "0.072500"
    assert fmt("a\nb  c", format="text") == "a b c"
    with pytest.raises(ValueError, match="not one of"):
        fmt("展期", format="code", allowed=["新增", "重组"])


def test_an_unknown_code_names_the_contract(spec):
    extract = _extract()
    extract["loans"].loc[0, "issuance_type"] = "展期续贷"
    rows = east_rows(_book(), extract, AS_OF, QUARTER_START, CODE)
    with pytest.raises(ValueError, match="HT1.*发放类型"):
        render_east_files(rows, spec, CODE, AS_OF)


def test_renders_are_byte_identical_and_survive_the_zip_bundle(files, spec):
    again = render_east_files(east_rows(_book(), _extract(), AS_OF, QUARTER_START, CODE), spec, CODE, AS_OF)
    assert again == files
    assert pack_files(files) == pack_files(dict(reversed(list(files.items()))))
    assert unpack_files(pack_files(files)) == files


def test_overdue_facts_without_schedules_due_yet():
    extract = _extract()
    facts = overdue_facts(extract["schedules"], extract["payments"], date(2026, 1, 31)).set_index("contract_id")
    assert facts.loc["ZL1", "next_due_date"] == date(2026, 4, 1)
    assert facts.loc["HT1", "cumulative_overdue_periods"] == 0


def test_a_bad_spec_names_file_key_and_problem(tmp_path):
    (tmp_path / "east.yaml").write_text("encoding: gb18030\ndelimiter: ','\nline_terminator: \"\\n\"\nheader: true\n"
                                        "file_name: x\ncontrol_file_name: y\ntables:\n  loan:\n    title: t\n"
                                        "    table_code: DK\n    products: [loan]\n    fields:\n"
                                        "      - {name: 币种, source: currency, format: code}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"east.yaml.*tables.loan.fields.0.*allowed"):
        load_east_spec(tmp_path)


def test_amounts_are_never_floats(files, spec):
    loans = _table(files, spec, "DKJJ")
    total = sum(Decimal(v) for v in loans["借据余额"])
    assert total == Decimal("340000.00")
