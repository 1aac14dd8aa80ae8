"""The store is the source of truth: a catalog rebuilt from the object store alone equals the live one.

Run on embedded SQLite and on the real PostgreSQL server (CI=true makes an unreachable server a
failure; elsewhere those cases are skipped with the reason).
"""
from __future__ import annotations

import io
from datetime import date, timedelta

import pytest

from plugins.archive import Catalog
from plugins.archive.access import AccessPolicy, ArchiveSession, export_access_log
from plugins.archive.holds import LegalHolds
from plugins.archive.rebuild import catalog_differences, rebuild_catalog
from tests.archive_support import isolated_archive, meta, postgres_databases


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def catalog_urls(request, tmp_path):
    """(live, rebuilt) catalog URLs on one backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'live.sqlite'}", f"sqlite:///{tmp_path / 'rebuilt.sqlite'}"
    else:
        with postgres_databases(2) as urls:
            yield tuple(urls)


def _populate(archive, config) -> None:
    """A small but complete archive: documents, quarantine, a publication, holds, an extension, access."""
    contract, _ = archive.archive_document(b"%PDF-1.4 contract", meta("HT2026-0001_借款合同.pdf"))
    archive.archive_document(b"%PDF-1.4 statement", meta("B0001_2026Q3_财务报表.pdf", contract=None,
                                                          doc_class="financial_statement", period_end=date(2026, 9, 30)))
    archive.archive_document(b"loan_id,balance\n1,2\n", meta("loans.csv", borrower=None, contract=None,
                                                              doc_class="core_extract", period_end=date(2026, 9, 30)))
    archive.quarantine_document(b"not a pdf", meta("B0002_坏文件.pdf", borrower="B0002", contract=None),
                                "not_pdf", "not_pdf: 文件不是 PDF")
    archive.publish("management_report", "2026-09", date(2026, 9, 30), {"report.pdf": b"%PDF-1.4 report"},
                    {"documents": [{"sha256": contract.sha256}], "config_sha256": "c" * 64, "code_version": "t"}, "run-1")
    holds = LegalHolds(archive)
    holds.place("litigation", "contract", "HT2026-0001", "诉讼 filed", "li.wei", "risk_officer")
    disposal, _ = holds.place("disposal", "borrower", "B0002", "处置 of collateral", "li.wei", "risk_officer")
    holds.release(disposal.hold_id, "auction completed", "li.wei", "risk_officer")
    archive.extend_retention(contract.sha256, __import__("datetime").datetime.fromisoformat(contract.retain_until)
                             + timedelta(days=400))
    session = ArchiveSession(archive, AccessPolicy(config.access), "zhao.min", "auditor", "annual audit 2026")
    session.find(borrower_id="B0001")
    session.get(contract.sha256)
    export_access_log(archive)


def test_a_rebuilt_catalog_equals_the_live_one(s3_server, config, catalog_urls):
    live_url, rebuilt_url = catalog_urls
    archive = isolated_archive(s3_server, live_url, config.retention)
    _populate(archive, config)
    rebuilt = Catalog(rebuilt_url)
    report = rebuild_catalog(archive, rebuilt)
    assert catalog_differences(archive.catalog, rebuilt) == {}
    assert (report.documents, report.publications, report.holds, report.exports) == (4, 1, 2, 1)
    assert report.overwritten == [] and report.unreadable == []
    # the rebuilt access log goes on where the export ended, and its chain is intact
    entry = rebuilt.append_access("zhao.min", "auditor", "find", "{}", "after rebuild", {})
    assert entry.id == report.access_entries + 1 and entry.prev_hash == rebuilt.access_entries()[-2].entry_hash
    rebuilt.dispose()
    archive.catalog.dispose()


def test_a_rebuild_reads_the_archived_version_not_an_overwrite(s3_server, config, tmp_path):
    archive = isolated_archive(s3_server, f"sqlite:///{tmp_path / 'live.sqlite'}", config.retention)
    record, _ = archive.archive_document(b"%PDF-1.4 evidence", meta("evidence.pdf"))
    archive.store.client.put_object(archive.bucket, record.object_key, io.BytesIO(b"forged"), 6,
                                    metadata={"sha256": record.sha256, "status": "archived"})
    rebuilt = Catalog(f"sqlite:///{tmp_path / 'rebuilt.sqlite'}")
    report = rebuild_catalog(archive, rebuilt)
    assert report.overwritten == [record.object_key]
    assert rebuilt.document(record.sha256) == record
