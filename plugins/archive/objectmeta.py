"""What each archived object carries in its S3 user metadata, so the catalog can be rebuilt from the store.

S3 metadata is US-ASCII only: values are percent-encoded (UTF-8), which leaves plain identifiers readable
and decodes exactly. Keys existing before this module (sha256, doc-class, status, reason-code, manifest,
run-id, report-kind) keep their names and meaning.
"""
from __future__ import annotations

from urllib.parse import quote, unquote

from plugins.archive.catalog import DocumentRecord, PublicationRecord
from plugins.archive.store import ObjectInfo

_SAFE = "-_.:+@/ "

# DocumentRecord field -> metadata key. size, object_key and version_id come from the store itself.
DOCUMENT_KEYS = {
    "sha256": "sha256", "status": "status", "doc_class": "doc-class", "borrower_id": "borrower-id",
    "contract_id": "contract-id", "period": "period", "original_name": "original-name", "page_count": "page-count",
    "reason_code": "reason-code", "reason": "reason", "retain_until": "retain-until",
    "received_date": "received-date", "ingested_at": "ingested-at",
}
PUBLICATION_KEYS = {
    "sha256": "sha256", "manifest_key": "manifest", "report_kind": "report-kind", "period": "period",
    "file_name": "file-name", "run_id": "run-id", "published_at": "published-at",
}


def encode(values: dict[str, object]) -> dict[str, str]:
    return {key: quote(str(value), safe=_SAFE) for key, value in values.items() if value is not None and value != ""}


def decode(metadata: dict[str, str], key: str) -> str | None:
    value = metadata.get(key)
    return unquote(value) if value not in (None, "") else None


def document_metadata(record: DocumentRecord) -> dict[str, str]:
    return encode({meta: getattr(record, field) for field, meta in DOCUMENT_KEYS.items()})


def document_from_object(info: ObjectInfo) -> DocumentRecord | None:
    """The catalog row an archived document's object describes; None if its metadata predates this format."""
    m = info.metadata
    values = {field: decode(m, meta) for field, meta in DOCUMENT_KEYS.items()}
    if not values["sha256"] or not values["status"] or not values["ingested_at"]:
        return None
    page_count = values.pop("page_count")
    # The object lock is the retention in force (it may have been extended); the metadata the one at ingest.
    retain_until = info.retain_until.isoformat() if info.retain_until else values.pop("retain_until")
    values.pop("retain_until", None)
    return DocumentRecord(**values, page_count=int(page_count) if page_count else None, size=info.size,
                          object_key=info.key, version_id=info.version_id, retain_until=retain_until)


def publication_metadata(record: PublicationRecord) -> dict[str, str]:
    return encode({meta: getattr(record, field) for field, meta in PUBLICATION_KEYS.items()})


def publication_from_object(info: ObjectInfo) -> PublicationRecord | None:
    values = {field: decode(info.metadata, meta) for field, meta in PUBLICATION_KEYS.items()}
    if not all(values[f] for f in ("sha256", "manifest_key", "report_kind", "period", "file_name", "published_at")):
        return None
    return PublicationRecord(**values, object_key=info.key, version_id=info.version_id)
