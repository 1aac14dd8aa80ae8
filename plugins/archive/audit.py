"""Integrity audit: re-hash archived objects and compare with the catalog.

What is checked, per catalogued object (documents, published reports, manifests, hold records,
access-log exports):
- the version the catalog recorded — the evidence; for rows without a recorded version (manifests, hold
  records) the key's first version, since the archive never writes a key twice — is re-read and re-hashed:
  `missing` if it is not in the store, `mismatch` if its bytes no longer hash to the catalogued SHA-256
  (a manifest's is the SHA-256 its own key names);
- what the server says about it, reconciled with the catalog: `retention_short` if its retain-until date
  is earlier than catalogued (or gone), `hold_unrecorded` if the server holds it and no catalogued hold does.
And across the bucket, every version and delete marker of every key:
- `overwritten` for each other version of a catalogued key with other bytes, `duplicate` for one with the
  same bytes (a write that was not idempotent); object lock keeps the evidence, and the archive keeps
  reading the recorded version;
- `deleted` when a delete marker is a catalogued key's newest entry (the evidence is hidden, not gone);
- `orphan` for an object the catalog does not index;
- `hold_removed` for a document an unreleased hold covers whose server-side legal hold is off (removed
  through the S3 API behind the project's back).

Full mode re-hashes every catalogued object; sample mode a uniform random sample without replacement
whose size gives the stated probability of catching at least one bad object when at least the
stated share is bad (hypergeometric, exact). The orphan and overwrite scan lists the whole bucket in
both modes (listing is cheap; hashing is not).

Resumable: findings and the cursor (the last item checked; items are processed in order) are committed
per batch, and a new run continues the unfinished audit with the same sample (same seed).
"""
from __future__ import annotations

import math
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from plugins.archive.archive import Archive, manifest_hash_in_key, sha256_hex
from plugins.archive.catalog import DocumentRecord
from plugins.archive.store import ObjectInfo, ObjectVersion

AUDITED_PREFIXES = ("documents/", "quarantine/", "reports/", "manifests/", "holds/", "access-log/")
Progress = Callable[[int, int, str], None]


def sample_size(population: int, confidence: float, corruption_rate: float) -> int:
    """Smallest n such that a random sample of n out of `population` objects contains at least one bad
    object with probability >= `confidence`, when at least ceil(rate × population) objects are bad."""
    if population <= 0:
        return 0
    bad = max(1, math.ceil(corruption_rate * population))
    p_miss = 1.0
    for n in range(1, population + 1):
        p_miss *= (population - bad - (n - 1)) / (population - (n - 1))
        if 1 - p_miss >= confidence:
            return n
    return population


def detection_probability(population: int, sample: int, corruption_rate: float) -> float:
    """Probability that `sample` objects drawn at random include at least one of the bad ones."""
    bad = max(1, math.ceil(corruption_rate * population))
    p_miss = 1.0
    for n in range(sample):
        p_miss *= max(0.0, (population - bad - n) / (population - n))
    return 1 - p_miss


@dataclass
class AuditReport:
    audit_id: str
    mode: str
    population: int
    planned: int
    checked: int
    finished: bool
    findings: list[dict]
    statement: str

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for f in self.findings:
            out[f["kind"]] += 1
        return dict(out)


