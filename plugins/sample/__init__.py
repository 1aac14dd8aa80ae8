"""Deterministic sample portfolio of a lender, its core-system extracts and received documents."""

from plugins.sample.portfolio import (
    SamplePortfolio,
    core_extract,
    csv_bytes,
    days_past_due,
    documents_for_month,
    generate_portfolio,
    write_sample,
)

__all__ = ["SamplePortfolio", "core_extract", "csv_bytes", "days_past_due", "documents_for_month",
           "generate_portfolio", "write_sample"]
