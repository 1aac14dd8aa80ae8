"""The inbox: where a lender's systems drop each month's files, in an S3 bucket.

Layout of one delivery (month YYYY-MM):
    core/YYYY-MM/<table>.csv            core-system extracts (loans, schedules, ...)
    documents/YYYY-MM/manifest.csv      one row per document: file_name, declared_class,
                                        borrower_id, contract_id, period, received_date
    documents/YYYY-MM/<file_name>       the documents themselves
    core/YYYY-MM/_READY                 written last: the delivery is complete
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from plugins.archive.store import ObjectStore

MANIFEST_FIELDS = ("file_name", "declared_class", "borrower_id", "contract_id", "period", "received_date")
READY_MARKER = "_READY"


@dataclass(frozen=True)
class InboxDocument:
    file_name: str                 # as listed; for a refused entry its printable form (escapes for what is not)
    declared_class: str
    borrower_id: str | None
    contract_id: str | None
    period: str
    received_date: date | None
    # A manifest entry that cannot be taken as listed (read_documents): its reason code and reason, naming the
    # manifest line. `read`: whether its file is still read, to be quarantined with that reason (a bad field of a
    # safe name); an unsafe or undecodable name, a duplicate or an unlisted file is refused unread.
    problem: str | None = None
    reason: str | None = None
    read: bool = True
    listed_as: str | None = None   # a refused entry's name exactly as the manifest gives it


def manifest_bytes(rows: list[dict]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_FIELDS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in sorted(rows, key=lambda r: r["file_name"]):
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in MANIFEST_FIELDS})
    return buffer.getvalue().encode("utf-8")


def deliver(store: ObjectStore, month: str, tables: dict[str, bytes], documents: list[tuple[dict, bytes]]) -> int:
    """Upload one month's delivery as the lender's systems would; returns the number of objects written."""
    bucket = store.settings.inbox_bucket
    for name, data in sorted(tables.items()):
        store.put(bucket, f"core/{month}/{name}.csv", data, "text/csv")
    for row, data in documents:
        store.put(bucket, f"documents/{month}/{row['file_name']}", data, "application/pdf")
    store.put(bucket, f"documents/{month}/manifest.csv", manifest_bytes([row for row, _ in documents]), "text/csv")
    store.put(bucket, f"core/{month}/{READY_MARKER}", b"", "text/plain")
    return len(tables) + len(documents) + 2


def delivered_months(store: ObjectStore) -> list[str]:
    """Months whose delivery is complete (their _READY marker exists)."""
    keys = store.list_keys(store.settings.inbox_bucket, "core/")
    return sorted(k.split("/")[1] for k in keys if k.endswith("/" + READY_MARKER))


def read_core_tables(store: ObjectStore, month: str) -> dict[str, bytes]:
    bucket = store.settings.inbox_bucket
    prefix = f"core/{month}/"
    return {key[len(prefix):-4]: store.get(bucket, key)
            for key in sorted(store.list_keys(bucket, prefix)) if key.endswith(".csv")}


def read_documents(store: ObjectStore, month: str) -> list[InboxDocument]:
    """The month's manifest, row by row: a bad row is that row's problem, never the month's (parse_manifest);
    files in the month's documents folder that the manifest does not list are refused as unlisted."""
    bucket = store.settings.inbox_bucket
    key = f"documents/{month}/manifest.csv"
    present = [k[len(f"documents/{month}/"):] for k in store.list_keys(bucket, f"documents/{month}/")]
    files = [name for name in present if name != "manifest.csv"]
    if not store.exists(bucket, key):
        return [_refused(name, month, "unlisted", f"unlisted: documents/{month}/{printable(name)} was delivered "
                         f"without a manifest (no documents/{month}/manifest.csv); not read") for name in files]
    documents = parse_manifest(store.get(bucket, key), month)
    listed = {d.listed_as if d.listed_as is not None else d.file_name for d in documents}
    return documents + [
        _refused(name, month, "unlisted", f"unlisted: documents/{month}/{printable(name)} is in the inbox but "
                 "manifest.csv does not list it; not read (list it and deliver again)")
        for name in files if name not in listed]


def parse_manifest(data: bytes, month: str) -> list[InboxDocument]:
    """One InboxDocument per manifest row. A row whose file name is unsafe (a path, control or invisible
    characters, bytes that are not UTF-8), that repeats a file, or that the CSV cannot split is refused with
    its line; a row with a safe name but a bad field (date, period, class) is kept for quarantine, its
    reason naming the line and the field. A header without file_name refuses the manifest as a whole."""
    text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, [])
    except csv.Error as exc:
        return [_refused("manifest.csv", month, "bad_manifest", f"bad_manifest: manifest.csv cannot be read as "
                         f"CSV ({exc}); no document of {month} was read")]
    missing = [f for f in ("file_name", "declared_class") if f not in header]
    if missing:
        return [_refused("manifest.csv", month, "bad_manifest", f"bad_manifest: the header of manifest.csv "
                         f"('{printable(','.join(header))[:120]}') lacks {', '.join(missing)}; no document of "
                         f"{month} was read")]
    documents: list[InboxDocument] = []
    first_line: dict[str, int] = {}
    start = 2
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            documents.append(_refused(f"manifest.csv line {start}", month, "bad_manifest_row",
                                      f"bad_manifest_row: manifest.csv line {start} cannot be split as CSV ({exc})"))
            start = reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if not any(field.strip() for field in record):
            continue  # a blank line
        documents.append(_entry(dict(zip(header, record)), len(record), len(header), line, month, first_line))
    return documents


