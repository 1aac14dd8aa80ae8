"""Lookup speed of the archive catalog with one million documents (SQLite, the default backend).

Builds a catalog with the real schema (plugins.archive.catalog: indexes on borrower_id, contract_id,
and sha256 as the primary key), fills it with 1,000,000 synthetic document rows (about 20 documents per
borrower), then times lookups through the catalog API:

- by borrower: Catalog.find_documents(borrower_id=...)  -> all of a borrower's documents
- by hash:     Catalog.document(sha256)                  -> one document

and, as the baseline in the same run, the same queries forced to scan the table (SQLite `NOT INDEXED`).
Prints median and p99 latency and the scan/index ratio. A benchmark, not a test:

    .venv/bin/python bench/archive_lookup.py [--rows 1000000] [--lookups 2000] [--scans 20] [--db PATH]
"""
from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plugins.archive.catalog import Catalog  # noqa: E402

CLASSES = ["loan_contract", "financial_statement", "core_extract", "lease_contract", "collection_record"]


def build(catalog: Catalog, rows: int, per_borrower: int = 20, batch: int = 50_000) -> list[tuple[str, str]]:
    """Insert `rows` documents; returns (sha256, borrower_id) of every row."""
    keys = []
    insert = ("INSERT INTO documents (sha256, status, doc_class, borrower_id, contract_id, period, original_name, size, "
              "page_count, object_key, version_id, retain_until, received_date, ingested_at) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    with catalog.engine.begin() as conn:
        raw = conn.connection.driver_connection
        cursor = raw.cursor()
        values = []
        for i in range(rows):
            sha = hashlib.sha256(i.to_bytes(8, "big")).hexdigest()
            borrower = f"B{i // per_borrower:07d}"
            contract = f"HT{i // (per_borrower // 4):08d}"
            period = f"20{20 + i % 7}-{i % 12 + 1:02d}"
            values.append((sha, "archived", CLASSES[i % len(CLASSES)], borrower, contract, period, f"{contract}_{i}.pdf",
                           10_000 + i % 50_000, 1 + i % 9, f"documents/{sha[:2]}/{sha}.pdf", f"v{i:016x}",
                           "2036-09-30T00:00:00+00:00", "2026-09-03", "2026-09-30T00:00:00+00:00"))
            keys.append((sha, borrower))
            if len(values) == batch:
                cursor.executemany(insert, values)
                values = []
        if values:
            cursor.executemany(insert, values)
    with catalog.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return keys


def timed(fn, args) -> list[float]:
    out = []
    for a in args:
        start = time.perf_counter()
        fn(a)
        out.append((time.perf_counter() - start) * 1000)
    return out


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 100 else max(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--scans", type=int, default=20)
    parser.add_argument("--db", help="SQLite file (default: a temporary one)")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    path = Path(args.db) if args.db else Path(folder.name) / "catalog.sqlite"
    catalog = Catalog(f"sqlite:///{path}")
    started = time.perf_counter()
    keys = build(catalog, args.rows)
    print(f"built {args.rows:,} document rows in {time.perf_counter() - started:.1f}s "
          f"({path.stat().st_size / 1e6:.0f} MB)")
    rng = random.Random(7)
    sample = [rng.choice(keys) for _ in range(args.lookups)]
    scan_sample = sample[: args.scans]

    by_borrower = timed(lambda k: catalog.find_documents(borrower_id=k[1]), sample)
    by_hash = timed(lambda k: catalog.document(k[0]), sample)
    found = len(catalog.find_documents(borrower_id=sample[0][1]))

    with catalog.engine.connect() as conn:
        scan_borrower = timed(lambda k: conn.exec_driver_sql(
            "SELECT * FROM documents NOT INDEXED WHERE borrower_id = ?", (k[1],)).fetchall(), scan_sample)
        scan_hash = timed(lambda k: conn.exec_driver_sql(
            "SELECT * FROM documents NOT INDEXED WHERE sha256 = ?", (k[0],)).fetchall(), scan_sample)

    print(f"{'lookup':<12} {'median ms':>10} {'p99 ms':>10}   {'full scan median ms':>20}   {'scan/index':>10}")
    for name, indexed, scan in (("by borrower", by_borrower, scan_borrower), ("by hash", by_hash, scan_hash)):
        ratio = statistics.median(scan) / statistics.median(indexed)
        print(f"{name:<12} {statistics.median(indexed):>10.3f} {p99(indexed):>10.3f}   "
              f"{statistics.median(scan):>20.1f}   {ratio:>9.0f}×")
    print(f"({args.lookups} indexed lookups each through the Catalog API, {args.scans} forced scans each; "
          f"a borrower has {found} documents)")
    catalog.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
