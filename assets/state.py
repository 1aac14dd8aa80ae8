"""Each contract's month-end state, rolled forward from last month's (plugins/portfolio/contract_state.py)."""
import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from assets.common import markdown_table
from pipelines.partitions import PREVIOUS_MONTH, monthly_partitions
from pipelines.resources import PostloanConfigResource
from plugins.ingest import month_end
from plugins.portfolio.contract_state import build_state, state_rules, summary

# Last month's state as materialized; {} when that month was never run (the state then bootstraps).
PREVIOUS_CONTRACT_STATE = AssetIn(key=AssetKey("contract_state"), partition_mapping=PREVIOUS_MONTH,
                                  metadata={"materialized_only": True})


@asset(partitions_def=monthly_partitions, group_name="risk", io_manager_key="work_io_manager",
       ins={"previous_state": PREVIOUS_CONTRACT_STATE},
       description="Per contract its month-end state: on the book or why and when it left (结清 / 核销 / 转让), the "
                   "tier reported this month, days past due and the start of the current overdue spell, the "
                   "schedule in force and its run of periods paid on time and in full, the restructuring facts "
                   "(date, times, periods and months since, days past due and non-performing before). Rolled "
                   "forward from last month's contract_state with only this month's deliveries (payments, "
                   "instalments falling due, schedule changes, the loans table's events); bootstrapped from the "
                   "full extract when last month was never run (metadata state_source). Tables: contracts, "
                   "instalments (open items), events (what this month's deliveries did), provenance.")
def contract_state(context: AssetExecutionContext, core_tables: dict, loan_classification: pd.DataFrame,
                   previous_state: dict, config: PostloanConfigResource) -> MaterializeResult:
    month = context.partition_key
    previous = next(iter(previous_state.values()), None)
    state = build_state(month, month_end(month), core_tables, previous, state_rules(config.get().classification),
                        loan_classification[["contract_id", "tier"]])
    provenance = state["provenance"].iloc[0]
    context.log.info(f"{month}: contract state {provenance['source']}"
                     + (f" from {provenance['previous_month']}" if provenance["previous_month"] else ""))
    contracts, events = state["contracts"], state["events"]
    overdue = contracts[contracts["on_book"] & (contracts["dpd"] > 0)].sort_values(
        ["dpd", "contract_id"], ascending=[False, True])
    return MaterializeResult(value=state, metadata={
        "state_source": str(provenance["source"]),
        "previous_month": str(provenance["previous_month"]) or "none",
        "rolled_forward": int(provenance["rolled_forward"]),
        "recomputed": int(provenance["recomputed"]),
        "entered": int(provenance["entered"]),
        **summary(state),
        "events": MetadataValue.md(markdown_table(events.astype(str))),
        "overdue_preview": MetadataValue.md(markdown_table(overdue[[
            "contract_id", "dpd", "overdue_since", "overdue_principal_cents", "tier"]].astype(str)))})


@asset_check(asset=contract_state, partitions_def=monthly_partitions,
             additional_ins={"loan_classification": AssetIn()},
             description="Every contract of the month's classified book has a state row on the book, and no state "
                         "row is on the book that the classification does not have.")
def contract_state_covers_the_book(context: AssetCheckExecutionContext, contract_state: dict,
                                   loan_classification: pd.DataFrame) -> AssetCheckResult:
    contracts = contract_state["contracts"]
    book = set(loan_classification["contract_id"])
    on_book = set(contracts.loc[contracts["on_book"], "contract_id"])
    missing, extra = sorted(book - on_book), sorted(on_book - book)
    return AssetCheckResult(passed=not missing and not extra, severity=AssetCheckSeverity.ERROR, metadata={
        "book": len(book), "on_book_in_state": len(on_book), "not_in_state": len(missing),
        "not_on_the_book": len(extra), "contracts": MetadataValue.json((missing + extra)[:100])})


@asset_check(asset=contract_state, partitions_def=monthly_partitions,
             description="No contract that left the book comes back: one the loans table shows outstanding again "
                         "after it left (re_entered_refused), or that the extract stopped listing while on the book "
                         "(missing_from_extract), is named. Warns, does not block.")
def exited_contracts_stay_out(context: AssetCheckExecutionContext, contract_state: dict) -> AssetCheckResult:
    events = contract_state["events"]
    flagged = events[events["event"].isin(["re_entered_refused", "missing_from_extract"])]
    return AssetCheckResult(passed=flagged.empty, severity=AssetCheckSeverity.WARN, metadata={
        "re_entered_refused": int((flagged["event"] == "re_entered_refused").sum()),
        "missing_from_extract": int((flagged["event"] == "missing_from_extract").sum()),
        "contracts": MetadataValue.json(sorted(flagged["contract_id"].astype(str))[:100])})