class IntegrityAudit:
    def __init__(self, archive: Archive):
        self.archive = archive
        self.catalog = archive.catalog
        self.store = archive.store
        self.bucket = archive.bucket
        self._documents: dict[str, DocumentRecord] = {}  # by object key, filled per run
        self._held_keys: set[tuple[str, str | None]] = set()

    def run(self, mode: str = "full", confidence: float = 0.99, corruption_rate: float = 0.01,
            batch_size: int = 200, resume: bool = True, max_objects: int | None = None,
            progress: Progress = lambda i, n, key: None, seed: int | None = None) -> AuditReport:
        """Audit (or continue the unfinished audit); `max_objects` stops early, leaving it resumable."""
        expected = list(self.catalog.expected_objects())
        self._documents = {d.object_key: d for d in self.catalog.find_documents()}
        held = self.catalog.held_documents()
        self._held_keys = {(d.object_key, d.version_id) for d in self._documents.values() if d.sha256 in held}
        state = self.catalog.unfinished_audit() if resume else None
        if state is None:
            seed = seed if seed is not None else random.SystemRandom().randrange(2**62)
            planned = self._plan(expected, mode, confidence, corruption_rate, seed)
            audit_id = f"A{datetime.now(timezone.utc):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
            self.catalog.start_audit(audit_id, mode, confidence if mode == "sample" else None,
                                     corruption_rate if mode == "sample" else None, seed, len(planned))
            state = self.catalog.audit_run(audit_id)
        audit_id, mode = state["audit_id"], state["mode"]
        planned = self._plan(expected, mode, state["confidence"], state["corruption_rate"], state["seed"])
        todo = [item for item in planned if _position(item) > state["cursor"]]
        checked = state["checked"]
        budget = len(todo) if max_objects is None else min(max_objects, len(todo))
        batch: list[dict] = []
        cursor = state["cursor"]
        for key, version, digest in todo[:budget]:
            batch += self._check(key, version, digest)
            checked += 1
            cursor = _position((key, version, digest))
            progress(checked, len(planned), key)
            if checked % batch_size == 0:
                self.catalog.advance_audit(audit_id, cursor, checked, batch)
                batch = []
        finished = budget == len(todo)
        if finished:
            batch += self._scan_bucket(expected) + self._removed_holds(held)
        self.catalog.advance_audit(audit_id, cursor, checked, batch, finished=finished)
        return AuditReport(audit_id, mode, len(expected), len(planned), checked, finished,
                           self.catalog.audit_findings(audit_id),
                           self._statement(mode, len(expected), len(planned), state["corruption_rate"]))

    def _plan(self, expected: list[tuple[str, str | None, str]], mode: str, confidence: float | None,
              corruption_rate: float | None, seed: int) -> list[tuple[str, str | None, str]]:
        if mode == "full":
            return sorted(expected, key=_position)
        n = sample_size(len(expected), confidence, corruption_rate)
        return sorted(random.Random(seed).sample(expected, n), key=_position)

    def _check(self, key: str, version: str | None, digest: str) -> list[dict]:
        info = self.store.info(self.bucket, key, version) if version else self.archive.original_version(key)
        if info is None:
            return [_finding("missing", key, version, digest, None,
                             "the catalogued object is not in the store" + (f" (version {version})" if version else ""))]
        actual = sha256_hex(self.store.get(self.bucket, key, info.version_id))
        if actual != digest:
            what = "the SHA-256 its key names" if manifest_hash_in_key(key) == digest else "the catalogued hash"
            return [_finding("mismatch", key, info.version_id, digest, actual, f"stored bytes no longer match {what}")]
        return self._server_state(key, info)

    def _server_state(self, key: str, info: ObjectInfo) -> list[dict]:
        """The server's retention and legal hold of a document against the catalog's."""
        record = self._documents.get(key)
        if record is None:
            return []
        findings = []
        if record.retain_until:
            catalogued = datetime.fromisoformat(record.retain_until)
            if catalogued > datetime.now(timezone.utc) and (
                    info.retain_until is None or info.retain_until < catalogued - timedelta(seconds=1)):
                server = info.retain_until.isoformat() if info.retain_until else "no retention"
                findings.append(_finding("retention_short", key, info.version_id, record.sha256, None,
                                         f"the server says {server}, the catalog retains until {catalogued.isoformat()}"))
        if info.legal_hold and (key, record.version_id) not in self._held_keys:
            findings.append(_finding("hold_unrecorded", key, info.version_id, record.sha256, None,
                                     "the server holds it (legal hold ON) but no unreleased hold in the catalog covers it"))
        return findings

    def _removed_holds(self, held: dict[str, list[str]]) -> list[dict]:
        """Every document under an unreleased hold whose server-side legal hold is off. Checked in full and
        sample mode alike: holds are few and each costs one request."""
        findings = []
        for record in sorted((d for d in self._documents.values() if d.sha256 in held), key=lambda d: d.object_key):
            info = self.store.info(self.bucket, record.object_key, record.version_id)
            if info is not None and not info.legal_hold:
                findings.append(_finding(
                    "hold_removed", record.object_key, record.version_id, record.sha256, None,
                    f"legal hold {', '.join(held[record.sha256])} covers it, but the server's legal hold is off "
                    "(removed through the S3 API, not released through postloan)"))
        return findings

    def _scan_bucket(self, expected: list[tuple[str, str | None, str]]) -> list[dict]:
        recorded: dict[str, tuple[str | None, set[str]]] = {}
        for key, version, digest in expected:
            recorded.setdefault(key, (version, set()))[1].add(digest)
        by_key: dict[str, list[ObjectVersion]] = defaultdict(list)  # versions newest first, then delete markers
        for prefix in AUDITED_PREFIXES:
            for v in self.store.versions(self.bucket, self.archive.root + prefix, delete_markers=True):
                by_key[v.key].append(v)
        findings = []
        for key in sorted(by_key):
            entries = by_key[key]
            stored = [v for v in entries if not v.is_delete_marker]
            if key not in recorded:
                if stored:
                    findings.append(_finding("orphan", key, stored[0].version_id, None, None,
                                             "object without a catalog row"))
                continue
            version, digests = recorded[key]
            evidence = version if version is not None else (stored[-1].version_id if stored else None)
            newest = next((v for v in entries if v.is_latest), entries[0])  # markers list after versions
            if newest.is_delete_marker:
                findings.append(_finding(
                    "deleted", key, newest.version_id, min(digests), None,
                    f"a delete marker is the key's newest entry: the archived object is hidden from plain reads; "
                    f"object lock kept the evidence (version {evidence})"))
            for other in stored:
                if other.version_id == evidence:
                    continue
                actual = sha256_hex(self.store.get(self.bucket, key, other.version_id))
                if actual in digests:
                    findings.append(_finding(
                        "duplicate", key, other.version_id, actual, actual,
                        f"a second version with the same bytes (a write that was not idempotent); version "
                        f"{evidence} is the evidence"))
                else:
                    findings.append(_finding(
                        "overwritten", key, other.version_id, min(digests), actual,
                        f"another version was written over the archived key; the recorded version {evidence} "
                        "is the evidence and is still what the archive reads"))
        return findings

    @staticmethod
    def _statement(mode: str, population: int, planned: int, corruption_rate: float | None) -> str:
        if mode == "full":
            return f"full audit: all {population} catalogued objects re-hashed"
        p = detection_probability(population, planned, corruption_rate)
        return (f"sample audit: {planned} of {population} objects re-hashed; if at least "
                f"{corruption_rate:.2%} of objects were corrupt, this sample would have caught at least one "
                f"with probability {p:.4f}")


def _position(item: tuple[str, str | None, str]) -> str:
    """The cursor: items are processed in this (string) order; tab sorts below every key character."""
    key, version, digest = item
    return f"{key}\t{version or ''}\t{digest}"


def _finding(kind: str, key: str, version: str | None, expected: str | None, actual: str | None, detail: str) -> dict:
    return {"kind": kind, "object_key": key, "version_id": version, "expected_sha256": expected,
            "actual_sha256": actual, "detail": detail}
