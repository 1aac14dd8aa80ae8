"""Legal holds and retention against the real S3 server: a hold outlives retention; retention only grows."""
from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from minio.error import S3Error

from plugins.archive import Archive, DocumentMeta, ObjectStore, sha256_hex
from plugins.archive.archive import RetentionShorteningError
from plugins.archive.catalog import DocumentRecord, utc_now
from plugins.archive.holds import HoldError, HoldRequests, LegalHolds


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


def _as_risk_officer(archive, s3_server) -> Archive:
    """The same archive and catalog, reached with the risk officer's S3 credentials."""
    return Archive(ObjectStore(s3_server.settings_for("risk_officer")), archive.catalog, archive.retention)


def test_the_risk_officer_requests_a_hold_and_only_the_pipeline_applies_it(archive, s3_server):
    borrower = f"B{time.time_ns() % 10**8}"
    doc, _ = archive.archive_document(b"%PDF-1.4 requested hold " + borrower.encode(), _meta("r.pdf", borrower, None))
    officer = HoldRequests(_as_risk_officer(archive, s3_server))
    request = officer.request_place("litigation", "borrower", borrower, "诉讼: (2026)沪0101民初456号", "li.wei",
                                    "risk_officer")
    assert request.key.startswith("hold-requests/")
    assert not archive.store.info(archive.bucket, doc.object_key, doc.version_id).legal_hold  # a request sets no flag
    with pytest.raises(S3Error) as refused:  # nor may the risk officer set the flag itself
        officer.archive.store.set_legal_hold(archive.bucket, doc.object_key, doc.version_id, True)
    assert refused.value.code == "AccessDenied"

    [outcome] = HoldRequests(archive).apply([request])  # the pipeline's identity
    assert outcome["applied"] and outcome["documents_held"] == 1 and outcome["requested_by"] == "li.wei"
    hold = archive.catalog.hold(request.body["hold_id"])
    assert (hold.placed_by, hold.placed_role) == ("li.wei", "risk_officer") and LegalHolds(archive).is_held(doc)
    assert archive.manifest(hold.placed_key)["request"] == {"key": request.key, "sha256": request.sha256}
    assert HoldRequests(archive).apply([request]) == []  # applied once: no longer pending

    release = officer.request_release(hold.hold_id, "judgment final", "li.wei", "risk_officer")
    [outcome] = HoldRequests(archive).apply([release])
    assert outcome["applied"] and outcome["documents_no_longer_held"] == 1
    assert not archive.store.info(archive.bucket, doc.object_key, doc.version_id).legal_hold
    assert archive.catalog.hold(hold.hold_id).released_by == "li.wei"


def test_a_release_may_be_requested_before_its_placement_is_applied_and_both_apply_in_order(archive, s3_server):
    contract = f"HT-{time.time_ns() % 10**8}"
    doc, _ = archive.archive_document(b"%PDF-1.4 quick release " + contract.encode(), _meta("q.pdf", "B0102", contract))
    officer = HoldRequests(_as_risk_officer(archive, s3_server))
    place = officer.request_place("disposal", "contract", contract, "处置: claim transfer", "wang.fang", "risk_officer")
    release = officer.request_release(place.body["hold_id"], "transfer cancelled", "wang.fang", "risk_officer")
    outcomes = HoldRequests(archive).apply([place, release])
    assert [(o["event"], o["applied"]) for o in outcomes] == [("place", True), ("release", True)]
    assert not LegalHolds(archive).is_held(doc) and not archive.catalog.hold(place.body["hold_id"]).active


def test_a_release_of_an_unknown_hold_is_refused_when_requested(archive, s3_server):
    with pytest.raises(HoldError, match="no legal hold 'H19990101000000-abcdef'"):
        HoldRequests(_as_risk_officer(archive, s3_server)).request_release("H19990101000000-abcdef", "typo",
                                                                           "li.wei", "risk_officer")


