"""Triage a received file before extraction: is it a readable PDF of the declared class?

Checks run cheapest first (header, size, page count, then text of the first
pages only), so a bad file is rejected with a specific reason before anyone
tries to extract it.
"""
from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pdfplumber
from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError

CLASSES = ("loan_contract", "lease_contract", "financial_statement")
CLASS_NAMES = {
    "loan_contract": "a loan contract (借款合同)",
    "lease_contract": "a financing-lease contract (融资租赁合同)",
    "financial_statement": "a financial statement (财务报表)",
    "contract_announcement": "a listed company's announcement of a major contract (重大合同公告), not a signed "
                             "loan or lease contract",
    "non_loan_agreement": "an agreement that lends nothing (research, services or purchase), not a loan contract",
}
# An agreement that lends nothing (plugins.documents.agreements AGREEMENT_CLASSES, by its title) is archived as
# this class, never extracted as a loan contract; documents.yaml triage.non_loan_agreements: quarantine keeps
# it for review instead (as mislabelled).
NON_LOAN_AGREEMENT = "non_loan_agreement"
AGREEMENT_NAMES = {"research_agreement": "a research agreement", "service_agreement": "a services agreement",
                   "purchase_agreement": "a purchase agreement"}
# Keywords that identify a class on its first pages; the earliest hit wins, because
# titles come first and contracts mention statements (and vice versa) further down.
CLASS_KEYWORDS: dict[str, tuple[str, ...]] = {
    "lease_contract": ("融资租赁合同", "租赁合同", "售后回租"),
    "loan_contract": ("借款合同", "贷款合同", "流动资金借款", "Credit Agreement", "Loan Agreement",
                      "Facility Agreement"),
    "financial_statement": (
        "资产负债表", "利润表", "损益表", "现金流量表", "财务报表", "季度报告", "年度报告", "半年度报告",
        "Balance Sheet", "Statement of Financial Position", "Income Statement", "Form 10-K", "Annual Report",
        "Annual Financial Statements", "Financial Statements",
    ),
}
DETECTION_PAGES = 2
_IN_WORKER = False  # set in TriageWorker's process: running out of memory there is a resource limit
OCR_HINT = ("To read it, set ocr.enabled: true in config/documents.yaml or run `postloan extract --ocr FILE` "
            "(the engine is the optional `ocr` extra, rapidocr-onnxruntime; `make` installs it)")


@dataclass(frozen=True)
class Triage:
    ok: bool
    reason_code: str | None
    reason: str | None
    detected_class: str | None
    page_count: int | None
    # Active content found in a document accepted with triage.active_content: flag (None otherwise).
    flag: str | None = None
    # The kind of a non_loan_agreement (research_agreement, service_agreement, purchase_agreement), else None.
    agreement: str | None = None


