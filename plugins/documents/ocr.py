"""Optional OCR for image-only (scanned) PDFs: RapidOCR on ONNX Runtime, offline, on the CPU.

Off by default. Install the extra (`pip install -e '.[ocr]'`: rapidocr-onnxruntime, whose detection,
direction and recognition models ship inside the wheel) and set `ocr.enabled: true` in
config/documents.yaml. Registered as the `rapidocr` extractor of the `postloan.extractors` entry-point
group (plugins/registry.py); importing this module never needs the engine, so discovery works without it.

Pages are rendered with pypdfium2 at the configured resolution and read line by line; every line keeps
its page, its bounding box in PDF points (top-left origin, as pdfplumber's), the engine's confidence and
the engine's name and version, and contract terms read from the lines carry that provenance.

In the pipeline (ocr.enabled: true): ingest runs `triage_scan` on a document triage found image-only, and
archives it when OCR reads it as the declared loan or lease contract (quarantined otherwise, saying what OCR
read); contract extraction reads such a document's terms with `read_scan_contract`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from importlib import metadata, util

from typing import Any

from .contracts import _LABELS, ContractExtraction, Provenance, Terms, _build, _FIELD_LINE, _kind_from_title, _label_of
from .triage import CLASS_NAMES, OCR_HINT, Triage, detect_class

PACKAGE = "rapidocr-onnxruntime"
MODULE = "rapidocr_onnxruntime"


@dataclass(frozen=True)
class OcrLine:
    page: int                                   # 1-based
    bbox: tuple[float, float, float, float]     # x0, top, x1, bottom in PDF points
    text: str
    confidence: float


@dataclass(frozen=True)
class OcrProvenance(Provenance):
    """Where an OCRed term was read: page, bounding box and text, and how sure the engine was."""
    confidence: float = 0.0
    engine: str = ""


class RapidOcrExtractor:
    """Text lines of image-only pages, with RapidOCR (the `ocr` extra)."""

    name = "rapidocr"
    install_command = "pip install -e '.[ocr]' (rapidocr-onnxruntime)"
    install_hint = f"{install_command}, then set ocr.enabled: true in config/documents.yaml"

    def __init__(self) -> None:
        self._engine = None

    @property
    def available(self) -> bool:
        return util.find_spec(MODULE) is not None

    @property
    def engine(self) -> str:
        return f"{PACKAGE} {metadata.version(PACKAGE)}" if self.available else PACKAGE

    def read(self, data: bytes, max_pages: int, dpi: int) -> list[OcrLine]:
        """OCR the first `max_pages` pages; lines in reading order (top to bottom, left to right)."""
        import numpy as np
        import pypdfium2 as pdfium

        if self._engine is None:
            from rapidocr_onnxruntime import RapidOCR

            self._engine = RapidOCR()
        scale = dpi / 72
        lines: list[OcrLine] = []
        pdf = pdfium.PdfDocument(data)
        try:
            for index in range(min(len(pdf), max_pages)):
                page = pdf[index]
                try:
                    image = page.render(scale=scale, grayscale=True).to_pil().convert("RGB")
                finally:
                    page.close()
                result, _ = self._engine(np.asarray(image))
                found = []
                for box, text, confidence in result or []:
                    xs, ys = [p[0] / scale for p in box], [p[1] / scale for p in box]
                    found.append(OcrLine(index + 1, (round(min(xs), 2), round(min(ys), 2), round(max(xs), 2),
                                                     round(max(ys), 2)), _normalise(text), round(float(confidence), 4)))
                lines += sorted(found, key=lambda l: (round(l.bbox[1] / 4), l.bbox[0]))
        finally:
            pdf.close()
        return lines


def _normalise(text: str) -> str:
    """Full-width commas read inside amounts ('1，000,000.00') become the separator they are."""
    return re.sub(r"(?<=\d)[，,](?=\d{3}\b)", ",", text.strip())


def _ocr_label(text: str) -> str | None:
    """The field a line's label names; a misread party mark in brackets ('贷款人（申方）' for （甲方）) is
    dropped before a second look-up, since the role before it names the field alone."""
    name = _label_of(text)
    if name is None and (m := _FIELD_LINE.match(text)):
        name = _LABELS.get(re.sub(r"[(（][^)）]{1,4}[)）]|\s+", "", m.group("label")))
    return name


def ocr_contract(lines: list[OcrLine], engine: str, min_confidence: float) -> ContractExtraction:
    """Contract terms from OCRed 'label：value' lines, each with OCR provenance; a term read with less
    than `min_confidence` is kept and named in the warnings for a person to check against the scan. An
    English scan is read for the terms its definitions give (ocr_english_agreement)."""
    if is_english("\n".join(line.text for line in lines)):
        return ocr_english_agreement(lines, engine, min_confidence)
    raw: dict[str, Provenance] = {}
    kind = None
    for line in lines:
        if kind is None and line.page == 1:
            kind = _kind_from_title(line.text.replace(" ", ""))
        name = _ocr_label(line.text)
        if name is None or name in raw:
            continue
        value = _FIELD_LINE.match(line.text).group("value").strip()  # type: ignore[union-attr]
        raw[name] = OcrProvenance(line.page, line.bbox, value, confidence=line.confidence, engine=engine)
    extraction = _build(kind, raw)
    doubtful = [f"{name} read by OCR with confidence {p.confidence:.3f} < {min_confidence} on page {p.page}: "
                f"check it against the scan"
                for name, p in extraction.provenance.items()
                if isinstance(p, OcrProvenance) and p.confidence < min_confidence]
    extraction.warnings.extend(doubtful)
    return extraction


# An English loan agreement's definitions, as OCR reads them (spaces between words may be lost: "theBorrower")
_EN_FACILITY = re.compile(r"(?P<name>(?:[A-Z]{1,4}\s*)?Facility)\s*shall\s*mean\s*(?P<what>[^;]{0,160}?)\s*up\s*to\s*"
                          r"(?P<currency>Rs\.?|INR|USD|US\$|\$|₹)\s*(?P<amount>\d[\d,]*(?:\.\d+)?)")
_EN_DEFAULT_RATE = re.compile(r"Default\s*Rate\s*shall\s*mean\s*(\d+(?:\.\d+)?)\s*%")
_EN_CURRENCIES = {"Rs": "INR", "Rs.": "INR", "INR": "INR", "₹": "INR", "USD": "USD", "US$": "USD", "$": "USD"}


def ocr_english_agreement(lines: list[OcrLine], engine: str, min_confidence: float) -> ContractExtraction:
    """Terms of an English loan agreement's scanned pages: each facility defined with its limit ("BG Facility
    shall mean a … facility of up to Rs.2,500,000,000") and the default rate, each with OCR provenance."""
    provenance: dict[str, Provenance] = {}
    tranches: list[dict] = []
    fees: dict = {}
    for page in sorted({line.page for line in lines}):
        on_page = [line for line in lines if line.page == page]
        text = " ".join(line.text for line in on_page)
        for m in _EN_FACILITY.finditer(text):
            line = _line_at(on_page, m.start("amount"))
            name = re.sub(r"\s+", " ", m.group("name")).strip()
            if any(tr["name"] == name for tr in tranches):
                continue
            sub_limit = bool(re.search(r"sub-?\s*limit", text[m.end():m.end() + 120], re.I))
            tranches.append(Terms({"name": name, "kind": "other", "amount": Decimal(m.group("amount").replace(",", "")),
                                   "currency": _EN_CURRENCIES.get(m.group("currency"), m.group("currency")),
                                   "maturity_date": None, "margins": Terms(), "page": page, "sub_limit": sub_limit}))
            provenance.setdefault("tranches", OcrProvenance(page, line.bbox, m.group(0), confidence=line.confidence,
                                                            engine=engine))
        if "default_rate" not in fees and (m := _EN_DEFAULT_RATE.search(text)) is not None:
            fees["default_rate"] = Decimal(m.group(1)) / 100
            line = _line_at(on_page, m.start(1))
            provenance["fees"] = OcrProvenance(page, line.bbox, m.group(0), confidence=line.confidence, engine=engine)
    extraction = _build("loan_contract", {})
    from dataclasses import replace

    currency = next((tr["currency"] for tr in tranches), None)
    warnings = [f"{name} read by OCR with confidence {p.confidence:.3f} < {min_confidence} on page {p.page}: check it "
                f"against the scan" for name, p in provenance.items()
                if isinstance(p, OcrProvenance) and p.confidence < min_confidence]
    if tranches and all(tr["sub_limit"] for tr in tranches):
        warnings.append("the facilities read are sub-limits of the main facility, whose amount is not on the "
                        "pages read")
    return replace(extraction, currency=currency, tranches=tranches, fees=Terms(fees) or None, provenance=provenance,
                   warnings=warnings)


