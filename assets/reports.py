"""Reports and their publication into the archive with a manifest."""

from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetOut, MaterializeResult, MetadataValue, asset, multi_asset

from assets.common import markdown_table
from pipelines import settings
from pipelines.partitions import (
    PREVIOUS_PUBLISHED_CLASSIFICATION,
    TREND_WINDOW,
    monthly_partitions,
    quarter_end_month,
    quarter_label,
    quarterly_partitions,
)
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
    from plugins.config_snapshot import config_snapshot

    documents = []
    for month in months:  # every file delivered that month, including unchanged ones archived before
        received = archive.catalog.receipts(month) or [  # catalogs from before receipts were recorded
            {"sha256": d.sha256, "doc_class": d.doc_class, "original_name": d.original_name, "status": d.status}
            for d in archive.catalog.find_documents(period=month)]
        documents += [{"sha256": r["sha256"], "class": r["doc_class"], "name": r["original_name"],
                       "status": r["status"]} for r in received]
    documents += previous_classification(archive, months[0])
    # The configuration itself is an input: archived, so the folder can be restored years later.
    snapshot = archive.keep_configuration(config_snapshot(cfg.config_dir), month_end(months[-1]))
    documents.append({"sha256": snapshot.sha256, "class": "configuration", "name": snapshot.original_name,
                      "status": snapshot.status})
    return {"period": period, "documents": sorted(documents, key=lambda d: (d["class"], d["name"], d["sha256"])),
            "config_sha256": cfg.digest, "code_version": settings.code_version()}


def previous_classification(archive: Archive, month: str) -> list[dict]:
    """The loan-level classification published for the month before `month`: the previous tiers and the
    migration opening of `month` are that file's tiers (the latest publication when it was republished)."""
    from plugins.classification.period import previous_month_end
    from plugins.reports.classification import REPORT_KIND

    published = archive.catalog.find_publications(REPORT_KIND, f"{previous_month_end(month_end(month)):%Y-%m}")
    return [{"sha256": p.sha256, "class": "previous_classification", "name": p.file_name, "status": "published"}
            for p in published[-1:]]


TREND_MONTHS = 12  # months of history shown before the report month (the chart, not a threshold)


