"""Extraction benchmark: accuracy against the labelled corpus, speed against bare pdfplumber, memory.

    .venv/bin/python bench/extraction.py [--quick]

Prints, per document type and per language: every labelled field of tests/corpus/*.yaml (a field is one
labelled figure: current and prior values, unit and page must all be right) as exact, wrong (reported,
not as labelled) or missing, pages per second, and the ratio of our time to bare pdfplumber reading every
page (extract_text on each) of the same files in the same run; how many balance sheets had their identity
checked, and how many documents were flagged needs_review (with the figures published from them: none). Our time is the pipeline's default (a report's consolidated statements only);
a document labelled with parent-company (母公司 / standalone) figures is also read with
parent_company=True, scored on those labels and timed apart (column "+parent s"); then peak memory on the largest file and on a 300-page report assembled from
the corpus. Not a test: it prints figures. The last line is always

    fields=N exact=E exact_pct=P time_ratio=R

(every labelled field, the exact ones, their share in percent, and our time over bare pdfplumber's on the
real filings only).
"""
from __future__ import annotations

import argparse
import gc
import io
import logging
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


def ours(data: bytes, chart, parent_company: bool = False):
    started = time.perf_counter()
    extraction = extract_statement(data, chart, parent_company=parent_company)
    return time.perf_counter() - started, extraction


