"""Ingest one month's delivery: documents triaged (archive the good, quarantine the bad with its reason) and
table files read defensively (`read_delivered_tables`: what cannot be read is a problem naming the file, for
the data-quality gate). Every kind of bad input and its outcome: docs/bad-input.md.

Each document is triaged in a worker process under config/documents.yaml `triage` limits. With ocr.enabled (config/documents.yaml) an image-only document is triaged again by OCR
(plugins.documents.ocr.triage_scan) and archived when it reads as the declared loan or lease contract;
its row then says read_by "ocr", which contract extraction follows."""
from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from plugins.archive import Archive, DocumentMeta
from plugins.config import Documents
from plugins.inbox import InboxDocument
from plugins.validation.outcome import FileProblem

INGEST_COLUMNS = ["file_name", "declared_class", "doc_class", "borrower_id", "contract_id", "period", "status",
                  "reason_code", "reason", "sha256", "size", "page_count", "object_key", "new_object", "read_by"]
# read_by of an archived document: "text_layer" (its text is printed in the PDF) or "ocr" (image-only: its text is
# read by the OCR extractor); None for a document not archived.


def month_end(month: str) -> date:
    year, mon = (int(p) for p in month.split("-"))
    following = date(year + (mon == 12), mon % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def ingest_documents(
    documents: Iterable[tuple[InboxDocument, bytes | None]],
    archive: Archive,
    limits: Documents,
    maturities: dict[str, date],
    progress: Callable[[int, int, str], None] = lambda i, n, msg: None,
) -> pd.DataFrame:
    """One row per document of the delivery, whether archived now, archived before, or quarantined; a manifest
    entry refused unread (plugins.inbox.read_documents) is a row with status refused and its reason.

    Each document is triaged in a worker process under config/documents.yaml `triage` limits
    (plugins.documents.triage.TriageWorker): one over a limit is quarantined as resource_limit, and the next
    document is read by a fresh worker."""
    from plugins.documents.triage import TriageWorker

    items = list(documents)
    rows = []
    with TriageWorker(limits.triage) as worker:
        for index, (doc, data) in enumerate(items, start=1):
            if doc.problem and not doc.read:
                rows.append(_row(doc, status="refused", reason_code=doc.problem, reason=doc.reason))
                progress(index, len(items), f"{doc.file_name}: refused ({doc.problem})")
                continue
            if data is None:
                rows.append(_row(doc, status="missing", reason_code="missing",
                                 reason=f"missing: the manifest lists {doc.file_name} but the inbox has no such file"))
                progress(index, len(items), f"{doc.file_name}: missing")
                continue
            rows.append(_ingest_one(doc, data, archive, limits, maturities, worker, index, len(items), progress))
    frame = pd.DataFrame(rows, columns=INGEST_COLUMNS)
    return frame.sort_values("file_name", ignore_index=True)


def _ingest_one(doc: InboxDocument, data: bytes, archive: Archive, limits: Documents, maturities: dict[str, date],
                worker, index: int, count: int, progress: Callable[[int, int, str], None]) -> dict:
    if doc.problem:  # a bad manifest field: the file is kept in quarantine with that reason, never triaged
        from plugins.documents.triage import Triage

        triage, image_only, engine = Triage(False, doc.problem, doc.reason, None, None), False, None
    else:
        triage = worker.inspect(data, doc.declared_class, limits.max_bytes, limits.max_pages)
        image_only, engine = triage.reason_code == "needs_ocr", None
        if image_only and limits.ocr.enabled:
            from plugins.documents.ocr import triage_scan

            scan = triage_scan(data, doc.declared_class, triage, limits.ocr)
            triage, engine = scan.triage, scan.engine
    meta = DocumentMeta(
        doc_class=doc.declared_class, original_name=doc.file_name, borrower_id=doc.borrower_id,
        contract_id=doc.contract_id, period=doc.period, received_date=doc.received_date,
        period_end=month_end(doc.period), maturity=maturities.get(doc.contract_id or ""),
        page_count=triage.page_count,
    )
    if triage.ok:
        record, new = archive.archive_document(data, meta)
    else:
        record, new = archive.quarantine_document(data, meta, triage.reason_code, triage.reason)
    flagged = triage.ok and triage.flag is not None and record.status == "archived"
    status, code, reason = record.status, record.reason_code, record.reason
    if doc.problem:  # never extracted on a bad row, even when the same bytes were archived before
        status, code, reason = "quarantined", doc.problem, doc.reason
    elif flagged:
        code, reason = "active_content", triage.flag
    row = _row(doc, status=status, reason_code=code, reason=reason,
               sha256=record.sha256, size=record.size, page_count=record.page_count,
               object_key=record.object_key, new_object=new,
               doc_class=triage.detected_class or doc.declared_class,
               read_by=None if status != "archived" else "ocr" if image_only else "text_layer")
    progress(index, count, f"{doc.file_name}: {status}"
             + (f" ({row['reason_code']})" if row["reason_code"] else "")
             + (f" (OCR by {engine})" if engine else ""))
    return row


def _row(doc: InboxDocument, **values) -> dict:
    base = {"file_name": doc.file_name, "declared_class": doc.declared_class, "doc_class": doc.declared_class,
            "borrower_id": doc.borrower_id, "contract_id": doc.contract_id, "period": doc.period,
            "reason_code": None, "reason": None, "sha256": None, "size": None, "page_count": None,
            "object_key": None, "new_object": False, "read_by": None}
    base.update(values)
    return base


# --- delivered tables, read defensively ------------------------------------------------------------------------
# Each core/<month>/<table>.csv is read by config/schema.yaml `reading` (encoding, delimiter, size limits). A file
# that cannot be read so is not guessed at: it becomes a TableProblem naming the file and what is wrong, which the
# data-quality gate (core_extract_quality) reports and blocks on, and the other tables are read as usual.

_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\x84\x31\x95\x33", "gb18030"))
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_DELIMITER_NAMES = {",": "','", ";": "';'", "|": "'|'", "\t": "a tab"}
_SHOWN = 5  # rows or lines named in a problem; the count says how many more


TableProblem = FileProblem  # a delivered file's problem, as the data-quality gate reports it


@dataclass(frozen=True)
class DeliveredTables:
    frames: dict[str, pd.DataFrame]   # the tables that could be read, all columns text, empty cells ''
    problems: list[TableProblem]
    encodings: dict[str, str]         # table → the encoding it was read in


def read_delivered_tables(tables: dict[str, bytes], reading, required: Iterable[str] = (),
                          known_columns: dict[str, set[str]] | None = None,
                          known_tables: Iterable[str] | None = None) -> DeliveredTables:
    """Read every delivered table by `reading` (schema.yaml); a required table not delivered is a problem too.
    `known_columns` (table → the columns schema.yaml and validation.yaml name) turns any other column into a
    warning; `known_tables` does the same for a delivered file the pipeline does not read."""
    frames, problems, encodings = {}, [], {}
    for name in required:
        if name not in tables:
            problems.append(TableProblem(f"{name}.csv", "not_delivered", f"{name}.csv: not delivered (the inbox "
                                         f"has no core/<month>/{name}.csv); the month cannot be classified without it"))
    known = set(known_tables) if known_tables is not None else None
    for name in sorted(tables):
        if known is not None and name not in known:
            problems.append(TableProblem(f"{name}.csv", "unknown_table", f"{name}.csv: not a table the pipeline "
                                         "reads (config/schema.yaml, config/validation.yaml); left in the inbox unread",
                                         severity="warning"))
            continue
        frame, encoding, found = read_table(name, tables[name], reading.for_table(name))
        problems.extend(found)
        if frame is not None:
            frames[name] = frame
            encodings[name] = encoding
            if known_columns and name in known_columns:
                problems.extend(_column_remarks(name, frame, known_columns[name]))
    return DeliveredTables(frames, problems, encodings)


def read_table(name: str, data: bytes, reading) -> tuple[pd.DataFrame | None, str | None, list[TableProblem]]:
    """(the table as text, the encoding it was read in, its problems): no frame when a problem blocks reading."""
    file = f"{name}.csv"

    def refuse(problem: str, detail: str, items: tuple[str, ...] = ()):
        return None, None, [TableProblem(file, problem, f"{file}: {detail}", items)]

    if not data:
        return refuse("empty", "the file is empty (0 bytes): not even a header row")
    if len(data) > reading.max_bytes:
        return refuse("too_large", f"{len(data):,} bytes exceed the limit of {reading.max_bytes:,} "
                      f"(config/schema.yaml reading max_bytes); not read")
    if data.startswith(_UTF16_BOMS):
        return refuse("undecodable", "UTF-16 text (it starts with the byte-order mark "
                      f"{data[:2].hex(' ').upper()}); deliver it as UTF-8 or GB18030")
    body, encoding = data, None
    for bom, bom_encoding in _BOMS:
        if data.startswith(bom):
            body, encoding = data[len(bom):], bom_encoding
    if b"\x00" in body:
        line = body.count(b"\n", 0, body.index(b"\x00")) + 1
        return refuse("binary", f"holds NUL bytes (first on line {line}): a binary file or UTF-16 text, "
                      "not CSV text", (f"line {line}",))
    if encoding is not None and reading.encoding not in ("detect", encoding):
        return refuse("undecodable", f"starts with the {encoding.upper()} byte-order mark but config/schema.yaml "
                      f"reading declares {reading.encoding.upper()} for it")
    encoding, trouble = _encoding(body, encoding or reading.encoding, declared=reading.encoding != "detect")
    if trouble:
        return refuse("undecodable", trouble[0], trouble[1])
    lines = body.count(b"\n") + (not body.endswith(b"\n"))
    if lines - 1 > reading.max_rows:
        return refuse("too_many_rows", f"{lines - 1:,} data lines exceed the limit of {reading.max_rows:,} rows "
                      f"(config/schema.yaml reading max_rows); not parsed")
    header = _header(body[:1 << 16], encoding, reading.delimiter)
    if not any(h.strip() for h in header):
        return refuse("no_header", "the first line is blank: no header row naming the columns")
    others = [d for d in _DELIMITER_NAMES if d != reading.delimiter and d in header[0]]
    if len(header) == 1 and others:
        return refuse("wrong_delimiter", f"the header is one column ({header[0][:60]!r}): its fields are separated "
                      f"by {_DELIMITER_NAMES[others[0]]}, not {_DELIMITER_NAMES[reading.delimiter]} "
                      "(config/schema.yaml reading delimiter)")
    seen, twice = set(), []
    for column in header:
        if column in seen and column not in twice:
            twice.append(column)
        seen.add(column)
    if twice:
        return refuse("duplicate_columns", f"the header names {', '.join(map(repr, twice))} more than once; "
                      "which one holds the values cannot be told", tuple(twice))
    try:
        frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False, encoding=encoding,
                            sep=reading.delimiter)
    except pd.errors.ParserError as exc:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if match:
            want, line, saw = match.groups()
            return refuse("malformed", f"line {line} has {saw} fields where the header has {want} (a delimiter "
                          "inside an unquoted value?)", (f"line {line}",))
        return refuse("malformed", f"cannot be parsed as CSV ({_first_line(exc)})")
    except Exception as exc:  # anything else pandas raises on a damaged file
        return refuse("malformed", f"cannot be parsed as CSV ({type(exc).__name__}: {_first_line(exc)})")
    short = _short_rows(body, encoding, reading.delimiter, len(frame.columns)) if len(frame) else []
    if len(short):
        rows = tuple(f"row {r}" for r in short)
        more = f" and {len(rows) - _SHOWN} more" if len(rows) > _SHOWN else ""
        shown = ", ".join(str(r) for r in short[:_SHOWN])
        return refuse("short_rows", f"{'rows' if len(rows) > 1 else 'row'} {shown}{more} (data rows, after the "
                      f"header) {'have' if len(rows) > 1 else 'has'} fewer fields than the header's "
                      f"{len(frame.columns)}: a truncated file or a lost delimiter", rows)
    return frame, encoding, []


