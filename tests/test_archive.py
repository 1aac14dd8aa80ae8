"""The archive against the real S3 server: stored once by hash, locked for its retention."""
from __future__ import annotations

import io
from datetime import date, datetime, timezone

import pytest
from minio import Minio
from minio.error import S3Error

from plugins.archive import DocumentMeta, retain_until, sha256_hex


def _meta(name: str = "HT2026-0001_借款合同.pdf", **kw) -> DocumentMeta:
    values = dict(doc_class="loan_contract", original_name=name, borrower_id="B0001", contract_id="HT2026-0001",
                  period="2026-09", received_date=date(2026, 9, 3), maturity=date(2029, 9, 2))
    values.update(kw)
    return DocumentMeta(**values)


def test_a_document_is_stored_once_under_its_sha256(archive):
    data = b"%PDF-1.4 stored once " + b"x" * 100
    first, new_first = archive.archive_document(data, _meta())
    again, new_again = archive.archive_document(data, _meta(name="renamed copy.pdf"))
    assert first.sha256 == again.sha256 == sha256_hex(data)
    assert first.object_key.endswith(f"{sha256_hex(data)}.pdf")
    assert new_first and not new_again
    assert len(archive.catalog.find_documents(sha256=first.sha256)) == 1


def test_contract_retention_runs_five_years_from_maturity(config):
    until = retain_until(config.retention, "loan_contract", date(2026, 9, 3), None, date(2029, 9, 2))
    assert until == datetime(2034, 9, 2, tzinfo=timezone.utc)


def test_the_server_refuses_deleting_an_archived_document_within_retention(archive):
    data = b"%PDF-1.4 cannot delete " + b"y" * 50
    record, _ = archive.archive_document(data, _meta(name="locked.pdf"))
    client = archive.store.client
    with pytest.raises(S3Error) as refused:
        client.remove_object(archive.bucket, record.object_key, version_id=record.version_id)
    assert refused.value.code == "AccessDenied"
    assert archive.verify(record.sha256)[0]


def test_an_overwrite_cannot_change_the_archived_version(archive):
    data = b"%PDF-1.4 original bytes"
    record, _ = archive.archive_document(data, _meta(name="original.pdf"))
    client = archive.store.client
    client.put_object(archive.bucket, record.object_key, io.BytesIO(b"tampered"), 8)
    # The locked version is untouched; the archive reads the version it recorded.
    assert archive.fetch(record.sha256) == data
    with pytest.raises(S3Error):
        client.remove_object(archive.bucket, record.object_key, version_id=record.version_id)


def test_shortening_retention_is_refused_by_the_server(archive):
    from minio.commonconfig import COMPLIANCE
    from minio.retention import Retention

    record, _ = archive.archive_document(b"%PDF-1.4 shorten me", _meta(name="shorten.pdf"))
    client = archive.store.client
    with pytest.raises(S3Error):
        client.set_object_retention(archive.bucket, record.object_key,
                                    Retention(COMPLIANCE, datetime(2027, 1, 1, tzinfo=timezone.utc)),
                                    version_id=record.version_id)


def test_anonymous_requests_are_refused(s3_server, archive):
    record, _ = archive.archive_document(b"%PDF-1.4 private", _meta(name="private.pdf"))
    anonymous = Minio(s3_server.settings.endpoint, secure=False)
    with pytest.raises(S3Error) as refused:
        anonymous.get_object(archive.bucket, record.object_key).read()
    assert refused.value.code == "AccessDenied"


def test_a_quarantined_document_is_kept_with_its_reason(archive):
    record, _ = archive.quarantine_document(b"not a pdf at all", _meta(name="bad.pdf"), "not_pdf",
                                            "not_pdf: the file does not start with %PDF")
    assert record.status == "quarantined" and record.object_key.startswith("quarantine/")
    assert archive.fetch(record.sha256) == b"not a pdf at all"
    assert archive.catalog.find_documents(status="quarantined", sha256=record.sha256)[0].reason_code == "not_pdf"


def test_publishing_the_same_report_twice_writes_nothing_new(archive):
    files = {"report.pdf": b"%PDF-1.4 report"}
    inputs = {"documents": [{"sha256": "a" * 64}], "config_sha256": "c" * 64, "code_version": "test"}
    first = archive.publish("management_report", "2026-09", date(2026, 9, 30), files, inputs, "run-1")
    second = archive.publish("management_report", "2026-09", date(2026, 9, 30), files, inputs, "run-2")
    assert first["objects_written"] == 2 and second["objects_written"] == 0
    assert first["manifest_key"] == second["manifest_key"]
    assert archive.manifest(first["manifest_key"])["inputs"] == inputs