_RSS_CHILD = """
import resource, sys
sys.path.insert(0, sys.argv[2])
from plugins.documents import extract_statement, load_chart_of_accounts
chart = load_chart_of_accounts()
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
extract_statement(data, chart)
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss(data: bytes) -> tuple[float, float]:
    """(MiB of peak resident memory of a fresh process after loading, growth while extracting `data`):
    counts pdfium's native memory, which tracemalloc does not see."""
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pdf") as fh:
        fh.write(data)
        fh.flush()
        out = subprocess.run([sys.executable, "-c", _RSS_CHILD, fh.name, str(ROOT)], capture_output=True, text=True,
                             check=True).stdout.split()
    before, after = int(out[0]) / 1024, int(out[1]) / 1024
    return after, after - before


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
    logging.getLogger("pdfminer").setLevel(logging.ERROR)  # a filing's broken font descriptors, once a glyph
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="the quarterly report and generated documents only")
    parser.add_argument("--only", metavar="TEXT", help="only the labelled documents whose name contains TEXT "
                                                       "(no memory or 300-page figures)")
    args = parser.parse_args()
    chart = load_chart_of_accounts()
    docs = [d for d in load_corpus(ROOT / "tests" / "corpus")
            if (not args.quick or d.path is None or "sineng" in d.name) and (not args.only or args.only in d.name)]
    by_type: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    by_language: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    real = defaultdict(float)   # real filings only: the time ratio of the last line
    review = {"documents": 0, "published": 0, "balance_sheets": 0, "balance_sheets_checked": 0}
    largest: tuple[int, bytes, str] | None = None
    print(f"{'document':40} {'pages':>5} {'laid out':>8} {'ours s':>7} {'bare s':>7} {'ratio':>6} exact "
          f"{'+parent s':>9}")
    for doc in docs:
        data = document_bytes(doc)
        t_ours, extraction = ours(data, chart)
        t_bare, pages = bare_pdfplumber(data)
        outcomes = score(doc, extraction, scope=lambda s: s != "parent")
        extractions = [extraction]
        t_parent = ""
        if doc.parent_company:
            seconds, with_parent = ours(data, chart, parent_company=True)
            outcomes += score(doc, with_parent, scope=lambda s: s == "parent")
            extractions.append(with_parent)
            t_parent = f"{seconds:9.2f}"
        for t in (by_type[doc.document_type], by_language[doc.language]) + ((real,) if doc.path is not None else ()):
            for o in outcomes:
                t[o.kind] += 1
            t["pages"] += pages
            t["ours"] += t_ours
            t["bare"] += t_bare
        for ex in extractions[-1:]:  # the parent-company reading holds the default one's statements too
            review["documents"] += bool(ex.needs_review)
            review["published"] += len(ex.figures) if ex.needs_review else 0
            for scope in sorted({f.scope for f in ex.figures + ex.withheld if f.statement == "balance_sheet"}):
                assets = [f for f in ex.figures + ex.withheld if f.scope == scope and f.canonical == "total_assets"]
                review["balance_sheets"] += 1
                review["balance_sheets_checked"] += any(f.status == "checked" for f in assets)
        if doc.path is not None and (largest is None or pages > largest[0]):
            largest = (pages, data, doc.name)
        print(f"{doc.name:40} {pages:5d} {len(extraction.located_pages):8d} {t_ours:7.2f} {t_bare:7.2f} "
              f"{t_ours / t_bare:6.3f} {sum(o.exact for o in outcomes)}/{len(outcomes)} {t_parent}"
              + ("".join(f"  needs_review: {'; '.join(ex.needs_review)}" for ex in extractions if ex.needs_review)))
        for o in outcomes:
            if not o.exact:
                print(f"    {o.kind} {o.label.canonical} ({o.label.scope or 'preferred'}): {o.detail}")
    print(f"\n{'document type / language':26} {'fields':>6} {'exact':>6} {'wrong':>6} {'missing':>7} {'exact %':>7} "
          f"{'pages/s':>8} {'ours/bare':>9}")
    total = defaultdict(float)
    for name, t in sorted(by_type.items()):
        for k, v in t.items():
            total[k] += v
        print(_line(name, t))
    for name, t in sorted(by_language.items()):
        print(_line(f"language {name}", t))
    print(_line("all", total))
    print(_line("real filings", real))
    print(f"balance sheets identity-checked: {review['balance_sheets_checked']}/{review['balance_sheets']}; "
          f"documents flagged needs_review: {review['documents']}, figures published from them: {review['published']}")
    if args.only:
        _last_line(total, real)
        return 0
    if largest is not None:
        pages, data, name = largest
        small = next(d for d in docs if "sineng" in d.name)
        print(f"\npeak memory (tracemalloc) on the largest file, {name} ({pages} pages): "
              f"{peak_memory(data, chart):.1f} MiB; on the 13-page quarterly report: "
              f"{peak_memory(document_bytes(small), chart):.1f} MiB")
        rss, grew = peak_rss(data)
        small_rss, small_grew = peak_rss(document_bytes(small))
        print(f"peak resident memory of a fresh process (pdfium's native memory included): {rss:.1f} MiB, "
              f"+{grew:.1f} MiB while extracting the largest file; {small_rss:.1f} MiB, +{small_grew:.1f} MiB on the "
              f"13-page report")
    if not args.quick:
        big = three_hundred_pages()
        t_ours, extraction = ours(big, chart)
        t_bare, pages = bare_pdfplumber(big)
        print(f"300-page report ({pages} pages, statements on pp {extraction.located_pages}): ours {t_ours:.2f} s, "
              f"bare pdfplumber {t_bare:.2f} s, ratio {t_ours / t_bare:.3f} (target < 0.100); "
              f"peak memory {peak_memory(big, chart):.1f} MiB (tracemalloc), "
              f"{peak_rss(big)[0]:.1f} MiB resident (+{peak_rss(big)[1]:.1f} MiB while extracting)")
    _last_line(total, real)
    return 0


def _line(name: str, t: dict[str, float]) -> str:
    fields = t["exact"] + t["wrong"] + t["missing"]
    pct = 100 * t["exact"] / fields if fields else 0.0
    return (f"{name:26} {int(fields):6d} {int(t['exact']):6d} {int(t['wrong']):6d} {int(t['missing']):7d} {pct:7.1f} "
            f"{t['pages'] / t['ours'] if t['ours'] else 0:8.1f} {t['ours'] / t['bare'] if t['bare'] else 0:9.3f}")


def _last_line(total: dict[str, float], real: dict[str, float]) -> None:
    """The summary a script can parse: every labelled field, and the time ratio over the real filings."""
    fields = int(total["exact"] + total["wrong"] + total["missing"])
    pct = 100 * total["exact"] / fields if fields else 0.0
    ratio = real["ours"] / real["bare"] if real["bare"] else 0.0
    print(f"fields={fields} exact={int(total['exact'])} exact_pct={pct:.1f} time_ratio={ratio:.3f}")

if __name__ == "__main__":
    sys.exit(main())
