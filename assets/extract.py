"""Archived documents → figures and contract terms, each with page and bounding box."""
import warnings

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    BetaWarning,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    asset,
    asset_check,
)

from assets.common import markdown_table
from pipelines import settings
from pipelines.partitions import PREVIOUS_MONTH, monthly_partitions
from pipelines.resources import ArchiveResource, PostloanConfigResource
from plugins.archive import Archive, sha256_hex
from plugins.documents import load_chart_of_accounts
from plugins.extraction import (
    FIGURE_COLUMNS, REVIEW_COLUMNS, balance_sheet_breaks, contract_mismatches, contract_terms,
    previous_filing_comparisons, statement_figures, subtotal_breaks,
)
from plugins.config import load_config

CONTRACT_CLASSES = ("loan_contract", "lease_contract")


def _verified_documents(archive: Archive, inventory: pd.DataFrame, classes: tuple[str, ...]):
    """Archived documents of the given classes, read back from the store and checked against their hash."""
    wanted = inventory[(inventory["status"] == "archived") & (inventory["doc_class"].isin(classes))]
    for doc in wanted.to_dict("records"):
        data = archive.fetch(doc["sha256"])
        if sha256_hex(data) != doc["sha256"]:
            raise ValueError(f"archived object for {doc['file_name']} no longer matches its hash {doc['sha256']}")
        yield doc, data


@asset(partitions_def=monthly_partitions, group_name="extract", io_manager_key="work_io_manager",
       description="Every line item of the month's financial statements (资产负债表, 利润表, 现金流量表) in the "
                   "document's unit and in cents, with page, bounding box and printed label.")
def statement_figures_extracted(context: AssetExecutionContext, inbox_documents: pd.DataFrame,
                                archive: ArchiveResource, config: PostloanConfigResource) -> MaterializeResult:
    chart = load_chart_of_accounts(config.get().config_dir / "chart_of_accounts.yaml")
    held: list[dict] = []
    figures = statement_figures(_verified_documents(archive.get(), inbox_documents, ("financial_statement",)), chart,
                                progress=context.log.info,
                                parent_company=config.get().documents.parent_company_statements, held_for_review=held)
    statuses = figures["status"].value_counts()
    return MaterializeResult(value=figures, metadata={
        "statements": int(figures["sha256"].nunique()), "figures": len(figures),
        "unmapped_labels": int(figures["canonical"].isna().sum()),
        **{f"figures_{status}": int(statuses.get(status, 0)) for status in ("checked", "derived", "unchecked")},
        "needs_review": len(held),
        "held_for_review": MetadataValue.md(markdown_table(pd.DataFrame(held, columns=REVIEW_COLUMNS).astype(str))),
        "preview": MetadataValue.md(markdown_table(figures[["borrower_id", "statement", "label", "current", "unit", "page",
                                                            "status", "unit_source"]]))})


@asset_check(asset=statement_figures_extracted, partitions_def=monthly_partitions,
             description="Total assets equal total liabilities plus equity on every statement; a break flags "
                         "the statement, not the run.")
def statements_balance(context: AssetCheckExecutionContext, statement_figures_extracted: pd.DataFrame) -> AssetCheckResult:
    breaks = balance_sheet_breaks(statement_figures_extracted)
    return AssetCheckResult(passed=breaks.empty, severity=AssetCheckSeverity.WARN, metadata={
        "statements_checked": int(statement_figures_extracted["sha256"].nunique()),
        "breaks": MetadataValue.md(markdown_table(breaks.astype(str)))})


@asset_check(asset=statement_figures_extracted, partitions_def=monthly_partitions,
             description="Subtotals equal the sum of their items where the statement prints them (流动资产合计, "
                         "资产总计 = 流动 + 非流动, ...); a break flags the statement (its hash), not the run.")
def statements_subtotals_add_up(context: AssetCheckExecutionContext,
                                statement_figures_extracted: pd.DataFrame) -> AssetCheckResult:
    breaks = subtotal_breaks(statement_figures_extracted)
    return AssetCheckResult(passed=breaks.empty, severity=AssetCheckSeverity.WARN, metadata={
        "statements_checked": int(statement_figures_extracted["sha256"].nunique()),
        "statements_flagged": sorted(breaks["sha256"].unique().tolist()),
        "breaks": MetadataValue.md(markdown_table(breaks.astype(str)))})


