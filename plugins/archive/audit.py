"""Integrity audit: re-hash archived objects and compare with the catalog.

What is checked, per catalogued object (documents, published reports, manifests, hold records,
access-log exports):
- the version the catalog recorded — the evidence — is re-read and re-hashed:
  `missing` if that version (or, for rows without a recorded version, the key) is not in the store,
  `mismatch` if its bytes no longer hash to the catalogued SHA-256;
- the key's newest version: if it is not the recorded one, someone wrote over the key. Object lock
  keeps the evidence, and the archive keeps reading the recorded version, but the attempt is reported
  as `overwritten` with the new bytes' hash.
And across the bucket: `orphan` for an object the catalog does not index.

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
from datetime import datetime, timezone
from typing import Callable

from plugins.archive.archive import Archive, sha256_hex

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

    def run(self, mode: str = "full", confidence: float = 0.99, corruption_rate: float = 0.01,
            batch_size: int = 200, resume: bool = True, max_objects: int | None = None,
            progress: Progress = lambda i, n, key: None, seed: int | None = None) -> AuditReport:
        """Audit (or continue the unfinished audit); `max_objects` stops early, leaving it resumable."""
        expected = list(self.catalog.expected_objects())
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
            batch += self._scan_bucket(expected)
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
        info = self.store.info(self.bucket, key, version)
        if info is None:
            return [_finding("missing", key, version, digest, None,
                             "the catalogued object is not in the store" + (f" (version {version})" if version else ""))]
        actual = sha256_hex(self.store.get(self.bucket, key, version))
        if actual != digest:
            return [_finding("mismatch", key, version, digest, actual, "stored bytes no longer match the catalogued hash")]
        return []

    def _scan_bucket(self, expected: list[tuple[str, str | None, str]]) -> list[dict]:
        recorded = {key: (version, digest) for key, version, digest in expected}  # one claim per key suffices here
        latest: dict[str, str | None] = {}
        for prefix in AUDITED_PREFIXES:
            for v in self.store.versions(self.bucket, self.archive.root + prefix):
                if v.is_latest:
                    latest[v.key] = v.version_id
        findings = []
        for key, version_id in sorted(latest.items()):
            if key not in recorded:
                findings.append(_finding("orphan", key, version_id, None, None, "object without a catalog row"))
                continue
            version, digest = recorded[key]
            if version is not None and version_id != version:
                actual = sha256_hex(self.store.get(self.bucket, key, version_id))
                findings.append(_finding(
                    "overwritten", key, version_id, digest, actual,
                    f"a newer version was written over the archived key; the recorded version {version} "
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
