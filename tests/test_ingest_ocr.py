"""Specification: with OCR enabled (config/documents.yaml ocr.enabled: true) the pipeline reads image-only
documents instead of quarantining them all.

Ingest OCRs a document triage found image-only (needs_ocr): read as the declared loan or lease contract it is
archived, its row saying read_by "ocr"; read as nothing recognisable it stays needs_ocr, the reason saying OCR
was tried and what it read; read as another class it is mislabelled. Contract extraction then reads the
archived scan's terms by OCR, each with page, bounding box, the text as read, the engine's confidence and name,
flagged needs_review below ocr.min_confidence, and the loan-book comparison takes them like printed ones.
With OCR off (the default) nothing changes: the scan is quarantined as needs_ocr, saying how to read it.

Real engine (rapidocr-onnxruntime, installed by the test extra), real PDFs, the test S3 archive."""
from __future__ import annotations

import functools
import io
import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from plugins.config import DEFAULT_CONFIG_DIR, load_config
from plugins.documents import render_document
from plugins.extraction import contract_mismatches, contract_terms
from plugins.inbox import InboxDocument
from plugins.ingest import ingest_documents
from tests.archive_support import isolated_archive

SCAN = "HT2025-0047_借款合同_补充件09.pdf"          # the sample's image-only loan contract (last month, 2026-09)
LEASE_SCAN = "ZL2023-0018_融资租赁合同_补充件07.pdf"  # the sample's image-only scan delivered as a lease contract
ENGINE = "rapidocr-onnxruntime 1.4.4"


def _config(tmp: Path, **ocr: str):
    """A copy of config/ whose documents.yaml ocr section has the given values."""
    target = tmp / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, target)
    path = target / "documents.yaml"
    text = path.read_text(encoding="utf-8")
    for key, value in ocr.items():
        line = next(l for l in text.splitlines() if l.startswith(f"  {key}: "))
        text = text.replace(line, f"  {key}: {value}")
    path.write_text(text, encoding="utf-8")
    return load_config(target)


@functools.cache
def _sample_specs() -> dict[str, dict]:
    """The sample generator's document specs, by file name."""
    from plugins.sample import generate_portfolio

    s = load_config().sample
    portfolio = generate_portfolio(s.seed, s.start, s.end, s.borrowers, s.contracts)
    return {d["file_name"]: d for d in portfolio.document_specs}


def _delivered(spec: dict, data: bytes | None = None) -> tuple[InboxDocument, bytes]:
    doc = InboxDocument(spec["file_name"], spec["declared_class"], spec["borrower_id"], spec["contract_id"],
                        spec["period"], date.fromisoformat(spec["received_date"]))
    return doc, render_document(spec) if data is None else data


def _minutes_scan() -> bytes:
    """A scanned page of meeting minutes: image only, legible, and neither a contract nor a statement."""
    from PIL import Image, ImageDraw, ImageFont
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    from plugins.documents.fonts import cjk_font_path

    image = Image.new("L", (1240, 1754), 255)  # A4 at 150 dpi, as the sample's scans
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(cjk_font_path()), 34)
    for i, line in enumerate(["会议纪要", "时间：2026年9月15日", "议题：贷后现场检查安排"]):
        draw.text((150, 180 + i * 70), line, fill=0, font=font)
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, invariant=1)
    canvas.drawImage(ImageReader(image), 0, 0, width=A4[0], height=A4[1])
    canvas.showPage()
    canvas.save()
    return buf.getvalue()


@pytest.fixture(scope="module")
def with_ocr(s3_server, tmp_path_factory):
    """The sample's loan-contract scan and a scan of meeting minutes, ingested with OCR enabled
    (min_confidence raised to 0.995 so that one of the scan's terms falls below it); and, into an archive of
    its own, the sample's scan delivered as a lease contract (the generator draws the same placeholder page
    for every scan, so it is the same object: the archive keeps the first verdict on a hash)."""
    tmp = tmp_path_factory.mktemp("ocr_on")
    cfg = _config(tmp, enabled="true", min_confidence="0.995")
    archive = isolated_archive(s3_server, f"sqlite:///{tmp / 'catalog.sqlite'}", cfg.retention)
    scans = _sample_specs()
    assert (scans[SCAN]["defect"], scans[LEASE_SCAN]["defect"]) == ("image_only", "image_only")
    minutes = {**scans[SCAN], "file_name": "HT2025-0047_借款合同_补充件10.pdf"}
    messages: list[str] = []
    frame = ingest_documents([_delivered(scans[SCAN]), _delivered(minutes, _minutes_scan())],
                             archive, cfg.documents, {}, lambda i, n, m: messages.append(m))
    other = isolated_archive(s3_server, f"sqlite:///{tmp / 'other.sqlite'}", cfg.retention)
    lease = ingest_documents([_delivered(scans[LEASE_SCAN])], other, cfg.documents, {})
    return {"cfg": cfg, "archive": archive, "frame": pd.concat([frame, lease], ignore_index=True),
            "messages": messages}


