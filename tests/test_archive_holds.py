"""Legal holds and retention against the real S3 server: a hold outlives retention; retention only grows."""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from minio.error import S3Error

from plugins.archive import DocumentMeta, sha256_hex
from plugins.archive.archive import RetentionShorteningError
from plugins.archive.catalog import DocumentRecord, utc_now
from plugins.archive.holds import HoldError, LegalHolds


def _meta(name: str, borrower: str = "B0101", contract: str = "HT2026-0101", **kw) -> DocumentMeta:
    values = dict(doc_class="loan_contract", original_name=name, borrower_id=borrower, contract_id=contract,
                  period="2026-09", received_date=date(2026, 9, 3), maturity=date(2029, 9, 2))
    values.update(kw)
    return DocumentMeta(**values)


def _short_lived(archive, data: bytes, seconds: float, borrower: str = "B0199") -> DocumentRecord:
    """A document whose retention ends `seconds` from now (real classes retain for years)."""
    digest = sha256_hex(data)
    key = f"documents/{digest[:2]}/{digest}.pdf"
    until = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    stored = archive.store.put(archive.bucket, key, data, "application/pdf", {"sha256": digest},
                               retain_until=until, lock_mode="COMPLIANCE")
    record = DocumentRecord(sha256=digest, status="archived", doc_class="collection_record", borrower_id=borrower,
                            contract_id=None, period="2026-09", original_name="催收记录.pdf", size=len(data),
                            page_count=1, reason_code=None, reason=None, object_key=key,
                            version_id=stored.version_id, retain_until=until.isoformat(), received_date=None,
                            ingested_at=utc_now())
    archive.catalog.add_document(record)
    return record


def test_a_held_document_survives_its_retention_end_and_can_go_once_released(archive):
    record = _short_lived(archive, b"%PDF-1.4 short retention " + str(time.time()).encode(), seconds=3)
    holds = LegalHolds(archive)
    hold, covered = holds.place("litigation", "document", record.sha256, "诉讼: (2026)沪0101民初123号",
                                "li.wei", "risk_officer")
    assert covered == 1 and holds.is_held(record)
    time.sleep(5)  # past the retention end
    assert archive.store.info(archive.bucket, record.object_key, record.version_id).retain_until < datetime.now(timezone.utc)
    with pytest.raises(S3Error) as refused:
        archive.store.client.remove_object(archive.bucket, record.object_key, version_id=record.version_id)
    assert refused.value.code == "AccessDenied"
    released, freed = holds.release(hold.hold_id, "judgment final, appeal period over", "li.wei", "risk_officer")
    assert released.released_by == "li.wei" and released.release_reason and freed == 1
    archive.store.client.remove_object(archive.bucket, record.object_key, version_id=record.version_id)
    assert archive.store.info(archive.bucket, record.object_key, record.version_id) is None


def test_a_borrower_hold_covers_all_its_documents_and_those_archived_later(archive):
    borrower = f"B{time.time_ns() % 10**8}"
    first, _ = archive.archive_document(b"%PDF-1.4 contract " + borrower.encode(), _meta("c.pdf", borrower, f"HT-{borrower}"))
    second, _ = archive.archive_document(b"%PDF-1.4 statement " + borrower.encode(),
                                         _meta("s.pdf", borrower, None, doc_class="financial_statement"))
    holds = LegalHolds(archive)
    hold, covered = holds.place("disposal", "borrower", borrower, "处置: collateral auction", "wang.fang", "risk_officer")
    assert covered == 2
    later, _ = archive.archive_document(b"%PDF-1.4 later " + borrower.encode(), _meta("later.pdf", borrower, None))
    assert all(holds.is_held(r) for r in (first, second, later))
    row = archive.catalog.hold(hold.hold_id)
    assert (row.placed_by, row.placed_role, row.kind, row.scope) == ("wang.fang", "risk_officer", "disposal", "borrower")
    assert row.placed_at and row.reason.startswith("处置")
    placed = archive.manifest(row.placed_key)  # the placement is itself archived
    assert placed["event"] == "placed" and sorted(placed["documents"]) == sorted([first.sha256, second.sha256])


def test_releasing_one_hold_keeps_documents_another_hold_still_covers(archive):
    borrower = f"B{time.time_ns() % 10**8}"
    contract = f"HT-{borrower}"
    doc, _ = archive.archive_document(b"%PDF-1.4 two holds " + borrower.encode(), _meta("x.pdf", borrower, contract))
    holds = LegalHolds(archive)
    on_contract, _ = holds.place("litigation", "contract", contract, "lawsuit filed", "a", "risk_officer")
    on_borrower, _ = holds.place("disposal", "borrower", borrower, "claim transfer", "b", "risk_officer")
    _, freed = holds.release(on_contract.hold_id, "settled", "a", "risk_officer")
    assert freed == 0 and holds.is_held(doc)
    _, freed = holds.release(on_borrower.hold_id, "transfer completed", "b", "risk_officer")
    assert freed == 1 and not holds.is_held(doc)
    with pytest.raises(HoldError, match="already released"):
        holds.release(on_borrower.hold_id, "again", "b", "risk_officer")


def test_holds_need_a_known_kind_and_a_reason(archive):
    holds = LegalHolds(archive)
    with pytest.raises(HoldError, match="unknown hold kind"):
        holds.place("curiosity", "borrower", "B1", "why not", "a", "risk_officer")
    with pytest.raises(HoldError, match="needs a reason"):
        holds.place("litigation", "borrower", "B1", " ", "a", "risk_officer")


def test_extending_retention_works_and_is_recorded(archive):
    record, _ = archive.archive_document(b"%PDF-1.4 extend " + str(time.time_ns()).encode(), _meta("extend.pdf"))
    before = datetime.fromisoformat(record.retain_until)
    later = before + timedelta(days=365 * 5)
    old, new = archive.extend_retention(record.sha256, later)
    assert old == before and new == later
    assert archive.store.info(archive.bucket, record.object_key, record.version_id).retain_until == later
    assert archive.catalog.document(record.sha256).retain_until == later.isoformat()


def test_shortening_retention_is_refused_by_the_archive_before_the_server(archive):
    record, _ = archive.archive_document(b"%PDF-1.4 shorten " + str(time.time_ns()).encode(), _meta("short.pdf"))
    before = archive.store.info(archive.bucket, record.object_key, record.version_id).retain_until
    with pytest.raises(RetentionShorteningError, match="would shorten it") as refused:
        archive.extend_retention(record.sha256, datetime(2027, 1, 1, tzinfo=timezone.utc))
    assert record.sha256[:12] in str(refused.value) and before.isoformat() in str(refused.value)
    assert archive.store.info(archive.bucket, record.object_key, record.version_id).retain_until == before
