"""`postloan extract PATH.pdf`: what the pipeline reads from one document, as JSON, for an analyst.

The same functions as the pipeline: triage (plugins.documents.triage.inspect_pdf, as the inbox
asset runs it, with the limits of config/documents.yaml), then statement or contract extraction
(plugins.documents.extract_statement / extract_contract, as the extract assets run them).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import fields
from datetime import date
from decimal import Decimal
from typing import Any

from pipelines import cli_errors as types

CLASSES = ("financial_statement", "loan_contract", "lease_contract")


def register_extract_command(sub: argparse._SubParsersAction) -> None:
    """Add `extract` to the top-level command line (pipelines/cli.py)."""
    parser = sub.add_parser("extract", help="triage and extract one PDF; print the result as JSON")
    parser.add_argument("path", type=types.existing_file, help="a PDF file")
    parser.add_argument("--declared-class", choices=CLASSES,
                        help="the class it was delivered as (default: the class its first pages read as)")
    parser.add_argument("--all-lines", action="store_true",
                        help="every printed line item, not only the canonical figures")
    parser.add_argument("--ocr", action="store_true",
                        help="read an image-only (scanned) PDF with the optional OCR extractor (default: "
                             "config/documents.yaml ocr.enabled; install it with pip install -e '.[ocr]')")
    parser.add_argument("--parent-company", action="store_true",
                        help="also the parent company's (母公司 / standalone) statements of a report that prints "
                             "consolidated ones (default: config/documents.yaml parent_company_statements)")
    parser.set_defaults(func=cmd_extract)


def cmd_extract(args: argparse.Namespace) -> int:
    limits = types.cli_config().documents
    result = extract_file(args.path.read_bytes(), args.declared_class, limits.max_bytes, limits.max_pages,
                          all_lines=args.all_lines,
                          parent_company=args.parent_company or limits.parent_company_statements,
                          ocr=limits.ocr if args.ocr or limits.ocr.enabled else None)
    json.dump({"file": str(args.path), **result}, sys.stdout, ensure_ascii=False, indent=2, default=_json)
    sys.stdout.write("\n")
    return 0 if result["status"] == "extracted" else 3


def extract_file(data: bytes, declared_class: str | None, max_bytes: int, max_pages: int,
                 all_lines: bool = False, parent_company: bool = False, ocr: Any = None) -> dict[str, Any]:
    """Triage, then the statements' figures or the contract's terms, each with provenance. With `ocr` (the
    documents.yaml ocr section), an image-only PDF is read by the OCR extractor it names."""
    from plugins.documents import extract_contract, extract_statement, inspect_pdf, load_chart_of_accounts

    from pipelines import settings

    head: dict[str, Any] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    triage = inspect_pdf(data, declared_class or "financial_statement", max_bytes, max_pages)
    if triage.reason_code == "needs_ocr" and ocr is not None:
        return {**head, **ocr_file(data, declared_class, triage, ocr)}
    if not triage.ok and not (declared_class is None and triage.reason_code == "mislabelled"):
        return {**head, "status": "quarantined", "reason_code": triage.reason_code, "reason": triage.reason,
                "pages": triage.page_count}
    kind = triage.detected_class
    head.update({"status": "extracted", "kind": kind, "pages": triage.page_count})
    if kind == "financial_statement":
        chart = load_chart_of_accounts(settings.config_dir() / "chart_of_accounts.yaml")
        extraction = extract_statement(data, chart, parent_company=parent_company)
        if extraction.needs_review:  # identities that no reading satisfies: nothing of it is published
            head["status"] = "needs_review"
        return {**head, **statement_json(extraction, all_lines)}
    if kind == "contract_announcement":
        from plugins.documents.announcements import extract_announcement

        return {**head, **announcement_json(extract_announcement(data))}
    return {**head, **contract_json(extract_contract(data))}


def ocr_file(data: bytes, declared_class: str | None, triage, ocr) -> dict[str, Any]:
    """A scan read by the OCR extractor: contract terms with OCR provenance, or why it stays quarantined.
    The decision is the pipeline's own (plugins.documents.ocr.triage_scan); the terms come from the same read."""
    from plugins.documents.ocr import ocr_contract, triage_scan

    scan = triage_scan(data, declared_class, triage, ocr)
    if not scan.triage.ok:
        return {"status": "quarantined", "reason_code": scan.triage.reason_code, "reason": scan.triage.reason,
                "pages": triage.page_count, **({"ocr_engine": scan.engine} if scan.engine else {})}
    extraction = ocr_contract(list(scan.lines), scan.engine, ocr.min_confidence)
    out = contract_json(extraction)
    for name, term in out["terms"].items():
        where = extraction.provenance.get(name)
        if term["provenance"] is not None and where is not None:
            term["provenance"].update({"confidence": where.confidence, "engine": where.engine})
    return {"status": "extracted", "kind": scan.triage.detected_class, "pages": triage.page_count, "read_by": "ocr",
            "ocr_engine": scan.engine, **out}