def test_a_report_rebuilt_from_a_changed_input_is_a_new_version_and_both_stay_retrievable(archive):
    inputs = {"documents": [{"sha256": "a" * 64}], "config_sha256": "c" * 64, "code_version": "test"}
    first = archive.publish("management_report", "2026-09", date(2026, 9, 30),
                            {"report.pdf": b"%PDF-1.4 as first filed"}, inputs, "run-1")
    corrected = {**inputs, "documents": [{"sha256": "b" * 64}]}  # a corrected payments table, say
    second = archive.publish("management_report", "2026-09", date(2026, 9, 30),
                             {"report.pdf": b"%PDF-1.4 after the correction"}, corrected, "run-2")
    assert first["manifest_key"] != second["manifest_key"] and first["files"][0]["key"] != second["files"][0]["key"]
    publications = archive.catalog.find_publications("management_report", "2026-09")
    assert [p.run_id for p in publications] == ["run-1", "run-2"]
    assert [archive.store.get(archive.bucket, p.object_key, p.version_id) for p in publications] == [
        b"%PDF-1.4 as first filed", b"%PDF-1.4 after the correction"]
    assert archive.manifest(first["manifest_key"])["inputs"] == inputs
    assert archive.manifest(second["manifest_key"])["inputs"] == corrected


def test_every_archived_object_carries_what_the_catalog_needs(archive):
    from plugins.archive.objectmeta import document_from_object

    record, _ = archive.archive_document(b"%PDF-1.4 self-describing", _meta(name="HT2026-0001_借款合同 v2.pdf"))
    info = archive.store.info(archive.bucket, record.object_key, record.version_id)
    assert info.metadata["sha256"] == record.sha256 and info.metadata["doc-class"] == "loan_contract"
    assert document_from_object(info) == record


def test_a_catalog_that_lags_the_store_indexes_the_stored_version(archive, tmp_path):
    from plugins.archive import Archive, Catalog

    data = b"%PDF-1.4 catalog lost " + str(tmp_path).encode()
    record, _ = archive.archive_document(data, _meta(name="lagging.pdf"))
    fresh = Archive(archive.store, Catalog(f"sqlite:///{tmp_path / 'fresh.sqlite'}"), archive.retention)
    again, new = fresh.archive_document(data, _meta(name="lagging.pdf"))
    assert not new and again == record


def test_a_configuration_snapshot_is_kept_as_long_as_the_latest_report_made_with_it(archive, tmp_path):
    from plugins.config import DEFAULT_CONFIG_DIR, config_digest
    from plugins.config_snapshot import config_snapshot, restore_config_snapshot

    snapshot = config_snapshot(DEFAULT_CONFIG_DIR) + b" "  # a snapshot of its own in this test's archive
    first = archive.keep_configuration(snapshot, date(2026, 9, 30))
    later = archive.keep_configuration(snapshot, date(2027, 3, 31))
    assert first.sha256 == later.sha256 and len(archive.catalog.find_documents(sha256=first.sha256)) == 1
    # configuration: 10 years from the period end; the second report moves it to 2037-03-31
    assert datetime.fromisoformat(first.retain_until) == datetime(2036, 9, 30, tzinfo=timezone.utc)
    assert datetime.fromisoformat(later.retain_until) == datetime(2037, 3, 31, tzinfo=timezone.utc)
    info = archive.store.info(archive.bucket, later.object_key, later.version_id)
    assert info.retain_until == datetime(2037, 3, 31, tzinfo=timezone.utc)
    # restored from the archive, the folder hashes to the digest the manifests name
    assert restore_config_snapshot(archive.fetch(first.sha256), tmp_path / "restored") == config_digest(DEFAULT_CONFIG_DIR)


def test_a_file_delivered_again_unchanged_is_an_input_of_the_later_month_too(archive):
    table = b"borrower_id,name\nB0001,unchanged\n"
    august, _ = archive.archive_document(table, _meta("borrowers.csv", doc_class="core_extract", period="2026-08"))
    september, new = archive.archive_document(table, _meta("borrowers.csv", doc_class="core_extract", period="2026-09"))
    assert not new and september.period == "2026-08"  # stored once, under its first delivery
    assert [(r["original_name"], r["sha256"]) for r in archive.catalog.receipts("2026-09")] == [
        ("borrowers.csv", august.sha256)]
    archive.archive_document(table, _meta("borrowers.csv", doc_class="core_extract", period="2026-09"))
    assert len(archive.catalog.receipts("2026-09")) == 1  # a re-run records nothing twice
