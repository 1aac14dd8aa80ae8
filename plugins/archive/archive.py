"""The document archive: content-addressed, hash-verified, retention-locked.

Each distinct byte string is stored once under its SHA-256 in the locked archive
bucket; the catalog indexes it. Re-ingesting the same bytes adds nothing.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timezone

from plugins.archive.catalog import Catalog, DocumentRecord, PublicationRecord, utc_now
from plugins.archive.objectmeta import (document_from_object, document_metadata, publication_from_object,
                                        publication_metadata)
from plugins.archive.store import ObjectInfo, ObjectStore
from plugins.config import Retention

CONTENT_TYPES = {".pdf": "application/pdf", ".csv": "text/csv", ".json": "application/json",
                 ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def retain_until(retention: Retention, doc_class: str, received: date | None, period_end: date | None,
                 maturity: date | None) -> datetime:
    """End of the retention period for a document of `doc_class`, counted from the class's anchor date."""
    rule = retention.classes.get(doc_class) or retention.classes["quarantine"]
    anchor = {"received": received, "period_end": period_end, "maturity": maturity}[rule.from_]
    anchor = anchor or received or period_end or date(1970, 1, 1)
    years = rule.years if rule.years is not None else retention.permanent_years
    try:
        end = anchor.replace(year=anchor.year + years)
    except ValueError:  # 29 February
        end = anchor.replace(year=anchor.year + years, day=28)
    return datetime.combine(end, time(0, 0), tzinfo=timezone.utc)


@dataclass(frozen=True)
class DocumentMeta:
    doc_class: str
    original_name: str
    borrower_id: str | None = None
    contract_id: str | None = None
    period: str | None = None
    received_date: date | None = None
    period_end: date | None = None
    maturity: date | None = None
    page_count: int | None = None


class RetentionShorteningError(ValueError):
    """Retention can be extended, never shortened."""


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot >= 0 else ""


