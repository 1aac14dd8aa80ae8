"""Reports and their publication into the archive with a manifest."""

from datetime import date
from decimal import Decimal

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, MaterializeResult, MetadataValue, asset

from assets.common import markdown_table
from pipelines import settings
from pipelines.partitions import monthly_partitions, quarter_end_month, quarter_label, quarterly_partitions
from pipelines.resources import ArchiveResource, PostloanConfigResource
from plugins.archive import Archive
from plugins.config import PostloanConfig
from plugins.ingest import month_end
from plugins.money import yuan
from plugins.provisioning import indicators


def report_book(provisions: pd.DataFrame) -> pd.DataFrame:
    """The classified, provisioned book in yuan (Decimal), as the report renderers take it."""
    book = provisions.copy()
    book["balance"] = book["balance_cents"].map(lambda c: yuan(int(c)))
    book["regulatory_provision"] = book["booked_provision_cents"].map(lambda c: yuan(int(c)))
    book["previous_tier"] = book["previous_tier"].astype(object).where(book["previous_tier"].notna(), None)
    return book


def institution_header(cfg: PostloanConfig, report_date: date) -> dict:
    i = cfg.institution
    return {"name": i.name, "code": i.code, "report_date": report_date, "preparer": i.preparer, "unit": "万元"}


def manifest_inputs(archive: Archive, cfg: PostloanConfig, period: str, months: list[str]) -> dict:
    """Everything a report was built from: hashes of the archived inputs, config and code version."""
    documents = []
    for month in months:
        documents += [{"sha256": d.sha256, "class": d.doc_class, "name": d.original_name, "status": d.status}
                      for d in archive.catalog.find_documents(period=month)]
    return {"period": period, "documents": sorted(documents, key=lambda d: (d["class"], d["name"], d["sha256"])),
            "config_sha256": cfg.digest, "code_version": settings.code_version()}


@asset(partitions_def=monthly_partitions, group_name="reports", io_manager_key="work_io_manager",
       description="The monthly post-loan management report (PDF, Chinese, with charts).")
def management_report(context: AssetExecutionContext, loan_provisions: pd.DataFrame, inbox_documents: pd.DataFrame,
                      config: PostloanConfigResource) -> MaterializeResult:
    from plugins.reports.management import render_management_pdf

    cfg = config.get()
    period = context.partition_key
    result = indicators(loan_provisions, loan_provisions["booked_provision_cents"], cfg.provisioning)
    t = cfg.provisioning.thresholds
    quarantined = inbox_documents[inbox_documents["status"] != "archived"]
    pack = {
        "institution": institution_header(cfg, month_end(period)),
        "period": period,
        "book": report_book(loan_provisions),
        "summary": {"loans": result.loans, "balance": yuan(result.balance_cents), "npl_ratio": result.npl_ratio,
                    "provision_coverage": result.provision_coverage,
                    "loan_provision_ratio": result.loan_provision_ratio,
                    "thresholds": {"npl_ratio_max": t.npl_ratio_max, "provision_coverage_min": t.provision_coverage_min,
                                   "loan_provision_ratio_min": t.loan_provision_ratio_min}},
        "documents": {"archived": int((inbox_documents["status"] == "archived").sum()),
                      "quarantined": len(quarantined),
                      "quarantine": [{"file_name": r.file_name, "reason": r.reason}
                                     for r in quarantined.itertuples(index=False)]},
    }
    pdf = render_management_pdf(pack)
    return MaterializeResult(value=pdf, metadata={"bytes": len(pdf)})


@asset(partitions_def=monthly_partitions, group_name="publish", io_manager_key="work_io_manager",
       description="The management report archived with its manifest (inputs' hashes, config hash, code version).")
def published_management_report(context: AssetExecutionContext, management_report: bytes,
                                 archive: ArchiveResource, config: PostloanConfigResource) -> MaterializeResult:
    period = context.partition_key
    cfg = config.get()
    inputs = manifest_inputs(archive.get(), cfg, period, [period])
    published = archive.get().publish("management_report", period, month_end(period),
                                      {f"贷后管理月度报告_{period}.pdf": management_report}, inputs, context.run.run_id)
    context.log.info(f"published {published['files'][0]['key']} (new objects: {published['objects_written']})")
    return MaterializeResult(value=published, metadata={
        "manifest": published["manifest_key"], "files": MetadataValue.json(published["files"]),
        "objects_written": published["objects_written"], "inputs": len(inputs["documents"])})


@asset(partitions_def=quarterly_partitions, group_name="reports", io_manager_key="work_io_manager",
       ins={"loan_provisions": AssetIn(metadata={"period_end_only": True})},
       description="G11 资产质量及准备金 for the quarter, from the quarter-end month's provisioned book "
                   "(Excel, 万元 with two decimals, totals as formulas).")
def g11_return(context: AssetExecutionContext, loan_provisions: pd.DataFrame,
               config: PostloanConfigResource) -> MaterializeResult:
    from plugins.reports.g11 import build_g11_table, render_g11_xlsx

    cfg = config.get()
    quarter_end = month_end(quarter_end_month(context.partition_key))
    table = build_g11_table(report_book(loan_provisions))
    workbook = render_g11_xlsx(table, institution_header(cfg, quarter_end), quarter_label(context.partition_key))
    return MaterializeResult(value=workbook, metadata={
        "bytes": len(workbook), "table": MetadataValue.md(markdown_table(table.astype(str), max_rows=40))})


@asset(partitions_def=quarterly_partitions, group_name="publish", io_manager_key="work_io_manager",
       description="The G11 return archived with its manifest.")
def published_g11_return(context: AssetExecutionContext, g11_return: bytes, archive: ArchiveResource,
                         config: PostloanConfigResource) -> MaterializeResult:
    cfg = config.get()
    label = quarter_label(context.partition_key)
    last_month = quarter_end_month(context.partition_key)
    inputs = manifest_inputs(archive.get(), cfg, label, [last_month])
    inputs["documents"] = [d for d in inputs["documents"] if d["class"] == "core_extract"]
    published = archive.get().publish("regulatory_return", label, month_end(last_month),
                                      {f"G11_{label}.xlsx": g11_return}, inputs, context.run.run_id)
    context.log.info(f"published {published['files'][0]['key']} (new objects: {published['objects_written']})")
    return MaterializeResult(value=published, metadata={
        "manifest": published["manifest_key"], "files": MetadataValue.json(published["files"]),
        "objects_written": published["objects_written"]})
