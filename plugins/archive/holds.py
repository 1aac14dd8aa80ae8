"""Legal holds (诉讼 litigation, 处置 disposal) on a document, a contract or a borrower.

A hold is recorded three times over: a catalog row (who, why, when), a locked JSON record in the
archive (holds/<hold_id>/placed.json, released.json — what a catalog rebuild reads back), and the S3
legal hold on every covered object version, which keeps the version even after its retention ends.
S3 legal hold is a single ON/OFF flag, so releasing one hold turns it off only on documents that no
other unreleased hold still covers. Documents archived later for a held borrower or contract are held
on arrival (Archive._keep).
"""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timezone

from plugins.archive.archive import Archive, retain_until, sha256_hex
from plugins.archive.catalog import DocumentRecord, HoldRecord, utc_now

SCOPES = ("document", "contract", "borrower")


class HoldError(ValueError):
    """A hold request that cannot be carried out (unknown kind or scope, already released, ...)."""


class LegalHolds:
    def __init__(self, archive: Archive):
        self.archive = archive
        self.catalog = archive.catalog

    def place(self, kind: str, scope: str, target: str, reason: str, actor: str, role: str) -> tuple[HoldRecord, int]:
        """Hold every document in scope (and any archived later while the hold stands); returns the hold
        and how many documents it covers now."""
        kinds = self.archive.retention.hold_kinds
        if kind not in kinds:
            raise HoldError(f"unknown hold kind {kind!r}: expected one of {', '.join(kinds)} (retention.yaml hold_kinds)")
        if scope not in SCOPES:
            raise HoldError(f"unknown hold scope {scope!r}: expected one of {', '.join(SCOPES)}")
        if not reason.strip():
            raise HoldError("a legal hold needs a reason")
        covered = self._in_scope(scope, target)
        now = datetime.now(timezone.utc)
        hold_id = f"H{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
        body = {"event": "placed", "hold_id": hold_id, "kind": kind, "kind_zh": kinds[kind], "scope": scope,
                "target": target, "reason": reason, "by": actor, "role": role, "at": now.isoformat(timespec="seconds"),
                "documents": sorted(d.sha256 for d in covered)}
        key, digest = self._write_record(hold_id, "placed", body, now.date())
        hold = HoldRecord(hold_id=hold_id, kind=kind, scope=scope, target=target, reason=reason, placed_by=actor,
                          placed_role=role, placed_at=body["at"], placed_key=key, placed_sha256=digest)
        self.catalog.add_hold(hold)
        for record in covered:
            self.archive.store.set_legal_hold(self.archive.bucket, record.object_key, record.version_id, True)
        return hold, len(covered)

    def release(self, hold_id: str, reason: str, actor: str, role: str) -> tuple[HoldRecord, int]:
        """Release one hold; returns it and how many documents are no longer held by anything."""
        hold = self.catalog.hold(hold_id)
        if hold is None:
            raise HoldError(f"no legal hold {hold_id!r}")
        if not hold.active:
            raise HoldError(f"legal hold {hold_id} was already released at {hold.released_at} by {hold.released_by}")
        if not reason.strip():
            raise HoldError("releasing a legal hold needs a reason")
        now = datetime.now(timezone.utc)
        body = {"event": "released", "hold_id": hold_id, "reason": reason, "by": actor, "role": role,
                "at": now.isoformat(timespec="seconds")}
        key, digest = self._write_record(hold_id, "released", body, now.date())
        self.catalog.release_hold(hold_id, actor, role, reason, body["at"], key, digest)
        freed = 0
        for record in self._in_scope(hold.scope, hold.target):
            if not self.catalog.holds_covering(record):
                self.archive.store.set_legal_hold(self.archive.bucket, record.object_key, record.version_id, False)
                freed += 1
        return self.catalog.hold(hold_id), freed

    def is_held(self, record: DocumentRecord) -> bool:
        """Whether the catalog holds the document and the server agrees."""
        return bool(self.catalog.holds_covering(record)) and self.archive.store.legal_hold_of(
            self.archive.bucket, record.object_key, record.version_id)

    def _in_scope(self, scope: str, target: str) -> list[DocumentRecord]:
        return self.catalog.documents_in_scope(scope, target)

    def _write_record(self, hold_id: str, event: str, body: dict, on: date) -> tuple[str, str]:
        data = json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True).encode()
        key = f"{self.archive.root}holds/{hold_id}/{event}.json"
        until = retain_until(self.archive.retention, "legal_hold", on, None, None)
        digest = sha256_hex(data)
        self.archive.store.put(self.archive.bucket, key, data, "application/json",
                               {"sha256": digest, "hold-id": hold_id, "event": event},
                               retain_until=until, lock_mode=self.archive.retention.mode)
        return key, digest


def hold_from_records(placed: dict, placed_key: str, placed_sha256: str, released: dict | None,
                      released_key: str | None, released_sha256: str | None) -> HoldRecord:
    """A catalog row from the archived hold records (catalog rebuild)."""
    return HoldRecord(
        hold_id=placed["hold_id"], kind=placed["kind"], scope=placed["scope"], target=placed["target"],
        reason=placed["reason"], placed_by=placed["by"], placed_role=placed["role"], placed_at=placed["at"],
        placed_key=placed_key, placed_sha256=placed_sha256,
        released_by=released["by"] if released else None, released_role=released["role"] if released else None,
        release_reason=released["reason"] if released else None, released_at=released["at"] if released else None,
        released_key=released_key, released_sha256=released_sha256)
