"""Provisioning of the month's classified loan book: every method side by side, explained per loan."""
from datetime import date

import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from assets.common import markdown_table
from pipelines.partitions import monthly_partitions
from pipelines.resources import PostloanConfigResource
from plugins import registry
from plugins.config import PostloanConfig
from plugins.ingest import month_end
from plugins.money import yuan
from plugins.provisioning import EclInputs, expected_credit_loss, general_reserve_2012, indicators
from plugins.provisioning.concentration import concentration_checks
from plugins.provisioning.ecl import inputs_from_extract
from plugins.provisioning.flow_rates import flow_rate_matrix
from plugins.provisioning.history import migration_matrix_at
from plugins.provisioning.methods import provision_columns

# ECL explanation columns added to the classified book (ecl.ECL_COLUMNS, approach renamed).
EXPLANATION = ["ecl_approach", "stage", "stage_reason", "horizon_months", "pd_12m", "pd_lifetime", "lgd",
               "ead_cents", "ecl_cents", "loss_rate", "loss_rate_basis"]


def ecl_inputs(extract: dict, tier_history: pd.DataFrame, as_of: date, cfg: PostloanConfig,
               delinquency_history: pd.DataFrame | None = None) -> EclInputs:
    """Schedules, collateral, guarantees, the cohort migration matrix and the simplified approach's
    provision matrix (flow rates of the delinquency history, or the configured one) as known at `as_of`."""
    matrix = migration_matrix_at(tier_history, as_of, cfg.provisioning.ecl.migration)
    simplified = (flow_rate_matrix(delinquency_history, as_of, cfg.provisioning)
                  if delinquency_history is not None else None)
    return inputs_from_extract(extract, as_of, matrix, simplified)


def provisioned_book(book: pd.DataFrame, inputs: EclInputs, cfg: PostloanConfig) -> pd.DataFrame:
    """The book with its ECL explanation, provision_<model>_cents per model, booked method and provision."""
    prov = cfg.provisioning
    ecl = expected_credit_loss(book, inputs, prov).rename(columns={"approach": "ecl_approach"})
    # expected_credit_loss answers in the book's row order: its columns line up without a join
    frame = book.reset_index(drop=True).assign(**{c: ecl[c].to_numpy() for c in ecl.columns if c != "contract_id"})
    return provision_columns(frame, registry.provisioning_models(cfg.plugins), prov)


def _side_by_side(frame: pd.DataFrame) -> str:
    columns = [c for c in frame.columns if c.startswith("provision_") and c.endswith("_cents")]
    by_stage = frame.groupby("stage")[columns].sum()
    rows = [f"| {c.removeprefix('provision_').removesuffix('_cents')} | {yuan(int(frame[c].sum())):,} | "
            + " | ".join(f"{yuan(int(by_stage.loc[s, c])) if s in by_stage.index else 0:,}" for s in (1, 2, 3)) + " |"
            for c in columns]
    return "\n".join(["| 方法 | 合计(元) | 阶段一 | 阶段二 | 阶段三 |", "|---|---|---|---|---|", *rows])


@asset(partitions_def=monthly_partitions, group_name="risk", io_manager_key="work_io_manager",
       description="Provisions per loan under every method side by side (2002 regulatory, 2012 standard, "
                   "IFRS 9 / CAS 22 ECL with stage, PD, LGD, EAD), the booked one marked; the regulatory "
                   "indicators against their thresholds and the concentration limits with every breach.")
def loan_provisions(context: AssetExecutionContext, loan_classification: pd.DataFrame, core_system_extract: dict,
                    tier_history: pd.DataFrame, delinquency_history: pd.DataFrame,
                    config: PostloanConfigResource) -> MaterializeResult:
    cfg = config.get()
    as_of = month_end(context.partition_key)
    inputs = ecl_inputs(core_system_extract, tier_history, as_of, cfg, delinquency_history)
    frame = provisioned_book(loan_classification, inputs, cfg)
    simplified = inputs.simplified.as_dict() if inputs.simplified else {}
    result = indicators(frame, frame["booked_provision_cents"], cfg.provisioning)
    reserve = general_reserve_2012(frame, int(frame["booked_provision_cents"].sum()), cfg.provisioning)
    checks = concentration_checks(frame, core_system_extract["borrowers"], cfg.institution.kind,
                                  cfg.provisioning.concentration)
    breaches = checks[checks["breach"]]
    context.log.info(f"{context.partition_key}: NPL ratio {result.npl_ratio}, provision coverage "
                     f"{result.provision_coverage}, ECL {yuan(int(frame['ecl_cents'].sum()))}, "
                     f"{len(breaches)} concentration breaches")
    totals = {c.removeprefix("provision_").removesuffix("_cents"): float(yuan(int(frame[c].sum())))
              for c in frame.columns if c.startswith("provision_") and c.endswith("_cents")}
    return MaterializeResult(value=frame, metadata={
        "booked_method": cfg.provisioning.booked_method,
        "balance_yuan": float(yuan(result.balance_cents)),
        "npl_ratio": float(result.npl_ratio or 0),
        "provision_coverage": float(result.provision_coverage or 0),
        "loan_provision_ratio": float(result.loan_provision_ratio or 0),
        "binding_constraint": result.binding_constraint,
        "indicators": MetadataValue.json(result.as_dict()),
        "general_reserve_2012": MetadataValue.json({k: (float(yuan(v)) if k.endswith("_cents") else v)
                                                    for k, v in reserve.__dict__.items()}),
        "provisions_yuan": MetadataValue.json(totals),
        "ecl_yuan": float(yuan(int(frame["ecl_cents"].sum()))),
        "side_by_side": MetadataValue.md(_side_by_side(frame)),
        "stages": MetadataValue.json({str(k): int(v) for k, v in frame["stage"].value_counts().sort_index().items()}),
        "migration_matrix": MetadataValue.json(inputs.matrix.as_dict() if inputs.matrix else {}),
        "simplified_matrix_source": simplified.get("source", "config"),
        "simplified_matrix": MetadataValue.json(simplified),
        "concentration_net_assets_yuan": float(cfg.provisioning.concentration.net_assets),
        "concentration_breaches": MetadataValue.json(breaches.to_dict("records")),
        "concentration_top": MetadataValue.md(markdown_table(checks.sort_values("share", ascending=False), 10)),
    })
