"""Thin Dagster assets and asset checks; the domain logic lives in plugins/."""
import warnings

from dagster import PreviewWarning

# Checks are partitioned by month like their assets (a preview feature of Dagster 1.13, used deliberately:
# an unpartitioned check on a partitioned asset would load every month).
warnings.filterwarnings("ignore", category=PreviewWarning, message="Specifying a partitions_def on an AssetCheckSpec")
