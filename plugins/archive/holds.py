"""Legal holds (诉讼 litigation, 处置 disposal) on a document, a contract or a borrower.

A hold is recorded three times over: a catalog row (who, why, when), a locked JSON record in the
archive (holds/<hold_id>/placed.json, released.json — what a catalog rebuild reads back), and the S3
legal hold on every covered object version, which keeps the version even after its retention ends.
S3 legal hold is a single ON/OFF flag, so releasing one hold turns it off only on documents that no
other unreleased hold still covers. Documents archived later for a held borrower or contract are held
on arrival (Archive._keep).

Least privilege (SECURITY.md): the risk officer does not apply holds. `HoldRequests` records a request to
place or release a hold, or to extend retention, as a COMPLIANCE-locked JSON object under `hold-requests/`
(the only archive prefix the risk officer's S3 identity may write), and the command line logs it. The
pipeline's identity, the only one that may write `holds/` and set legal-hold and retention flags, applies the
pending requests (`HoldRequests.apply`, run by `postloan archive holds --apply` with its credentials); each
hold record it writes names the request object and its SHA-256. A request is pending while the catalog does
not show its effect, so applying twice changes nothing.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
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

    def check_placement(self, kind: str, scope: str, reason: str) -> None:
        """Refuse a hold of an unknown kind or scope, or without a reason (before anything is written)."""
        kinds = self.archive.retention.hold_kinds
        if kind not in kinds:
            raise HoldError(f"unknown hold kind {kind!r}: expected one of {', '.join(kinds)} (retention.yaml hold_kinds)")
        if scope not in SCOPES:
            raise HoldError(f"unknown hold scope {scope!r}: expected one of {', '.join(SCOPES)}")
        if not reason.strip():
            raise HoldError("a legal hold needs a reason")

    def place(self, kind: str, scope: str, target: str, reason: str, actor: str, role: str,
              hold_id: str | None = None, request: dict | None = None) -> tuple[HoldRecord, int]:
        """Hold every document in scope (and any archived later while the hold stands); returns the hold
        and how many documents it covers now. `hold_id` and `request` ({"key", "sha256"}) when the hold
        applies a request (HoldRequests)."""
        self.check_placement(kind, scope, reason)
        kinds = self.archive.retention.hold_kinds
        covered = self._in_scope(scope, target)
        now = datetime.now(timezone.utc)
        hold_id = hold_id or new_hold_id(now)
        body = {"event": "placed", "hold_id": hold_id, "kind": kind, "kind_zh": kinds[kind], "scope": scope,
                "target": target, "reason": reason, "by": actor, "role": role, "at": now.isoformat(timespec="seconds"),
                "documents": sorted(d.sha256 for d in covered)}
        if request:
            body["request"] = request
        key, digest = self._write_record(hold_id, "placed", body, now.date())
        hold = HoldRecord(hold_id=hold_id, kind=kind, scope=scope, target=target, reason=reason, placed_by=actor,
                          placed_role=role, placed_at=body["at"], placed_key=key, placed_sha256=digest)
        self.catalog.add_hold(hold)
        for record in covered:
            self.archive.store.set_legal_hold(self.archive.bucket, record.object_key, record.version_id, True)
        return hold, len(covered)

    def check_release(self, hold_id: str, reason: str) -> HoldRecord:
        """The active hold `hold_id`; refused when there is none or no reason is given."""
        hold = self.catalog.hold(hold_id)
        if hold is None:
            raise HoldError(f"no legal hold {hold_id!r}")
        if not hold.active:
            raise HoldError(f"legal hold {hold_id} was already released at {hold.released_at} by {hold.released_by}")
        if not reason.strip():
            raise HoldError("releasing a legal hold needs a reason")
        return hold

    def release(self, hold_id: str, reason: str, actor: str, role: str,
                request: dict | None = None) -> tuple[HoldRecord, int]:
        """Release one hold; returns it and how many documents are no longer held by anything."""
        hold = self.check_release(hold_id, reason)
        now = datetime.now(timezone.utc)
        body = {"event": "released", "hold_id": hold_id, "reason": reason, "by": actor, "role": role,
                "at": now.isoformat(timespec="seconds")}
        if request:
            body["request"] = request
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


def new_hold_id(now: datetime) -> str:
    return f"H{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"


REQUEST_PREFIX = "hold-requests/"
REQUEST_EVENTS = ("place", "release", "extend")


@dataclass(frozen=True)
class HoldRequest:
    key: str
    sha256: str
    body: dict

    @property
    def event(self) -> str:
        return self.body["event"]

    @property
    def reference(self) -> dict:
        """What a hold record names to trace itself back to this request."""
        return {"key": self.key, "sha256": self.sha256}


class HoldRequests:
    """Requests to place or release a legal hold or to extend retention, written by the role that asks
    (risk officer) and applied by the pipeline's identity (module docstring)."""

    def __init__(self, archive: Archive):
        self.archive = archive
        self.holds = LegalHolds(archive)

    def request_place(self, kind: str, scope: str, target: str, reason: str, actor: str, role: str) -> HoldRequest:
        """Ask for a hold; the hold id it will have is fixed now, so a release can be asked for at once."""
        self.holds.check_placement(kind, scope, reason)
        now = datetime.now(timezone.utc)
        return self._write("place", now, {"hold_id": new_hold_id(now), "kind": kind, "scope": scope,
                                          "target": target, "reason": reason, "by": actor, "role": role})

    def request_release(self, hold_id: str, reason: str, actor: str, role: str) -> HoldRequest:
        """Ask to release an active hold, or one whose placement is still pending."""
        if not reason.strip():
            raise HoldError("releasing a legal hold needs a reason")
        if not any(r.event == "place" and r.body["hold_id"] == hold_id for r in self.pending()):
            self.holds.check_release(hold_id, reason)
        now = datetime.now(timezone.utc)
        return self._write("release", now, {"hold_id": hold_id, "reason": reason, "by": actor, "role": role})

    def request_extend(self, documents: list[DocumentRecord], until: datetime, reason: str, scope: str,
                       target: str, actor: str, role: str) -> HoldRequest:
        """Ask to extend the retention of `documents` to `until` (the caller has refused a shortening)."""
        now = datetime.now(timezone.utc)
        return self._write("extend", now, {"scope": scope, "target": target, "until": until.isoformat(),
                                           "documents": sorted(d.sha256 for d in documents), "reason": reason,
                                           "by": actor, "role": role})

    def requests(self) -> list[HoldRequest]:
        """Every request in the store, oldest first (keys begin with the request time). Read from the version
        listing, first version of each key: a delete marker does not hide a request, nor does a later
        version replace it (the requester's identity may write the prefix, but object lock keeps each version)."""
        store, bucket = self.archive.store, self.archive.bucket
        first_versions: dict[str, str | None] = {}
        for version in store.versions(bucket, self.archive.root + REQUEST_PREFIX):
            first_versions[version.key] = version.version_id  # newest first per key: the last one seen is the first
        found = []
        for key in sorted(first_versions):
            data = store.get(bucket, key, first_versions[key])
            found.append(HoldRequest(key, sha256_hex(data), json.loads(data)))
        return found

    def pending(self) -> list[HoldRequest]:
        return [r for r in self.requests() if self._is_pending(r)]

    def apply(self, requests: list[HoldRequest] | None = None) -> list[dict]:
        """Carry out the pending requests (all of them, or those of `requests` still pending) in order, as the
        pipeline's identity; one outcome per request. A request that cannot be carried out (its hold unknown
        or released meanwhile, a shortening) is reported and skipped, never half-applied."""
        outcomes = []
        for request in (self.pending() if requests is None else [r for r in requests if self._is_pending(r)]):
            body = request.body
            outcome = {"request": request.key, "request_sha256": request.sha256, "event": request.event,
                       "target": request_target(body), "requested_by": body["by"], "requested_role": body["role"]}
            try:
                outcome.update(self._apply_one(request))
                outcome["applied"] = True
            except (HoldError, ValueError, LookupError) as exc:
                outcome.update(applied=False, error=str(exc))
            outcomes.append(outcome)
        return outcomes

    def _apply_one(self, request: HoldRequest) -> dict:
        body = request.body
        if request.event == "place":
            hold, covered = self.holds.place(body["kind"], body["scope"], body["target"], body["reason"], body["by"],
                                             body["role"], hold_id=body["hold_id"], request=request.reference)
            return {"hold_id": hold.hold_id, "documents_held": covered, "record": hold.placed_key}
        if request.event == "release":
            hold, freed = self.holds.release(body["hold_id"], body["reason"], body["by"], body["role"],
                                             request=request.reference)
            return {"hold_id": hold.hold_id, "documents_no_longer_held": freed, "record": hold.released_key}
        until = datetime.fromisoformat(body["until"])
        for sha in body["documents"]:  # check every document first, so a refusal changes nothing
            record = self.archive._record(sha)
            if record.retain_until and until < datetime.fromisoformat(record.retain_until):
                raise HoldError(f"document {sha[:12]}… is retained until {record.retain_until}; "
                                f"{body['until']} would shorten it")
        extended = [self.archive.extend_retention(sha, until) for sha in body["documents"]]
        return {"until": body["until"], "documents": len(extended)}

    def _is_pending(self, request: HoldRequest) -> bool:
        """Whether the catalog does not yet show the request's effect."""
        body, catalog = request.body, self.archive.catalog
        if request.event == "place":
            return catalog.hold(body["hold_id"]) is None
        if request.event == "release":
            hold = catalog.hold(body["hold_id"])
            return hold is None or hold.active
        until = datetime.fromisoformat(body["until"])
        for sha in body["documents"]:
            record = catalog.document(sha)
            if record is not None and (not record.retain_until or datetime.fromisoformat(record.retain_until) < until):
                return True
        return False

    def _write(self, event: str, now: datetime, fields: dict) -> HoldRequest:
        request_id = f"R{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}"
        body = {"event": event, "request_id": request_id, "at": now.isoformat(timespec="seconds"), **fields}
        data = json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True).encode()
        key = f"{self.archive.root}{REQUEST_PREFIX}{request_id}-{event}.json"
        until = retain_until(self.archive.retention, "legal_hold", now.date(), None, None)
        digest = sha256_hex(data)
        self.archive.store.put(self.archive.bucket, key, data, "application/json",
                               {"sha256": digest, "request-id": request_id, "event": event},
                               retain_until=until, lock_mode=self.archive.retention.mode)
        return HoldRequest(key, digest, body)


def request_target(body: dict) -> str:
    """The access-log target of a request: the hold it releases, else the scope it covers."""
    return body["hold_id"] if body["event"] == "release" else f"{body['scope']}:{body['target']}"


def apply_and_log(archive: Archive, actor: str, reason: str, access_key: str | None = None) -> list[dict]:
    """Apply the pending requests as the pipeline and log each outcome (`apply:place|release|extend`) in the
    access log: what `postloan archive holds --apply` and the apply_hold_requests job do."""
    outcomes = HoldRequests(archive).apply()
    for outcome in outcomes:
        detail = {**outcome, "s3_access_key": access_key} if access_key else outcome
        archive.catalog.append_access(actor, "pipeline", f"apply:{outcome['event']}", outcome["target"], reason,
                                      detail)
    return outcomes


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