def risk_sections(watch_list: pd.DataFrame, tier_migration: dict, early_warning_signals: pd.DataFrame,
                  loan_provisions: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The optional pack sections from classification, early warning and ECL, in report shape."""
    from plugins.classification.migration import transition_matrix

    migration = transition_matrix(tier_migration["transitions"], "loans").reset_index().rename(
        columns={"期初": "from_tier"})
    by_stage = loan_provisions.groupby("stage", as_index=False).agg(
        loans=("contract_id", "size"), balance_cents=("balance_cents", "sum"), ecl_cents=("ecl_cents", "sum"))
    high = early_warning_signals[early_warning_signals["severity"] == "high"]
    return {
        "watch_list": watch_list[["contract_id", "borrower_name", "tier_name", "dpd", "balance_cents",
                                  "recommended_action", "responsible_role"]].rename(
            columns={"recommended_action": "建议措施", "responsible_role": "责任岗位"}),
        "migration": migration,
        "early_warning": high[["contract_id", "signal", "severity", "evidence"]],
        "ecl_summary": by_stage,
    }


def monitoring_sections(cfg: PostloanConfig, loan_provisions: pd.DataFrame, inspections: dict, collections: dict,
                        performance: dict) -> dict:
    """Optional pack keys from the monitoring assets and the 2012 general reserve (empty logs are left out)."""
    from plugins.provisioning import general_reserve_2012

    reserve = general_reserve_2012(loan_provisions, int(loan_provisions["booked_provision_cents"].sum()),
                                   cfg.provisioning)
    out = {"general_reserve": {**reserve.__dict__, "floor_rate": cfg.provisioning.standard_2012.general_reserve_min_rate},
           "performance": performance}
    if inspections:
        out["inspections"] = inspections
    if collections:
        out["collections"] = collections
    return out


def management_pack(cfg: PostloanConfig, period: str, loan_provisions: pd.DataFrame, inbox_documents: pd.DataFrame,
                    trend: pd.DataFrame | None, sections: dict[str, pd.DataFrame] | None = None) -> dict:
    """Everything the management PDF and workbook show; optional frames (trend, ...) only when given."""
    result = indicators(loan_provisions, loan_provisions["booked_provision_cents"], cfg.provisioning)
    t = cfg.provisioning.thresholds
    quarantined = inbox_documents[inbox_documents["status"] != "archived"]
    pack = {
        "institution": institution_header(cfg, month_end(period)),
        "period": period,
        "book": report_book(loan_provisions),
        "ageing_buckets": [(b.label, b.max_dpd) for b in cfg.provisioning.ageing_buckets],
        "summary": {"loans": result.loans, "balance": yuan(result.balance_cents), "npl_ratio": result.npl_ratio,
                    "provision_coverage": result.provision_coverage,
                    "loan_provision_ratio": result.loan_provision_ratio,
                    "thresholds": {"npl_ratio_max": t.npl_ratio_max, "provision_coverage_min": t.provision_coverage_min,
                                   "loan_provision_ratio_min": t.loan_provision_ratio_min},
                    "targets": cfg.provisioning.targets.model_dump() if cfg.provisioning.targets else None},
        "documents": {"archived": int((inbox_documents["status"] == "archived").sum()),
                      "quarantined": len(quarantined),
                      "quarantine": [{"file_name": r.file_name, "reason": r.reason}
                                     for r in quarantined.itertuples(index=False)]},
    }
    if trend is not None and len(trend):
        pack["trend"] = trend
    pack.update(sections or {})
    return pack


@asset(partitions_def=monthly_partitions, group_name="reports", io_manager_key="work_io_manager",
       ins={"loan_provisions": AssetIn(partition_mapping=TREND_WINDOW, metadata={"materialized_only": True})},
       description="NPL ratio, provision coverage and loan provision ratio for the month and the previous "
                   f"{TREND_MONTHS} months, from each month's loan_provisions (a declared dependency; months never "
                   "run are left out, not zero, and listed in metadata months_missing), for the management "
                   "report's trend chart.")
def portfolio_trend(context: AssetExecutionContext, loan_provisions: dict,
                    config: PostloanConfigResource) -> MaterializeResult:
    from plugins.reports.trend import trend_as_text, trend_books, trend_frame

    period = context.partition_key
    books, missing = trend_books(loan_provisions, period, TREND_MONTHS)
    frame = trend_as_text(trend_frame(books, config.get().provisioning))
    return MaterializeResult(value=frame, metadata={
        "months": len(frame), "first": frame["period"].iloc[0], "last": frame["period"].iloc[-1],
        "months_read": len(books) - 1, "months_missing": MetadataValue.json(missing),
        "trend": MetadataValue.md(markdown_table(frame[["period", "loans", "npl_ratio", "provision_coverage",
                                                        "loan_provision_ratio"]], max_rows=24))})


@multi_asset(
    partitions_def=monthly_partitions, group_name="reports",
    outs={"management_report": AssetOut(io_manager_key="work_io_manager",
                                        description="The monthly post-loan management report (PDF, Chinese, charts)."),
          "management_workbook": AssetOut(io_manager_key="work_io_manager",
                                          description="The same pack as an Excel workbook, one sheet per section.")},
)
def management_pack_files(context: AssetExecutionContext, loan_provisions: pd.DataFrame, inbox_documents: pd.DataFrame,
                          portfolio_trend: pd.DataFrame, watch_list: pd.DataFrame, tier_migration: dict,
                          early_warning_signals: pd.DataFrame, inspection_status: dict, collection_results: dict,
                          portfolio_performance: dict, covenant_headroom: pd.DataFrame, disposal_status: dict,
                          monitoring_findings: dict, warning_lifecycle: pd.DataFrame, collection_pack: dict,
                          config: PostloanConfigResource):
    """One pack, rendered twice: the PDF people read and the workbook analysts filter."""
    from plugins.reports.management import render_management_pdf
    from plugins.reports.management_xlsx import render_management_xlsx

    sections = risk_sections(watch_list, tier_migration, early_warning_signals, loan_provisions)
    sections.update(monitoring_sections(config.get(), loan_provisions, inspection_status, collection_results,
                                        portfolio_performance))
    sections["covenants"] = covenant_headroom
    sections["collection_run"] = collection_pack  # issue 14 items 1–3: cases, collectors, penalty interest, notices
    as_of = month_end(context.partition_key)  # issue 14 items 4–9: disposal, registers, warnings' lifecycle
    sections["disposal_monitoring"] = {
        "disposal": disposal_status, "findings": monitoring_findings, "lifecycle": warning_lifecycle,
        "watch_list": watch_list, "as_of": as_of, "previous_end": date(as_of.year, as_of.month, 1) - timedelta(days=1),
        "statuses": config.get().monitoring.dispositions.statuses}
    pack = management_pack(config.get(), context.partition_key, loan_provisions, inbox_documents, portfolio_trend,
                           sections)
    pdf, workbook = render_management_pdf(pack), render_management_xlsx(pack)
    yield MaterializeResult(asset_key="management_report", value=pdf,
                            metadata={"bytes": len(pdf), "trend_months": len(portfolio_trend),
                                      "watch_list": len(watch_list)})
    yield MaterializeResult(asset_key="management_workbook", value=workbook, metadata={"bytes": len(workbook)})


@asset(partitions_def=monthly_partitions, group_name="publish", io_manager_key="work_io_manager",
       deps=[PREVIOUS_PUBLISHED_CLASSIFICATION],  # its manifest names last month's published classification
       description="The management report (PDF) and workbook (Excel) archived together with one manifest "
                   "(inputs' hashes, the trend figures, config hash, code version).")
def published_management_report(context: AssetExecutionContext, management_report: bytes, management_workbook: bytes,
                                 portfolio_trend: pd.DataFrame, archive: ArchiveResource,
                                 config: PostloanConfigResource) -> MaterializeResult:
    period = context.partition_key
    cfg = config.get()
    inputs = manifest_inputs(archive.get(), cfg, period, [period])
    inputs["trend"] = portfolio_trend.astype(str).to_dict(orient="records")
    files = {f"贷后管理月度报告_{period}.pdf": management_report, f"贷后管理月度报告_{period}.xlsx": management_workbook}
    published = archive.get().publish("management_report", period, month_end(period), files, inputs,
                                      context.run.run_id)
    for f in published["files"]:
        context.log.info(f"published {f['key']}")
    context.log.info(f"new objects: {published['objects_written']}")
    return MaterializeResult(value=published, metadata={
        "manifest": published["manifest_key"], "files": MetadataValue.json(published["files"]),
        "objects_written": published["objects_written"], "inputs": len(inputs["documents"])})


@asset(partitions_def=monthly_partitions, group_name="publish", io_manager_key="work_io_manager",
       description="The Great Expectations results of the month's core extract, archived beside the reports "
                   "(validation_result) as JSON and as GX data-docs HTML pages (one per table), with the "
                   "hashes of the validated files; published whether or not the "
                   "data-quality gate passed, since a failing month's evidence matters most.")
def data_quality_evidence(context: AssetExecutionContext, archive: ArchiveResource,
                          config: PostloanConfigResource) -> MaterializeResult:
    # The blocking check core_extract_quality cannot return a value, so the same validation is run again
    # here on the same delivered bytes (validate_extract is deterministic); the manifest names their hashes.
    from plugins.archive.archive import sha256_hex
    from plugins.inbox import read_core_tables
    from plugins.ingest import validate_delivery
    from plugins.reports.evidence import gx_data_docs_html, gx_evidence_json

    month = context.partition_key
    cfg = config.get()
    tables = read_core_tables(archive.get().store, month)
    outcome = validate_delivery(tables, cfg, month)  # files that cannot be read are findings, not a crash
    summary = {"period": month, "success": outcome.success, "expectations_evaluated": outcome.evaluated,
               "rows": outcome.rows, "findings": outcome.summary_lines()}
    evidence = gx_evidence_json(outcome.gx_results, summary)
    from plugins.config_snapshot import config_snapshot

    snapshot = archive.get().keep_configuration(config_snapshot(cfg.config_dir), month_end(month))
    inputs = {"period": month, "config_sha256": cfg.digest, "code_version": settings.code_version(),
              "documents": [{"name": f"{name}.csv", "class": "core_extract", "sha256": sha256_hex(data)}
                            for name, data in sorted(tables.items())]
              + [{"name": snapshot.original_name, "class": "configuration", "sha256": snapshot.sha256}]}
    files = {f"GX_数据质量验证结果_{month}.json": evidence}
    files.update({f"GX_data_docs_{frame}_{month}.html": page
                  for frame, page in gx_data_docs_html(outcome.gx_results).items()})
    published = archive.get().publish("validation_result", month, month_end(month), files, inputs,
                                      context.run.run_id)
    return MaterializeResult(value=published, metadata={
        "success": outcome.success, "expectations_evaluated": outcome.evaluated,
        "manifest": published["manifest_key"], "files": MetadataValue.json(published["files"]),
        "objects_written": published["objects_written"]})


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
       deps=["returns_reconciliation"],  # its blocking check returns_reconcile gates filing
       description="The G11 return archived with its manifest, once it reconciles with EAST and the loan book.")
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