def _line_at(lines: list[OcrLine], offset: int) -> OcrLine:
    """The OCR line holding character `offset` of the lines joined with single spaces."""
    at = 0
    for line in lines:
        at += len(line.text) + 1
        if offset < at:
            return line
    return lines[-1]


# ------------------------------------------------------------------ in the pipeline (ocr.enabled: true)
CONTRACT_CLASSES = ("loan_contract", "lease_contract")


@dataclass(frozen=True)
class ScanTriage:
    """What OCR made of an image-only document at ingest: the triage to act on, and the engine that read
    it (None when no OCR ran, e.g. the engine is not installed)."""
    triage: Triage
    engine: str | None = None
    lines: tuple[OcrLine, ...] = ()  # what OCR read, for extracting the terms without reading again


def ocr_extractor(cfg: Any) -> tuple[Any | None, str | None]:
    """The OCR extractor `cfg` (documents.yaml ocr) names, ready to read; or None and why not, saying how to
    install it."""
    from plugins import registry

    extractor = registry.extractor(cfg.engine)
    if extractor is None:
        return None, (f"OCR is enabled (ocr.enabled: true) but no extractor {cfg.engine!r} is registered in the "
                      f"postloan.extractors entry points (the bundled one, 'rapidocr', installs with "
                      f"{RapidOcrExtractor.install_command})")
    if not getattr(extractor, "available", False):
        how = getattr(extractor, "install_command", None) or getattr(extractor, "install_hint", "see its documentation")
        return None, f"OCR is enabled (ocr.enabled: true) but the extractor {cfg.engine!r} is not installed: {how}"
    return extractor, None


