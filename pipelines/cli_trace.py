"""`postloan trace g11 QUARTER ROW COLUMN`: the loans behind a G11 figure and, for each, the documents and
pages its facts came from (plugins/reports/lineage.py). Reads the quarter-end month's results from the work
store and the catalog; runs as the role of the S3 credentials in use (`inputs`), logged; borrower ids are
masked for roles that do not see identifiers. One JSON object a line: the figure first, then one per loan.
"""
from __future__ import annotations

import argparse
import json

from pipelines import cli_errors as types
from pipelines.cli_errors import UserError

SOURCE_CLASSES = ("loan_contract", "lease_contract", "financial_statement")  # documents facts are read from


def register_trace_command(sub: argparse._SubParsersAction) -> None:
    trace = sub.add_parser("trace", help="the loans behind a report figure, with their documents and pages")
    kinds = trace.add_subparsers(dest="report", required=True, metavar="{g11}")
    g11 = kinds.add_parser("g11", help="a G11 figure: QUARTER ROW COLUMN, e.g. 2026Q3 3.1 A")
    g11.add_argument("quarter", type=types.quarter, metavar="QUARTER", help="e.g. 2026Q3")
    g11.add_argument("row", metavar="ROW", help="the workbook's 行次, e.g. 1.3 (次级类) or 3.1")
    g11.add_argument("column", metavar="COLUMN", help="A 贷款余额, B 已计提贷款损失准备, C 笔数")
    from pipelines.cli_archive import _identity

    _identity(g11, required=False)
    g11.set_defaults(func=cmd_trace_g11)


def _work_table(store, asset: str, month: str):
    from pipelines.resources import WorkStoreIOManager

    io = WorkStoreIOManager()
    key = io._key([asset], month)
    return io._read(store, key) if store.exists(store.settings.work_bucket, key) else None


def cmd_trace_g11(args: argparse.Namespace) -> int:
    from pipelines.cli_archive import _session
    from pipelines.partitions import quarter_end_month, quarter_key
    from plugins.archive.access import mask_value
    from plugins.reports.lineage import LineageError, contract_sources, g11_figure_loans, statement_sources

    session = _session(args)
    target = f"regulatory_return/{args.quarter}/G11/{args.row}/{args.column}"
    session.require("inputs", target)
    session.log("trace", target, {})
    archive = session.archive
    work = archive.store
    month = quarter_end_month(quarter_key(args.quarter))
    provisions = _work_table(work, "loan_provisions", month)
    if provisions is None:
        raise UserError(f"G11 {args.quarter} is built from {month}, whose loan_provisions is not in the work store: "
                        f"run `postloan run month {month}` first")
    try:
        label, figure, loans = g11_figure_loans(provisions, args.row, args.column)
    except LineageError as exc:
        raise UserError(str(exc)) from None
    print(json.dumps({"report": "G11", "quarter": args.quarter, "row": args.row, "column": args.column.upper(),
                      "item": label, "figure": str(figure), "unit": "笔" if args.column.upper() == "C" else "万元",
                      "loans": len(loans), "as_of_month": month}, ensure_ascii=False))
    statements = _work_table(work, "borrower_statements", month)
    figures = statements.get("figures") if isinstance(statements, dict) else None
    terms_by_month: dict[str, object] = {}
    for loan in loans.itertuples(index=False):
        sources = []
        for doc in archive.catalog.find_documents(contract_id=loan.contract_id, status="archived"):
            if doc.doc_class not in SOURCE_CLASSES:  # notices the pipeline sent are outputs, not sources
                continue
            if doc.period and doc.period not in terms_by_month:  # terms were read in the month of delivery
                terms_by_month[doc.period] = _work_table(work, "contract_terms_extracted", doc.period)
            sources += contract_sources([{"sha256": doc.sha256, "class": doc.doc_class, "name": doc.original_name,
                                          "period": doc.period}], terms_by_month.get(doc.period))
        borrower = mask_value(loan.borrower_id) if session.masked else loan.borrower_id
        print(json.dumps({"contract_id": loan.contract_id, "borrower_id": borrower, "tier": loan.tier,
                          "contribution": loan.contribution, "documents": sources,
                          "statements": statement_sources(loan.borrower_id, figures)}, ensure_ascii=False))
    return 0
