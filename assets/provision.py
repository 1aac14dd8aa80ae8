"""Provisioning of the month's classified loan book."""
import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from pipelines.partitions import monthly_partitions
from pipelines.resources import PostloanConfigResource
from plugins import registry
from plugins.money import yuan
from plugins.provisioning import indicators


@asset(partitions_def=monthly_partitions, group_name="risk", io_manager_key="work_io_manager",
       description="Provisions per loan under every configured method side by side, the booked one marked, "
                   "and the regulatory indicators against their thresholds.")
def loan_provisions(context: AssetExecutionContext, loan_classification: pd.DataFrame,
                    config: PostloanConfigResource) -> MaterializeResult:
    cfg = config.get().provisioning
    frame = loan_classification.copy()
    for model in registry.provisioning_models():
        frame[f"provision_{model.name}_cents"] = model.provisions(frame, cfg)
    frame["booked_provision_cents"] = frame[f"provision_{cfg.booked_method}_cents"]
    result = indicators(frame, frame["booked_provision_cents"], cfg)
    context.log.info(f"{context.partition_key}: NPL ratio {result.npl_ratio}, provision coverage {result.provision_coverage}")
    return MaterializeResult(value=frame, metadata={
        "booked_method": cfg.booked_method,
        "balance_yuan": float(yuan(result.balance_cents)),
        "npl_ratio": float(result.npl_ratio or 0),
        "provision_coverage": float(result.provision_coverage or 0),
        "loan_provision_ratio": float(result.loan_provision_ratio or 0),
        "binding_constraint": result.binding_constraint,
        "indicators": MetadataValue.json(result.as_dict()),
    })
