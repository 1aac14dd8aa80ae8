"""The integrity audit against the real S3 server: tampering, missing objects and orphans are reported.

Object lock refuses deleting or rewriting an archived version, so tampering is simulated the ways
that remain: a new version written over an archived key (reported `overwritten`; the recorded
version stays the evidence), a catalog row pointing to a key never written (`missing`), a catalog row
whose hash the stored bytes do not match (`mismatch`), and an object nobody catalogued (`orphan`).
"""
from __future__ import annotations

import io
import math
from dataclasses import replace

import pytest

from plugins.archive import sha256_hex
from plugins.archive.audit import IntegrityAudit, detection_probability, sample_size
from plugins.archive.catalog import DocumentRecord, utc_now
from tests.archive_support import isolated_archive, meta


@pytest.fixture()
def audited(s3_server, config, tmp_path):
    archive = isolated_archive(s3_server, f"sqlite:///{tmp_path / 'catalog.sqlite'}", config.retention)
    records = [archive.archive_document(f"%PDF-1.4 document {i}".encode(), meta(f"doc{i}.pdf"))[0] for i in range(6)]
    return archive, records


def _kinds(report) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in report.findings:
        out.setdefault(f["kind"], []).append(f["object_key"])
    return out


def test_a_clean_archive_audits_clean(audited):
    archive, records = audited
    report = IntegrityAudit(archive).run()
    assert report.finished and report.checked == report.planned == len(records) and report.findings == []
    assert report.statement.startswith("full audit: all 6")


def test_tampering_missing_objects_and_orphans_are_reported(audited):
    archive, records = audited
    bucket, client = archive.bucket, archive.store.client
    overwritten = records[0]
    client.put_object(bucket, overwritten.object_key, io.BytesIO(b"tampered bytes"), 14)
    never_written = replace(records[1], sha256="f" * 64, object_key="documents/ff/" + "f" * 64 + ".pdf",
                            version_id=None, original_name="ghost.pdf")
    archive.catalog.add_document(never_written)
    orphan_key = archive.root + "documents/00/" + sha256_hex(b"nobody catalogued me") + ".pdf"
    archive.store.put(bucket, orphan_key, b"nobody catalogued me")
    # a catalog row whose hash was edited: the stored bytes no longer match it
    wrong_hash = DocumentRecord(**{**records[2].__dict__, "sha256": "e" * 64})
    archive.catalog.add_document(wrong_hash)

    report = IntegrityAudit(archive).run()
    kinds = _kinds(report)
    assert kinds["overwritten"] == [overwritten.object_key]
    assert kinds["missing"] == [never_written.object_key]
    assert kinds["orphan"] == [orphan_key]
    assert kinds["mismatch"] == [records[2].object_key]
    tampered = next(f for f in report.findings if f["kind"] == "overwritten")
    assert tampered["actual_sha256"] == sha256_hex(b"tampered bytes") and tampered["expected_sha256"] == overwritten.sha256
    assert archive.fetch(overwritten.sha256) == b"%PDF-1.4 document 0"  # the evidence is still what is read


def test_an_interrupted_audit_resumes_where_it_stopped(audited):
    archive, records = audited
    archive.store.client.put_object(archive.bucket, records[5].object_key, io.BytesIO(b"late tamper"), 11)
    seen: list[tuple[int, int]] = []
    audit = IntegrityAudit(archive)
    first = audit.run(batch_size=2, max_objects=4, progress=lambda i, n, key: seen.append((i, n)))
    assert not first.finished and first.checked == 4
    second = audit.run(batch_size=2, progress=lambda i, n, key: seen.append((i, n)))
    assert second.audit_id == first.audit_id and second.finished and second.checked == len(records)
    assert seen == [(i, len(records)) for i in range(1, len(records) + 1)]  # each object once
    assert [f["kind"] for f in second.findings] == ["overwritten"]
    assert audit.run().audit_id != first.audit_id  # a finished audit is not resumed


def test_a_sample_audit_checks_the_stated_number_of_objects(audited):
    archive, records = audited
    report = IntegrityAudit(archive).run(mode="sample", confidence=0.5, corruption_rate=0.2, seed=7)
    assert report.planned == sample_size(len(records), 0.5, 0.2) == report.checked
    assert "with probability" in report.statement


def test_sample_size_gives_the_stated_confidence():
    # the classic figure: 459 draws find a 1% corruption with 99% confidence (with replacement);
    # without replacement, from a finite population, slightly fewer are needed
    n = sample_size(1_000_000, 0.99, 0.01)
    assert n == 459 or n == 458
    assert n <= math.ceil(math.log(0.01) / math.log(0.99))
    for population, confidence, rate in ((100, 0.95, 0.05), (1000, 0.99, 0.001), (50, 0.9, 0.5)):
        n = sample_size(population, confidence, rate)
        assert detection_probability(population, n, rate) >= confidence > detection_probability(population, n - 1, rate)
    assert sample_size(10, 0.999999, 0.1) == 10  # a single bad object among ten: check them all


def test_the_scheduled_dagster_job_audits_and_archives_the_access_log(s3_env):
    from dagster import DagsterInstance

    from pipelines.definitions import defs

    assert "archive_integrity_audit_job_schedule" in {s.name for s in defs.schedules}
    job = defs.resolve_job_def("archive_integrity_audit_job")
    result = job.execute_in_process(instance=DagsterInstance.ephemeral(), raise_on_error=True)
    assert result.success
    materialization = result.asset_materializations_for_node("archive_integrity_audit")[0]
    assert materialization.metadata["finished"].value is True
    assert materialization.metadata["statement"].value.startswith("full audit")
    # the run's own audit entry was archived with the log
    assert materialization.metadata["access_log_export"].data["entries"] >= 1