def inspect_pdf(data: bytes, declared_class: str, max_bytes: int, max_pages: int, limits: Any = None) -> Triage:
    """Accept a PDF, or say precisely why it cannot be extracted as `declared_class`.

    With `limits` (config/documents.yaml `triage`) its structure is read first (`scan_structure`): a
    document whose streams inflate past the limits is refused as resource_limit before any page is parsed,
    and one with active content is refused as active_content (or accepted with a flag, active_content: flag)."""
    if not data:
        return _reject("empty", "empty: the file is 0 bytes long")
    if b"%PDF-" not in data[:1024]:
        return _reject("not_pdf", f"not_pdf: the file has no %PDF header (starts with {data[:8]!r})")
    if len(data) > max_bytes:
        return _reject("oversized", f"oversized: {len(data):,} bytes exceeds the limit of {max_bytes:,} bytes")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            return _reject("encrypted", "encrypted: the PDF requires a password to open")
        over, active = scan_structure(reader, limits) if limits is not None else (None, [])
        if over is not None:
            return _reject("resource_limit", f"resource_limit: {over}; quarantined unread")
        if active and limits.active_content == "quarantine":
            return _reject("active_content", _active_reason(active) + "; quarantined for review, not read "
                           "(documents.yaml triage.active_content: quarantine)")
        pages = len(reader.pages)
    except FileNotDecryptedError:
        return _reject("encrypted", "encrypted: the PDF requires a password to open")
    except Exception as exc:  # pypdf raises many types on damaged files
        if _IN_WORKER and _out_of_memory(exc):  # a resource limit, not a damaged file: TriageWorker says so
            raise MemoryError(str(exc)) from exc
        return _reject("corrupt", f"corrupt: the PDF cannot be parsed ({type(exc).__name__}: {exc})")
    if pages == 0:
        return _reject("corrupt", "corrupt: the PDF has no readable pages", 0)
    if pages > max_pages:
        return _reject("oversized", f"oversized: {pages} pages exceeds the limit of {max_pages} pages", pages)
    try:
        text, images, detected = _first_pages(data, min(pages, DETECTION_PAGES))
    except Exception as exc:
        if _IN_WORKER and _out_of_memory(exc):  # pdfplumber wraps pdfminer's errors, a MemoryError too
            raise MemoryError(str(exc)) from exc
        return _reject("corrupt", f"corrupt: the page content cannot be read ({type(exc).__name__}: {exc})", pages)
    if not text.strip():
        what = f"{images} image(s) only" if images else "no text or images"
        return _reject(
            "needs_ocr", f"needs_ocr: the first {min(pages, DETECTION_PAGES)} page(s) have no text layer "
            f"({what}); the document must be OCRed before extraction. {OCR_HINT}", pages,
        )
    if detected is None:
        return _reject(
            "unrecognised", "unrecognised: the text is neither a financial statement nor a loan or lease contract", pages,
        )
    if detected == NON_LOAN_AGREEMENT:
        return _non_loan_agreement(text, declared_class, pages, limits, active)
    if detected != declared_class:
        return Triage(
            False, "mislabelled",
            f"mislabelled: declared as {CLASS_NAMES.get(declared_class, declared_class)} "
            f"but the first page reads as {CLASS_NAMES[detected]}", detected, pages,
        )
    return Triage(True, None, None, detected, pages, _active_reason(active) if active else None)


def _non_loan_agreement(text: str, declared_class: str, pages: int, limits: Any, active: list[str]) -> Triage:
    """Archived as non_loan_agreement whatever class was declared (it is no unknown document, and no loan
    contract to extract), or quarantined as mislabelled under triage.non_loan_agreements: quarantine."""
    kind = non_loan_agreement_kind(text)
    if getattr(limits, "non_loan_agreements", "archive") == "quarantine":
        return Triage(False, "mislabelled", f"mislabelled: declared as {CLASS_NAMES.get(declared_class, declared_class)} "
                      f"but the first page reads as {AGREEMENT_NAMES.get(kind, kind)}, which lends nothing "
                      "(documents.yaml triage.non_loan_agreements: quarantine)", NON_LOAN_AGREEMENT, pages,
                      agreement=kind)
    return Triage(True, None, None, NON_LOAN_AGREEMENT, pages, _active_reason(active) if active else None, kind)


def non_loan_agreement_kind(text: str) -> str | None:
    """The class of an agreement that lends nothing, by its title (agreements.agreement_class), else None."""
    from .agreements import agreement_class

    kind = agreement_class(text)
    return kind if kind in AGREEMENT_NAMES else None


def _title_at(text: str, kind: str) -> int:
    """Where the title of agreement `kind` begins, counted in the text without whitespace (as detect_class)."""
    from .agreements import AGREEMENT_CLASSES

    pattern = dict(AGREEMENT_CLASSES)[kind]
    found = pattern.search(text[:1500])
    return len(re.sub(r"\s+", "", text[:found.start()])) if found else len(text)


def _out_of_memory(exc: BaseException) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, (MemoryError, RecursionError)) or "Unable to allocate" in str(exc):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _active_reason(findings: list[str]) -> str:
    shown = "; ".join(findings[:MAX_FINDINGS])
    more = f" and {len(findings) - MAX_FINDINGS} more" if len(findings) > MAX_FINDINGS else ""
    return f"active_content: the PDF carries {shown}{more}"