def _short_rows(body: bytes, encoding: str, delimiter: str, width: int) -> list[int]:
    """Data rows (1-based, blank lines not counted, as pandas counts them) with fewer fields than the header:
    pandas fills the missing fields with '' unseen, so a truncated row would pass as empty cells."""
    if b'"' not in body and not (encoding == "gb18030" and delimiter == "|"):  # no quoting: count delimiters
        data = np.frombuffer(body, dtype=np.uint8)
        ends = np.flatnonzero(data == 10)
        if len(body) and body[-1:] != b"\n":
            ends = np.append(ends, len(body))
        starts = np.concatenate(([0], ends[:-1] + 1))
        counts = np.add.reduceat((data == ord(delimiter)).astype(np.int64), starts) if len(data) else np.array([])
        counts = np.where(starts < ends, counts, 0)
        # a line as long as its own line break (or nothing) is blank: pandas skips it
        blank = (ends - starts) - (np.frombuffer(body, np.uint8)[np.maximum(ends - 1, 0)] == 13) <= 0
        fields = counts[1:][~blank[1:]] + 1
        return (np.flatnonzero(fields < width) + 1).tolist()
    rows, number = [], 0
    for record in csv.reader(io.StringIO(body.decode(encoding)), delimiter=delimiter):
        if not record:
            continue
        if number and len(record) < width:
            rows.append(number)
        number += 1
    return rows


