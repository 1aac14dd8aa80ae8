"""Five-tier classification of the month's loan book."""
import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
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
from plugins.classification import TIER_NAMES, verdicts_frame
from plugins.classification.impairment import read_impairment
from plugins.classification.overrides import read_overrides, refused_frame
from plugins.classification.period import classify_period, external_overdue_share, previous_month_end
from plugins.ingest import month_end
from plugins.money import yuan


def _tier_distribution(frame: pd.DataFrame) -> str:
    counts = frame.groupby("tier").agg(loans=("contract_id", "size"), balance_cents=("balance_cents", "sum"))
    rows = [f"| {TIER_NAMES[t]} | {int(r.loans)} | {yuan(int(r.balance_cents)):,} |" for t, r in counts.iterrows()]
    return "\n".join(["| 五级分类 | 笔数 | 余额(元) |", "|---|---|---|", *rows])


@asset(partitions_def=monthly_partitions, group_name="risk", io_manager_key="work_io_manager",
       description="Five-tier classification of every outstanding loan at the month end, with the rules that "
                   "fired and their facts, the tier before floors, the previous month's tier and any manual "
                   "override (who, when, why). Refused overrides are in the metadata and in the frame's "
                   "attrs['overrides_refused'].")
def loan_classification(context: AssetExecutionContext, core_system_extract: dict,
                        config: PostloanConfigResource) -> MaterializeResult:
    cfg = config.get().classification
    rules = registry.classification_rules()
    as_of = month_end(context.partition_key)
    share = external_overdue_share(core_system_extract.get("external_overdue_share"))
    overrides, refused = ([], []) if "overrides" not in core_system_extract else read_overrides(
        core_system_extract["overrides"])

    # Individually assessed impairment (optional table): the facts of the impairment floors.
    impairment = read_impairment(core_system_extract.get("impairment"), as_of)

    # Last month's tiers are recomputed from this extract, without this month's overrides or external data.
    _, previous_verdicts, _ = classify_period(core_system_extract, previous_month_end(as_of), cfg, rules)
    previous = {v.contract_id: v.tier for v in previous_verdicts}
    book, verdicts, refused_here = classify_period(core_system_extract, as_of, cfg, rules, share, overrides,
                                                   impairment)
    refused = refused + refused_here
    frame = book.merge(verdicts_frame(verdicts, previous), on="contract_id", validate="one_to_one")
    frame.attrs["overrides_refused"] = [r.as_dict() for r in refused]
    for r in refused:
        context.log.warning(f"override refused: {r.reason}")
    context.log.info(f"{context.partition_key}: classified {len(frame)} loans with {len(rules)} rules; "
                     f"{len(overrides) - len(refused_here)} override(s) applied, {len(refused)} refused")
    downgraded = frame[frame["tier"] > 1]
    return MaterializeResult(value=frame, metadata={
        "loans": len(frame),
        "rules": ", ".join(r.name for r in rules),
        "external_overdue_share": "delivered" if share is not None else "absent: cross-institution rule not evaluated",
        "impairment_assessments": (f"delivered: {len(impairment)} assessed contract(s), "
                                   f"{len(set(impairment) - set(frame['contract_id']))} not in the book"
                                   if impairment is not None else "absent: impairment floors not evaluated"),
        "credit_impaired": int(frame["credit_impaired"].sum()),
        "borrowers_in_liquidation": int(frame.loc[frame["borrower_in_liquidation"], "borrower_id"].nunique()),
        "overrides_applied": int((frame["override_by"] != "").sum()),
        "overrides_refused": MetadataValue.md(markdown_table(refused_frame(refused))),
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


@asset_check(asset=loan_classification, blocking=False, partitions_def=monthly_partitions,
             description="Every manual override of the month was applied; those refused (a hard floor forbids "
                         "the better tier, the loan is not in the book, the row is incomplete) are named. "
                         "Warns, does not block.")
def overrides_respect_floors(context: AssetCheckExecutionContext, loan_classification: pd.DataFrame) -> AssetCheckResult:
    refused = loan_classification.attrs.get("overrides_refused", [])
    return AssetCheckResult(
        passed=not refused, severity=AssetCheckSeverity.WARN,
        description="; ".join(r["reason"] for r in refused[:5]) if refused else "no override refused",
        metadata={"applied": int((loan_classification["override_by"] != "").sum()), "refused": len(refused),
                  "refused_overrides": MetadataValue.json(refused)})