def detect_class(text: str) -> str | None:
    """Class whose keyword appears earliest in the text, or None. An exchange announcement of a contract
    (证券代码 … 公告编号 … 合同公告) is that, whatever contract it names. An agreement titled as one that
    lends nothing (research, services, purchase) is non_loan_agreement when its title comes first."""
    from .announcements import is_contract_announcement

    if is_contract_announcement(text):
        return "contract_announcement"
    flat = re.sub(r"\s+", "", text).lower()
    best: tuple[int, str] | None = None
    for cls, words in CLASS_KEYWORDS.items():
        for word in words:
            at = flat.find(word.replace(" ", "").lower())
            if at >= 0 and (best is None or at < best[0]):
                best = (at, cls)
    if (kind := non_loan_agreement_kind(text)) is not None and (best is None or _title_at(text, kind) <= best[0]):
        return NON_LOAN_AGREEMENT
    return best[1] if best else None


def _first_pages(data: bytes, count: int) -> tuple[str, int, str | None]:
    """Text, image count and detected class of the first pages, stopping once a class is found."""
    texts: list[str] = []
    images = 0
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        for page in pdf.pages[:count]:
            try:
                texts.append(page.extract_text() or "")
                images += len(page.images)
            finally:
                page.close()
            if (detected := detect_class("\n".join(texts))) is not None:
                return "\n".join(texts), images, detected
    return "\n".join(texts), images, None


def _reject(code: str, reason: str, pages: int | None = None) -> Triage:
    return Triage(False, code, reason, None, pages)


# --- a worker process under limits --------------------------------------------------------------------------

