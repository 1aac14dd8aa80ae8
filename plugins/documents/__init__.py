"""Lender documents: render PDFs (contracts, statements, bad files), triage and extract them.

No dagster here: assets call these plain functions.
"""
from .contracts import ContractExtraction, Provenance, extract_contract
from .render import amount_in_chinese, encrypt_pdf, render_document
from .statements import (
    ChartOfAccounts,
    StatementExtraction,
    StatementFigure,
    extract_statement,
    load_chart_of_accounts,
)
from .triage import Triage, detect_class, inspect_pdf

__all__ = [
    "ChartOfAccounts", "ContractExtraction", "Provenance", "StatementExtraction", "StatementFigure", "Triage",
    "amount_in_chinese", "detect_class", "encrypt_pdf", "extract_contract", "extract_statement",
    "inspect_pdf", "load_chart_of_accounts", "render_document",
]