# The partition window is part of the asset graph, so it is read when the definitions load.
LOOKBACK_MONTHS = load_config(settings.config_dir()).documents.previous_filing.lookback_months
with warnings.catch_warnings():  # allow_nonexistent_upstream_partitions is marked beta in Dagster 1.13
    warnings.simplefilter("ignore", BetaWarning)
    EARLIER_MONTHS = TimeWindowPartitionMapping(start_offset=-LOOKBACK_MONTHS, end_offset=-1,
                                                allow_nonexistent_upstream_partitions=True)


@asset(partitions_def=monthly_partitions, group_name="extract", io_manager_key="work_io_manager",
       ins={"statement_figures_extracted": AssetIn(partition_mapping=EARLIER_MONTHS,
                                                   metadata={"materialized_only": True})},
       description="Statement figures extracted in the previous months (documents.yaml previous_filing."
                   "lookback_months), with the month each was filed: the earlier filings a statement's prior-period "
                   "column is checked against. Months that were never run are left out.")
def earlier_statement_figures(context: AssetExecutionContext, statement_figures_extracted: dict) -> MaterializeResult:
    frames = [frame.assign(filed_month=month) for month, frame in sorted(statement_figures_extracted.items())
              if not frame.empty]
    earlier = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*FIGURE_COLUMNS, "filed_month"])
    earlier = earlier[earlier["canonical"].notna()].reset_index(drop=True)
    return MaterializeResult(value=earlier, metadata={
        "months_read": MetadataValue.json(sorted(statement_figures_extracted)),
        "statements": int(earlier["sha256"].nunique()), "figures": len(earlier)})


# The same month's earlier_statement_figures, {} when it is not materialized. A check runs in the run of the asset
# it checks, and an asset backfill (the UI's) plans runs from asset dependencies only, so this check may run before
# earlier_statement_figures of its month, or in a backfill that does not target it: it then compares with this
# month's filings alone and says so (earlier_filings_read false) instead of failing to load its input.
SAME_MONTH_EARLIER_FIGURES = AssetIn(key=AssetKey("earlier_statement_figures"), metadata={"materialized_only": True})


def _only_partition(values: dict) -> pd.DataFrame | dict | None:
    """The value of the one partition a materialized_only input maps to, or None when it was not materialized."""
    return next(iter(values.values()), None)


@asset_check(asset=statement_figures_extracted, partitions_def=monthly_partitions,
             additional_ins={"earlier_statement_figures": SAME_MONTH_EARLIER_FIGURES},
             description="Current and prior period consistent with the previous filing: a statement's prior-period "
                         "column (年初 on the balance sheet, 上年同期 on the income and cash-flow statements) equals the "
                         "current column of the borrower's earlier filing for that period, when it was extracted; a "
                         "difference flags the statement (its hash), not the run. When earlier_statement_figures of "
                         "the month is not materialized, only this month's filings are compared (earlier_filings_read).")
def statements_consistent_with_previous_filing(context: AssetCheckExecutionContext,
                                               statement_figures_extracted: pd.DataFrame,
                                               earlier_statement_figures: dict,
                                               config: PostloanConfigResource) -> AssetCheckResult:
    fiscal_year_end = config.get().documents.previous_filing.fiscal_year_end
    earlier = _only_partition(earlier_statement_figures)
    compared = previous_filing_comparisons(statement_figures_extracted, earlier, fiscal_year_end)
    breaks = compared[~compared["consistent"].astype(bool)]
    statements = statement_figures_extracted["sha256"].dropna().unique()
    return AssetCheckResult(passed=breaks.empty, severity=AssetCheckSeverity.WARN, metadata={
        "earlier_filings_read": earlier is not None,
        "statements_checked": int(compared["sha256"].nunique()),
        "statements_without_earlier_filing": int(len(set(statements) - set(compared["sha256"]))),
        "figures_compared": len(compared),
        "statements_flagged": sorted(breaks["sha256"].unique().tolist()),
        "breaks": MetadataValue.md(markdown_table(breaks.drop(columns=["consistent"]).astype(str)))})


@asset(partitions_def=monthly_partitions, group_name="extract", io_manager_key="work_io_manager",
       description="Terms of the month's signed contracts (number, parties, principal, rate, term, dates, "
                   "repayment, collateral or leased asset, purpose), each with where it was printed. A scan "
                   "archived by OCR (documents.yaml ocr.enabled) is read by the OCR extractor: read_by ocr, with "
                   "the engine's confidence and name; needs_review below ocr.min_confidence.")
