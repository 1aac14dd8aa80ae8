"""Early-warning signals and the watch list of the month."""
import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from assets.common import markdown_table
from pipelines.partitions import monthly_partitions
from pipelines.resources import PostloanConfigResource
from plugins.early_warning import book_signals, signals_frame
from plugins.early_warning import watch_list as build_watch_list
from plugins.ingest import month_end


@asset(partitions_def=monthly_partitions, group_name="risk", io_manager_key="work_io_manager",
       description="Early-warning signals per loan (DOMAIN.md §5) with severity and evidence: > 90 DPD, repeated "
                   "overdue, cured-then-relapsed, maturity without renewal, collateral value down / LTV high, "
                   "借新还旧, debtor contagion, financial deterioration from each borrower's latest filing "
                   "(borrower_statements, whenever delivered; each such row names the filing's period end, "
                   "documents and age in months), and statements overdue (a corporate borrower on the book whose "
                   "latest statement is older than early_warning.yaml allows, or who never delivered one).")
def early_warning_signals(context: AssetExecutionContext, core_system_extract: dict,
                          loan_classification: pd.DataFrame, borrower_statements: dict, monitoring_findings: dict,
                          config: PostloanConfigResource) -> MaterializeResult:
    cfg = config.get().early_warning
    as_of = month_end(context.partition_key)
    frame = signals_frame(book_signals(loan_classification, core_system_extract, as_of, cfg,
                                       statements=borrower_statements))
    # Guarantors, collateral, use of funds, vehicles, events and inspection findings (monitoring_findings).
    extra = monitoring_findings["signals"].reindex(columns=frame.columns)
    if len(extra):
        frame = pd.concat([frame, extra.astype(frame.dtypes.to_dict())], ignore_index=True).sort_values(
            ["contract_id", "signal"], kind="stable", ignore_index=True)
    counts = frame.groupby(["signal", "severity"]).size().rename("signals").reset_index()
    context.log.info(f"{context.partition_key}: {len(frame)} signals on {frame['contract_id'].nunique()} loans")
    return MaterializeResult(value=frame, metadata={
        "signals": len(frame),
        "loans_signalled": int(frame["contract_id"].nunique()),
        "high_severity": int((frame["severity"] == "high").sum()),
        "borrowers_statements_overdue": int(frame.loc[frame["signal"] == "statements_overdue", "borrower_id"].nunique()),
        "oldest_filing_judged_months": int(frame["filing_age_months"].max()) if frame["filing_age_months"].notna().any()
        else 0,
        "by_signal": MetadataValue.md(markdown_table(counts, max_rows=30)),
        "preview": MetadataValue.md(markdown_table(frame[["contract_id", "signal", "severity", "evidence"]])),
    })


@asset(partitions_def=monthly_partitions, group_name="risk", io_manager_key="work_io_manager",
       description="The month's watch list: every 关注 loan, every restructured loan in observation, every loan "
                   "with a high-severity signal and every loan with a warning open past its deadline (escalated), "
                   "with the recommended action and the responsible role, and each open warning's age in days "
                   "(warning_lifecycle).")
def watch_list(context: AssetExecutionContext, loan_classification: pd.DataFrame,
                        early_warning_signals: pd.DataFrame, warning_lifecycle: pd.DataFrame,
                        config: PostloanConfigResource) -> MaterializeResult:
    cfg = config.get()
    frame = build_watch_list(loan_classification, early_warning_signals, cfg.early_warning,
                             lifecycle=warning_lifecycle, escalation=cfg.monitoring.dispositions)
    by_reason = frame["reasons"].str.split(",").explode().value_counts().sort_index()
    return MaterializeResult(value=frame, metadata={
        "loans": len(frame),
        "balance_cents": int(frame["balance_cents"].sum()),
        "escalated": int(frame["escalated"].sum()),
        **{f"reason_{reason}": int(n) for reason, n in by_reason.items()},
        "preview": MetadataValue.md(markdown_table(
            frame[["contract_id", "borrower_name", "tier_name", "reasons", "high_signals", "responsible_role"]])),
    })
