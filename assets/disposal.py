"""Disposal, the further post-loan registers and the warnings' lifecycle (issue 14 items 4–9)."""
import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetKey, MaterializeResult, MetadataValue, asset

from assets.common import markdown_table
from pipelines.partitions import PREVIOUS_MONTH, monthly_partitions
from pipelines.resources import ArchiveResource, PostloanConfigResource
from plugins.ingest import month_end
from plugins.money import yuan

PREVIOUS_DISPOSAL = AssetIn(key=AssetKey("disposal_status"), partition_mapping=PREVIOUS_MONTH,
                            metadata={"materialized_only": True})
PREVIOUS_LIFECYCLE = AssetIn(key=AssetKey("warning_lifecycle"), partition_mapping=PREVIOUS_MONTH,
                             metadata={"materialized_only": True})


class _ArchiveHolds:
    """plugins.monitoring.disposal.HoldPlacer over the archive's legal holds (plugins/archive/holds.py)."""

    def __init__(self, archive, actor: str, role: str):
        from plugins.archive.holds import LegalHolds

        self.holds, self.catalog, self.actor, self.role = LegalHolds(archive), archive.catalog, actor, role

    def held_borrowers(self, kind: str) -> set[str]:
        return {h.target for h in self.catalog.holds(active_only=True) if h.kind == kind and h.scope == "borrower"}

    def hold_borrower(self, kind: str, borrower_id: str, reason: str) -> str:
        hold, _ = self.holds.place(kind, "borrower", borrower_id, reason, self.actor, self.role)
        return hold.hold_id


@asset(partitions_def=monthly_partitions, group_name="monitoring", io_manager_key="work_io_manager",
       ins={"previous_disposal": PREVIOUS_DISPOSAL},
       description="Disposal of problem claims (不良资产处置): court cases opened by the collection log's 诉讼 action "
                   "(court, filing date, judgment, enforcement, auction from the disposal register), each sued "
                   "borrower's documents put under a litigation hold automatically; claims transferred (转让) with "
                   "buyer, price and loss (kept month to month); the month's write-offs with their reason; "
                   "recoveries by source (after write-off, guarantors, collateral). plugins/monitoring/disposal.py.")
def disposal_status(context: AssetExecutionContext, core_system_extract: dict, loan_classification: pd.DataFrame,
                    previous_disposal: dict, archive: ArchiveResource,
                    config: PostloanConfigResource) -> MaterializeResult:
    from plugins.ingest import split_extract
    from plugins.monitoring.disposal import disposal_report, place_litigation_holds, with_transfers
    from plugins.provisioning.history import month_end_before

    settings = config.get().monitoring.disposal
    as_of = month_end(context.partition_key)
    # The transfers as ingest applies them to core_tables (on the delivered text, for the amounts as delivered).
    frames, moved = with_transfers(split_extract(core_system_extract)[0], as_of, settings.transfer_action)
    previous = next(iter(previous_disposal.values()), None)
    report = disposal_report(frames, moved, month_end_before(as_of), as_of, settings, previous)
    placed = place_litigation_holds(report.cases, _ArchiveHolds(archive.get(), settings.hold_actor,
                                                                settings.hold_role), settings)
    for borrower, hold_id in placed.items():
        context.log.info(f"litigation hold {hold_id} placed on borrower {borrower}")
    classified = set(loan_classification["contract_id"])
    still = sorted(set(moved) & classified)
    if still:  # cannot happen: ingest takes a transferred claim off the book
        raise ValueError(f"{context.partition_key}: transferred claims still classified: {still}")
    transfers = report.transfers
    in_month = [month_end_before(as_of) < pd.Timestamp(d).date() <= as_of for d in transfers["transferred_on"]]
    this_month = transfers[pd.Series(in_month, index=transfers.index, dtype=bool)]
    return MaterializeResult(value=report.as_dict(), metadata={
        "court_cases": len(report.cases),
        "open_cases": int(report.cases["closed_on"].isna().sum()),
        "holds_placed": len(placed),
        "transferred_this_month": len(this_month),
        "transferred_to_date": len(transfers),
        "transfer_loss_this_month_yuan": float(yuan(int(this_month["loss_cents"].sum()))),
        "written_off_this_month": len(report.write_offs),
        "write_offs_without_reason": int((~report.write_offs["reason_known"]).sum()),
        "recovered_this_month_yuan": float(yuan(int(report.recoveries["amount_cents"].sum()))),
        "transfers": MetadataValue.md(markdown_table(transfers.astype(str))),
        "cases_preview": MetadataValue.md(markdown_table(report.cases.astype(str))),
    })