def statement_json(extraction, all_lines: bool = False) -> dict[str, Any]:
    """The figures with provenance: each figure's unit and where it was read (unit_source), and its status:
    checked (an identity of its statement holds with it), derived (not printed; `basis` says how it was
    computed) or unchecked. A document flagged needs_review lists the failing identities and its figures
    under withheld_figures (not published)."""
    from plugins.documents import StatementExtraction

    shown = extraction if not extraction.needs_review else StatementExtraction(
        extraction.period_end, extraction.entity, extraction.unit, figures=extraction.withheld,
        pages=extraction.pages, currency=extraction.currency)
    chosen = shown.figures if all_lines else [
        f for scope in shown.scopes() for f in shown.canonical_figures(scope=scope)]
    return {
        "period_end": extraction.period_end, "entity": extraction.entity, "currency": extraction.currency,
        "unit": extraction.unit, "scopes": shown.scopes(), "preferred_scope": (shown.scopes() or [None])[0],
        "statement_pages": extraction.pages, "pages_laid_out": extraction.located_pages,
        "needs_review": extraction.needs_review, "checks": extraction.checks,
        "figures" if not extraction.needs_review else "withheld_figures": [_figure(f) for f in chosen],
    }


def _figure(f) -> dict[str, Any]:
    return {
        "statement": f.statement, "scope": f.scope, "canonical": f.canonical,
        "current": f.current, "prior": f.prior, "unit": f.unit, "multiplier": f.multiplier,
        "current_base_unit": f.current_yuan, "prior_base_unit": f.prior_yuan, "currency": f.currency,
        "status": f.status, "basis": f.basis, "unit_source": f.unit_source,
        "provenance": {"page": f.page, "bbox": list(f.bbox), "label": f.label, "note": f.note},
    }


def contract_json(extraction) -> dict[str, Any]:
    terms = {}
    for fld in fields(extraction):
        if fld.name in ("provenance", "warnings"):
            continue
        value = getattr(extraction, fld.name)
        where = extraction.provenance.get(fld.name)
        terms[fld.name] = {"value": value, "provenance": None if where is None else
                           {"page": where.page, "bbox": list(where.bbox), "text": where.text}}
    return {"contract_kind": extraction.contract_kind, "terms": terms, "warnings": extraction.warnings}


def announcement_json(extraction) -> dict[str, Any]:
    """Each fact of a 重大合同公告 with where it was printed; the amount in its unit and in yuan."""
    def where(name: str) -> dict | None:
        p = extraction.provenance.get(name)
        return None if p is None else {"page": p.page, "bbox": list(p.bbox), "text": p.text}

    facts = {name: {"value": getattr(extraction, name), "provenance": where(name)}
             for name in ("announcer", "stock_code", "announcement_no", "contract_title", "contract_count", "subject",
                          "signing_date", "performance_until", "announcement_date")}
    facts["amount"] = {"value": extraction.amount, "unit": extraction.unit, "value_base_unit": extraction.amount_yuan,
                       "currency": extraction.currency, "provenance": where("amount")}
    parties = [{"role": p.role, "name": p.name, "provenance": where(key)}
               for p, key in zip(extraction.parties, ("first_party", "second_party"))]
    return {"contract_nature": extraction.nature, "facts": facts, "parties": parties, "warnings": extraction.warnings}


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
