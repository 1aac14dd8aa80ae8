"""A month's delivery rebuilt from the archive alone, byte for byte, to re-run the month years later.

The catalog's receipts say which files arrived in the period and under which names; the archive holds
their bytes (hash-checked on the way out); the documents' manifest rows come from the catalog records.
Together with the archived configuration snapshot and the code version in the report's manifest, this
is everything a re-run needs.
"""
from __future__ import annotations

from plugins.archive.archive import Archive, sha256_hex


def delivery_from_archive(archive: Archive, period: str) -> tuple[dict[str, bytes], list[tuple[dict, bytes]]]:
    """(core tables by name, [(document manifest row, bytes)]) as delivered in `period`."""
    receipts = archive.catalog.receipts(period)
    if not receipts:
        raise LookupError(f"the archive has no delivery recorded for {period}")
    tables: dict[str, bytes] = {}
    documents: list[tuple[dict, bytes]] = []
    for receipt in receipts:
        record = archive.catalog.document(receipt["sha256"])
        data = archive.fetch(record.sha256)
        if sha256_hex(data) != record.sha256:
            raise ValueError(f"archived bytes of {receipt['original_name']} ({record.sha256[:12]}…) fail their hash")
        if receipt["doc_class"] == "core_extract":
            tables[receipt["original_name"].removesuffix(".csv")] = data
        else:
            documents.append(({"file_name": receipt["original_name"], "declared_class": record.doc_class,
                               "borrower_id": record.borrower_id, "contract_id": record.contract_id,
                               "period": period, "received_date": record.received_date}, data))
    return tables, documents
