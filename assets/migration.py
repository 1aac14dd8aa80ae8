"""Tier migration from the previous month end to this month end."""
import pandas as pd
from dagster import AssetExecutionContext, AssetIn, MaterializeResult, MetadataValue, asset

from assets.common import markdown_table
from pipelines.partitions import THIS_AND_PREVIOUS_MONTH, monthly_partitions
from pipelines.resources import PostloanConfigResource
from plugins import registry
from plugins.classification.migration import exit_reasons, migrate
from plugins.classification.period import opening_tiers, previous_month_end
from plugins.ingest import month_end


def _rates_table(rates: pd.DataFrame) -> str:
    shown = rates.assign(rate=rates["rate"].map(lambda r: "n/a" if pd.isna(r) else f"{r:.2%}"))
    return markdown_table(shown[["rate_name", "migrated_cents", "denominator_cents", "rate"]])


@asset(partitions_def=monthly_partitions, group_name="risk", io_manager_key="work_io_manager",
       ins={"loan_classification": AssetIn(partition_mapping=THIS_AND_PREVIOUS_MONTH,
                                           metadata={"materialized_only": True})},
       description="Transition matrix of the five tiers from the previous month end to this one, by count and by "
                   "balance, with the regulatory migration rates (正常/关注/次级/可疑类贷款迁徙率). Long form: "
                   "one row per (from_tier, to_tier); new loans and exits have no tier. Value: {'transitions', 'rates'}.")
def tier_migration(context: AssetExecutionContext, core_tables: dict, loan_classification: dict,
                   config: PostloanConfigResource) -> MaterializeResult:
    cfg = config.get().classification
    month = context.partition_key
    as_of = month_end(month)
    closing = loan_classification[month]
    # The opening is last month's book as reported, the same as loan_classification's previous_tier.
    reported = next((frame for key, frame in loan_classification.items() if key != month), None)
    rules = registry.classification_rules(config.get().plugins)
    opening, source = opening_tiers(reported, core_tables, as_of, cfg, rules)
    exits = exit_reasons(core_tables["loans"], previous_month_end(as_of), as_of)
    result = migrate(opening, closing[["contract_id", "tier", "balance_cents"]], exits)
    # Rates as floats (NaN when undefined) so the frame stores as Parquet; the exact Decimals are in the plugin.
    rates = result.rates.assign(rate=result.rates["rate"].map(lambda r: float("nan") if r is None else float(r)))
    return MaterializeResult(value={"transitions": result.transitions, "rates": rates}, metadata={
        "opening_period_end": previous_month_end(as_of).isoformat(),
        "opening_source": source,
        "matrix_by_count": MetadataValue.md(markdown_table(result.matrix("loans").reset_index())),
        "matrix_by_opening_balance_cents": MetadataValue.md(
            markdown_table(result.matrix("opening_balance_cents").reset_index())),
        "migration_rates": MetadataValue.md(_rates_table(rates)),
        **{name: MetadataValue.float(rate) for name, rate in zip(rates["rate_name"], rates["rate"]) if not pd.isna(rate)},
    })