def _entry(row: dict, fields: int, width: int, line: int, month: str, first_line: dict[str, int]) -> InboxDocument:
    name = row.get("file_name") or ""
    where = f"manifest.csv line {line}"
    shown = printable(name) or f"(empty name, {where})"
    unsafe = unsafe_name(name)
    if unsafe:
        return _refused(shown, month, "unsafe_name", f"unsafe_name: {where} lists '{printable(name)}': {unsafe}; "
                        "refused, the file is not read", listed_as=name)
    undecodable = [k for k, v in row.items() if _has_undecodable(v)]
    if undecodable:
        return _refused(shown, month, "bad_manifest_row", f"bad_manifest_row: {where} ({shown}): field(s) "
                        f"{', '.join(undecodable)} hold bytes that are not UTF-8; refused, the file is not read",
                        listed_as=name)
    if name in first_line:
        return _refused(shown, month, "duplicate_entry", f"duplicate_entry: {where} lists {shown} again (first on "
                        f"line {first_line[name]}); the first entry is the one read", listed_as=name)
    first_line[name] = line
    problems = []
    if fields != width:
        problems.append(f"{fields} fields where the header has {width}")
    declared = (row.get("declared_class") or "").strip()
    if not declared:
        problems.append("declared_class is empty")
    period = (row.get("period") or "").strip() or month
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        problems.append(f"period '{printable(period)}' is not YYYY-MM")
        period = month
    received = (row.get("received_date") or "").strip()
    received_date = None
    if received:
        try:
            received_date = date.fromisoformat(received) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", received) else None
        except ValueError:
            pass
        if received_date is None:
            problems.append(f"received_date '{printable(received)}' is not a date (YYYY-MM-DD)")
    document = InboxDocument(
        file_name=name, declared_class=declared or "unknown", borrower_id=(row.get("borrower_id") or None),
        contract_id=(row.get("contract_id") or None), period=period, received_date=received_date)
    if problems:
        return _replace(document, problem="bad_manifest_row",
                        reason=f"bad_manifest_row: {where} ({name}): {'; '.join(problems)}; the file is quarantined "
                               "with this reason")
    return document


def unsafe_name(name: str) -> str | None:
    """Why `name` cannot be a document's file name in the inbox folder, or None. Not a path (no separator, no
    '.' or '..'), no control, format (e.g. bidirectional override) or unassigned characters, at most 255 bytes."""
    if not name.strip():
        return "the file name is empty"
    if _has_undecodable(name):
        return "its bytes are not UTF-8"
    if "/" in name or "\\" in name:
        return "it is a path (it holds '/' or '\\'), not a file name in the month's folder"
    if name in (".", "..") or name.startswith("."):
        return "it starts with '.' (a relative or hidden path)"
    odd = [ch for ch in name if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")]
    if odd:
        return "it holds control or invisible characters (" + ", ".join(f"U+{ord(ch):04X}" for ch in odd[:5]) + ")"
    if len(name.encode("utf-8")) > 255:
        return f"it is {len(name.encode('utf-8'))} bytes long, more than 255"
    return None


def printable(text: str) -> str:
    """`text` with every control, invisible or undecodable character escaped (\\x.., \\u....): safe in logs and
    reports. Bytes that were not UTF-8 (surrogate escapes) show as the byte: \\xff."""
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def _has_undecodable(text: str) -> bool:
    return any(0xDC80 <= ord(ch) <= 0xDCFF for ch in text)


def _refused(name: str, month: str, code: str, reason: str, listed_as: str | None = None) -> InboxDocument:
    return InboxDocument(file_name=printable(name), declared_class="unknown", borrower_id=None, contract_id=None,
                         period=month, received_date=None, problem=code, reason=reason, read=False,
                         listed_as=listed_as)


def _replace(document: InboxDocument, **changes) -> InboxDocument:
    from dataclasses import replace

    return replace(document, **changes)


def read_document_bytes(store: ObjectStore, month: str, file_name: str) -> bytes | None:
    bucket = store.settings.inbox_bucket
    key = f"documents/{month}/{file_name}"
    return store.get(bucket, key) if store.exists(bucket, key) else None