def _row(frame: pd.DataFrame, file_name: str) -> dict:
    """The ingest row of `file_name`, empty cells as None."""
    row = frame[frame["file_name"] == file_name]
    assert len(row) == 1
    return {k: None if not isinstance(v, (list, dict)) and pd.isna(v) else v for k, v in row.iloc[0].items()}


def test_with_ocr_enabled_the_sample_scan_is_archived_as_read_by_ocr(with_ocr):
    row = _row(with_ocr["frame"], SCAN)
    assert (row["status"], row["reason_code"], row["reason"], row["doc_class"], row["read_by"]) == (
        "archived", None, None, "loan_contract", "ocr")
    assert row["object_key"].split("/", 1)[1].startswith("documents/")  # the archive, not quarantine/
    assert with_ocr["archive"].catalog.document(row["sha256"]).status == "archived"
    assert f"{SCAN}: archived (OCR by {ENGINE})" in with_ocr["messages"]


def test_a_scan_ocr_cannot_recognise_stays_needs_ocr_saying_what_ocr_read(with_ocr):
    row = _row(with_ocr["frame"], "HT2025-0047_借款合同_补充件10.pdf")
    assert (row["status"], row["reason_code"], row["read_by"]) == ("quarantined", "needs_ocr", None)
    assert row["reason"] == (
        "needs_ocr: the first 1 page(s) have no text layer (1 image(s) only); the document must be OCRed before "
        f"extraction. OCR was tried ({ENGINE}, 200 dpi): it read 3 line(s) on the first 1 page(s) "
        "('会议纪要 / 时间：2026年9月15日 / 议题：贷后现场检查安排') but recognised no document class in them "
        "(no title of a 借款合同 or 融资租赁合同); declared as a loan contract (借款合同)")


def test_a_scan_delivered_as_a_lease_that_reads_as_a_loan_contract_is_mislabelled(with_ocr):
    row = _row(with_ocr["frame"], LEASE_SCAN)
    assert (row["status"], row["reason_code"], row["doc_class"], row["read_by"]) == (
        "quarantined", "mislabelled", "loan_contract", None)
    assert row["reason"].startswith(
        "mislabelled: declared as a financing-lease contract (融资租赁合同) but the scan reads as a loan contract "
        f"(借款合同). OCR was tried ({ENGINE}, 200 dpi): it read 7 line(s) on the first 1 page(s) ('借款合同 / ")


def test_the_archived_scan_terms_are_extracted_by_ocr_with_engine_provenance(with_ocr):
    frame, archive = with_ocr["frame"], with_ocr["archive"]
    archived = [(doc, archive.fetch(doc["sha256"])) for doc in frame[frame["status"] == "archived"].to_dict("records")]
    terms = contract_terms(archived, ocr=with_ocr["cfg"].documents.ocr).set_index("field")
    # the sample generator draws its placeholder terms into the scan (plugins/documents/render.py _image_only)
    assert terms["value"].to_dict() == {
        "contract_kind": "loan_contract", "contract_id": "HT-0000-0000", "lender": "示例金融租赁有限公司",
        "borrower_name": "示例借款人有限公司", "principal": "1000000.00", "term_months": "12"}
    assert set(terms["contract_id"]) == {"HT-0000-0000"} and set(terms["read_by"]) == {"ocr"}
    assert set(terms["engine"]) == {ENGINE}
    principal = terms.loc["principal"]
    assert (principal["page"], principal["printed"]) == (1, "人民币1,000,000.00元")
    x0, top, x1, bottom = json.loads(principal["bbox"])  # PDF points from the top: the fifth line of the scan
    assert 60 < x0 < x1 < 595 and 200 < top < bottom < 260
    read = terms.drop(index="contract_kind")  # the kind comes from the title line, not a term's line
    assert read["page"].eq(1).all() and read["bbox"].notna().all() and read["confidence"].between(0.95, 1).all()
    # min_confidence 0.995 here: the principal's line was read with less, the others with more
    assert terms.index[terms["needs_review"]].tolist() == ["principal"]
    assert terms.loc["principal", "confidence"] < 0.995 <= terms.loc["term_months", "confidence"]

    loans = pd.DataFrame({"contract_id": ["HT-0000-0000"], "principal": ["1000000.00"], "annual_rate": ["0.0500"],
                          "start_date": ["2024-01-01"], "original_maturity_date": ["2024-12-31"],
                          "term_months": ["24"]})
    mismatches = contract_mismatches(terms.reset_index(), loans)
    assert mismatches.drop(columns=["sha256"]).to_dict("records") == [
        {"contract_id": "HT-0000-0000", "field": "term_months", "document": "12", "loan_book": "24", "page": 1,
         "read_by": "ocr", "needs_review": False}]


