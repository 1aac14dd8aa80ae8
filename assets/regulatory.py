"""Quarterly EAST-style detail extracts, the cross-return reconciliation that gates filing, and publication."""

from datetime import date

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
from assets.reports import manifest_inputs
from pipelines.partitions import quarter_end_month, quarter_label, quarterly_partitions
from pipelines.resources import ArchiveResource, PostloanConfigResource
from plugins.ingest import month_end

PERIOD_END = AssetIn(metadata={"period_end_only": True})


def _quarter_dates(partition_key: str) -> tuple[date, date]:
    return date.fromisoformat(partition_key), month_end(quarter_end_month(partition_key))


@asset(partitions_def=quarterly_partitions, group_name="reports", io_manager_key="work_io_manager",
       ins={"loan_provisions": PERIOD_END, "core_system_extract": PERIOD_END, "penalty_interest": PERIOD_END},
       description="EAST-style detail extracts for the quarter: one row per loan (借据) and the finance-lease "
                   "table, GB18030 CSV in the order, names and formats of config/east.yaml, with a control file "
                   "of row counts and amount sums (one deterministic zip; published as separate files).")
def east_extract(context: AssetExecutionContext, loan_provisions: pd.DataFrame, core_system_extract: dict,
                 penalty_interest: pd.DataFrame, config: PostloanConfigResource) -> MaterializeResult:
    from plugins.reports.east import east_rows, load_east_spec, pack_files, render_east_files

    cfg = config.get()
    spec = load_east_spec(cfg.config_dir)
    start, as_of = _quarter_dates(context.partition_key)
    from plugins.monitoring.disposal import with_transfers

    # A claim transferred (转让) is listed in its quarter with status 转让 and no balance (as core_tables sees it).
    extract, _ = with_transfers(core_system_extract, as_of, cfg.monitoring.disposal.transfer_action)
    rows = east_rows(loan_provisions, extract, as_of, start, cfg.institution.code, penalty_interest)
    files = render_east_files(rows, spec, cfg.institution.code, as_of)
    return MaterializeResult(value=pack_files(files), metadata={
        "files": MetadataValue.json({name: len(data) for name, data in files.items()}),
        "rows": len(rows), "outstanding": int((rows["balance_cents"] > 0).sum()),
        "closed_in_period": int((rows["balance_cents"] == 0).sum())})


@asset(partitions_def=quarterly_partitions, group_name="reports", io_manager_key="work_io_manager",
       ins={"loan_provisions": PERIOD_END},
       description="Cross-return reconciliation of the quarter's files as filed: G11 and EAST totals against "
                   "each other and the loan book, by tier; the EAST control file against its data files.")
def returns_reconciliation(context: AssetExecutionContext, loan_provisions: pd.DataFrame, g11_return: bytes,
                           east_extract: bytes, config: PostloanConfigResource) -> MaterializeResult:
    from plugins.reports.east import load_east_spec, unpack_files
    from plugins.reports.reconcile import failures, reconcile_returns

    cfg = config.get()
    _, as_of = _quarter_dates(context.partition_key)
    table = reconcile_returns(loan_provisions, g11_return, unpack_files(east_extract), load_east_spec(cfg.config_dir),
                              cfg.institution.code, as_of)
    bad = failures(table)
    return MaterializeResult(value=table, metadata={
        "comparisons": len(table), "disagreements": len(bad),
        "disagreeing": MetadataValue.md(markdown_table(bad, max_rows=40))})


@asset_check(asset=returns_reconciliation, blocking=True, partitions_def=quarterly_partitions,
             description="Every total of G11 and the EAST extracts agrees with the others and with the loan book; "
                         "blocking: a disagreement stops publication of all the quarter's returns.")
def returns_reconcile(context: AssetCheckExecutionContext, returns_reconciliation: pd.DataFrame) -> AssetCheckResult:
    from plugins.reports.reconcile import failures

    bad = failures(returns_reconciliation)
    lines = [f"{r.check} {r.scope}: {r.left_source} {r.left} ≠ {r.right_source} {r.right}"
             for r in bad.itertuples(index=False)]
    return AssetCheckResult(
        passed=bad.empty, severity=AssetCheckSeverity.ERROR,
        description="; ".join(lines[:5]) if lines else f"all {len(returns_reconciliation)} comparisons agree",
        metadata={"comparisons": len(returns_reconciliation), "disagreements": len(bad),
                  "disagreeing": MetadataValue.md(markdown_table(bad, max_rows=40))})


@asset(partitions_def=quarterly_partitions, group_name="publish", io_manager_key="work_io_manager",
       description="The EAST extracts and their control file archived with a manifest (after reconciliation).")
def published_east_extract(context: AssetExecutionContext, east_extract: bytes, returns_reconciliation: pd.DataFrame,
                           archive: ArchiveResource, config: PostloanConfigResource) -> MaterializeResult:
    from plugins.reports.east import unpack_files

    cfg = config.get()
    label = quarter_label(context.partition_key)
    last_month = quarter_end_month(context.partition_key)
    inputs = manifest_inputs(archive.get(), cfg, label, [last_month])
    inputs["documents"] = [d for d in inputs["documents"] if d["class"] == "core_extract"]
    inputs["reconciliation"] = returns_reconciliation.astype(str).to_dict(orient="records")
    # Filed under the same kind as G11 (a regulatory return, same retention); `archive inputs
    # regulatory_return 2026Q3` lists both manifests.
    published = archive.get().publish("regulatory_return", label, month_end(last_month), unpack_files(east_extract),
                                      inputs, context.run.run_id)
    context.log.info(f"published {len(published['files'])} EAST files (new objects: {published['objects_written']})")
    return MaterializeResult(value=published, metadata={
        "manifest": published["manifest_key"], "files": MetadataValue.json(published["files"]),
        "objects_written": published["objects_written"]})
