"""Five-tier classification of the month's loan book."""
from datetime import date

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from assets.common import markdown_table
from pipelines.partitions import monthly_partitions
from pipelines.resources import PostloanConfigResource
from plugins import registry
from plugins.classification import TIER_NAMES, classify_book, verdicts_frame
from plugins.ingest import month_end
from plugins.money import yuan
from plugins.portfolio.loanbook import loan_facts, open_book


def _previous_month_end(as_of: date) -> date:
    return date.fromordinal(as_of.replace(day=1).toordinal() - 1)


def _tier_distribution(frame: pd.DataFrame) -> str:
    counts = frame.groupby("tier").agg(loans=("contract_id", "size"), balance_cents=("balance_cents", "sum"))
    rows = [f"| {TIER_NAMES[t]} | {int(r.loans)} | {yuan(int(r.balance_cents)):,} |" for t, r in counts.iterrows()]
    return "\n".join(["| 五级分类 | 笔数 | 余额(元) |", "|---|---|---|", *rows])


@asset(partitions_def=monthly_partitions, group_name="risk", io_manager_key="work_io_manager",
       description="Five-tier classification of every outstanding loan at the month end, with the rules that "
                   "fired and their facts, the tier before floors and the previous month's tier.")
def loan_classification(context: AssetExecutionContext, core_system_extract: dict,
                        config: PostloanConfigResource) -> MaterializeResult:
    cfg = config.get().classification
    rules = registry.classification_rules()
    as_of = month_end(context.partition_key)
    previous_as_of = _previous_month_end(as_of)

    previous_book = open_book(core_system_extract, previous_as_of)
    previous = {v.contract_id: v.tier for v in classify_book(loan_facts(previous_book, previous_as_of), cfg, rules)}
    book = open_book(core_system_extract, as_of)
    verdicts = classify_book(loan_facts(book, as_of), cfg, rules)
    frame = book.merge(verdicts_frame(verdicts, previous), on="contract_id", validate="one_to_one")
    context.log.info(f"{context.partition_key}: classified {len(frame)} loans with {len(rules)} rules")
    downgraded = frame[frame["tier"] > 1]
    return MaterializeResult(value=frame, metadata={
        "loans": len(frame),
        "rules": ", ".join(r.name for r in rules),
        "tier_distribution": MetadataValue.md(_tier_distribution(frame)),
        "non_normal_preview": MetadataValue.md(markdown_table(downgraded[["contract_id", "tier_name", "dpd", "reasons"]])),
    })


@asset_check(asset=loan_classification, blocking=True, partitions_def=monthly_partitions,
             description="Every loan outside 正常 names the rules that put it there, and no tier is below a "
                         "hard overdue floor.")
def classification_is_explained(context: AssetCheckExecutionContext, loan_classification: pd.DataFrame,
                                config: PostloanConfigResource) -> AssetCheckResult:
    frame = loan_classification
    unexplained = frame[(frame["tier"] > 1) & (frame["rules_fired"] == "")]
    floors = config.get().classification.overdue_floors
    floor_of = frame["dpd"].map(lambda d: max([1, *(f.tier for f in floors if d > f.days)]))
    below_floor = frame[frame["tier"] < floor_of]
    bad = sorted(set(unexplained["contract_id"]) | set(below_floor["contract_id"]))
    return AssetCheckResult(passed=not bad, metadata={"unexplained": len(unexplained), "below_floor": len(below_floor),
                                                      "contracts": MetadataValue.json(bad[:100])})