def test_with_ocr_off_an_archived_scan_yields_no_terms_and_says_why(with_ocr):
    doc, archive = _row(with_ocr["frame"], SCAN), with_ocr["archive"]
    messages: list[str] = []
    terms = contract_terms([(doc, archive.fetch(doc["sha256"]))], messages.append, ocr=load_config().documents.ocr)
    assert terms.empty and messages == [f"{SCAN}: image-only and OCR is off (ocr.enabled: false): no terms read"]


def test_with_ocr_off_the_sample_scan_stays_needs_ocr_and_printed_contracts_read_by_text_layer(
        s3_server, tmp_path):
    cfg = load_config()
    assert cfg.documents.ocr.enabled is False  # the shipped configuration
    archive = isolated_archive(s3_server, f"sqlite:///{tmp_path / 'catalog.sqlite'}", cfg.retention)
    printed = _sample_specs()["HT2025-0047_借款合同.pdf"]  # the signed contract, with a text layer
    messages: list[str] = []
    frame = ingest_documents([_delivered(_sample_specs()[SCAN]), _delivered(printed)], archive, cfg.documents, {},
                             lambda i, n, m: messages.append(m))
    scan = _row(frame, SCAN)
    assert (scan["status"], scan["reason_code"], scan["read_by"]) == ("quarantined", "needs_ocr", None)
    assert scan["reason"].endswith("the document must be OCRed before extraction. To read it, set ocr.enabled: true "
                                   "in config/documents.yaml or run `postloan extract --ocr FILE` (the engine is the "
                                   "optional `ocr` extra, rapidocr-onnxruntime; `make` installs it)")
    signed = _row(frame, "HT2025-0047_借款合同.pdf")
    assert (signed["status"], signed["read_by"]) == ("archived", "text_layer")
    assert not any("OCR by" in m for m in messages)  # the engine never ran


def test_with_ocr_enabled_but_no_such_engine_the_scan_stays_needs_ocr_saying_how_to_install(s3_server, tmp_path):
    cfg = _config(tmp_path, enabled="true", engine="tesseract")
    archive = isolated_archive(s3_server, f"sqlite:///{tmp_path / 'catalog.sqlite'}", cfg.retention)
    row = _row(ingest_documents([_delivered(_sample_specs()[SCAN])], archive, cfg.documents, {}), SCAN)
    assert (row["status"], row["reason_code"], row["read_by"]) == ("quarantined", "needs_ocr", None)
    assert row["reason"] == (
        "needs_ocr: the first 1 page(s) have no text layer (1 image(s) only); the document must be OCRed before "
        "extraction. OCR is enabled (ocr.enabled: true) but no extractor 'tesseract' is registered in the "
        "postloan.extractors entry points (the bundled one, 'rapidocr', installs with pip install -e '.[ocr]' "
        "(rapidocr-onnxruntime))")


def test_with_ocr_enabled_but_the_engine_not_installed_the_scan_stays_needs_ocr_saying_how_to_install(
        s3_server, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # Python's own mark of a module that cannot import
    cfg = _config(tmp_path, enabled="true")
    archive = isolated_archive(s3_server, f"sqlite:///{tmp_path / 'catalog.sqlite'}", cfg.retention)
    row = _row(ingest_documents([_delivered(_sample_specs()[SCAN])], archive, cfg.documents, {}), SCAN)
    assert (row["status"], row["reason_code"], row["read_by"]) == ("quarantined", "needs_ocr", None)
    assert row["reason"].endswith(
        "the document must be OCRed before extraction. OCR is enabled (ocr.enabled: true) but the extractor "
        "'rapidocr' is not installed: pip install -e '.[ocr]' (rapidocr-onnxruntime)")
