"""Extraction benchmark: accuracy against the labelled corpus, speed against bare pdfplumber, memory.

    .venv/bin/python bench/extraction.py [--quick]

Prints, per document type: field-level precision and recall against tests/corpus/*.yaml (a field is
one labelled key figure: current and prior values, unit and page must all be right), pages per second,
and the ratio of our time to bare pdfplumber reading every page (extract_text on each) of the same
files in the same run; then peak memory on the largest file and on a 300-page report assembled from
the corpus. Not a test: it prints figures.
"""
from __future__ import annotations

import argparse
import gc
import io
import sys
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pdfplumber  # noqa: E402
from pypdf import PdfReader, PdfWriter  # noqa: E402

from plugins.documents import extract_statement, load_chart_of_accounts  # noqa: E402
from plugins.documents.labels import document_bytes, load_corpus, score  # noqa: E402


def bare_pdfplumber(data: bytes) -> tuple[float, int]:
    """Seconds for pdfplumber to extract_text every page, and the page count."""
    started = time.perf_counter()
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        pages = len(pdf.pages)
        for page in pdf.pages:
            page.extract_text()
            page.close()
    return time.perf_counter() - started, pages


def ours(data: bytes, chart):
    started = time.perf_counter()
    extraction = extract_statement(data, chart)
    return time.perf_counter() - started, extraction


def peak_memory(data: bytes, chart) -> float:
    gc.collect()
    tracemalloc.start()
    extract_statement(data, chart)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def three_hundred_pages() -> bytes:
    """A 300-page report: 金宇生物's annual report (195 pages) followed by 105 pages of Lyft's 10-K."""
    writer = PdfWriter()
    corpus = Path("/work/shared/corpus/financial")
    for name, count in (("cn_jinyu_600201_2020_annual.pdf", 195), ("us_lyft_2021_10k.pdf", 105)):
        reader = PdfReader(corpus / name)
        if reader.is_encrypted:
            reader.decrypt("")
        for page in reader.pages[:count]:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="the quarterly report and generated documents only")
    args = parser.parse_args()
    chart = load_chart_of_accounts()
    docs = [d for d in load_corpus(ROOT / "tests" / "corpus")
            if not args.quick or d.path is None or "sineng" in d.name]
    by_type: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    largest: tuple[int, bytes, str] | None = None
    print(f"{'document':40} {'pages':>5} {'laid out':>8} {'ours s':>7} {'bare s':>7} {'ratio':>6} exact")
    for doc in docs:
        data = document_bytes(doc)
        t_ours, extraction = ours(data, chart)
        t_bare, pages = bare_pdfplumber(data)
        outcomes = score(doc, extraction)
        t = by_type[doc.document_type]
        t["tp"] += sum(o.exact for o in outcomes)
        t["fp"] += sum(o.found and not o.exact for o in outcomes)
        t["fn"] += sum(not o.exact for o in outcomes)
        t["pages"] += pages
        t["ours"] += t_ours
        t["bare"] += t_bare
        if doc.path is not None and (largest is None or pages > largest[0]):
            largest = (pages, data, doc.name)
        print(f"{doc.name:40} {pages:5d} {len(extraction.located_pages):8d} {t_ours:7.2f} {t_bare:7.2f} "
              f"{t_ours / t_bare:6.3f} {sum(o.exact for o in outcomes)}/{len(outcomes)}")
        for o in outcomes:
            if not o.exact:
                print(f"    miss {o.label.canonical} ({o.label.scope or 'preferred'}): {o.detail}")
    print(f"\n{'document type':26} {'precision':>9} {'recall':>7} {'pages/s':>8} {'ours/bare':>9}")
    total = defaultdict(float)
    for name, t in sorted(by_type.items()):
        for k, v in t.items():
            total[k] += v
        print(_line(name, t))
    print(_line("all", total))
    if largest is not None:
        pages, data, name = largest
        small = next(d for d in docs if "sineng" in d.name)
        print(f"\npeak memory (tracemalloc) on the largest file, {name} ({pages} pages): "
              f"{peak_memory(data, chart):.1f} MiB; on the 13-page quarterly report: "
              f"{peak_memory(document_bytes(small), chart):.1f} MiB")
    if not args.quick:
        big = three_hundred_pages()
        t_ours, extraction = ours(big, chart)
        t_bare, pages = bare_pdfplumber(big)
        print(f"300-page report ({pages} pages, statements on pp {extraction.located_pages}): ours {t_ours:.2f} s, "
              f"bare pdfplumber {t_bare:.2f} s, ratio {t_ours / t_bare:.3f} (target < 0.100); "
              f"peak memory {peak_memory(big, chart):.1f} MiB")
    return 0


def _line(name: str, t: dict[str, float]) -> str:
    precision = t["tp"] / (t["tp"] + t["fp"]) if t["tp"] + t["fp"] else 0.0
    recall = t["tp"] / (t["tp"] + t["fn"]) if t["tp"] + t["fn"] else 0.0
    return (f"{name:26} {precision:9.3f} {recall:7.3f} {t['pages'] / t['ours']:8.1f} "
            f"{t['ours'] / t['bare']:9.3f}")


if __name__ == "__main__":
    sys.exit(main())
