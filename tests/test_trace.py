"""Figure lineage (issue 15 item 9): `postloan trace g11 QUARTER ROW COLUMN` lists the loans behind a G11
figure, each with its contribution and the documents and pages its facts came from."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from plugins.reports.g11 import build_g11_table
from plugins.reports.lineage import LineageError, g11_figure_loans
from tests.test_reports_g11 import make_book


def _provisions(book: pd.DataFrame) -> pd.DataFrame:
    """The stored loan_provisions' money columns (cents) from the hand book's yuan."""
    return book.assign(balance_cents=[int(v * 100) for v in book["balance"]],
                       booked_provision_cents=[int(v * 100) for v in book["regulatory_provision"]])


def test_the_loans_behind_restructured_over_90_days_are_ht003_and_ht008_and_add_up_to_the_figure():
    book = _provisions(make_book())
    label, figure, loans = g11_figure_loans(book, "3.1", "A")
    assert (label, figure) == ("贷款余额", Decimal("45.01"))  # the hand-worked G11 row 3.1 of test_reports_g11
    assert list(loans["contract_id"]) == ["HT003", "HT008"]
    assert sum(Decimal(c) for c in loans["contribution"]) == Decimal("450050.50")


def test_every_rows_loans_are_the_ones_its_figure_sums():
    book = _provisions(make_book())
    table = build_g11_table(make_book()).set_index("row_code")
    for row in table.index:
        _, count, _ = g11_figure_loans(book, row, "C")
        _, balance, _ = g11_figure_loans(book, row, "A")
        assert (count, balance) == (table.loc[row, "count"], table.loc[row, "balance_wan"]), row


def test_a_row_or_column_not_on_the_form_is_refused_naming_the_ones_that_are():
    book = _provisions(make_book())
    with pytest.raises(LineageError, match="no row '9.9'; rows: 1, 1.1"):
        g11_figure_loans(book, "9.9", "A")
    with pytest.raises(LineageError, match="no column 'D'; columns: A 贷款余额"):
        g11_figure_loans(book, "1", "D")


def test_the_command_prints_each_loan_with_its_contract_and_the_pages_of_its_terms(s3_env, capsys, tmp_path):
    """Against the real server: the quarter-end month's provisions and the contract's extracted terms in the
    work store, the contract archived in the catalog."""
    from pipelines.cli import main
    from pipelines.cli_archive import open_archive
    from pipelines.resources import WorkStoreIOManager, _parquet
    from plugins.archive import DocumentMeta

    archive = open_archive()
    archive.store.ensure_buckets()
    io, work = WorkStoreIOManager(), archive.store.settings.work_bucket
    book = _provisions(make_book()).drop(columns=["balance", "regulatory_provision"])
    book["contract_id"] = book["contract_id"].str.replace("HT", "TRACE-")
    archive.store.put(work, io._key(["loan_provisions"], "2031-03"), _parquet(book), metadata={"kind": "parquet"})
    record, _ = archive.archive_document(b"%PDF-1.4 contract TRACE-003", DocumentMeta(
        doc_class="loan_contract", original_name="TRACE-003_借款合同.pdf", borrower_id="B03", contract_id="TRACE-003",
        period="2031-01", received_date=date(2031, 1, 5), maturity=date(2034, 1, 5)))
    terms = pd.DataFrame({"sha256": [record.sha256] * 2, "contract_id": ["TRACE-003"] * 2,
                          "field": ["principal", "signing_date"], "value": ["50.00", "2031-01-02"], "page": [1, 3]})
    archive.store.put(work, io._key(["contract_terms_extracted"], "2031-01"), _parquet(terms),
                      metadata={"kind": "parquet"})

    assert main(["trace", "g11", "2031Q1", "3.1", "A"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["figure"] == "45.01" and lines[0]["loans"] == 2 and lines[0]["unit"] == "万元"
    first = lines[1]
    assert first["contract_id"] == "TRACE-003" and first["contribution"] == "50.00"
    assert first["documents"] == [{"sha256": record.sha256, "class": "loan_contract",
                                   "name": "TRACE-003_借款合同.pdf", "period": "2031-01",
                                   "pages": {"principal": 1, "signing_date": 3}}]


def test_a_quarter_never_run_is_one_line_naming_the_month_to_run(s3_env, capsys):
    from pipelines.cli import main

    assert main(["trace", "g11", "2032Q2", "1", "A"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "run `postloan run month 2032-06` first" in err[0]
