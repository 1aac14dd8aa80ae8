"""Bad input gets a clear reason and nothing is lost (docs/bad-input.md): each kind of bad document, manifest
entry or table ends quarantined, refused or blocked with a reason naming the file, no run crashes or hangs,
and the rest of the month goes on.

Real parts throughout: the session's SeaweedFS S3 server, PDFs made by the project's renderer from the
sample portfolio (and damaged or extended from those), real Dagster runs of the monthly job, real GX.
Two months of a smaller sample book run once each and are shared by the tests (the default suite's cost):

- DOCS_MONTH publishes: its tables are good but delivered in GB18030, with byte-order marks, CRLF line ends,
  an extra column and an extra file; its documents include a decompression bomb, an image bomb, a slow and
  a memory-hungry PDF, active content, damaged, encrypted, empty and non-PDF files; its manifest lists unsafe,
  undecodable, duplicate, malformed and missing entries and leaves a delivered file unlisted.
- TABLES_MONTH is blocked by the data-quality gate on bad tables, one kind per file (empty, damaged UTF-8,
  UTF-16, GB18030 where UTF-8 is declared, column-short, duplicate header, wrong delimiter, a row too long, too
  many rows, header only) and bad rows (a start date after the month end, a negative balance, a duplicate key,
  an impossible date); its documents are archived all the same and the gate's evidence is published.
- A few more table kinds (not delivered, binary, a truncated row) go through the same reader, GX suites and
  gate in process, without a month run of their own.

The runs use a Dagster instance and a work bucket of their own, so other suites' months never see them, and
a copy of config/ with tighter triage limits (documents.yaml: 4 s, 320 MiB per document, so a slow or
memory-hungry document costs seconds, not minutes) and two reading overrides (schema.yaml)."""
from __future__ import annotations

import functools
import io
import json
import shutil
import time
import zlib
from datetime import date, timedelta

import pandas as pd
import pytest

DOCS_MONTH, TABLES_MONTH = "2026-06", "2026-05"
WORK_BUCKET = "test-badinput-work"
TRIAGE_SECONDS, TRIAGE_MEMORY_MIB = 4, 320
BORROWERS, CONTRACTS = 100, 160  # the sample generator on a smaller book: the same kinds of input, a quicker month


# --- building bad input -------------------------------------------------------------------------------------

def _raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF of the given object bodies (1, 2, ...; object 1 the catalog) with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _stream(entries: bytes, data: bytes) -> bytes:
    return b"<< " + entries + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def _deflated(chunk: bytes, times: int) -> bytes:
    compressor = zlib.compressobj(1)
    return b"".join(compressor.compress(chunk) for _ in range(times)) + compressor.flush()


def _one_page(contents: bytes, resources: bytes = b"", extra: list[bytes] = ()) -> bytes:
    return _raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                     b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << "
                     + resources + b" >> >>", contents, *extra])


@functools.cache
def decompression_bomb() -> bytes:
    """A 1-page PDF of about 5 MB whose page content inflates to 1 GiB (the issue's bomb)."""
    return _one_page(_stream(b"/Filter /FlateDecode", _deflated(b" " * (1 << 24), 64)))


def image_bomb() -> bytes:
    """An image that declares 60,000 × 60,000 pixels (10.8 GB decoded) in a few bytes of JPEG."""
    return _one_page(_stream(b"", b"q 595 0 0 842 0 0 cm /Im1 Do Q"), b"/XObject << /Im1 5 0 R >>",
                     [_stream(b"/Type /XObject /Subtype /Image /Width 60000 /Height 60000 /ColorSpace /DeviceRGB "
                              b"/BitsPerComponent 8 /Filter /DCTDecode", b"\xff\xd8\xff\xd9")])


