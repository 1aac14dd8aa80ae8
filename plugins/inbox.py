"""The inbox: where a lender's systems drop each month's files, in an S3 bucket.

Layout of one delivery (month YYYY-MM):
    core/YYYY-MM/<table>.csv            core-system extracts (loans, schedules, ...)
    documents/YYYY-MM/manifest.csv      one row per document: file_name, declared_class,
                                        borrower_id, contract_id, period, received_date
    documents/YYYY-MM/<file_name>       the documents themselves
    core/YYYY-MM/_READY                 written last: the delivery is complete
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from plugins.archive.store import ObjectStore

MANIFEST_FIELDS = ("file_name", "declared_class", "borrower_id", "contract_id", "period", "received_date")
READY_MARKER = "_READY"


@dataclass(frozen=True)
class InboxDocument:
    file_name: str
    declared_class: str
    borrower_id: str | None
    contract_id: str | None
    period: str
    received_date: date | None


def manifest_bytes(rows: list[dict]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_FIELDS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in sorted(rows, key=lambda r: r["file_name"]):
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in MANIFEST_FIELDS})
    return buffer.getvalue().encode("utf-8")


def deliver(store: ObjectStore, month: str, tables: dict[str, bytes], documents: list[tuple[dict, bytes]]) -> int:
    """Upload one month's delivery as the lender's systems would; returns the number of objects written."""
    bucket = store.settings.inbox_bucket
    for name, data in sorted(tables.items()):
        store.put(bucket, f"core/{month}/{name}.csv", data, "text/csv")
    for row, data in documents:
        store.put(bucket, f"documents/{month}/{row['file_name']}", data, "application/pdf")
    store.put(bucket, f"documents/{month}/manifest.csv", manifest_bytes([row for row, _ in documents]), "text/csv")
    store.put(bucket, f"core/{month}/{READY_MARKER}", b"", "text/plain")
    return len(tables) + len(documents) + 2


def delivered_months(store: ObjectStore) -> list[str]:
    """Months whose delivery is complete (their _READY marker exists)."""
    keys = store.list_keys(store.settings.inbox_bucket, "core/")
    return sorted(k.split("/")[1] for k in keys if k.endswith("/" + READY_MARKER))


def read_core_tables(store: ObjectStore, month: str) -> dict[str, bytes]:
    bucket = store.settings.inbox_bucket
    prefix = f"core/{month}/"
    return {key[len(prefix):-4]: store.get(bucket, key)
            for key in sorted(store.list_keys(bucket, prefix)) if key.endswith(".csv")}


def read_documents(store: ObjectStore, month: str) -> list[InboxDocument]:
    bucket = store.settings.inbox_bucket
    key = f"documents/{month}/manifest.csv"
    if not store.exists(bucket, key):
        return []
    rows = csv.DictReader(io.StringIO(store.get(bucket, key).decode("utf-8")))
    return [InboxDocument(
        file_name=r["file_name"], declared_class=r["declared_class"], borrower_id=r["borrower_id"] or None,
        contract_id=r["contract_id"] or None, period=r["period"] or month,
        received_date=date.fromisoformat(r["received_date"]) if r["received_date"] else None,
    ) for r in rows]


def read_document_bytes(store: ObjectStore, month: str, file_name: str) -> bytes | None:
    bucket = store.settings.inbox_bucket
    key = f"documents/{month}/{file_name}"
    return store.get(bucket, key) if store.exists(bucket, key) else None