class TriageWorker:
    """`inspect_pdf` in a process of its own under the limits of config/documents.yaml `triage`: at most
    `seconds` of wall-clock time and `memory_mib` of address space per document. A document over a limit is
    refused as resource_limit and the worker started again for the next one, so no document can hang or
    exhaust the run that triages it. One worker serves a month's documents (use it as a context manager)."""

    def __init__(self, limits: Any) -> None:
        self.limits = limits
        self._process: Any = None
        self._conn: Any = None

    def __enter__(self) -> "TriageWorker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def inspect(self, data: bytes, declared_class: str, max_bytes: int, max_pages: int) -> Triage:
        if not data or b"%PDF-" not in data[:1024] or len(data) > max_bytes:
            return inspect_pdf(data, declared_class, max_bytes, max_pages)  # refused before any parsing
        seconds = self.limits.seconds
        try:
            self._start()
            self._conn.send((data, declared_class, max_bytes, max_pages, self.limits))
            answered = self._conn.poll(seconds)
            outcome, value = self._conn.recv() if answered else ("timeout", None)
        except (EOFError, OSError):
            outcome, value = "died", None
        if outcome == "triage":
            return value
        code = None
        if outcome == "died":
            try:
                code = self._process.wait(5)
            except Exception:
                pass
        self.close()
        if outcome == "timeout":
            why = f"triage took longer than {seconds:g} s (documents.yaml triage.seconds) and was stopped"
        elif outcome == "memory" or code in (-6, -11):
            # (a worker under its address-space limit whose allocation fails inside C code aborts: SIGABRT or
            # SIGSEGV rather than a MemoryError)
            why = (f"triage needed more than {self.limits.memory_mib} MiB of memory (documents.yaml "
                   f"triage.memory_mib) and was stopped")
        else:
            why = f"the triage process ended while reading it (exit code {code})"
        return _reject("resource_limit", f"resource_limit: {why}; quarantined unread")

    def close(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait(10)
            self._conn.close()
        self._process = self._conn = None

    def _start(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self.close()
        import socket
        import subprocess
        import sys
        from multiprocessing.connection import Connection

        # A fresh interpreter (not a fork of a threaded run, not multiprocessing's re-import of __main__),
        # talking over a socket pair; the repository root first on its path, as in this process.
        ours, theirs = socket.socketpair()
        root = str(Path(__file__).resolve().parents[2])
        code = f"import sys; sys.path.insert(0, {root!r}); from plugins.documents.triage import _serve; " \
               f"_serve({theirs.fileno()}, {self.limits.memory_mib << 20})"
        self._process = subprocess.Popen([sys.executable, "-c", code], pass_fds=(theirs.fileno(),),
                                         stdin=subprocess.DEVNULL, close_fds=True)
        theirs.close()
        self._conn = Connection(ours.detach())


def _serve(fd: int, memory_bytes: int) -> None:
    """The worker: one document at a time until the socket closes."""
    import gc
    import logging
    import pickle
    import resource
    from multiprocessing.connection import Connection

    for name in ("pypdf", "pdfminer", "pdfplumber"):  # their warnings on damaged files: the verdict says it
        logging.getLogger(name).setLevel(logging.ERROR)
    global _IN_WORKER
    _IN_WORKER = True
    out_of_memory = pickle.dumps(("memory", None))  # ready before memory runs out
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    conn = Connection(fd)
    while True:
        try:
            data, declared_class, max_bytes, max_pages, limits = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer = pickle.dumps(("triage", inspect_pdf(data, declared_class, max_bytes, max_pages, limits)))
        except (MemoryError, RecursionError):  # raised as such, or recognised in a wrapped error
            answer = out_of_memory
        del data
        gc.collect()  # pdfminer's objects hold cycles: free them before the next document
        conn.send_bytes(answer)
        if answer is out_of_memory:
            return  # a fresh worker for the next document


# --- structure: inflation limits and active content --------------------------------------------------------
# Read before any page is parsed, from the PDF's objects alone: a stream is inflated into a counter (never kept
# beyond what a filter chain needs), so a decompression bomb is refused after at most the configured number of
# bytes, and a document's actions and attachments are named. The limits are config/documents.yaml `triage`.

# Actions that run or open something (PDF 32000-1 12.6.4): the action dictionary's /S.
_ACTIVE_ACTIONS = {"/JavaScript": "JavaScript", "/Launch": "a launch action (opens a program or file)",
                   "/SubmitForm": "a submit-form action (sends data out)", "/ImportData": "an import-data action",
                   "/RichMediaExecute": "a rich-media action", "/GoToE": "a go-to-embedded-file action",
                   "/Rendition": "a rendition action (may run JavaScript)"}
# Keys that carry scripts or files whatever their context.
_ACTIVE_KEYS = {"/JS": "JavaScript", "/JavaScript": "a JavaScript name tree", "/EmbeddedFiles": "embedded files",
                "/EF": "an embedded file", "/XFA": "an XFA form (XML forms carry scripts)",
                "/RichMedia": "rich media (Flash or video)"}
_IMAGE_CODECS = {"/DCTDecode", "/DCT", "/JPXDecode", "/CCITTFaxDecode", "/CCF", "/JBIG2Decode"}
_INFLATE = {"/FlateDecode", "/Fl"}
_OTHER_FILTERS = {"/ASCIIHexDecode": "ASCIIHexDecode", "/AHx": "ASCIIHexDecode", "/ASCII85Decode": "ASCII85Decode",
                  "/A85": "ASCII85Decode", "/LZWDecode": "LZWDecode", "/LZW": "LZWDecode",
                  "/RunLengthDecode": "RunLengthDecode", "/RL": "RunLengthDecode"}
_COMPONENTS = {"/DeviceGray": 1, "/G": 1, "/CalGray": 1, "/DeviceRGB": 3, "/RGB": 3, "/CalRGB": 3, "/Lab": 3,
               "/DeviceCMYK": 4, "/CMYK": 4, "/Indexed": 1, "/I": 1, "/Separation": 1, "/Pattern": 1}
_CHUNK = 1 << 20
MAX_FINDINGS = 5  # active-content findings named in a reason; the count says how many more


class _OverLimit(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def scan_structure(reader: PdfReader, limits: Any) -> tuple[str | None, list[str]]:
    """(the resource limit a document exceeds, or None; its active content, e.g. 'JavaScript (object 12)').

    `limits` has max_decompressed_bytes (all streams but images, inflated, summed) and max_image_pixels
    (one image's width × height); an image stream may inflate to no more than its declared pixels.
    Objects packed in object streams are never streams themselves (PDF 32000-1 7.5.7): their names are
    read from the inflated object stream instead of parsing each object."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

    budget = [limits.max_decompressed_bytes]
    findings: list[str] = []
    try:
        _catalog_actions(reader, findings)
        for number, generation in _object_numbers(reader):
            try:
                obj = reader.get_object(IndirectObject(number, generation, reader))
            except Exception:  # a damaged object: what pages need of it, the page reading judges
                continue
            stack, seen = [obj], 0
            while stack and seen < 100_000:
                item = stack.pop()
                seen += 1
                try:
                    if isinstance(item, DictionaryObject):
                        _active(item, f"object {number}", findings)
                        if isinstance(item, StreamObject):
                            _account_stream(item, number, budget, limits, findings)
                        stack.extend(v for v in item.values() if not isinstance(v, IndirectObject))
                    elif isinstance(item, ArrayObject):
                        stack.extend(v for v in item if not isinstance(v, IndirectObject))
                except (_OverLimit, MemoryError, RecursionError):
                    raise
                except Exception as exc:  # an odd object: what the pages need of it, the page reading judges
                    if type(exc).__name__ == "LimitReachedError":
                        raise
                    continue
    except _OverLimit as over:
        return over.reason, findings
    except Exception as exc:  # pypdf's own limits (LimitReachedError) on the catalog's object stream
        if type(exc).__name__ == "LimitReachedError":
            return f"a stream or object exceeds pypdf's parsing limits ({exc})", findings
        raise
    return None, findings


def _object_numbers(reader: PdfReader) -> list[tuple[int, int]]:
    return sorted((num, gen) for gen, entries in reader.xref.items() if gen != 65535 for num in entries)


def _catalog_actions(reader: PdfReader, findings: list[str]) -> None:
    root = reader.trailer.get("/Root")
    root = root.get_object() if root is not None else None
    if not hasattr(root, "get"):
        return
    action = root.get("/OpenAction")
    action = action.get_object() if action is not None else None
    if hasattr(action, "get") and action.get("/S") in _ACTIVE_ACTIONS:
        findings.append(f"an OpenAction that runs {_ACTIVE_ACTIONS[action.get('/S')]} when the file is opened")


def _active(item: Any, where: str, findings: list[str]) -> None:
    what = _ACTIVE_ACTIONS.get(item.get("/S")) if "/S" in item else None
    if what is None and item.get("/Type") == "/EmbeddedFile":
        what = "an embedded file"
    if what is None:
        what = next((_ACTIVE_KEYS[k] for k in item if k in _ACTIVE_KEYS), None)
    _found(what, where, findings)


def _found(what: str | None, where: str, findings: list[str]) -> None:
    if what is not None and (finding := f"{what} ({where})") not in findings:
        findings.append(finding)


_NAME = re.compile(rb"/(?:[A-Za-z0-9_.+-]|#[0-9A-Fa-f]{2})+")


def _packed_names(data: bytes, number: int, findings: list[str]) -> None:
    """Active-content names among the objects packed in object stream `number` (#xx escapes undone)."""
    for match in set(_NAME.findall(data)):
        name = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), match).decode("latin-1")
        if name in _ACTIVE_KEYS:
            _found(_ACTIVE_KEYS[name], f"in object stream {number}", findings)
        elif name in _ACTIVE_ACTIONS and name != "/JavaScript":
            _found(_ACTIVE_ACTIONS[name], f"in object stream {number}", findings)
        elif name == "/EmbeddedFile":
            _found("an embedded file", f"in object stream {number}", findings)


def _account_stream(stream: Any, number: int, budget: list[int], limits: Any, findings: list[str]) -> None:
    """Inflate `stream` into a counter; an image against its declared size, the rest against the budget;
    an object stream is inflated whole (within the budget) to read the names of the objects it packs."""
    filters = stream.get("/Filter")
    filters = [] if filters is None else [str(f) for f in filters] if isinstance(filters, list) else [str(filters)]
    raw = getattr(stream, "_data", b"") or b""
    if stream.get("/Subtype") == "/Image":
        width, height = _int(stream.get("/Width")), _int(stream.get("/Height"))
        if width * height > limits.max_image_pixels:
            raise _OverLimit(f"image (object {number}) of {width:,} × {height:,} pixels exceeds the limit of "
                             f"{limits.max_image_pixels:,} pixels (documents.yaml triage.max_image_pixels)")
        declared = width * height * _components(stream) * max(_int(stream.get("/BitsPerComponent")) or 8, 1) // 8
        allowed = declared + declared // 100 + 65536  # row padding, predictor bytes
        size = _decoded_size(raw, filters, allowed, number)
        if size > allowed:
            raise _OverLimit(f"image (object {number}) inflates to more than {allowed:,} bytes, beyond the "
                             f"{width:,} × {height:,} pixels it declares (a decompression bomb)")
        return
    if stream.get("/Type") == "/ObjStm" and all(f in _INFLATE for f in filters):
        packed = raw
        for _ in filters:
            packed = _inflate(packed, budget[0])
        size = len(packed)
        if size <= budget[0]:
            _packed_names(packed, number, findings)
    else:
        size = _decoded_size(raw, filters, budget[0], number)
    budget[0] -= size
    if budget[0] < 0:
        raise _OverLimit(f"its streams inflate to more than {limits.max_decompressed_bytes:,} bytes (documents.yaml "
                         f"triage.max_decompressed_bytes; stream object {number} crossed it): a decompression bomb")


def _decoded_size(data: bytes, filters: list[str], budget: int, number: int) -> int:
    """Bytes the filter chain produces, counted up to `budget` + 1 (past it the exact figure does not matter)."""
    for index, name in enumerate(filters):
        last = index == len(filters) - 1 or filters[index + 1] in _IMAGE_CODECS
        if name in _INFLATE:
            if last:
                return _inflated_length(data, budget)
            data = _inflate(data, budget)
        elif name in _OTHER_FILTERS:
            from pypdf import filters as pdf_filters

            try:
                data = getattr(pdf_filters, _OTHER_FILTERS[name]).decode(data)
            except Exception as exc:
                if type(exc).__name__ == "LimitReachedError":
                    return budget + 1
                return len(data)  # undecodable: the page reading reports what it cannot read
            if isinstance(data, str):
                data = data.encode("latin-1")
        else:  # an image codec or an unknown filter: the encoded bytes are what is held
            return len(data)
        if len(data) > budget:
            return len(data)
    return len(data)


def _inflated_length(data: bytes, budget: int) -> int:
    decompressor, total, pending = zlib.decompressobj(zlib.MAX_WBITS | 32), 0, data
    try:
        while total <= budget:
            chunk = decompressor.decompress(pending, _CHUNK)
            total += len(chunk)
            pending = decompressor.unconsumed_tail
            if decompressor.eof or not (chunk or pending):
                break
    except zlib.error:
        return total or len(data)  # damaged: readers stop here too
    return total


def _inflate(data: bytes, budget: int) -> bytes:
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 32)
    try:
        return decompressor.decompress(data, budget + 1)
    except zlib.error:
        return data


def _int(value: Any) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0


def _components(stream: Any) -> int:
    space = stream.get("/ColorSpace")
    try:
        space = space.get_object() if space is not None else None
        if isinstance(space, list) and space:
            if space[0] == "/ICCBased":
                return _int(space[1].get_object().get("/N")) or 3
            if space[0] == "/DeviceN":
                return len(space[1]) or 1
            space = space[0]
    except Exception:
        return 4
    return _COMPONENTS.get(str(space), 4) if space is not None else 1  # none: an image mask (or JPX's own)