def contract_terms_extracted(context: AssetExecutionContext, inbox_documents: pd.DataFrame,
                             archive: ArchiveResource, config: PostloanConfigResource) -> MaterializeResult:
    terms = contract_terms(_verified_documents(archive.get(), inbox_documents, CONTRACT_CLASSES),
                           progress=context.log.info, ocr=config.get().documents.ocr)
    return MaterializeResult(value=terms, metadata={
        "contracts": int(terms["sha256"].nunique()), "terms": len(terms),
        "contracts_read_by_ocr": int(terms.loc[terms["read_by"] == "ocr", "sha256"].nunique()),
        "terms_needing_review": int(terms["needs_review"].sum()),
        "preview": MetadataValue.md(markdown_table(terms[["contract_id", "field", "value", "page"]]))})


@asset_check(asset=contract_terms_extracted, partitions_def=monthly_partitions,
             additional_ins={"core_system_extract": AssetIn()},
             description="The signed contract says what the core system records (principal, rate, dates, term); "
                         "every difference is listed with both values.")
def contracts_match_loan_book(context: AssetCheckExecutionContext, contract_terms_extracted: pd.DataFrame,
                              core_system_extract: dict) -> AssetCheckResult:
    mismatches = contract_mismatches(contract_terms_extracted, core_system_extract["loans"])
    return AssetCheckResult(passed=mismatches.empty, severity=AssetCheckSeverity.WARN, metadata={
        "contracts_checked": int(contract_terms_extracted["contract_id"].nunique()),
        "mismatches": MetadataValue.md(markdown_table(mismatches.astype(str)))})


# Last month's statement state; {} when that month was never run (then it bootstraps).
PREVIOUS_BORROWER_STATEMENTS = AssetIn(key=AssetKey("borrower_statements"), partition_mapping=PREVIOUS_MONTH,
                                       metadata={"materialized_only": True})


@asset(partitions_def=monthly_partitions, group_name="extract", io_manager_key="work_io_manager",
       ins={"previous_statements": PREVIOUS_BORROWER_STATEMENTS,
            # {} when not materialized: an asset backfill from the UI does not target the first month's
            # earlier_statement_figures (it only reaches partitions downstream of the selected ones, and that
            # asset reads earlier months), so the state then bootstraps from this month alone and says so.
            "earlier_statement_figures": SAME_MONTH_EARLIER_FIGURES},
       description="Per borrower its latest statement figures by statement type and period (with each figure's "
                   "document sha256 and page, and the month it was delivered), carried month over month: last "
                   "month's borrower_statements plus this month's deliveries (a newer period replaces an older "
                   "one; the same period delivered again replaces it and says so). Tables: figures, filings (each "
                   "borrower's latest filing and its age in months at the month end), ratios "
                   "(plugins/documents/ratios.py on the latest figures), log (what each of this month's "
                   "deliveries did), provenance. When last month was never run it bootstraps from the earlier "
                   "months' statement figures that are materialized (earlier_statement_figures; this month alone when "
                   "that is not materialized), metadata source.")
def borrower_statements(context: AssetExecutionContext, statement_figures_extracted: pd.DataFrame,
                        earlier_statement_figures: dict, previous_statements: dict) -> MaterializeResult:
    from plugins.monitoring.statement_state import build_state

    previous = _only_partition(previous_statements)
    state = build_state(context.partition_key, statement_figures_extracted, previous,
                        earlier=None if previous else _only_partition(earlier_statement_figures))
    source = state["provenance"]["source"].iloc[0]
    context.log.info(f"{context.partition_key}: statement state from {source}")
    filings, log = state["filings"], state["log"]
    actions = log["action"].value_counts().sort_index()
    return MaterializeResult(value=state, metadata={
        "source": source,
        "covers_from": str(state["provenance"]["covers_from"].iloc[0]),
        "borrowers": len(filings),
        "delivered_this_month": int((filings["delivered_months_ago"] == 0).sum()) if len(filings) else 0,
        **{f"deliveries_{action}": int(n) for action, n in actions.items()},
        "oldest_filing_months": int(filings["age_months"].max()) if len(filings) else 0,
        "filings": MetadataValue.md(markdown_table(
            filings[["borrower_id", "period_end", "delivered_month", "age_months", "redelivered"]].astype(str))),
        "log": MetadataValue.md(markdown_table(log.astype(str)))})
