"""Specification: every published statement figure says whether it was checked, derived or unchecked and
where its unit was read; a document whose identities fail publishes no figure and is held for review with
the identity that failed."""
from __future__ import annotations

import pytest

from plugins.documents import load_chart_of_accounts, render_document
from plugins.extraction import statement_figures
from tests.test_extract_real_filings import _statement_spec

DOC = {"sha256": "a" * 64, "borrower_id": "B1", "file_name": "balanced.pdf"}


@pytest.fixture(scope="module")
def chart():
    return load_chart_of_accounts()


def test_published_rows_carry_status_unit_source_and_no_review(chart):
    # 资产总计 5,000,000.00 = 负债合计 3,000,000.00 + 所有者权益合计 2,000,000.00: the three are checked
    held: list[dict] = []
    rows = statement_figures([(DOC, render_document(_statement_spec()))], chart, held_for_review=held)
    by_key = rows.set_index("canonical")
    assert by_key.loc[["total_assets", "total_liabilities", "equity"], "status"].tolist() == ["checked"] * 3
    assert by_key.loc["total_assets", "current_cents"] == 500_000_000
    assert rows["unit_source"].notna().all()
    assert not rows["needs_review"].any() and rows["failed_identity"].isna().all()
    assert held == []


def test_a_document_that_does_not_balance_is_held_for_review_with_its_failing_identity(chart):
    # 资产总计 5,000,000.00 but 负债和所有者权益总计 4,900,000.00: nothing published, the identity named
    doc = {**DOC, "sha256": "b" * 64, "file_name": "unbalanced.pdf"}
    data = render_document(_statement_spec(equity=["1900000.00", "1900000.00"],
                                           total_liabilities_and_equity=["4900000.00", "4800000.00"]))
    held: list[dict] = []
    assert statement_figures([(doc, data)], chart, held_for_review=held).empty
    assert [(h["file_name"], h["period_end"]) for h in held] == [("unbalanced.pdf", "2025-06-30")]
    assert held[0]["failed_identity"].startswith("balance sheet (entity): total assets 5000000.00")
    assert held[0]["figures_withheld"] > 0