def slow_document(depth: int = 30) -> bytes:
    """Form XObjects each drawing the next twice: a few hundred bytes that the text reader would draw 2³⁰ times."""
    forms = [_stream(b"/Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources << /XObject << /X %d 0 R >> >>"
                     % (number + 1), b"/X Do /X Do") for number in range(5, 4 + depth)]
    forms.append(_stream(b"/Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >>"
                         % (5 + depth), b"BT /F1 12 Tf 72 720 Td (Loan Agreement) Tj ET"))
    return _one_page(_stream(b"", b"/X Do"), b"/XObject << /X 5 0 R >>",
                     [*forms, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"])


def memory_hungry_document() -> bytes:
    """An object stream that inflates to 240 MB (within the inflation limit, beyond the worker's memory)."""
    packed = _deflated(b" " * (1 << 20), 240)
    return _one_page(_stream(b"", b"BT ET"), extra=[_stream(b"/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode",
                                                            packed)])


def with_writer(pdf: bytes, change) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def with_javascript(pdf: bytes) -> bytes:
    from pypdf.actions import JavaScript

    return with_writer(pdf, lambda w: w.add_open_action(JavaScript("app.launchURL('http://example.invalid/');")))


def with_attachment(pdf: bytes) -> bytes:
    return with_writer(pdf, lambda w: w.add_attachment("付款指令.exe", b"MZ" + bytes(512)))


def with_launch_action(pdf: bytes) -> bytes:
    from pypdf.generic import DictionaryObject, NameObject, TextStringObject

    def launch(writer):
        writer._root_object[NameObject("/OpenAction")] = DictionaryObject({
            NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("cmd.exe")})
    return with_writer(pdf, launch)


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _frame(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)


# --- the month runs ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample():
    from plugins.config import load_config
    from plugins.documents.render import render_document
    from plugins.ingest import month_end
    from plugins.sample import core_extract, csv_bytes, documents_for_month, generate_portfolio

    s = load_config().sample
    portfolio = generate_portfolio(seed=s.seed, start=s.start, end=s.end, n_borrowers=BORROWERS,
                                   n_contracts=CONTRACTS)
    months = {}
    for month in (DOCS_MONTH, TABLES_MONTH):
        tables = {name: csv_bytes(frame) for name, frame in core_extract(portfolio, month_end(month)).items()}
        documents = [(spec, render_document(spec)) for spec in documents_for_month(portfolio, month)]
        months[month] = (tables, documents)
    return months


@pytest.fixture(scope="module")
def runs(s3_env, sample, tmp_path_factory):
    """The two months delivered and run once each, under the test configuration; the inbox is emptied after."""
    from dagster import DagsterInstance

    from pipelines import cli
    from plugins.archive import ObjectStore, s3_settings
    from plugins.config import DEFAULT_CONFIG_DIR, load_config

    config_dir = tmp_path_factory.mktemp("bad-input") / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config_dir)
    documents_yaml = config_dir / "documents.yaml"
    text = documents_yaml.read_text(encoding="utf-8")
    text = text.replace("  seconds: 60\n", f"  seconds: {TRIAGE_SECONDS}\n")
    text = text.replace("  memory_mib: 2048\n", f"  memory_mib: {TRIAGE_MEMORY_MIB}\n")
    documents_yaml.write_text(text, encoding="utf-8")
    schema_yaml = config_dir / "schema.yaml"
    schema_yaml.write_text(schema_yaml.read_text(encoding="utf-8").replace(
        "  tables: {}\n", "  tables: {collateral: {encoding: utf-8}, external_overdue_share: {max_rows: 100}}\n"),
        encoding="utf-8")

    with pytest.MonkeyPatch.context() as env:
        env.setenv("POSTLOAN_CONFIG_DIR", str(config_dir))
        env.setenv("POSTLOAN_BUCKET_WORK", WORK_BUCKET)
        cfg = load_config(config_dir)  # what the run's resources load, through POSTLOAN_CONFIG_DIR
        assert cfg.documents.triage.seconds == TRIAGE_SECONDS and cfg.extract_schema.reading.tables
        store = ObjectStore(s3_settings(cfg.storage))
        store.ensure_buckets()
        instance = DagsterInstance.ephemeral()
        out = {"store": store, "cfg": cfg}
        try:
            deliveries = {DOCS_MONTH: _docs_month(store, *sample[DOCS_MONTH]),
                          TABLES_MONTH: _tables_month(store, *sample[TABLES_MONTH])}
            for month, delivery in deliveries.items():
                started = time.monotonic()
                result = cli.run_job("monthly_post_loan", month, instance)
                out[month] = {"result": result, "seconds": time.monotonic() - started, **delivery}

            yield out
        finally:  # other suites deliver these months again: leave them an empty inbox
            for month in (DOCS_MONTH, TABLES_MONTH):
                for prefix in (f"core/{month}/", f"documents/{month}/"):
                    for key in store.list_keys(store.settings.inbox_bucket, prefix):
                        store.client.remove_object(store.settings.inbox_bucket, key)


def _deliver(store, month: str, tables: dict[str, bytes], documents: list[tuple[dict, bytes]],
             manifest: bytes | None = None, extra_files: dict[str, bytes] | None = None) -> None:
    from plugins.inbox import deliver

    deliver(store, month, tables, documents)
    bucket = store.settings.inbox_bucket
    for name, data in (extra_files or {}).items():
        store.put(bucket, f"documents/{month}/{name}", data, "application/pdf")
    if manifest is not None:
        store.put(bucket, f"documents/{month}/manifest.csv", manifest, "text/csv")


# The bad documents of DOCS_MONTH: file name → (how it is made from a good contract, expected reason code)
BAD_DOCUMENTS = {
    "HT2026-9001_借款合同_膨胀.pdf": (lambda good: decompression_bomb(), "resource_limit"),
    "HT2026-9002_借款合同_大图.pdf": (lambda good: image_bomb(), "resource_limit"),
    "HT2026-9003_借款合同_慢.pdf": (lambda good: slow_document(), "resource_limit"),
    "HT2026-9004_借款合同_内存.pdf": (lambda good: memory_hungry_document(), "resource_limit"),
    "HT2026-9005_借款合同_脚本.pdf": (with_javascript, "active_content"),
    "HT2026-9006_借款合同_附件.pdf": (with_attachment, "active_content"),
    "HT2026-9007_借款合同_启动.pdf": (with_launch_action, "active_content"),
    "HT2026-9008_借款合同_截断.pdf": (lambda good: good[: len(good) // 2], "corrupt"),
    "HT2026-9009_借款合同_加密.pdf": (None, "encrypted"),  # made below: encrypt_pdf with a user password
    "HT2026-9010_借款合同_空.pdf": (lambda good: b"", "empty"),
    "HT2026-9011_借款合同_图片.pdf": (lambda good: b"\x89PNG\r\n\x1a\n" + bytes(64), "not_pdf"),
}
MANIFEST_HEADER = "file_name,declared_class,borrower_id,contract_id,period,received_date"
UNSAFE_ENTRIES = {  # manifest line (without its line end) → the entry as the ingest row shows it
    "traversal": ("../../core/2026-06/loans.csv,loan_contract,B0001,HT2026-0001,2026-06,2026-06-03",
                  "../../core/2026-06/loans.csv"),
    "control": ('"HT2026-9020_借款合同\a\n.pdf",loan_contract,B0001,HT2026-0001,2026-06,2026-06-03',
                "HT2026-9020_借款合同\\x07\\x0a.pdf"),
    "bidi": ("HT2026-9021_合同\u202efdp.exe,loan_contract,B0001,HT2026-0001,2026-06,2026-06-03",
             "HT2026-9021_合同\\u202efdp.exe"),
}
UNDECODABLE_ENTRY = b"HT2026-9022_\xff\xfe\xb5\xe7.pdf,loan_contract,B0001,HT2026-0001,2026-06,2026-06-03"
BAD_FIELD_FILE, MISSING_FILE, UNLISTED_FILE = "HT2026-9030_借款合同.pdf", "HT2026-9031_借款合同.pdf", "未列明_9032.pdf"


def _docs_month(store, tables: dict[str, bytes], documents: list[tuple[dict, bytes]]) -> dict:
    """Good tables delivered unusually (accepted), and every kind of bad document and manifest entry."""
    from plugins.documents import encrypt_pdf
    from plugins.inbox import manifest_bytes

    month = DOCS_MONTH
    variant = dict(tables)
    variant["loans"] = tables["loans"].decode("utf-8").encode("gb18030")          # legacy encoding (detected)
    variant["borrowers"] = b"\xef\xbb\xbf" + tables["borrowers"]                  # UTF-8 byte-order mark
    variant["schedules"] = tables["schedules"].replace(b"\n", b"\r\n")            # Windows line ends
    collateral = _frame(tables["collateral"])
    collateral["appraiser_note"] = "复核"                                          # a column nobody declared
    variant["collateral"] = _csv(collateral)
    variant["loans_backup"] = tables["loans"]                                     # a file nobody reads
    good_spec, good = next((s, d) for s, d in documents if s["declared_class"] == "loan_contract"
                           and s.get("kind") != "bad")
    bad = []
    for name, (make, _) in BAD_DOCUMENTS.items():
        data = encrypt_pdf(good, "borrower-secret", "owner-secret") if make is None else make(good)
        bad.append(({**good_spec, "file_name": name}, data))
    bad.append(({**good_spec, "file_name": BAD_FIELD_FILE}, good + b"\n% delivered again\n"))  # bytes of its own
    rows = [spec for spec, _ in documents + bad]
    duplicate = min(rows, key=lambda r: r["file_name"])  # the manifest's first row (manifest_bytes sorts by name)
    manifest = manifest_bytes(rows).decode("utf-8").rstrip("\n").split("\n")
    manifest = [(line.rsplit(",", 1)[0] + ",2026-06-31") if line.startswith(BAD_FIELD_FILE) else line
                for line in manifest]
    manifest += [entry for entry, _ in UNSAFE_ENTRIES.values()]
    manifest += [manifest_bytes([duplicate]).decode("utf-8").split("\n")[1]]     # the first document again
    manifest += [f"{MISSING_FILE},loan_contract,{good_spec['borrower_id']},{good_spec['contract_id']},{month},"]
    data = ("\n".join(manifest) + "\n").encode("utf-8") + UNDECODABLE_ENTRY + b"\n"
    _deliver(store, month, variant, documents + bad, manifest=data, extra_files={UNLISTED_FILE: good})
    return {"tables": tables, "documents": documents, "bad": {spec["file_name"]: data for spec, data in bad}, "duplicate": duplicate["file_name"]}


def _tables_month(store, tables: dict[str, bytes], documents: list[tuple[dict, bytes]]) -> dict:
    """A bad kind in every table file at once, and bad rows in the loans; the gate must name each."""
    from plugins.ingest import month_end

    month = TABLES_MONTH
    bad = dict(tables)
    bad["borrowers"] = tables["borrowers"].replace(b",", b";")                       # wrong delimiter
    loans = _frame(tables["loans"])
    on_book = loans[(loans["status"] == "正常") & (loans["written_off_on"] == "")]
    future, negative, duplicated, impossible = on_book["contract_id"].iloc[:4]
    start = (month_end(month) + timedelta(days=20)).isoformat()
    loans.loc[loans["contract_id"] == future, ["start_date", "original_maturity_date", "maturity_date"]] = \
        [start, "2029-12-31", "2029-12-31"]                                           # starts after the month end
    loans.loc[loans["contract_id"] == negative, "outstanding_principal"] = "-1000.00"  # a negative balance
    loans.loc[loans["contract_id"] == impossible, "maturity_date"] = "2026-02-30"     # no such date (it crashed
    # the month's documents once: their retention reads the maturity)
    loans = pd.concat([loans, loans[loans["contract_id"] == duplicated]], ignore_index=True)  # a key twice
    bad["loans"] = _csv(loans)
    bad["schedules"] = tables["schedules"].split(b"\n", 1)[0] + b"\n"               # a header and no rows
    bad["payments"] = _csv(_frame(tables["payments"]).drop(columns=["paid_date"]))   # a column short
    bad["collateral"] = tables["collateral"].decode("utf-8").encode("gb18030")       # declared utf-8 (schema.yaml)
    bad["guarantors"] = b""                                                           # empty
    bad["overrides"] = "contract_id,tier,reason,approved_by\n".encode("utf-16")       # UTF-16
    bad["external_overdue_share"] = ("borrower_id,overdue_90_share\n" + "".join(
        f"B{i:04d},0.0\n" for i in range(1, 152))).encode()                            # 151 rows > 100 (schema.yaml)
    impairment = ("contract_id,credit_impaired,borrower_in_liquidation,assessed_loss_ratio,assessed_by,assessed_on\n"
                  f"{duplicated},true,false,0.3,信用审批委员会,2026-05-10\n").encode("utf-8")
    at = impairment.index("委".encode("utf-8"))
    bad["impairment"] = impairment[:at + 1] + b"A" + impairment[at + 2:]              # one damaged byte
    header, rest = tables["inspections"].split(b"\n", 1)
    bad["inspections"] = header + b",finding\n" + b"\n".join(line + b"," if line else line
                                                               for line in rest.split(b"\n"))  # finding twice
    lines = tables["collections"].split(b"\n")
    lines[3] += b",extra,fields"
    bad["collections"] = b"\n".join(lines)                                             # a row too long
    _deliver(store, month, bad, documents)
    return {"future": future, "negative": negative, "duplicated": duplicated, "impossible": impossible,
            "documents": documents, "loans_csv": bad["loans"]}


# --- helpers on results -------------------------------------------------------------------------------------

def _gate(result):
    [gate] = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
              and e.event_specific_data.check_name == "core_extract_quality"]
    return gate


def _materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def _rows(result) -> dict[str, dict]:
    frame = result.asset_value("inbox_documents")
    return {row["file_name"]: row for row in frame.to_dict("records")}


def _evidence(runs, month: str) -> dict:
    store = runs["store"]
    bucket = store.settings.archive_bucket
    [key] = [k for k in store.list_keys(bucket, f"reports/validation_result/{month}/") if k.endswith(".json")]
    return json.loads(store.get(bucket, key))


def _documents_archived_anyway(runs, month: str) -> None:
    """A blocked month still archives every good document it delivered, and publishes the gate's evidence."""
    run = runs[month]
    result = run["result"]
    assert not result.success
    rows = _rows(result)
    good = [spec["file_name"] for spec, _ in run["documents"] if spec.get("kind") != "bad"]
    assert good and all(rows[name]["status"] == "archived" for name in good)
    assert {"inbox_documents", "data_quality_evidence", "core_system_extract"} <= _materialized(result)
    assert not _materialized(result) & {"core_tables", "loan_classification", "loan_provisions",
                                         "published_management_report"}
    assert not any(e.event_type_value == "STEP_FAILURE" and e.step_key not in ("core_system_extract_core_extract_quality",)
                   for e in result.all_events), [e.step_key for e in result.all_events
                                                  if e.event_type_value == "STEP_FAILURE"]


# --- DOCS_MONTH: every bad document is quarantined or refused, and the month publishes -------------------

def test_the_month_with_every_bad_document_publishes_its_reports(runs):
    run = runs[DOCS_MONTH]
    result = run["result"]
    assert _gate(result).passed
    assert {"loan_classification", "loan_provisions", "published_management_report",
            "published_loan_classification", "data_quality_evidence"} <= _materialized(result)
    published = result.asset_value("published_management_report")
    assert any(f["file"].endswith(".pdf") for f in published["files"])
    # the good documents of the month are archived as ever
    frame = result.asset_value("inbox_documents")
    for spec, _ in run["documents"]:
        if spec.get("kind") != "bad":
            assert "archived" in set(frame.loc[frame["file_name"] == spec["file_name"], "status"]), spec["file_name"]
    # and no document, however bad, took the run long: the slow one was stopped at its limit
    assert run["seconds"] < 240


@pytest.mark.parametrize("name", list(BAD_DOCUMENTS))
def test_each_bad_document_is_quarantined_with_a_reason_naming_what_is_wrong(runs, name):
    result = runs[DOCS_MONTH]["result"]
    row = _rows(result)[name]
    code = BAD_DOCUMENTS[name][1]
    assert (row["status"], row["reason_code"]) == ("quarantined", code), row["reason"]
    assert row["reason"].startswith(f"{code}: ")
    store = runs["store"]
    assert row["object_key"].startswith("quarantine/") and store.exists(store.settings.archive_bucket,
                                                                        row["object_key"])
    assert store.get(store.settings.archive_bucket, row["object_key"]) == runs[DOCS_MONTH]["bad"][name]


def test_a_decompression_bomb_is_quarantined_as_soon_as_it_inflates_past_the_limit(runs):
    row = _rows(runs[DOCS_MONTH]["result"])["HT2026-9001_借款合同_膨胀.pdf"]
    assert "inflate to more than 268,435,456 bytes" in row["reason"] and "decompression bomb" in row["reason"]
    assert "triage.max_decompressed_bytes" in row["reason"]


def test_an_image_declaring_billions_of_pixels_is_quarantined_before_it_is_decoded(runs):
    row = _rows(runs[DOCS_MONTH]["result"])["HT2026-9002_借款合同_大图.pdf"]
    assert "60,000 × 60,000 pixels exceeds the limit of 200,000,000 pixels" in row["reason"]


def test_a_slow_document_is_stopped_at_the_time_limit(runs):
    row = _rows(runs[DOCS_MONTH]["result"])["HT2026-9003_借款合同_慢.pdf"]
    # its drawing also grows the worker's memory: on a fast machine the memory limit strikes before the time
    # limit; either way the document is stopped and quarantined unread, the limit named
    assert row["reason"] in (f"resource_limit: triage took longer than {TRIAGE_SECONDS} s (documents.yaml "
                             "triage.seconds) and was stopped; quarantined unread",
                             f"resource_limit: triage needed more than {TRIAGE_MEMORY_MIB} MiB of memory "
                             "(documents.yaml triage.memory_mib) and was stopped; quarantined unread")


def test_a_memory_hungry_document_is_stopped_at_the_memory_limit(runs):
    row = _rows(runs[DOCS_MONTH]["result"])["HT2026-9004_借款合同_内存.pdf"]
    assert row["reason"] == (f"resource_limit: triage needed more than {TRIAGE_MEMORY_MIB} MiB of memory "
                             "(documents.yaml triage.memory_mib) and was stopped; quarantined unread")


@pytest.mark.parametrize("name, carries", [
    ("HT2026-9005_借款合同_脚本.pdf", "JavaScript"),
    ("HT2026-9006_借款合同_附件.pdf", "an embedded file"),
    ("HT2026-9007_借款合同_启动.pdf", "an OpenAction that runs a launch action"),
])
def test_active_content_is_quarantined_for_review_naming_what_it_carries(runs, name, carries):
    row = _rows(runs[DOCS_MONTH]["result"])[name]
    assert row["reason"].startswith("active_content: the PDF carries ") and carries in row["reason"]
    assert row["reason"].endswith("quarantined for review, not read (documents.yaml triage.active_content: "
                                  "quarantine)")


@pytest.mark.parametrize("kind", list(UNSAFE_ENTRIES))
def test_an_unsafe_manifest_name_is_refused_naming_the_entry_and_its_line(runs, kind):
    shown = UNSAFE_ENTRIES[kind][1]
    row = _rows(runs[DOCS_MONTH]["result"])[shown]
    assert (row["status"], row["reason_code"]) == ("refused", "unsafe_name") and pd.isna(row["object_key"])
    assert f"lists '{shown}'" in row["reason"] and "manifest.csv line " in row["reason"]
    assert row["reason"].endswith("refused, the file is not read")


def test_a_manifest_name_that_is_not_utf8_is_refused_with_its_bytes_shown(runs):
    shown = "HT2026-9022_\\xff\\xfe\\xb5\\xe7.pdf"
    row = _rows(runs[DOCS_MONTH]["result"])[shown]
    assert (row["status"], row["reason_code"]) == ("refused", "unsafe_name")
    assert "its bytes are not UTF-8" in row["reason"]


def test_a_bad_manifest_field_quarantines_that_file_alone_with_the_line_and_field(runs):
    row = _rows(runs[DOCS_MONTH]["result"])[BAD_FIELD_FILE]
    assert (row["status"], row["reason_code"]) == ("quarantined", "bad_manifest_row")
    assert "received_date '2026-06-31' is not a date (YYYY-MM-DD)" in row["reason"]
    assert f"({BAD_FIELD_FILE})" in row["reason"] and "manifest.csv line " in row["reason"]


def test_a_duplicate_manifest_entry_is_refused_and_the_first_one_read(runs):
    run = runs[DOCS_MONTH]
    frame = run["result"].asset_value("inbox_documents")
    entries = frame[frame["file_name"] == run["duplicate"]]
    assert len(entries) == 2 and list(entries["status"]).count("refused") == 1
    refused = entries[entries["status"] == "refused"].iloc[0]
    assert refused["reason_code"] == "duplicate_entry" and "(first on line 2)" in refused["reason"]


def test_a_listed_file_that_was_not_delivered_is_missing_and_an_unlisted_one_refused(runs):
    rows = _rows(runs[DOCS_MONTH]["result"])
    assert (rows[MISSING_FILE]["status"], rows[MISSING_FILE]["reason_code"]) == ("missing", "missing")
    unlisted = rows[UNLISTED_FILE]
    assert (unlisted["status"], unlisted["reason_code"]) == ("refused", "unlisted")
    assert f"documents/{DOCS_MONTH}/{UNLISTED_FILE} is in the inbox but manifest.csv does not list it" \
        in unlisted["reason"]


def test_tables_in_gb18030_with_a_bom_or_crlf_read_as_their_utf8_originals(runs):
    from plugins.portfolio.loanbook import read_csv_bytes

    run = runs[DOCS_MONTH]
    extract = run["result"].asset_value("core_system_extract")
    for name in ("loans", "borrowers", "schedules"):
        assert extract[name].equals(read_csv_bytes(run["tables"][name])), name
    [materialization] = run["result"].asset_materializations_for_node("core_system_extract")
    assert materialization.metadata["encodings"].value["loans"] == "gb18030"
    classified = run["result"].asset_value("loan_classification")
    assert len(classified) > 100


def test_an_extra_column_and_an_extra_file_are_warnings_naming_the_file(runs):
    gate = _gate(runs[DOCS_MONTH]["result"])
    summary = gate.metadata["summary"].value
    assert "warning: collateral.csv: column(s) 'appraiser_note' not declared in config/schema.yaml or " \
           "config/validation.yaml; kept as text, not used" in summary
    assert "warning: loans_backup.csv: not a table the pipeline reads" in summary


# --- TABLES_MONTH(_2): bad tables block the gate naming the file; documents and evidence go on -----------

def test_a_month_of_bad_tables_is_blocked_while_its_documents_are_archived(runs):
    _documents_archived_anyway(runs, TABLES_MONTH)


BLOCKED = {  # kind → (the gate's key, text its reason holds)
    "empty table": ("guarantors.csv:empty", "guarantors.csv: the file is empty (0 bytes)"),
    "column short": ("payments.csv:missing_columns",
                     "payments.csv: lacks the column(s) paid_date (config/validation.yaml frames.payments)"),
    "damaged utf-8": ("impairment.csv:undecodable", "impairment.csv: UTF-8 text with bytes that are not UTF-8 ("),
    "utf-16": ("overrides.csv:undecodable",
               "overrides.csv: UTF-16 text (it starts with the byte-order mark FF FE); deliver it as UTF-8 or GB18030"),
    "too many rows": ("external_overdue_share.csv:too_many_rows",
                      "external_overdue_share.csv: 151 data lines exceed the limit of 100 rows"),
    "duplicate header": ("inspections.csv:duplicate_columns",
                         "inspections.csv: the header names 'finding' more than once"),
    "row too long": ("collections.csv:malformed", "collections.csv: line 4 has 7 fields where the header has 5"),
    "wrong delimiter": ("borrowers.csv:wrong_delimiter", "borrowers.csv: the header is one column ('borrower_id;name;"),
    "declared utf-8, delivered gb18030": (
        "collateral.csv:undecodable", "collateral.csv: not UTF-8 text, as declared in config/schema.yaml reading: "
                                      "byte 0x"),
}


@pytest.mark.parametrize("kind", list(BLOCKED))
def test_each_unreadable_table_blocks_the_gate_naming_the_file_and_the_problem(runs, kind):
    month = TABLES_MONTH
    key, text = BLOCKED[kind]
    gate = _gate(runs[month]["result"])
    assert not gate.passed
    failing = gate.metadata["failing_rows"].value
    assert key in failing, sorted(failing)
    assert text in gate.metadata["summary"].value
    # the archived evidence says the same, and the file was archived as delivered (nothing is lost)
    assert any(text in line for line in _evidence(runs, month)["summary"]["findings"])
    hashes = runs[month]["result"].asset_materializations_for_node("core_system_extract")[0].metadata["sha256"].value
    assert key.split(":")[0].removesuffix(".csv") in hashes


def test_the_gb18030_table_declared_utf8_says_how_to_read_it(runs):
    summary = _gate(runs[TABLES_MONTH]["result"]).metadata["summary"].value
    assert "it reads as GB18030: declare encoding: gb18030 for it under reading in config/schema.yaml" in summary


def test_a_table_with_a_header_and_no_rows_blocks_the_month(runs):
    gate = _gate(runs[TABLES_MONTH]["result"])
    assert "schedules.csv: 'at least one instalment delivered' fails (expect_table_row_count_to_be_between)" \
        in gate.metadata["summary"].value


def test_a_start_date_after_the_month_end_blocks_the_month_naming_the_loan(runs):
    run = runs[TABLES_MONTH]
    failing = _gate(run["result"]).metadata["failing_rows"].value
    assert failing["loans.csv:expect_column_values_to_be_between:start_date"] == [run["future"]]
    assert f"loans.csv: 1 row fails 'start date not after the month end (a loan not yet disbursed is not on the " \
           f"month-end book)' (expect_column_values_to_be_between on start_date): {run['future']}" \
           in _gate(run["result"]).metadata["summary"].value


def test_a_negative_balance_blocks_the_month_naming_the_loan(runs):
    run = runs[TABLES_MONTH]
    failing = _gate(run["result"]).metadata["failing_rows"].value
    assert failing["loans.csv:expect_column_values_to_be_between:outstanding_principal"] == [run["negative"]]


def test_duplicate_key_rows_block_the_month_naming_the_key(runs):
    run = runs[TABLES_MONTH]
    failing = _gate(run["result"]).metadata["failing_rows"].value
    assert failing["loans.csv:expect_column_values_to_be_unique:contract_id"] == [run["duplicated"]]


def test_a_date_that_does_not_exist_blocks_naming_file_column_and_row(runs):
    run = runs[TABLES_MONTH]
    gate = _gate(run["result"])
    loans = _frame(run["loans_csv"])
    row = int(loans.index[loans["contract_id"] == run["impossible"]][0]) + 1
    assert gate.metadata["failing_rows"].value["loans.csv:declared_type:maturity_date"] == [f"row {row}"]
    assert f"loans.csv: column 'maturity_date' should be an ISO date (YYYY-MM-DD), but is not at row {row} " \
           "('2026-02-30')" in gate.metadata["summary"].value
    # and the month's documents were triaged and archived all the same (test_a_month_of_bad_tables_...)


# --- fast, on the real parts without a month run -------------------------------------------------------------

IN_PROCESS = {  # kind → (the gate's key, text its reason holds)
    "not delivered": ("guarantors.csv:not_delivered", "guarantors.csv: not delivered"),
    "binary": ("overrides.csv:binary", "overrides.csv: holds NUL bytes (first on line 1): a binary file or UTF-16 "
                                       "text, not CSV text"),
    "truncated row": ("impairment.csv:short_rows", "impairment.csv: row 2 (data rows, after the header) has fewer "
                                                   "fields than the header's 6: a truncated file or a lost delimiter"),
}


@pytest.fixture(scope="module")
def gate_in_process(sample):
    """The reader, the GX suites and the gate's own function on one more bad delivery, without a month run."""
    from dagster import build_asset_check_context

    from assets.ingest import core_extract_quality
    from pipelines.resources import PostloanConfigResource
    from plugins.config import EXTRACT_TABLES, load_config
    from plugins.ingest import extract_value, known_columns, read_delivered_tables, readable_tables
    from plugins.validation import load_validation_config

    tables = {name: data for name, data in sample[TABLES_MONTH][0].items() if name != "guarantors"}
    tables["overrides"] = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(40)              # a zip
    loans = _frame(tables["loans"])
    tables["impairment"] = ("contract_id,credit_impaired,borrower_in_liquidation,assessed_loss_ratio,assessed_by,"
                            f"assessed_on\n{loans['contract_id'].iloc[0]},true,false,0.3,信用审批委员会,2026-05-10\n"
                            f"{loans['contract_id'].iloc[1]},true,fal").encode()                # cut mid-row
    cfg = load_config()
    rules = load_validation_config(cfg.config_dir / "validation.yaml")
    read = read_delivered_tables(tables, cfg.extract_schema.reading, required=EXTRACT_TABLES,
                                 known_columns=known_columns(cfg.extract_schema, rules), known_tables=readable_tables())
    return core_extract_quality(build_asset_check_context(), core_system_extract=extract_value(read),
                                config=PostloanConfigResource())


@pytest.mark.parametrize("kind", list(IN_PROCESS))
def test_a_table_not_delivered_binary_or_truncated_blocks_the_gate_naming_the_file(gate_in_process, kind):
    key, text = IN_PROCESS[kind]
    assert not gate_in_process.passed
    assert key in gate_in_process.metadata["failing_rows"].value
    assert text in gate_in_process.metadata["summary"].value


def test_the_bomb_is_quarantined_again_on_a_rerun_at_once_and_stored_once(s3_server, tmp_path, config):
    from plugins.inbox import InboxDocument
    from plugins.ingest import ingest_documents
    from tests.archive_support import isolated_archive

    archive = isolated_archive(s3_server, f"sqlite:///{tmp_path / 'catalog.sqlite'}", config.retention)
    bomb = decompression_bomb()
    doc = InboxDocument("bomb.pdf", "loan_contract", "B0001", "HT2026-0001", "2026-09", date(2026, 9, 3))
    first = ingest_documents([(doc, bomb)], archive, config.documents, {})
    started = time.monotonic()
    again = ingest_documents([(doc, bomb)], archive, config.documents, {})
    assert time.monotonic() - started < 30
    assert list(first["reason_code"]) == list(again["reason_code"]) == ["resource_limit"]
    assert bool(first["new_object"].iloc[0]) and not bool(again["new_object"].iloc[0])


def test_with_active_content_flag_the_document_is_archived_with_its_finding(s3_server, tmp_path, config):
    from plugins.documents.render import render_document
    from plugins.inbox import InboxDocument
    from plugins.ingest import ingest_documents
    from plugins.sample import generate_portfolio
    from tests.archive_support import isolated_archive

    s = config.sample
    spec = next(d for d in generate_portfolio(s.seed, s.start, s.end, s.borrowers, s.contracts).document_specs
                if d["declared_class"] == "loan_contract" and d.get("kind") != "bad")
    flagged = config.documents.model_copy(update={"triage": config.documents.triage.model_copy(
        update={"active_content": "flag"})})
    archive = isolated_archive(s3_server, f"sqlite:///{tmp_path / 'catalog.sqlite'}", config.retention)
    doc = InboxDocument(spec["file_name"], "loan_contract", spec["borrower_id"], spec["contract_id"], "2026-09", None)
    [row] = ingest_documents([(doc, with_javascript(render_document(spec)))], archive, flagged, {}).to_dict("records")
    assert (row["status"], row["reason_code"]) == ("archived", "active_content")
    assert row["reason"].startswith("active_content: the PDF carries ") and "JavaScript" in row["reason"]


def test_a_manifest_without_file_names_refuses_itself_not_the_run():
    from plugins.inbox import parse_manifest

    [row] = parse_manifest("name,class\na.pdf,loan_contract\n".encode(), "2026-09")
    assert (row.file_name, row.problem, row.read) == ("manifest.csv", "bad_manifest", False)
    assert "the header of manifest.csv ('name,class') lacks file_name, declared_class" in row.reason


@pytest.mark.slow
def test_the_corpus_passes_the_structure_limits_unflagged():
    # The limits must not refuse real documents: every statement and contract of the corpus, as shipped.
    from pathlib import Path

    from pypdf import PdfReader

    from plugins.config import load_config
    from plugins.documents.triage import scan_structure

    limits = load_config().documents.triage
    corpus = sorted(Path("/work/shared/corpus").glob("*/*.pdf"))
    if not corpus:
        pytest.skip("corpus not available")
    for path in corpus:
        reader = PdfReader(io.BytesIO(path.read_bytes()), strict=False)
        if reader.is_encrypted:
            reader.decrypt("")
        assert scan_structure(reader, limits) == (None, []), path.name