class Archive:
    def __init__(self, store: ObjectStore, catalog: Catalog, retention: Retention, root: str = ""):
        self.store = store
        self.catalog = catalog
        self.retention = retention
        self.bucket = store.settings.archive_bucket
        # Key prefix of this archive inside the bucket ("" in production: keys start documents/, reports/ ...);
        # lets several archives share a bucket, as the tests do (each new bucket costs the server volumes).
        self.root = f"{root.strip('/')}/" if root.strip("/") else ""

    def archive_document(self, data: bytes, meta: DocumentMeta) -> tuple[DocumentRecord, bool]:
        """Store `data` once; returns its catalog record and whether it was new."""
        return self._received(meta, *self._keep(data, meta, "documents", "archived", None, None))

    def archive_issued(self, data: bytes, meta: DocumentMeta) -> tuple[DocumentRecord, bool]:
        """Store a document the pipeline issued itself (a notice to a borrower, plugins/notices) once. Catalogued
        like any document, but not a receipt of the period's delivery: redelivery puts back only what arrived."""
        return self._keep(data, meta, "documents", "archived", None, None)

    def quarantine_document(self, data: bytes, meta: DocumentMeta, reason_code: str, reason: str) -> tuple[DocumentRecord, bool]:
        """Keep a document that cannot be used, with its reason; nothing is lost."""
        return self._received(meta, *self._keep(data, meta, "quarantine", "quarantined", reason_code, reason))

    def _received(self, meta: DocumentMeta, record: DocumentRecord, new: bool) -> tuple[DocumentRecord, bool]:
        if meta.period:
            self.catalog.add_receipt(meta.period, record, meta.original_name)
        return record, new

    def _keep(self, data: bytes, meta: DocumentMeta, prefix: str, status: str,
              reason_code: str | None, reason: str | None) -> tuple[DocumentRecord, bool]:
        digest = sha256_hex(data)
        known = self.catalog.document(digest)
        if known is not None:
            return known, False
        doc_class = meta.doc_class if status == "archived" else "quarantine"
        until = retain_until(self.retention, doc_class, meta.received_date, meta.period_end, meta.maturity)
        key = f"{self.root}{prefix}/{digest[:2]}/{digest}{_suffix(meta.original_name)}"
        record = DocumentRecord(
            sha256=digest, status=status, doc_class=meta.doc_class, borrower_id=meta.borrower_id,
            contract_id=meta.contract_id, period=meta.period, original_name=meta.original_name,
            size=len(data), page_count=meta.page_count, reason_code=reason_code, reason=reason,
            object_key=key, version_id=None,
            retain_until=until.isoformat(), received_date=meta.received_date.isoformat() if meta.received_date else None,
            ingested_at=utc_now(),
        )
        existing = self.original_version(key)
        stored = None
        if existing is None:
            # Conditional put: a run racing this one for the same bytes (two runs of one month) makes no
            # second version; the loser indexes the winner's object below.
            stored = self.store.put_if_absent(
                self.bucket, key, data,
                content_type=CONTENT_TYPES.get(_suffix(meta.original_name), "application/octet-stream"),
                metadata=document_metadata(record), retain_until=until, lock_mode=self.retention.mode,
            )
            existing = None if stored is not None else self.original_version(key)
        if stored is None:
            # The store is the truth and the catalog lagged it: index the object as it was stored.
            from_store = document_from_object(existing) if existing is not None else None
            record = from_store or replace(record, version_id=existing.version_id if existing else None)
            self.catalog.add_document(record)
            return self.catalog.document(digest) or record, False
        record = replace(record, version_id=stored.version_id)
        if self.catalog.holds_covering(record):  # a borrower or contract already under a legal hold
            self.store.set_legal_hold(self.bucket, key, stored.version_id, True)
        self.catalog.add_document(record)  # a no-op if a racing run indexed our object first
        return record, True  # this call wrote the object

    def original_version(self, key: str) -> ObjectInfo | None:
        """The first version written under `key`: the archive never writes a key twice, so a later
        version is an overwrite attempt and never the evidence. S3 lists a key's versions newest first."""
        versions = [v for v in self.store.versions(self.bucket, key) if v.key == key]
        if not versions:
            return None
        return self.store.info(self.bucket, key, versions[-1].version_id)

    def extend_retention(self, sha256: str, until: datetime) -> tuple[datetime | None, datetime]:
        """Move a document's retain-until date later; returns (before, after).

        Shortening is refused here, before the server would refuse it too (COMPLIANCE), with a
        message naming the document and both dates.
        """
        if until.tzinfo is None:
            raise ValueError("the new retain-until date must carry a time zone")
        until = until.astimezone(timezone.utc).replace(microsecond=0)
        record = self._record(sha256)
        info = self.store.info(self.bucket, record.object_key, record.version_id)
        if info is None:
            raise LookupError(f"object {record.object_key} (version {record.version_id}) is missing from the store")
        current = info.retain_until or (datetime.fromisoformat(record.retain_until) if record.retain_until else None)
        if current is not None and until < current:
            raise RetentionShorteningError(
                f"refused: document {record.sha256[:12]}… ({record.original_name}) is retained until "
                f"{current.isoformat()}; {until.isoformat()} would shorten it. Retention can only be extended.")
        if current is not None and until == current:
            return current, current
        self.store.set_retention(self.bucket, record.object_key, record.version_id, until, self.retention.mode)
        self.catalog.set_retain_until(record.sha256, until.isoformat())
        return current, until

    def keep_configuration(self, snapshot: bytes, period_end: date) -> DocumentRecord:
        """Archive a configuration snapshot once; each report that uses it keeps it at least as long as itself.

        One snapshot serves many periods, so its retention is extended to the latest period's end date.
        """
        record, _ = self.archive_document(snapshot, DocumentMeta(doc_class="configuration",
                                                                 original_name="config_snapshot.json",
                                                                 period_end=period_end))
        needed = retain_until(self.retention, "configuration", None, period_end, None)
        if record.retain_until is None or datetime.fromisoformat(record.retain_until) < needed:
            self.extend_retention(record.sha256, needed)
            record = self._record(record.sha256)
        return record

    def fetch(self, sha256: str) -> bytes:
        record = self._record(sha256)
        return self.store.get(self.bucket, record.object_key, record.version_id)

    def verify(self, sha256: str) -> tuple[bool, str]:
        """Re-hash the stored bytes against the catalogued hash."""
        record = self._record(sha256)
        actual = sha256_hex(self.store.get(self.bucket, record.object_key, record.version_id))
        return actual == record.sha256, actual

    def _record(self, sha256: str) -> DocumentRecord:
        matches = self.catalog.find_documents(sha256=sha256)
        if len(matches) != 1:
            raise LookupError(f"{len(matches)} archived documents match hash {sha256!r}")
        return matches[0]

    def publish(self, report_kind: str, period: str, period_end: date, files: dict[str, bytes],
                inputs: dict, run_id: str | None) -> dict:
        """Archive report files with a manifest; identical content is never written twice.

        The manifest lists every input's hash, the configuration hash and code version,
        so a report can be traced to, and rebuilt from, what it was made of.
        """
        until = retain_until(self.retention, report_kind, None, period_end, None)
        manifest_until = retain_until(self.retention, "manifest", None, period_end, None)
        outputs = {name: {"sha256": sha256_hex(data), "size": len(data)} for name, data in sorted(files.items())}
        manifest = {"report_kind": report_kind, "period": period, "outputs": outputs, "inputs": inputs}
        manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode()
        manifest_key = f"{self.root}manifests/{report_kind}/{period}/{sha256_hex(manifest_bytes)}.json"
        written = 0
        if self.original_version(manifest_key) is None and self.store.put_if_absent(
                self.bucket, manifest_key, manifest_bytes, "application/json",
                {"run-id": run_id or "", "report-kind": report_kind},
                retain_until=manifest_until, lock_mode=self.retention.mode) is not None:
            written += 1
        published = []
        for name, data in sorted(files.items()):
            digest = outputs[name]["sha256"]
            key = f"{self.root}reports/{report_kind}/{period}/{digest[:12]}/{name}"
            record = PublicationRecord(
                report_kind=report_kind, period=period, file_name=name, sha256=digest, object_key=key,
                version_id=None, manifest_key=manifest_key, run_id=run_id, published_at=utc_now())
            existing = self.original_version(key)
            stored = None if existing is not None else self.store.put_if_absent(
                self.bucket, key, data, CONTENT_TYPES.get(_suffix(name), "application/octet-stream"),
                publication_metadata(record), retain_until=until, lock_mode=self.retention.mode)
            if stored is not None:
                record = replace(record, version_id=stored.version_id)
                written += 1
            else:  # published before (or a moment ago by a racing run): the stored object says when, by which
                existing = existing or self.original_version(key)  # run, under which manifest
                record = (publication_from_object(existing) if existing is not None else None) or replace(
                    record, version_id=existing.version_id if existing is not None else None)
            self.catalog.add_publication(record)
            published.append({"file": name, "key": f"s3://{self.bucket}/{key}", "sha256": digest})
        return {"manifest_key": f"s3://{self.bucket}/{manifest_key}", "files": published, "objects_written": written}

    def manifest(self, manifest_key: str) -> dict:
        """A manifest (or hold record) as stored. A manifest's key names its SHA-256
        (manifests/<kind>/<period>/<sha256>.json): bytes that do not hash to it are refused (ForgedManifestError)."""
        key = manifest_key.removeprefix(f"s3://{self.bucket}/")
        data = self.store.get(self.bucket, key)
        named = manifest_hash_in_key(key)
        if named is not None and sha256_hex(data) != named:
            raise ForgedManifestError(
                f"refused: the manifest s3://{self.bucket}/{key} does not hash to the SHA-256 in its name (its bytes "
                f"hash to {sha256_hex(data)[:12]}…, the name says {named[:12]}…): it was overwritten or forged; run "
                "`postloan archive audit --as ROLE --reason WHY`")
        return json.loads(data)


class ForgedManifestError(ValueError):
    """A manifest whose stored bytes do not hash to the SHA-256 its key names."""


def manifest_hash_in_key(key: str) -> str | None:
    """The SHA-256 a manifest's key names (manifests/<kind>/<period>/<sha256>.json), None for other keys."""
    if "manifests/" not in key:
        return None
    name = key.rsplit("/", 1)[-1].removesuffix(".json")
    return name if len(name) == 64 and all(c in "0123456789abcdef" for c in name) else None
