"""Specification: a statement's prior-period column agrees with the borrower's earlier filing.

The balance sheet's 年初 column restates the last year-end filing's current column; the income and
cash-flow statements' 上年同期 column restates the current column of the same period's filing a year
before (year to date, as the sample's quarterly statements print it). Rendered PDFs, read back by the
pipeline's own extraction; one filing misprints its opening cash.
"""
from __future__ import annotations

import hashlib
from datetime import date

import pandas as pd
import pytest

from plugins.documents import load_chart_of_accounts, render_document
from plugins.extraction import comparable_period, previous_filing_breaks, previous_filing_comparisons, statement_figures
from plugins.sample.statements import BALANCE_KEYS
from tests.test_documents_render_extract import ITEMS

BORROWER = "B0042"


def _items(current: dict[str, str], prior: dict[str, str]) -> dict[str, list[str]]:
    return {k: [current[k], prior[k]] for k in ITEMS}


CURRENT = {k: v[0] for k, v in ITEMS.items()}
PRIOR = {k: v[1] for k, v in ITEMS.items()}
# 2024Q1 prints this year to date (its current column): 2025Q1's 上年同期 must equal it
Q1_2024_CURRENT = {k: str(round(float(v) * 0.25, 2)) if k not in BALANCE_KEYS else v for k, v in PRIOR.items()}


def _statement(period_end: str, items: dict[str, list[str]], unit: str = "元") -> tuple[dict, bytes]:
    data = render_document({"kind": "financial_statement", "statement": {
        "borrower_name": "浙江恒远机械制造有限公司", "period_end": period_end, "layout": "A", "unit": unit,
        "items": items}})
    doc = {"sha256": hashlib.sha256(data).hexdigest(), "borrower_id": BORROWER, "file_name": f"{period_end}.pdf"}
    return doc, data


@pytest.fixture(scope="module")
def filings():
    """The 2024 year-end and 2024Q1 filings (earlier months) and two versions of 2025Q1."""
    chart = load_chart_of_accounts()
    year_end = _statement("2024-12-31", _items(CURRENT, PRIOR))
    q1_2024 = _statement("2024-03-31", _items(Q1_2024_CURRENT, PRIOR))
    # 2025Q1: opening balances are 2024's closing ones, 上年同期 is 2024Q1's year to date ...
    opening = {k: (CURRENT[k] if k in BALANCE_KEYS else Q1_2024_CURRENT[k]) for k in ITEMS}
    good = _statement("2025-03-31", _items(CURRENT, opening))
    # ... except that this one prints opening cash 1,523,456.87 instead of 1,523,456.78
    bad = _statement("2025-03-31", _items(CURRENT, {**opening, "cash": "1523456.87"}))
    # and this one is in 万元: 152.35 万元 of opening cash stands for 1,523,456.78 within half of 0.01 万元
    wan = _statement("2025-03-31", _items(CURRENT, opening), unit="万元")
    earlier = pd.concat([statement_figures([year_end], chart).assign(filed_month="2025-02"),
                         statement_figures([q1_2024], chart).assign(filed_month="2024-04")], ignore_index=True)
    return {"earlier": earlier, "year_end": year_end[0]["sha256"], "q1_2024": q1_2024[0]["sha256"],
            "good": statement_figures([good], chart), "bad": statement_figures([bad], chart),
            "wan": statement_figures([wan], chart), "bad_sha": bad[0]["sha256"]}


def test_a_misprinted_opening_balance_flags_that_statement_with_both_values(filings):
    breaks = previous_filing_breaks(filings["bad"], filings["earlier"])
    assert breaks[["sha256", "statement", "canonical", "label", "prior_cents", "previous_current_cents",
                   "difference_cents"]].values.tolist() == [
        [filings["bad_sha"], "balance_sheet", "cash", "货币资金", 152345687, 152345678, 9]]
    row = breaks.iloc[0]
    assert (row["previous_sha256"], row["previous_period_end"], row["previous_filed_month"], row["page"],
            row["previous_page"]) == (filings["year_end"], "2024-12-31", "2025-02", 1, 1)


def test_a_consistent_statement_is_compared_line_by_line_and_passes(filings):
    compared = previous_filing_comparisons(filings["good"], filings["earlier"])
    assert bool(compared["consistent"].all())
    by_period = compared.groupby("previous_period_end")["statement"].unique().map(sorted).to_dict()
    assert by_period == {"2024-12-31": ["balance_sheet"], "2024-03-31": ["cash_flow", "income_statement"]}
    revenue = compared[compared["canonical"] == "revenue"].iloc[0]
    assert (revenue["prior_cents"], revenue["previous_sha256"]) == (450000000, filings["q1_2024"])
    assert len(compared[compared["canonical"] == "total_assets"]) == 1