def test_a_requested_retention_extension_is_applied_by_the_pipeline(archive, s3_server):
    record, _ = archive.archive_document(b"%PDF-1.4 extend request " + str(time.time_ns()).encode(),
                                         _meta("extend-request.pdf"))
    later = datetime.fromisoformat(record.retain_until) + timedelta(days=365 * 5)
    request = HoldRequests(_as_risk_officer(archive, s3_server)).request_extend(
        [record], later, "collection lawsuit pending", "document", record.sha256, "li.wei", "risk_officer")
    assert archive.catalog.document(record.sha256).retain_until == record.retain_until  # not yet
    [outcome] = HoldRequests(archive).apply([request])
    assert outcome["applied"] and outcome["documents"] == 1
    assert archive.store.info(archive.bucket, record.object_key, record.version_id).retain_until == later
    assert HoldRequests(archive).apply([request]) == []


def test_from_the_command_line_the_risk_officer_requests_and_the_pipeline_applies(s3_env, as_role, capsys):
    from pipelines import cli

    archive = cli._archive()
    archive.store.ensure_buckets()
    contract = f"HT{time.time_ns() % 10**8}"
    doc, _ = archive.archive_document(f"%PDF-1.4 cli request {contract}".encode(), _meta("c.pdf", "B0103", contract))
    who = ["--reason", "诉讼 (2026)沪0101民初789号", "--user", "li.wei"]
    capsys.readouterr()
    with as_role("risk_officer"):
        assert cli.main(["archive", "hold", "--kind", "litigation", "--contract", contract, "--as", "risk_officer",
                         *who]) == 0
        requested = json.loads(capsys.readouterr().out)
        assert requested["status"] == "requested" and requested["request"].startswith("hold-requests/")
        assert cli.main(["archive", "holds", "--apply", "--as", "risk_officer", *who]) == 2
        assert "only the pipeline's identity applies hold requests" in capsys.readouterr().err
    assert cli.main(["archive", "holds", "--apply", "--as", "pipeline", "--reason", "apply hold requests"]) == 0
    outcomes = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [mine] = [o for o in outcomes if o["request"] == requested["request"]]
    assert mine["applied"] and mine["hold_id"] == requested["hold_id"] and mine["documents_held"] == 1
    assert archive.store.info(archive.bucket, doc.object_key, doc.version_id).legal_hold
    entries = archive.catalog.access_entries(0, None, f"contract:{contract}")
    assert [(e.action, e.role) for e in entries] == [("hold", "risk_officer"), ("apply:place", "pipeline")]


def test_the_hold_request_sensor_starts_the_job_that_applies_the_request(s3_env, as_role, capsys):
    from dagster import RunRequest, build_sensor_context

    from pipelines import cli
    from pipelines.jobs import apply_hold_requests, hold_request_sensor
    from pipelines.resources import ArchiveResource

    archive = cli._archive()
    archive.store.ensure_buckets()
    borrower = f"B{time.time_ns() % 10**8}"
    doc, _ = archive.archive_document(f"%PDF-1.4 sensor {borrower}".encode(), _meta("s.pdf", borrower, None))
    with as_role("risk_officer"):
        assert cli.main(["archive", "hold", "--kind", "disposal", "--borrower", borrower, "--as", "risk_officer",
                         "--reason", "处置: collateral auction", "--user", "wang.fang"]) == 0
    hold_id = json.loads(capsys.readouterr().out)["hold_id"]
    [request] = list(hold_request_sensor(build_sensor_context()))
    assert isinstance(request, RunRequest)
    result = apply_hold_requests.execute_in_process(resources={"archive": ArchiveResource()})
    assert result.success
    assert archive.catalog.hold(hold_id).placed_by == "wang.fang"
    assert archive.store.info(archive.bucket, doc.object_key, doc.version_id).legal_hold
    [entry] = archive.catalog.access_entries(0, "dagster", f"borrower:{borrower}")
    assert (entry.action, entry.role) == ("apply:place", "pipeline")
