"""The allowance's history: monthly tiers for migration, the movement from last month end, ECL sensitivity."""
from datetime import date

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, MaterializeResult, MetadataValue, asset

from assets.common import markdown_table
from assets.provision import ecl_inputs
from pipelines.partitions import HISTORY_WINDOW, monthly_partitions
from pipelines.resources import PostloanConfigResource
from plugins import registry
from plugins.classification import classify_facts, facts_frame
from plugins.config import PostloanConfig
from plugins.ingest import month_end
from plugins.money import yuan
from plugins.portfolio.performance import ageing_history, month_end_sources, roll_rates, states_by_month_end
from plugins.provisioning import expected_credit_loss, sensitivity
from plugins.provisioning.history import (
    book_at,
    history_frame,
    month_end_before,
    recoveries_between,
    tier_snapshots,
    written_off_between,
)
from plugins.provisioning.movement import allowance_movement as roll_forward
from plugins.provisioning.movement import reconciles


def _classifier(cfg: PostloanConfig):
    rules = registry.classification_rules(cfg.plugins)

    def classify(book: pd.DataFrame, as_of: date) -> dict[str, int]:
        verdicts = classify_facts(facts_frame(book, as_of), cfg.classification, rules)
        return dict(zip(verdicts["contract_id"], verdicts["tier"]))
    return classify


# The month-end states as reported: each earlier month's loan_classification over the fixed HISTORY_WINDOW
# ({month: frame} for the months materialized); the configured window is used within it.
STORED_STATES = AssetIn(partition_mapping=HISTORY_WINDOW, metadata={"materialized_only": True})


def _sources_metadata(sources) -> dict:
    meta = sources.metadata()
    return {**meta, "rebuilt_month_ends": MetadataValue.json(meta["rebuilt_month_ends"])}