def test_figures_printed_in_wan_yuan_agree_within_half_their_last_digit(filings):
    compared = previous_filing_comparisons(filings["wan"], filings["earlier"])
    cash = compared[compared["canonical"] == "cash"].iloc[0]
    assert (cash["prior_cents"], cash["previous_current_cents"], cash["tolerance_cents"]) == (152350000, 152345678, 5000)
    assert bool(compared["consistent"].all())


def test_a_statement_whose_earlier_filing_was_not_extracted_is_not_checked(filings):
    assert previous_filing_comparisons(filings["bad"], filings["earlier"].iloc[0:0]).empty
    # a resubmitted year end, filed later, is the one compared: it prints the misprinted figure, so 2025Q1 agrees
    fixed = filings["earlier"][filings["earlier"]["sha256"] == filings["year_end"]].copy()
    fixed["sha256"], fixed["filed_month"] = "resubmitted", "2025-03"
    fixed.loc[fixed["canonical"] == "cash", "current_cents"] = 152345687
    assert previous_filing_breaks(filings["bad"], pd.concat([filings["earlier"], fixed])).empty


@pytest.mark.parametrize("statement,period_end,fiscal_year_end,expected", [
    ("balance_sheet", "2025-03-31", "12-31", "2024-12-31"),
    ("balance_sheet", "2024-12-31", "12-31", "2023-12-31"),
    ("income_statement", "2025-09-30", "12-31", "2024-09-30"),
    ("cash_flow", "2024-02-29", "12-31", "2023-02-28"),
    ("balance_sheet", "2025-09-30", "03-31", "2025-03-31"),
])
def test_the_period_a_prior_column_restates(statement, period_end, fiscal_year_end, expected):
    assert comparable_period(statement, date.fromisoformat(period_end), fiscal_year_end) == date.fromisoformat(expected)


def test_the_check_reads_the_earlier_months_through_a_declared_input():
    from dagster import TimeWindowPartitionMapping

    from assets.extract import LOOKBACK_MONTHS, earlier_statement_figures, statements_consistent_with_previous_filing
    from plugins.config import load_config

    assert LOOKBACK_MONTHS == load_config().documents.previous_filing.lookback_months == 15
    mapping = earlier_statement_figures.get_partition_mapping(earlier_statement_figures.dependency_keys.pop())
    assert isinstance(mapping, TimeWindowPartitionMapping) and (mapping.start_offset, mapping.end_offset) == (-15, -1)
    check_inputs = {k.to_user_string() for k in statements_consistent_with_previous_filing.keys_by_input_name.values()}
    assert {"statement_figures_extracted", "earlier_statement_figures"} <= check_inputs


def test_the_asset_check_flags_the_statement_from_the_months_that_were_run(s3_env, filings):
    """Real Dagster run on the real work store: 2025-02 and 2024-04 were run, the months between were not."""
    from dagster import AssetCheckKey, AssetKey, AssetSelection, AssetSpec, materialize

    from assets.extract import earlier_statement_figures, statement_figures_extracted, statements_consistent_with_previous_filing
    from pipelines.resources import ArchiveResource, PostloanConfigResource, WorkStoreIOManager
    from plugins.archive import ObjectStore, s3_settings
    from plugins.config import load_config
    from pipelines.resources import _parquet

    store = ObjectStore(s3_settings(load_config().storage))
    store.ensure_buckets()
    earlier = filings["earlier"]
    for month in ("2025-02", "2024-04"):
        frame = earlier[earlier["filed_month"] == month].drop(columns=["filed_month"])
        store.put(store.settings.work_bucket, f"statement_figures_extracted/{month}", _parquet(frame),
                  metadata={"kind": "parquet"})
    store.put(store.settings.work_bucket, "statement_figures_extracted/2025-04", _parquet(filings["bad"]),
              metadata={"kind": "parquet"})
    check = AssetCheckKey(AssetKey("statement_figures_extracted"), "statements_consistent_with_previous_filing")
    result = materialize(
        [AssetSpec("inbox_documents"), statement_figures_extracted, earlier_statement_figures,
         statements_consistent_with_previous_filing],
        partition_key="2025-04", selection=AssetSelection.assets("earlier_statement_figures") | AssetSelection.checks(check),
        resources={"work_io_manager": WorkStoreIOManager(), "config": PostloanConfigResource(),
                   "archive": ArchiveResource()},
        raise_on_error=False)
    assert result.success  # a failed identity is a warning on the statement, not a failed run
    evaluation = next(e for e in result.get_asset_check_evaluations() if e.check_name == check.name)
    assert not evaluation.passed
    assert evaluation.metadata["statements_flagged"].value == [filings["bad_sha"]]
    assert evaluation.metadata["figures_compared"].value > 20
    months = result.asset_materializations_for_node("earlier_statement_figures")[0].metadata["months_read"].value
    assert months == ["2024-04", "2025-02"]