def _encoding(data: bytes, encoding: str, declared: bool) -> tuple[str, tuple[str, tuple[str, ...]] | None]:
    """(the encoding the bytes are read in, or the problem: its sentence and the line it names)."""
    if encoding != "detect":
        error = _decode_error(data, encoding)
        if error is None:
            return encoding, None
        where, line = _where(data, error)
        hint = ""
        if encoding == "utf-8" and _decode_error(data, "gb18030") is None:
            hint = "; it reads as GB18030: declare encoding: gb18030 for it under reading in config/schema.yaml"
        what = "as declared in config/schema.yaml reading" if declared else "as its byte-order mark says"
        return encoding, (f"not {encoding.upper()} text, {what}: {where}{hint}", (line,))
    error = _decode_error(data, "utf-8")
    if error is None:
        return "utf-8", None
    where, line = _where(data, error)
    text = data.decode("utf-8", errors="replace")
    damaged = text.count("\ufffd")
    if len(re.findall(r"[^\x00-\x7f\ufffd]", text)) >= damaged:  # mostly UTF-8: a damaged file, not another encoding
        return "utf-8", (f"UTF-8 text with bytes that are not UTF-8 ({damaged} place(s), the first {where}): a "
                         "damaged or truncated file, not read as another encoding; deliver it again", (line,))
    if _decode_error(data, "gb18030") is None:
        return "gb18030", None
    return "utf-8", (f"neither UTF-8 nor GB18030 text: {where}; declare its encoding under reading in "
                     "config/schema.yaml or deliver UTF-8", (line,))