@asset(partitions_def=monthly_partitions, group_name="monitoring", io_manager_key="work_io_manager",
       description="Guarantors and collateral, use of funds, leased assets and vehicles, events and inspection "
                   "findings (config/monitoring.yaml): guarantee coverage per loan, the revaluation schedule with "
                   "overdue appraisals, insurance expiring or lapsed, fund flows against the declared purpose, "
                   "asset alerts (annual inspection, GPS silent, lease end without return), and the signals they "
                   "raise (table `signals`, which early_warning_signals adds to the month's). Each optional "
                   "table is read when delivered.")
def monitoring_findings(context: AssetExecutionContext, core_system_extract: dict, loan_classification: pd.DataFrame,
                        borrower_statements: dict, config: PostloanConfigResource) -> MaterializeResult:
    from plugins.early_warning import signals_frame
    from plugins.monitoring.statement_state import latest_filing_figures
    from plugins.monitoring.watch import monitoring_findings as findings

    cfg = config.get()
    found = findings(loan_classification, core_system_extract, month_end(context.partition_key), cfg.early_warning,
                     cfg.monitoring, figures=latest_filing_figures(borrower_statements["figures"]))
    signals = signals_frame(found.signals)
    by_signal = signals.groupby("signal").size()
    tables = found.tables
    return MaterializeResult(value={**tables, "signals": signals}, metadata={
        "signals": len(signals), **{f"signal_{name}": int(n) for name, n in by_signal.items()},
        "loans_guaranteed": len(tables["coverage"]),
        "appraisals_overdue": int(tables["revaluation"]["overdue"].sum()) if len(tables["revaluation"]) else 0,
        "collateral_items": len(tables["revaluation"]),
        "insurance_flagged": len(tables["insurance"]),
        "fund_flow_findings": len(tables["fund_flows"]),
        "asset_alerts": len(tables["asset_alerts"]),
        "delivered": MetadataValue.json({t: t in core_system_extract for t in
                                         ("fund_flows", "asset_register", "events", "inspections")}),
    })


@asset(partitions_def=monthly_partitions, group_name="risk", io_manager_key="work_io_manager",
       ins={"previous_lifecycle": PREVIOUS_LIFECYCLE},
       description="Every early-warning signal's lifecycle month to month (plugins/monitoring/dispositions.py): "
                   "opened at the first month end it fires, then acknowledged, action taken, cleared (with who and "
                   "when) from the delivered warning_dispositions table; its age in days, escalated past "
                   "config/monitoring.yaml dispositions.escalate_after_days; closed as 不再触发 when the signal stops.")
def warning_lifecycle(context: AssetExecutionContext, early_warning_signals: pd.DataFrame, core_system_extract: dict,
                      previous_lifecycle: dict, config: PostloanConfigResource) -> MaterializeResult:
    from plugins.monitoring.dispositions import lifecycle_summary
    from plugins.monitoring.dispositions import warning_lifecycle as lifecycle

    settings = config.get().monitoring.dispositions
    previous = next(iter(previous_lifecycle.values()), None)
    frame = lifecycle(early_warning_signals, previous, core_system_extract.get("warning_dispositions"),
                      month_end(context.partition_key), settings)
    summary = lifecycle_summary(frame, settings)
    return MaterializeResult(value=frame, metadata={
        "source": "rolled_forward" if previous is not None else "bootstrapped",
        "warnings_firing": int(frame["firing"].sum()),
        "escalated": int(frame["escalated"].sum()),
        "summary": MetadataValue.md(markdown_table(summary)),
    })
