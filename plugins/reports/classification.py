"""The loan-level classification as published each month (五级分类明细): what next month's previous tiers,
migration opening and auditors read back. Deterministic bytes: same frame, same file."""
from __future__ import annotations

import io

import pandas as pd

from plugins.money import yuan

REPORT_KIND = "loan_classification"
COLUMNS = ["contract_id", "borrower_id", "product", "balance", "dpd", "tier", "tier_name", "previous_tier",
           "rules_fired", "reasons", "override_by", "override_at", "override_reason"]


def file_name(period: str) -> str:
    return f"五级分类明细_{period}.csv"


def classification_csv(classification: pd.DataFrame) -> bytes:
    """One row per loan, sorted by contract; amounts in yuan with two decimals; UTF-8 with BOM (Excel)."""
    frame = classification.sort_values("contract_id", ignore_index=True).assign(
        balance=[str(yuan(int(c))) for c in classification.sort_values("contract_id")["balance_cents"]],
        previous_tier=lambda f: f["previous_tier"].astype("Int64").astype(object).where(f["previous_tier"].notna(), ""))
    buffer = io.StringIO()
    frame[COLUMNS].to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8-sig")