def _decode_error(data: bytes, encoding: str) -> UnicodeDecodeError | None:
    decoder = codecs.getincrementaldecoder(encoding)()
    step, start, held = 1 << 22, 0, 0
    try:
        for start in range(0, len(data), step):
            held = len(decoder.getstate()[0])  # bytes of a character cut by the previous chunk
            decoder.decode(data[start:start + step], final=start + step >= len(data))
    except UnicodeDecodeError as exc:
        at = max(start - held + exc.start, 0)
        return UnicodeDecodeError(exc.encoding, data, at, at + 1, exc.reason)
    return None


def _where(data: bytes, error: UnicodeDecodeError) -> tuple[str, str]:
    offset = error.start
    line = data.count(b"\n", 0, offset) + 1
    return f"byte 0x{data[offset]:02x} at line {line} (offset {offset:,}) cannot be read", f"line {line}"


def _header(head: bytes, encoding: str, delimiter: str) -> list[str]:
    text = head.decode(encoding, errors="ignore")
    try:
        return next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    except csv.Error:
        return text.splitlines()[:1] or []


def _column_remarks(name: str, frame: pd.DataFrame, known: set[str]) -> list[TableProblem]:
    file = f"{name}.csv"
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed: ")]
    extra = [c for c in frame.columns if c not in known and c not in unnamed]
    remarks = []
    if extra:
        remarks.append(TableProblem(file, "extra_columns", f"{file}: column(s) {', '.join(map(repr, extra))} not "
                                    "declared in config/schema.yaml or config/validation.yaml; kept as text, not used",
                                    tuple(extra), "warning"))
    if unnamed:
        remarks.append(TableProblem(file, "unnamed_columns", f"{file}: {len(unnamed)} column(s) without a name in "
                                    "the header (a trailing delimiter?); kept as text, not used", tuple(unnamed),
                                    "warning"))
    return remarks


