"""Audit bundles: one zip per loan, borrower or published return, verified offline by its manifest."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import date

import pandas as pd
import pytest

from plugins.archive.access import AccessPolicy
from plugins.archive.bundle import BundleSubject, build_bundle, verify_bundle
from tests.archive_support import isolated_archive, meta


# A month no other suite uses: the work bucket is shared with the end-to-end run (2026-09).
MONTH = "2039-12"


def _m(*args, **kw):
    return meta(*args, period=MONTH, **kw)


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


@pytest.fixture()
def published(s3_server, config, tmp_path):
    """A month as the pipeline leaves it: archived documents, work-bucket tables, a published return."""
    archive = isolated_archive(s3_server, f"sqlite:///{tmp_path / 'catalog.sqlite'}", config.retention)
    contract, _ = archive.archive_document(b"%PDF-1.4 contract 7", _m("HT7_借款合同.pdf", "B0007", "HT7"))
    statement, _ = archive.archive_document(b"%PDF-1.4 statement 7", _m("B0007_2039Q4_财务报表.pdf", "B0007", None,
                                                                           doc_class="financial_statement"))
    other, _ = archive.archive_document(b"%PDF-1.4 contract 8", _m("HT8_借款合同.pdf", "B0008", "HT8"))
    extract, _ = archive.archive_document(b"contract_id,balance\nHT7,1\nHT8,2\n",
                                          _m("loans.csv", None, None, doc_class="core_extract"))
    bad, _ = archive.quarantine_document(b"junk", _m("B0008_坏.pdf", "B0008", None), "not_pdf", "not a PDF")
    work, bucket = archive.store, archive.store.settings.work_bucket
    work.put(bucket, "statement_figures_extracted/2039-12", _parquet(pd.DataFrame({
        "sha256": [statement.sha256], "borrower_id": ["B0007"], "canonical": ["total_assets"],
        "current_cents": [123456], "page": [1], "bbox": ["[10, 20, 30, 40]"]})))
    work.put(bucket, "contract_terms_extracted/2039-12", _parquet(pd.DataFrame({
        "sha256": [contract.sha256, other.sha256], "contract_id": ["HT7", "HT8"], "field": ["principal"] * 2,
        "value": ["1000000.00", "500000.00"], "page": [1, 1]})))
    work.put(bucket, "loan_provisions/2039-12", _parquet(pd.DataFrame({
        "contract_id": ["HT7", "HT8"], "tier": [3, 1], "rules_fired": ["overdue_90", ""],
        "reasons": ["逾期 95 天 > 90 → 次级", ""], "booked_provision_cents": [25000, 0]})))
    inputs = {"period": "2039Q4", "documents": [{"sha256": d.sha256, "class": d.doc_class, "name": d.original_name,
                                                 "status": d.status} for d in (contract, statement, other, extract, bad)],
              "config_sha256": "c" * 64, "code_version": "test"}
    archive.publish("regulatory_return", "2039Q4", date(2039, 12, 31), {"G11.xlsx": b"PK fake xlsx"}, inputs, "run-9")
    return archive, {"contract": contract, "statement": statement, "other": other, "extract": extract, "bad": bad}


def _read(bundle: bytes) -> tuple[dict, zipfile.ZipFile]:
    zf = zipfile.ZipFile(io.BytesIO(bundle))
    return json.loads(zf.read("manifest.json")), zf


def test_a_return_bundle_verifies_offline_and_holds_every_input_of_its_manifest(published):
    archive, docs = published
    bundle = build_bundle(archive, archive.store, BundleSubject("return", "regulatory_return/2039Q4"), "li.wei",
                          "regulatory_reporting")
    result = verify_bundle(bundle)  # nothing but the bytes
    assert result.ok, result.problems
    manifest, zf = _read(bundle)
    bundled = {e["path"].split("/")[-1][:64] for e in manifest["files"] if e["kind"] == "document"}
    assert bundled == {d.sha256 for d in docs.values()} == set(manifest["report_inputs"])
    assert "reports/regulatory_return/2039Q4/G11.xlsx" in zf.namelist()
    risk = pd.read_csv(io.BytesIO(zf.read("risk/loan_provisions_2039-12.csv")))
    assert list(risk["contract_id"]) == ["HT7", "HT8"] and "逾期 95 天" in risk["reasons"][0]
    figures = pd.read_csv(io.BytesIO(zf.read("figures/statement_figures_extracted_2039-12.csv")))
    assert figures["page"].tolist() == [1]


def test_a_loan_bundle_holds_that_loan_only(published):
    archive, docs = published
    bundle = build_bundle(archive, archive.store, BundleSubject("loan", "HT7"), "li.wei", "risk_officer")
    assert verify_bundle(bundle).ok
    manifest, zf = _read(bundle)
    assert [d["sha256"] for d in manifest["documents"]] == [docs["contract"].sha256]
    terms = pd.read_csv(io.BytesIO(zf.read("figures/contract_terms_extracted_2039-12.csv")))
    assert terms["contract_id"].tolist() == ["HT7"]
    assert pd.read_csv(io.BytesIO(zf.read("risk/loan_provisions_2039-12.csv")))["contract_id"].tolist() == ["HT7"]
    assert any(e["kind"] == "report" for e in manifest["files"])  # the return built from this contract


def test_a_borrower_bundle_for_an_auditor_masks_identifiers(published, config):
    archive, docs = published
    policy = AccessPolicy(config.access)
    bundle = build_bundle(archive, archive.store, BundleSubject("borrower", "B0007"), "zhao.min", "auditor",
                          mask_row=policy.mask_row)
    assert verify_bundle(bundle).ok
    manifest, zf = _read(bundle)
    assert {d["sha256"] for d in manifest["documents"]} == {docs["contract"].sha256, docs["statement"].sha256}
    assert manifest["identifiers_masked"] and "B0007" not in zf.read("manifest.json").decode()
    figures = pd.read_csv(io.BytesIO(zf.read("figures/statement_figures_extracted_2039-12.csv")))
    assert figures["borrower_id"].tolist() == ["B**07"]


def test_verification_catches_a_changed_missing_or_added_file(published):
    archive, docs = published
    bundle = build_bundle(archive, archive.store, BundleSubject("return", "regulatory_return/2039Q4"), "x", "auditor")
    manifest, zf = _read(bundle)
    victim = f"documents/{docs['statement'].sha256}.pdf"
    missing = f"documents/{docs['other'].sha256}.pdf"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as changed:
        for name in zf.namelist():
            if name == missing:
                continue
            changed.writestr(name, b"%PDF-1.4 forged" if name == victim else zf.read(name))
        changed.writestr("documents/extra.pdf", b"smuggled")
    result = verify_bundle(out.getvalue())
    assert not result.ok
    text = "\n".join(result.problems)
    assert f"{victim}: SHA-256" in text and f"{missing}: listed in the manifest but missing" in text
    assert "documents/extra.pdf: in the bundle but not in its manifest" in text
    assert f"input {docs['other'].sha256} named by a report manifest is not in the bundle" in text
