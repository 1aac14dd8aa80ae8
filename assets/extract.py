"""Archived documents → figures and contract terms, each with page and bounding box."""
import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from assets.common import markdown_table
from pipelines.partitions import monthly_partitions
from pipelines.resources import ArchiveResource, PostloanConfigResource
from plugins.archive import Archive, sha256_hex
from plugins.documents import load_chart_of_accounts
from plugins.extraction import (
    balance_sheet_breaks, contract_mismatches, contract_terms, statement_figures, subtotal_breaks,
)

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
    figures = statement_figures(_verified_documents(archive.get(), inbox_documents, ("financial_statement",)), chart,
                                progress=context.log.info)
    return MaterializeResult(value=figures, metadata={
        "statements": int(figures["sha256"].nunique()), "figures": len(figures),
        "unmapped_labels": int(figures["canonical"].isna().sum()),
        "preview": MetadataValue.md(markdown_table(figures[["borrower_id", "statement", "label", "current", "unit", "page"]]))})


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


@asset(partitions_def=monthly_partitions, group_name="extract", io_manager_key="work_io_manager",
       description="Terms of the month's signed contracts (number, parties, principal, rate, term, dates, "
                   "repayment, collateral or leased asset, purpose), each with where it was printed.")
def contract_terms_extracted(context: AssetExecutionContext, inbox_documents: pd.DataFrame,
                             archive: ArchiveResource) -> MaterializeResult:
    terms = contract_terms(_verified_documents(archive.get(), inbox_documents, CONTRACT_CLASSES),
                           progress=context.log.info)
    return MaterializeResult(value=terms, metadata={
        "contracts": int(terms["sha256"].nunique()), "terms": len(terms),
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