def _first_line(exc: Exception) -> str:
    return re.sub(r"\s+", " ", str(exc)).strip()[:200]


def contract_maturities(loans: pd.DataFrame | None) -> tuple[dict[str, date], int]:
    """Maturity date per contract, for the retention of its signed contract; (maturities, rows without one).
    A missing column or a row whose maturity is not an ISO date gives no maturity for that contract (its
    contract is then retained from its received date, as for a contract not in the loan book); no row stops
    the month's documents."""
    if loans is None or "contract_id" not in loans.columns or "maturity_date" not in loans.columns:
        return {}, 0 if loans is None else len(loans)
    maturities, unknown = {}, 0
    for contract, text in zip(loans["contract_id"], loans["maturity_date"]):
        try:
            maturities[contract] = date.fromisoformat(text)
        except (TypeError, ValueError):
            unknown += bool(contract)
    return maturities, unknown


# The key under which core_system_extract carries what reading its files found (a frame: file, problem,
# severity, detail, items), present only when something was found; the data-quality gate reads it.
DELIVERY_PROBLEMS = "_delivery_problems"
_PROBLEM_COLUMNS = ["file", "problem", "severity", "detail", "items"]


def extract_value(delivered: DeliveredTables) -> dict[str, pd.DataFrame]:
    """The core_system_extract value: the readable tables, plus DELIVERY_PROBLEMS when anything was found."""
    value = dict(delivered.frames)
    if delivered.problems:
        value[DELIVERY_PROBLEMS] = pd.DataFrame(
            [(p.file, p.problem, p.severity, p.detail, "\n".join(p.items)) for p in delivered.problems],
            columns=_PROBLEM_COLUMNS)
    return value


def split_extract(value: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], list[FileProblem]]:
    """(the tables, the problems found reading them) of a core_system_extract value."""
    frames = {name: frame for name, frame in value.items() if name != DELIVERY_PROBLEMS}
    found = value.get(DELIVERY_PROBLEMS)
    problems = [] if found is None else [
        FileProblem(r.file, r.problem, r.detail, tuple(filter(None, str(r.items or "").split("\n"))), r.severity)
        for r in found.itertuples(index=False)]
    return frames, problems


def known_columns(schema, validation) -> dict[str, set[str]]:
    """Per table, the columns config/schema.yaml and config/validation.yaml name: any other is an extra column."""
    known: dict[str, set[str]] = {name: set(table.columns) for name, table in schema.tables.items()}
    for name, suite in validation.frames.items():
        for spec in suite.expectations:
            if spec.type == "expect_table_columns_to_match_set":
                known.setdefault(name, set()).update(spec.kwargs.get("column_set", []))
    return known


def readable_tables() -> tuple[str, ...]:
    """The delivered tables the pipeline reads (and archives): the core extract, then the optional ones."""
    from plugins.classification.period import OPTIONAL_TABLES
    from plugins.config import EXTRACT_TABLES
    from plugins.monitoring import MONITORING_TABLES

    return (*EXTRACT_TABLES, *OPTIONAL_TABLES, *MONITORING_TABLES)


def validate_delivery(tables: dict[str, bytes], cfg, month: str):
    """The data-quality gate's validation of a month's delivered table files, as core_extract_quality runs it
    on core_system_extract: reading problems, the GX suites (with the month end) and nothing else. For the
    archived evidence (data_quality_evidence), which reads the same bytes again."""
    from plugins.config import EXTRACT_TABLES
    from plugins.validation import load_validation_config, validate_extract

    rules = load_validation_config(cfg.config_dir / "validation.yaml")
    read = read_delivered_tables(tables, cfg.extract_schema.reading, required=EXTRACT_TABLES,
                                 known_columns=known_columns(cfg.extract_schema, rules), known_tables=readable_tables())
    return validate_extract(read.frames, rules, month_end=month_end(month), file_problems=read.problems)
