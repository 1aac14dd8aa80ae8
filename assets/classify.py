"""Five-tier classification of the month's loan book."""
import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetIn,
    AssetKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from assets.common import markdown_table
from assets.reports import manifest_inputs
from pipelines.partitions import PREVIOUS_MONTH, PREVIOUS_PUBLISHED_CLASSIFICATION, monthly_partitions
from pipelines.resources import ArchiveResource, PostloanConfigResource
from plugins import registry
from plugins.classification import TIER_NAMES, with_previous_and_overrides
from plugins.classification.impairment import read_impairment
from plugins.classification.overrides import read_overrides, refused_frame
from plugins.classification.period import classify_period, external_overdue_share, opening_tiers
from plugins.ingest import month_end
from plugins.money import yuan
from plugins.reports import classification as published_classification


def _tier_distribution(frame: pd.DataFrame) -> str:
    counts = frame.groupby("tier").agg(loans=("contract_id", "size"), balance_cents=("balance_cents", "sum"))
    rows = [f"| {TIER_NAMES[t]} | {int(r.loans)} | {yuan(int(r.balance_cents)):,} |" for t, r in counts.iterrows()]
    return "\n".join(["| 五级分类 | 笔数 | 余额(元) |", "|---|---|---|", *rows])


# Last month's classification as it was reported; {} when that month was never run.
PREVIOUS_CLASSIFICATION = AssetIn(key=AssetKey("loan_classification"), partition_mapping=PREVIOUS_MONTH,
                                  metadata={"materialized_only": True})


def reported(previous_classification: dict) -> pd.DataFrame | None:
    return next(iter(previous_classification.values()), None)


@asset(partitions_def=monthly_partitions, group_name="risk", io_manager_key="work_io_manager",
       ins={"previous_classification": PREVIOUS_CLASSIFICATION},
       description="Five-tier classification of every outstanding loan at the month end, with the rules that "
                   "fired and their facts, the tier before floors, the tier reported the month before (read "
                   "from last month's classification; bootstrapped when that month was never run) and any "
                   "manual override (who, when, why). Refused overrides are in the metadata and in the frame's "
                   "attrs['overrides_refused'].")
def loan_classification(context: AssetExecutionContext, core_tables: dict, previous_classification: dict,
                        config: PostloanConfigResource) -> MaterializeResult:
    cfg = config.get().classification
    rules = registry.classification_rules(config.get().plugins)
    as_of = month_end(context.partition_key)
    share = external_overdue_share(core_tables.get("external_overdue_share"))
    overrides, refused = ([], []) if "overrides" not in core_tables else read_overrides(
        core_tables["overrides"])

    # Individually assessed impairment (optional table): the facts of the impairment floors.
    impairment = read_impairment(core_tables.get("impairment"), as_of)

    opening, previous_source = opening_tiers(reported(previous_classification), core_tables, as_of, cfg, rules)
    context.log.info(f"previous tiers {previous_source}")
    previous = dict(zip(opening["contract_id"], opening["tier"]))
    book, verdicts, refused_here = classify_period(core_tables, as_of, cfg, rules, share, overrides,
                                                   impairment, previous)
    refused = refused + refused_here
    frame = book.merge(with_previous_and_overrides(verdicts, previous), on="contract_id", validate="one_to_one")
    frame.attrs["overrides_refused"] = [r.as_dict() for r in refused]
    for r in refused:
        context.log.warning(f"override refused: {r.reason}")
    context.log.info(f"{context.partition_key}: classified {len(frame)} loans with {len(rules)} rules; "
                     f"{len(overrides) - len(refused_here)} override(s) applied, {len(refused)} refused")
    downgraded = frame[frame["tier"] > 1]
    return MaterializeResult(value=frame, metadata={
        "loans": len(frame),
        "previous_tier_source": previous_source,
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


@asset(partitions_def=monthly_partitions, group_name="publish", io_manager_key="work_io_manager",
       deps=[PREVIOUS_PUBLISHED_CLASSIFICATION],  # its manifest names last month's publication
       description="The month's loan-level classification (五级分类明细: tier, previous tier, rules and reasons per "
                   "loan) archived as CSV with its manifest: the record next month's previous tiers and migration "
                   "opening are read as, and what a later month's manifest names as previous_classification.")
def published_loan_classification(context: AssetExecutionContext, loan_classification: pd.DataFrame,
                                  archive: ArchiveResource, config: PostloanConfigResource) -> MaterializeResult:
    period = context.partition_key
    files = {published_classification.file_name(period): published_classification.classification_csv(loan_classification)}
    inputs = manifest_inputs(archive.get(), config.get(), period, [period])
    published = archive.get().publish(published_classification.REPORT_KIND, period, month_end(period), files, inputs,
                                      context.run.run_id)
    return MaterializeResult(value=published, metadata={
        "manifest": published["manifest_key"], "files": MetadataValue.json(published["files"]),
        "objects_written": published["objects_written"]})
