"""Ingest one month's documents: triage each, archive the good, quarantine the bad with its reason.

With ocr.enabled (config/documents.yaml) an image-only document is triaged again by OCR
(plugins.documents.ocr.triage_scan) and archived when it reads as the declared loan or lease contract;
its row then says read_by "ocr", which contract extraction follows."""
from __future__ import annotations

from datetime import date
from typing import Callable, Iterable

import pandas as pd

from plugins.archive import Archive, DocumentMeta
from plugins.config import Documents
from plugins.inbox import InboxDocument

INGEST_COLUMNS = ["file_name", "declared_class", "doc_class", "borrower_id", "contract_id", "period", "status",
                  "reason_code", "reason", "sha256", "size", "page_count", "object_key", "new_object", "read_by"]
# read_by of an archived document: "text_layer" (its text is printed in the PDF) or "ocr" (image-only: its text is
# read by the OCR extractor); None for a document not archived.


def month_end(month: str) -> date:
    year, mon = (int(p) for p in month.split("-"))
    following = date(year + (mon == 12), mon % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def ingest_documents(
    documents: Iterable[tuple[InboxDocument, bytes | None]],
    archive: Archive,
    limits: Documents,
    maturities: dict[str, date],
    progress: Callable[[int, int, str], None] = lambda i, n, msg: None,
) -> pd.DataFrame:
    """One row per document of the delivery, whether archived now, archived before, or quarantined."""
    from plugins.documents.triage import inspect_pdf

    items = list(documents)
    rows = []
    for index, (doc, data) in enumerate(items, start=1):
        if data is None:
            rows.append(_row(doc, status="missing", reason_code="missing",
                             reason=f"missing: the manifest lists {doc.file_name} but the inbox has no such file"))
            progress(index, len(items), f"{doc.file_name}: missing")
            continue
        triage = inspect_pdf(data, doc.declared_class, limits.max_bytes, limits.max_pages)
        image_only, engine = triage.reason_code == "needs_ocr", None
        if image_only and limits.ocr.enabled:
            from plugins.documents.ocr import triage_scan

            scan = triage_scan(data, doc.declared_class, triage, limits.ocr)
            triage, engine = scan.triage, scan.engine
        meta = DocumentMeta(
            doc_class=doc.declared_class, original_name=doc.file_name, borrower_id=doc.borrower_id,
            contract_id=doc.contract_id, period=doc.period, received_date=doc.received_date,
            period_end=month_end(doc.period), maturity=maturities.get(doc.contract_id or ""),
            page_count=triage.page_count,
        )
        if triage.ok:
            record, new = archive.archive_document(data, meta)
        else:
            record, new = archive.quarantine_document(data, meta, triage.reason_code, triage.reason)
        rows.append(_row(doc, status=record.status, reason_code=record.reason_code, reason=record.reason,
                         sha256=record.sha256, size=record.size, page_count=record.page_count,
                         object_key=record.object_key, new_object=new,
                         doc_class=triage.detected_class or doc.declared_class,
                         read_by=None if record.status != "archived" else "ocr" if image_only else "text_layer"))
        progress(index, len(items), f"{doc.file_name}: {record.status}"
                 + (f" ({record.reason_code})" if record.reason_code else "")
                 + (f" (OCR by {engine})" if engine else ""))
    frame = pd.DataFrame(rows, columns=INGEST_COLUMNS)
    return frame.sort_values("file_name", ignore_index=True)


def _row(doc: InboxDocument, **values) -> dict:
    base = {"file_name": doc.file_name, "declared_class": doc.declared_class, "doc_class": doc.declared_class,
            "borrower_id": doc.borrower_id, "contract_id": doc.contract_id, "period": doc.period,
            "reason_code": None, "reason": None, "sha256": None, "size": None, "page_count": None,
            "object_key": None, "new_object": False, "read_by": None}
    base.update(values)
    return base
