"""Post-loan monitoring of the month: inspections due and overdue, collection results, vintage and roll rates."""
import pandas as pd
from dagster import AssetExecutionContext, AssetIn, MaterializeResult, MetadataValue, asset

from assets.common import markdown_table
from pipelines.partitions import HISTORY_WINDOW, monthly_partitions
from pipelines.resources import PostloanConfigResource
from plugins.ingest import month_end
from plugins.money import yuan

# Months of history behind the vintage curves and roll rates (the chart's reach, not a threshold).
PERFORMANCE_MONTHS = 24


@asset(partitions_def=monthly_partitions, group_name="monitoring", io_manager_key="work_io_manager",
       description="Post-loan inspections (贷后检查) against config/inspections.yaml: per loan the next inspection "
                   "due and whether it is overdue; the month's inspections due, done on time, done late and not "
                   "done; overdue inspections by age band. Empty when the inspection log was not delivered.")
def inspection_status(context: AssetExecutionContext, loan_classification: pd.DataFrame, core_system_extract: dict,
                      config: PostloanConfigResource) -> MaterializeResult:
    from plugins.monitoring.inspections import inspection_report

    if "inspections" not in core_system_extract:
        context.log.warning(f"{context.partition_key}: no inspections.csv delivered; section left out")
        return MaterializeResult(value={}, metadata={"delivered": False})
    report = inspection_report(loan_classification, core_system_extract, month_end(context.partition_key),
                               config.get().inspections)
    total = report["summary"].iloc[-1]
    overdue = report["status"][report["status"]["overdue"]]
    return MaterializeResult(value=report, metadata={
        "delivered": True,
        "due_this_month": int(total["本月应检查"]),
        "done_on_time": int(total["按时完成"]),
        "done_late": int(total["逾期完成"]),
        "not_done": int(total["未完成"]),
        "loans_overdue": len(overdue),
        "overdue_balance_yuan": float(yuan(int(overdue["balance_cents"].sum()))),
        "summary": MetadataValue.md(markdown_table(report["summary"])),
        "overdue_preview": MetadataValue.md(markdown_table(
            overdue[["contract_id", "tier", "next_inspection", "next_due", "days_overdue"]])),
    })


@asset(partitions_def=monthly_partitions, group_name="monitoring", io_manager_key="work_io_manager",
       description="The month's collection results (催收) from the collection log: actions by type, outcomes, loans "
                   "contacted, promises kept, amounts recovered and the cure rate by last month's DPD bucket. "
                   "Empty when the collection log was not delivered.")
def collection_results(context: AssetExecutionContext, loan_classification: pd.DataFrame, core_system_extract: dict,
                       config: PostloanConfigResource) -> MaterializeResult:
    from plugins.monitoring.collections import collection_report

    if "collections" not in core_system_extract:
        context.log.warning(f"{context.partition_key}: no collections.csv delivered; section left out")
        return MaterializeResult(value={}, metadata={"delivered": False})
    cfg = config.get()
    report = collection_report(core_system_extract, loan_classification, month_end(context.partition_key),
                               cfg.collections, cfg.provisioning.ageing_buckets)
    total = report["actions"].iloc[-1]
    cures = report["cures"].iloc[-1]
    return MaterializeResult(value=report, metadata={
        "delivered": True,
        "actions": int(total["次数"]),
        "loans_contacted": int(total["loans"]),
        "recovered_yuan": float(yuan(int(total["recovered_cents"]))),
        "cure_rate": float(cures["cure_rate"]) if cures["cure_rate"] is not None else 0.0,
        "figures": MetadataValue.md(markdown_table(report["figures"].astype(str))),
        "cures": MetadataValue.md(markdown_table(report["cures"].astype(str))),
    })


@asset(partitions_def=monthly_partitions, group_name="monitoring", io_manager_key="work_io_manager",
       ins={"loan_classification": AssetIn(partition_mapping=HISTORY_WINDOW, metadata={"materialized_only": True})},
       description=f"Vintage curves (share of each origination quarter's principal ever more than 30 / 90 days "
                   f"overdue, by months on book) over the last {PERFORMANCE_MONTHS} month ends, and roll rates between "
                   "delinquency buckets over the flow-rate window of delinquency_history (the provision matrix's). "
                   "Month ends outside that window are read from each month's loan_classification, rebuilt from "
                   "this month's extract only when never materialized (metadata month_ends_read, month_ends_rebuilt).")
def portfolio_performance(context: AssetExecutionContext, core_system_extract: dict, loan_classification: dict,
                          delinquency_history: pd.DataFrame, config: PostloanConfigResource) -> MaterializeResult:
    from plugins.portfolio.performance import states_by_month_end
    from plugins.portfolio.vintage import performance_report_sourced

    # The flow-rate window's month ends come from delinquency_history (not rebuilt); roll rates pool that window.
    report, sources = performance_report_sourced(core_system_extract, month_end(context.partition_key),
                                                 PERFORMANCE_MONTHS, config.get().provisioning.ageing_buckets,
                                                 recent=delinquency_history,
                                                 states=states_by_month_end(loan_classification))
    meta = sources.metadata()
    return MaterializeResult(value=report, metadata={
        "cohorts": int(report["vintage"]["cohort"].nunique()) if len(report["vintage"]) else 0,
        "month_ends": PERFORMANCE_MONTHS,
        "month_ends_from_delinquency_history": len(sources.given),
        **meta, "rebuilt_month_ends": MetadataValue.json(meta["rebuilt_month_ends"]),
        "roll_rates": MetadataValue.md(markdown_table(report["roll_rates"].astype(str))),
    })


@asset(partitions_def=monthly_partitions, group_name="monitoring", io_manager_key="work_io_manager",
       description="Covenant headroom per borrower on the book: the debt-to-asset ratio of its latest filing "
                   "(borrower_statements, whenever delivered; with the filing's period end, documents and age in "
                   "months) against the covenant ceiling of config/early_warning.yaml (debt_to_asset_covenant), "
                   "tightest first.")
def covenant_headroom(context: AssetExecutionContext, borrower_statements: dict,
                      loan_classification: pd.DataFrame, config: PostloanConfigResource) -> MaterializeResult:
    from plugins.monitoring.covenants import covenant_headroom as headroom
    from plugins.monitoring.statement_state import latest_filing_figures

    frame = headroom(latest_filing_figures(borrower_statements["figures"]), loan_classification,
                     config.get().early_warning, as_of=month_end(context.partition_key))
    return MaterializeResult(value=frame, metadata={
        "borrowers": len(frame), "breaches": int(frame["breach"].sum()) if len(frame) else 0,
        "preview": MetadataValue.md(markdown_table(
            frame[["borrower_id", "period_end", "age_months", "debt_to_asset", "covenant", "headroom",
                   "breach"]].astype(str)))})