def _yuan_table(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(**{c: frame[c].map(lambda v: f"{yuan(int(v)):,}") for c in frame.columns if c != "line"})


@asset(partitions_def=monthly_partitions, group_name="risk", io_manager_key="work_io_manager",
       ins={"loan_classification": STORED_STATES},
       description="Five-tier classification of the book at each month end of the migration window (and the one "
                   "before, for last month's matrix): the tiers each month's loan_classification reported, rebuilt "
                   "from this month's extract only for month ends never materialized (metadata month_ends_read, "
                   "month_ends_rebuilt); a loan written off in between is 损失 once. The cohort method's input.")
def tier_history(context: AssetExecutionContext, core_system_extract: dict, loan_classification: dict,
                 config: PostloanConfigResource) -> MaterializeResult:
    cfg = config.get()
    as_of = month_end(context.partition_key)
    window = cfg.provisioning.ecl.migration.history_months + 1  # this month's matrix and last month's
    ends = [month_end_before(as_of, k) for k in range(window, -1, -1)]
    states = {when: frame for when, frame in states_by_month_end(loan_classification).items() if when in set(ends)}
    frame = history_frame(tier_snapshots(core_system_extract, ends, _classifier(cfg), states), ends)
    counts = frame.groupby("month_end").size()
    return MaterializeResult(value=frame, metadata={
        "month_ends": len(ends), "first": ends[0].isoformat(), "last": ends[-1].isoformat(),
        **_sources_metadata(month_end_sources(ends, states)),
        "loans_per_month_end": MetadataValue.json({k: int(v) for k, v in counts.items()}),
    })


@asset(partitions_def=monthly_partitions, group_name="risk", io_manager_key="work_io_manager",
       ins={"loan_classification": STORED_STATES},
       description="Every loan open at each month end of the flow-rate window (and the one before, for last "
                   "month's allowance): days past due, delinquency bucket (M0 … M6+) and balance as each month's "
                   "loan_classification reported them, rebuilt from this month's extract only for month ends never "
                   "materialized (metadata month_ends_read, month_ends_rebuilt). The input of roll rates and of "
                   "the simplified approach's flow-rate provision matrix (plugins/portfolio/performance.py).")
def delinquency_history(context: AssetExecutionContext, core_system_extract: dict, loan_classification: dict,
                        config: PostloanConfigResource) -> MaterializeResult:
    cfg = config.get()
    as_of = month_end(context.partition_key)
    flow = cfg.provisioning.ecl.simplified_approach.flow_rates
    window = (flow.window_months if flow is not None else cfg.provisioning.ecl.migration.history_months) + 1
    ends = [month_end_before(as_of, k) for k in range(window, -1, -1)]
    states = {when: frame for when, frame in states_by_month_end(loan_classification).items() if when in set(ends)}
    frame = ageing_history(core_system_extract, ends, cfg.provisioning.ageing_buckets, states)
    rates = roll_rates(frame, "balance", cfg.provisioning.ageing_buckets)
    return MaterializeResult(value=frame, metadata={
        "month_ends": len(ends), "first": ends[0].isoformat(), "last": ends[-1].isoformat(),
        **_sources_metadata(month_end_sources(ends, states)),
        "loans_per_month_end": MetadataValue.json(
            {k.isoformat(): int(v) for k, v in frame.groupby("month_end").size().items()}),
        "roll_rates_by_balance": MetadataValue.md(markdown_table(
            rates.map(lambda v: "" if pd.isna(v) else f"{v:.2%}").reset_index())),
    })


@asset(partitions_def=monthly_partitions, group_name="risk", io_manager_key="work_io_manager",
       description="Allowance (ECL) roll-forward by stage from the previous month end: opening, new loans, "
                   "repayments, write-offs, transfers between stages, recoveries, changes in risk parameters, "
                   "closing. Both ends measured from this month's extract; it adds up to the cent.")
def allowance_movement(context: AssetExecutionContext, loan_provisions: pd.DataFrame, core_system_extract: dict,
                       tier_history: pd.DataFrame, delinquency_history: pd.DataFrame,
                       config: PostloanConfigResource) -> MaterializeResult:
    cfg = config.get()
    as_of = month_end(context.partition_key)
    previous = month_end_before(as_of)
    tiers = tier_history[tier_history["month_end"] == previous.isoformat()][["contract_id", "tier"]]
    opening_book = book_at(core_system_extract, previous).merge(tiers, on="contract_id", validate="one_to_one")
    inputs = ecl_inputs(core_system_extract, tier_history, previous, cfg, delinquency_history)
    opening = expected_credit_loss(opening_book, inputs, cfg.provisioning)
    closing = loan_provisions[["contract_id", "stage", "ecl_cents"]]
    stage_now = dict(zip(closing["contract_id"], closing["stage"].astype(int)))
    moved = {cid: stage_now[cid] for cid, s in zip(opening["contract_id"], opening["stage"])
             if cid in stage_now and stage_now[cid] != s}
    restated = expected_credit_loss(opening_book[opening_book["contract_id"].isin(moved)], inputs,
                                    cfg.provisioning, stages=moved)
    written = written_off_between(core_system_extract, previous, as_of)
    recovered = recoveries_between(core_system_extract, previous, as_of)
    # Recoveries the disposal register records on written-off claims (after write-off, from guarantors, from
    # collateral enforcement or auction; plugins/monitoring/disposal.py) are credited to stage 3 as well.
    from plugins.monitoring.disposal import recoveries_after_write_off

    registered = recoveries_after_write_off(core_system_extract, previous, as_of, cfg.monitoring.disposal)
    recovered += registered
    table = roll_forward(opening, closing, dict(zip(restated["contract_id"], restated["ecl_cents"])),
                         set(written["contract_id"]), recovered)
    if not reconciles(table):  # cannot happen by construction; refuse to publish a table that does not add up
        raise ValueError(f"{context.partition_key}: allowance movement does not reconcile:\n{table}")
    total = table.set_index("line")["total"]
    return MaterializeResult(value=table, metadata={
        "opening_yuan": float(yuan(int(total["opening"]))),
        "closing_yuan": float(yuan(int(total["closing"]))),
        "reconciles": True,
        "written_off_loans": len(written),
        "written_off_principal_yuan": float(yuan(int(written["written_off_cents"].sum()))),
        "recoveries_yuan": float(yuan(recovered)),
        "recoveries_from_disposal_register_yuan": float(yuan(registered)),
        "stage_transfers": len(moved),
        "movement": MetadataValue.md(markdown_table(_yuan_table(table))),
    })


@asset(partitions_def=monthly_partitions, group_name="risk", io_manager_key="work_io_manager",
       description="Total ECL as configured, under each forward-looking scenario alone, and with every PD "
                   "shocked up and down by the configured share.")
def ecl_sensitivity(context: AssetExecutionContext, loan_provisions: pd.DataFrame, core_system_extract: dict,
                    tier_history: pd.DataFrame, delinquency_history: pd.DataFrame,
                    config: PostloanConfigResource) -> MaterializeResult:
    cfg = config.get()
    as_of = month_end(context.partition_key)
    inputs = ecl_inputs(core_system_extract, tier_history, as_of, cfg, delinquency_history)
    book = loan_provisions.drop(columns=["ecl_cents"])
    frame = sensitivity(book, inputs, cfg.provisioning)
    booked = int(loan_provisions["ecl_cents"].sum())
    if int(frame.loc[0, "ecl_cents"]) != booked:  # the weighted case must be the ECL of loan_provisions
        raise ValueError(f"sensitivity base {frame.loc[0, 'ecl_cents']} != loan_provisions ECL {booked}")
    return MaterializeResult(value=frame, metadata={
        **{f"{case}_yuan": float(yuan(int(c))) for case, c in zip(frame["case"], frame["ecl_cents"])},
        "table": MetadataValue.md(markdown_table(_yuan_table(frame.rename(columns={"case": "line"})))),
    })