def triage_scan(data: bytes, declared_class: str | None, triage: Triage, cfg: Any) -> ScanTriage:
    """Triage again, by OCR, a document `inspect_pdf` found image-only (reason code needs_ocr).

    Accepted (ok) when the first `cfg.max_pages` pages read, by OCR, as the declared loan or lease contract
    (the class keywords of triage, earliest first). Otherwise it stays quarantined and the reason says that
    OCR was tried and what it read: needs_ocr when nothing recognisable (or a financial statement, whose
    figures are not read from scans), mislabelled when the scan reads as another class. With no declared
    class (the analyst's command), any contract class is accepted.
    """
    base = (triage.reason or "needs_ocr").replace(" " + OCR_HINT, "").rstrip(".")  # OCR was tried: say what it read
    extractor, missing = ocr_extractor(cfg)
    if extractor is None:
        return ScanTriage(Triage(False, "needs_ocr", f"{base}. {missing}", None, triage.page_count))
    lines = extractor.read(data, cfg.max_pages, cfg.dpi)
    engine = extractor.engine
    text = "\n".join(line.text for line in lines)
    pages = min(triage.page_count or cfg.max_pages, cfg.max_pages)
    tried = f"OCR was tried ({engine}, {cfg.dpi} dpi): it read {len(lines)} line(s) on the first {pages} page(s)"
    detected = detect_class(text)
    if detected is None and is_english(text) and reads_as_english_loan(text):
        detected = "loan_contract"  # an excerpt of a loan agreement: its terms, not its title page
    if detected is None:
        found = f" ({_excerpt(lines)})" if lines else ""
        what = ("no title or terms of a loan, credit or facility agreement or of a lease" if is_english(text)
                else "no title of a 借款合同 or 融资租赁合同")
        return ScanTriage(Triage(
            False, "needs_ocr", f"{base}. {tried}{found} but recognised no document class in them ({what})"
            + (f"; declared as {CLASS_NAMES.get(declared_class, declared_class)}" if declared_class else ""),
            None, triage.page_count), engine)
    if declared_class is not None and detected != declared_class:
        return ScanTriage(Triage(
            False, "mislabelled", f"mislabelled: declared as {CLASS_NAMES.get(declared_class, declared_class)} "
            f"but the scan reads as {CLASS_NAMES.get(detected, detected)}. {tried} ({_excerpt(lines)})", detected,
            triage.page_count), engine)
    if detected not in CONTRACT_CLASSES:
        return ScanTriage(Triage(
            False, "needs_ocr", f"{base}. {tried} and they read as {CLASS_NAMES.get(detected, detected)}, but only "
            f"contract terms are read from scans, not statement figures", detected, triage.page_count), engine)
    return ScanTriage(Triage(True, None, None, detected, triage.page_count), engine, tuple(lines))


# words of a loan agreement's operative clauses: an English scan holding several of them reads as a loan
# agreement though its title page is not among the pages read
ENGLISH_LOAN_TERMS = (r"\bborrowers?\b", r"\blenders?\b", r"\b(?:facility|facilities|term loan|loans?)\b",
                      r"\b(?:rate of interest|interest rate|interest)\b", r"\b(?:repayment|repay|prepayment)\b",
                      r"\b(?:principal amount|principal)\b", r"\b(?:security|hypothecation|mortgage)\b",
                      r"\bevents? of default\b")
LOAN_TERMS_NEEDED = 4


def is_english(text: str) -> bool:
    """Mostly Latin letters: the reason is given in English, the scan's own language."""
    latin = len(re.findall(r"[A-Za-z]", text))
    return latin > 0 and latin > 4 * len(re.findall(r"[\u4e00-\u9fff]", text))


def reads_as_english_loan(text: str) -> bool:
    return sum(bool(re.search(p, text, re.I)) for p in ENGLISH_LOAN_TERMS) >= LOAN_TERMS_NEEDED


def read_scan_contract(data: bytes, cfg: Any) -> tuple[ContractExtraction | None, str]:
    """A scanned contract's terms read by the configured OCR extractor, each with OCR provenance, and the
    engine that read them; or (None, why not) when the extractor is not available."""
    extractor, missing = ocr_extractor(cfg)
    if extractor is None:
        return None, str(missing)
    lines = extractor.read(data, cfg.max_pages, cfg.dpi)
    return ocr_contract(lines, extractor.engine, cfg.min_confidence), extractor.engine


def _excerpt(lines: list[OcrLine], limit: int = 60) -> str:
    """The first characters OCR read, lines separated by ' / ', to say in a reason what it found."""
    text = " / ".join(line.text for line in lines)
    return repr(text if len(text) <= limit else text[:limit] + "…")
