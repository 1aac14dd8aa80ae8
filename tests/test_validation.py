"""Specifications for data-quality validation of the core-system extract (real Great Expectations)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from plugins.config import ConfigError
from plugins.validation import RowFailure, ValidationOutcome, load_validation_config, validate_extract

CONFIG_PATH = Path(__file__).resolve().parent.parent / "config" / "validation.yaml"


@pytest.fixture(scope="module")
def config():
    return load_validation_config(CONFIG_PATH)


def _loan(contract_id: str, borrower_id: str, principal: str, rate: str, start: str, maturity: str,
          outstanding: str, status: str = "正常") -> dict[str, str]:
    return {"contract_id": contract_id, "borrower_id": borrower_id, "product": "loan", "issuance_type": "新增",
            "principal": principal, "currency": "CNY", "annual_rate": rate, "rate_type": "fixed",
            "lpr_spread_bp": "", "start_date": start, "original_maturity_date": maturity,
            "maturity_date": maturity, "term_months": "3", "repayment_method": "等额本金",
            "industry_code": "C", "region": "江苏省", "purpose": "流动资金周转", "leased_asset": "",
            "restructured_on": "", "extended_on": "", "written_off_on": "", "status": status,
            "outstanding_principal": outstanding}


@pytest.fixture()
def frames() -> dict[str, pd.DataFrame]:
    """A tiny clean extract: 3 borrowers, 4 loans of 3 instalments each, some paid."""
    borrowers = [
        {"borrower_id": "B0001", "name": "南京精密仪器有限公司", "kind": "corporate", "industry_code": "C",
         "industry_name": "制造业", "region": "江苏省", "id_number": "91320102MA1XYA0001", "group_id": "G01",
         "related_party": "false"},
        {"borrower_id": "B0002", "name": "杭州商贸有限公司", "kind": "corporate", "industry_code": "F",
         "industry_name": "批发和零售业", "region": "浙江省", "id_number": "91330102MA2ABC0002", "group_id": "",
         "related_party": "true"},
        {"borrower_id": "B0003", "name": "张三", "kind": "individual", "industry_code": "F",
         "industry_name": "批发和零售业", "region": "广东省", "id_number": "44010319800101123X", "group_id": "",
         "related_party": "false"},
    ]
    loans = [
        _loan("HT2024-0001", "B0001", "300000.00", "0.0435", "2024-01-15", "2024-04-15", "100000.00"),
        _loan("HT2024-0002", "B0001", "600000.00", "0.0600", "2024-02-01", "2024-05-01", "600000.00", "逾期"),
        _loan("HT2024-0003", "B0002", "90000.00", "0.1200", "2024-03-10", "2024-06-10", "0.00", "结清"),
        _loan("HT2024-0004", "B0003", "30000.00", "0.2400", "2024-03-20", "2024-06-20", "30000.00"),
    ]
    months = {"HT2024-0001": ("2024-02-15", "2024-03-15", "2024-04-15"),
              "HT2024-0002": ("2024-03-01", "2024-04-01", "2024-05-01"),
              "HT2024-0003": ("2024-04-10", "2024-05-10", "2024-06-10"),
              "HT2024-0004": ("2024-04-20", "2024-05-20", "2024-06-20")}
    principal = {loan["contract_id"]: float(loan["principal"]) for loan in loans}
    schedules = [{"contract_id": cid, "schedule_version": "1", "instalment_no": str(no), "due_date": due,
                  "principal_due": f"{principal[cid] / 3:.2f}", "interest_due": "100.00"}
                 for cid, dues in months.items() for no, due in enumerate(dues, start=1)]
    payments = [{"contract_id": s["contract_id"], "schedule_version": "1", "instalment_no": s["instalment_no"],
                 "paid_date": s["due_date"], "principal_paid": s["principal_due"], "interest_paid": "100.00"}
                for s in schedules if s["contract_id"] in ("HT2024-0001", "HT2024-0003")
                and (s["contract_id"] == "HT2024-0003" or s["instalment_no"] in ("1", "2"))]
    collateral = [{"collateral_id": "CL00001", "contract_id": "HT2024-0002", "collateral_type": "房产",
                   "appraised_value": "900000.00", "valuation_date": "2024-01-20"}]
    guarantors = [{"contract_id": "HT2024-0002", "guarantor_id": "P0001", "guarantor_name": "李四",
                   "guarantee_type": "连带责任保证", "guaranteed_amount": "600000.00"}]
    tables = dict(borrowers=borrowers, loans=loans, schedules=schedules, payments=payments,
                  collateral=collateral, guarantors=guarantors)
    return {name: pd.DataFrame(rows, dtype=str) for name, rows in tables.items()}


def _set(frames: dict[str, pd.DataFrame], frame: str, row_id: str, column: str, value: str) -> None:
    df = frames[frame]
    df.loc[df[df.columns[0]] == row_id, column] = value


def _failures(outcome: ValidationOutcome, frame: str, expectation: str, column: str | None = None) -> list[RowFailure]:
    return [f for f in outcome.blocking_failures + outcome.warnings
            if f.frame == frame and f.expectation == expectation and (column is None or f.column == column)]


def test_clean_extract_passes(frames, config):
    outcome = validate_extract(frames, config)
    assert outcome.success, outcome.summary_lines()
    assert outcome.blocking_failures == [] and outcome.warnings == []
    assert outcome.evaluated > 0
    assert outcome.rows == {"borrowers": 3, "loans": 4, "schedules": 12, "payments": 5, "collateral": 1,
                            "guarantors": 1}
    evidence = json.loads(outcome.gx_result_json())
    assert set(evidence) == set(frames) and all(evidence[name]["success"] for name in evidence)


def test_rate_over_ceiling_blocks_and_names_contract(frames, config):
    _set(frames, "loans", "HT2024-0004", "annual_rate", "0.36")
    outcome = validate_extract(frames, config)
    assert not outcome.success
    [failure] = _failures(outcome, "loans", "expect_column_values_to_be_between", "annual_rate")
    assert failure.severity == "blocking"
    assert failure.row_ids == ["HT2024-0004"] and failure.unexpected_count == 1
    assert failure.sample_values == ["0.36"]
    assert any("HT2024-0004" in line and "annual rate within 0–24%" in line and "annual_rate" in line
               for line in outcome.summary_lines())


def test_outstanding_above_principal_is_named(frames, config):
    _set(frames, "loans", "HT2024-0003", "outstanding_principal", "95000.00")
    outcome = validate_extract(frames, config)
    [failure] = _failures(outcome, "loans", "expect_column_pair_values_a_to_be_greater_than_b",
                          "principal, outstanding_principal")
    assert failure.row_ids == ["HT2024-0003"] and not outcome.success


def test_maturity_before_start_is_named(frames, config):
    _set(frames, "loans", "HT2024-0002", "maturity_date", "2023-12-31")
    outcome = validate_extract(frames, config)
    [failure] = _failures(outcome, "loans", "expect_column_pair_values_a_to_be_greater_than_b",
                          "maturity_date, start_date")
    assert failure.row_ids == ["HT2024-0002"] and failure.severity == "blocking"


def test_duplicate_contract_id_is_named(frames, config):
    _set(frames, "loans", "HT2024-0003", "contract_id", "HT2024-0001")
    outcome = validate_extract(frames, config)
    [failure] = _failures(outcome, "loans", "expect_column_values_to_be_unique", "contract_id")
    assert failure.row_ids == ["HT2024-0001"] and failure.unexpected_count == 2
    assert not outcome.success


def test_duplicate_schedule_instalment_is_named(frames, config):
    frames["schedules"] = pd.concat([frames["schedules"], frames["schedules"].iloc[[4]]], ignore_index=True)
    outcome = validate_extract(frames, config)
    [failure] = _failures(outcome, "schedules", "expect_compound_columns_to_be_unique")
    assert failure.row_ids == ["HT2024-0002/1/2"] and failure.unexpected_count == 2


def test_payment_for_unknown_contract_is_named(frames, config):
    frames["payments"].loc[0, "contract_id"] = "HT2099-9999"
    outcome = validate_extract(frames, config)
    [failure] = _failures(outcome, "payments", "expect_column_values_to_be_in_set", "contract_id")
    assert failure.row_ids == ["HT2099-9999/1/1"] and failure.sample_values == ["HT2099-9999"]
    assert not outcome.success


def test_loan_of_unknown_borrower_is_named(frames, config):
    _set(frames, "loans", "HT2024-0004", "borrower_id", "B9999")
    outcome = validate_extract(frames, config)
    [failure] = _failures(outcome, "loans", "expect_column_values_to_be_in_set", "borrower_id")
    assert failure.row_ids == ["HT2024-0004"]


def test_unparseable_date_and_number_fail_their_rows(frames, config):
    _set(frames, "loans", "HT2024-0002", "start_date", "2024-02-30")
    _set(frames, "loans", "HT2024-0003", "principal", "90,000.00")
    frames["schedules"].loc[5, "due_date"] = "2024/05/01"
    outcome = validate_extract(frames, config)
    [date_failure] = _failures(outcome, "loans", "expect_column_values_to_match_strftime_format", "start_date")
    assert date_failure.row_ids == ["HT2024-0002"] and date_failure.sample_values == ["2024-02-30"]
    [number_failure] = _failures(outcome, "loans", "expect_column_values_to_match_regex", "principal")
    assert number_failure.row_ids == ["HT2024-0003"] and number_failure.severity == "blocking"
    [due_failure] = _failures(outcome, "schedules", "expect_column_values_to_match_strftime_format", "due_date")
    assert due_failure.row_ids == ["HT2024-0002/1/3"]
    assert not outcome.success
    # the value was delivered, so it is one failure (unparseable), not also "missing"
    named = [f for f in outcome.blocking_failures if {"HT2024-0002", "HT2024-0003", "HT2024-0002/1/3"} & set(f.row_ids)]
    assert len(named) == 3


def test_row_ids_are_all_listed_in_natural_order(frames, config):
    frames["schedules"]["due_date"] = ""
    outcome = validate_extract(frames, config)
    [failure] = _failures(outcome, "schedules", "expect_column_values_to_not_be_null", "due_date")
    assert failure.unexpected_count == 12 and len(failure.row_ids) == 12
    assert failure.row_ids[:3] == ["HT2024-0001/1/1", "HT2024-0001/1/2", "HT2024-0001/1/3"]


def test_empty_id_is_named_by_row_number(frames, config):
    frames["loans"].loc[2, "contract_id"] = ""
    outcome = validate_extract(frames, config)
    [failure] = _failures(outcome, "loans", "expect_column_values_to_not_be_null", "contract_id")
    assert failure.row_ids == ["row 3"]


def test_warning_does_not_fail_the_extract(frames, config):
    _set(frames, "loans", "HT2024-0001", "purpose", "")
    outcome = validate_extract(frames, config)
    assert outcome.success and outcome.blocking_failures == []
    [warning] = outcome.warnings
    assert warning.severity == "warning" and warning.row_ids == ["HT2024-0001"]
    assert outcome.summary_lines()[0].startswith("warning: loans: 1 row fails 'loan purpose recorded'")


def test_missing_column_is_reported_not_raised(frames, config):
    frames["loans"] = frames["loans"].drop(columns=["status"])
    outcome = validate_extract(frames, config)
    assert not outcome.success
    assert _failures(outcome, "loans", "expect_table_columns_to_match_set")
    [status] = _failures(outcome, "loans", "expect_column_values_to_be_in_set", "status")
    assert status.error and "status" in status.error


def _write_variant(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))
    edit(raw)
    path = tmp_path / "validation.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("edit, key", [
    (lambda raw: raw["frames"]["loans"]["expectations"][3].update(severty="blocking"),
     "frames.loans.expectations.3.severty"),
    (lambda raw: raw["frames"]["loans"]["expectations"][2].update(severity="fatal"),
     "frames.loans.expectations.2.severity"),
    (lambda raw: raw["frames"]["borrowers"].update(id_colums=["borrower_id"]), "frames.borrowers.id_colums"),
    (lambda raw: raw["frames"]["loans"]["types"].update(principal="money"), "frames.loans.types.principal"),
    (lambda raw: raw["frames"]["loans"]["expectations"][1].update(type="expect_column_to_be_nice"),
     "frames.loans.expectations.1"),
    (lambda raw: raw["frames"]["loans"]["expectations"][1]["kwargs"].update(colum="x"),
     "frames.loans.expectations.1"),
])
def test_bad_config_names_file_and_key(tmp_path, edit, key):
    path = _write_variant(tmp_path, edit)
    with pytest.raises(ConfigError) as error:
        load_validation_config(path)
    assert str(path) in str(error.value) and key in str(error.value)


def test_value_set_from_unknown_frame_is_rejected(tmp_path):
    def edit(raw):
        raw["frames"]["payments"]["expectations"][2]["value_set_from"] = "contracts.contract_id"
    path = _write_variant(tmp_path, edit)
    with pytest.raises(ConfigError, match="contracts"):
        load_validation_config(path)


def test_data_docs_page_shows_the_failed_expectation_and_is_reproducible(frames, config):
    from plugins.reports.evidence import gx_data_docs_html

    _set(frames, "loans", "HT2024-0004", "annual_rate", "0.36")
    first = gx_data_docs_html(validate_extract(frames, config).gx_results)
    again = gx_data_docs_html(validate_extract(frames, config).gx_results)
    assert set(first) == set(frames)
    assert first == again  # byte-identical across runs: no load times, random ids or cache busters
    loans = first["loans"].decode("utf-8")
    assert "<html" in loans and "postloan_loans" in loans
    assert "annual_rate" in loans and "0.36" in loans and "Failed" in loans
