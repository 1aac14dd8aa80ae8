"""Cross-return validation: G11, the EAST extracts and the loan book agree before anything is filed.

Built on the sample portfolio's 2026-09 book (the quarter end of 2026Q3); each tampering of a filed
file must show up as a disagreement, and the blocking check must then fail.
"""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from plugins.money import yuan
from plugins.reports.east import east_rows, load_east_spec, render_east_files
from plugins.reports.g11 import build_g11_table, render_g11_xlsx
from plugins.reports.reconcile import failures, reconcile_returns

AS_OF = date(2026, 9, 30)
CODE = "91310000MA1SAMPLE0"
INSTITUTION = {"name": "示例融资租赁有限公司", "code": CODE, "report_date": AS_OF, "preparer": "风险管理部"}


@pytest.fixture(scope="module")
def quarter():
    from plugins import registry
    from plugins.classification import classify_facts, facts_frame, with_previous_and_overrides
    from plugins.config import load_config
    from plugins.portfolio.loanbook import open_book, read_csv_bytes
    from plugins.sample import core_extract, csv_bytes, generate_portfolio

    cfg = load_config()
    s = cfg.sample
    portfolio = generate_portfolio(seed=s.seed, start=s.start, end=s.end, n_borrowers=s.borrowers,
                                   n_contracts=s.contracts)
    extract = {k: read_csv_bytes(csv_bytes(v)) for k, v in core_extract(portfolio, AS_OF).items()}
    book = open_book(extract, AS_OF)
    verdicts = classify_facts(facts_frame(book, AS_OF), cfg.classification, registry.classification_rules())
    book = book.merge(with_previous_and_overrides(verdicts), on="contract_id")
    book["booked_provision_cents"] = registry.provisioning_models()[0].provisions(book, cfg.provisioning)
    spec = load_east_spec(cfg.config_dir)
    east = render_east_files(east_rows(book, extract, AS_OF, date(2026, 7, 1), CODE), spec, CODE, AS_OF)
    return {"book": book, "spec": spec, "east": east, "g11": _g11(book)}


def _g11(book: pd.DataFrame) -> bytes:
    report = book.assign(balance=book["balance_cents"].map(lambda c: yuan(int(c))),
                         regulatory_provision=book["booked_provision_cents"].map(lambda c: yuan(int(c))))
    return render_g11_xlsx(build_g11_table(report), INSTITUTION, "2026Q3")


def _reconcile(quarter, book=None, g11=None, east=None) -> pd.DataFrame:
    return reconcile_returns(quarter["book"] if book is None else book, quarter["g11"] if g11 is None else g11,
                             quarter["east"] if east is None else east, quarter["spec"], CODE, AS_OF)


def _edit_east(quarter, table_code: str, edit) -> dict[str, bytes]:
    name = f"{CODE}_{table_code}_20260930.csv"
    text = quarter["east"][name].decode("gb18030")
    return {**quarter["east"], name: edit(text).encode("gb18030")}


def test_the_sample_quarter_reconciles_in_total_and_per_tier(quarter):
    table = _reconcile(quarter)
    assert failures(table).empty
    scopes = set(table.loc[table["check"] == "贷款余额（元）", "scope"])
    assert {"合计", "正常类", "关注类", "次级类", "可疑类", "损失类"} <= scopes
    sources = set(table["right_source"])
    assert {"G11", "EAST 借据", "EAST 融资租赁", "数据文件"} <= sources


def test_a_changed_east_balance_disagrees_with_g11_the_book_and_the_control_file(quarter):
    def add_a_cent_to_the_first_balance(text: str) -> str:
        lines = text.split("\r\n")
        column = lines[0].split(",").index("借据余额")
        cells = lines[1].split(",")
        cells[column] = f"{float(cells[column]) + 0.01:.2f}"
        return "\r\n".join([lines[0], ",".join(cells), *lines[2:]])

    bad = failures(_reconcile(quarter, east=_edit_east(quarter, "DKJJ", add_a_cent_to_the_first_balance)))
    assert {"贷款余额（元）", "控制文件金额合计"} <= set(bad["check"])
    assert "合计" in set(bad["scope"])


def test_a_dropped_east_row_changes_counts(quarter):
    def drop_last_row(text: str) -> str:
        lines = text.split("\r\n")
        return "\r\n".join(lines[:-2] + lines[-1:])  # the file ends with a line terminator
    bad = failures(_reconcile(quarter, east=_edit_east(quarter, "DKJJ", drop_last_row)))
    assert "控制文件记录数" in set(bad["check"])


def test_g11_built_from_another_book_disagrees_per_tier(quarter):
    book = quarter["book"].copy()
    worst = book["balance_cents"].idxmax()
    book.loc[worst, "tier"] = 5 if book.loc[worst, "tier"] != 5 else 1
    bad = failures(_reconcile(quarter, g11=_g11(book)))
    assert not bad.empty and set(bad["right_source"]) == {"G11"}
    assert "合计" not in set(bad.loc[bad["check"] == "贷款余额（元）", "scope"])  # the total still agrees


def test_a_missing_file_is_a_disagreement(quarter):
    east = {k: v for k, v in quarter["east"].items() if "_RZZL_" not in k}
    assert not failures(_reconcile(quarter, east=east)).empty


def test_the_reconciliation_check_is_blocking_and_fails_on_any_disagreement(quarter):
    from dagster import build_asset_check_context

    from assets.regulatory import returns_reconcile

    spec = returns_reconcile.check_specs
    assert all(s.blocking for s in spec)
    good = _reconcile(quarter)
    bad = _reconcile(quarter, east=_edit_east(quarter, "RZZL", lambda text: text.replace("叉车", "叉车", 1)))
    bad.loc[0, "passed"] = False
    context = build_asset_check_context()
    assert returns_reconcile(context, good).passed
    result = returns_reconcile(context, bad)
    assert not result.passed and "≠" in result.description
