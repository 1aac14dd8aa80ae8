"""DuckDB and Polars on the loan book's core: days past due and overdue principal per loan.

    .venv/bin/python bench/engines.py [--loans 100000 1000000] [--keep] [--repeat 1]

Over the same typed Parquet of bench/portfolio.py, each engine computes, per loan of the book at the month
end (started by then, outstanding principal > 0): the schedule in force (highest schedule_version), its
instalments due by the month end, what was paid on each by then, the oldest instalment not fully paid
(principal or interest) → days past due, and the overdue principal — the same logic as
bench/baselines/dpd_floors_2002.sql and plugins/portfolio/loanbook.py. Each engine runs in a fresh
subprocess and materializes the per-loan result in memory (DuckDB: an Arrow table; Polars: a lazy plan
from scan_parquet, collected). Printed per engine and N: CPU seconds (user + sys of the child for the
query, reading the Parquet included, start-up and imports excluded), wall seconds and peak RSS; the two
results are then compared loan by loan (not timed).

Both engines use every core they see (the machine's 2 here).
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from portfolio import AS_OF, SEED, dataset_dir, paths, write_portfolio  # noqa: E402

DUCKDB_SQL = """
WITH in_force AS (
    SELECT contract_id, max(schedule_version) AS schedule_version
    FROM read_parquet($schedules) GROUP BY contract_id
),
due AS (
    SELECT s.contract_id, s.schedule_version, s.instalment_no, s.due_date, s.principal_due, s.interest_due
    FROM read_parquet($schedules) AS s JOIN in_force USING (contract_id, schedule_version)
    WHERE s.due_date <= CAST($as_of AS DATE)
),
paid AS (
    SELECT contract_id, schedule_version, instalment_no,
           sum(principal_paid) AS principal_paid, sum(interest_paid) AS interest_paid
    FROM read_parquet($payments) WHERE paid_date <= CAST($as_of AS DATE)
    GROUP BY contract_id, schedule_version, instalment_no
),
unpaid AS (
    SELECT d.contract_id, min(d.due_date) AS oldest_unpaid_due,
           sum(greatest(d.principal_due - coalesce(p.principal_paid, 0), 0)) AS overdue_principal_cents
    FROM due AS d LEFT JOIN paid AS p USING (contract_id, schedule_version, instalment_no)
    WHERE coalesce(p.principal_paid, 0) < d.principal_due OR coalesce(p.interest_paid, 0) < d.interest_due
    GROUP BY d.contract_id
)
SELECT l.contract_id, l.outstanding_principal AS balance_cents,
       coalesce(date_diff('day', u.oldest_unpaid_due, CAST($as_of AS DATE)), 0) AS dpd,
       coalesce(u.overdue_principal_cents, 0)::BIGINT AS overdue_principal_cents
FROM read_parquet($loans) AS l LEFT JOIN unpaid AS u USING (contract_id)
WHERE l.start_date <= CAST($as_of AS DATE) AND l.outstanding_principal > 0
"""


def _cpu(u: resource.struct_rusage) -> float:
    return u.ru_utime + u.ru_stime


def run_duckdb(files: dict[str, Path]):
    import duckdb

    con = duckdb.connect()
    params = {k: str(files[k]) for k in ("loans", "schedules", "payments")} | {"as_of": AS_OF.isoformat()}
    return con.execute(DUCKDB_SQL, params).to_arrow_table()


def run_polars(files: dict[str, Path]):
    import polars as pl

    as_of = pl.lit(AS_OF)
    keys = ["contract_id", "schedule_version", "instalment_no"]
    schedules = pl.scan_parquet(files["schedules"])
    in_force = schedules.group_by("contract_id").agg(pl.col("schedule_version").max())
    due = (schedules.join(in_force, on=["contract_id", "schedule_version"], how="inner")
           .filter(pl.col("due_date") <= as_of))
    paid = (pl.scan_parquet(files["payments"]).filter(pl.col("paid_date") <= as_of)
            .group_by(keys).agg(pl.col("principal_paid").sum(), pl.col("interest_paid").sum()))
    unpaid = (due.join(paid, on=keys, how="left")
              .with_columns(pl.col("principal_paid").fill_null(0), pl.col("interest_paid").fill_null(0))
              .filter((pl.col("principal_paid") < pl.col("principal_due"))
                      | (pl.col("interest_paid") < pl.col("interest_due")))
              .group_by("contract_id")
              .agg(pl.col("due_date").min().alias("oldest_unpaid_due"),
                   (pl.col("principal_due") - pl.col("principal_paid")).clip(lower_bound=0).sum()
                   .alias("overdue_principal_cents")))
    book = (pl.scan_parquet(files["loans"])
            .filter((pl.col("start_date") <= as_of) & (pl.col("outstanding_principal") > 0))
            .select("contract_id", pl.col("outstanding_principal").alias("balance_cents"))
            .join(unpaid, on="contract_id", how="left")
            .select("contract_id", "balance_cents",
                    (as_of - pl.col("oldest_unpaid_due")).dt.total_days().fill_null(0).cast(pl.Int64).alias("dpd"),
                    pl.col("overdue_principal_cents").fill_null(0).cast(pl.Int64)))
    return book.collect()


def child(engine: str, folder: Path, out: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if engine == "duckdb":
        import duckdb  # noqa: F401
    else:
        import polars  # noqa: F401
    files = paths(folder, "typed")
    start = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter()
    result = run_duckdb(files) if engine == "duckdb" else run_polars(files)
    if isinstance(result, pa.RecordBatchReader):
        result = result.read_all()
    rows = result.num_rows if hasattr(result, "num_rows") else result.height
    done = resource.getrusage(resource.RUSAGE_SELF)
    elapsed = time.perf_counter() - wall
    table = result if isinstance(result, pa.Table) else result.to_arrow()
    pq.write_table(table, out)
    print("RESULT " + json.dumps({"cpu_s": _cpu(done) - _cpu(start), "startup_cpu_s": _cpu(start), "wall_s": elapsed,
                                  "maxrss_kib": done.ru_maxrss, "rows": rows}), flush=True)


def measure(engine: str, folder: Path, out: Path) -> dict:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", engine, "--data", str(folder),
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        raise SystemExit(f"{engine} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return next(json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT "))


def same_results(a: Path, b: Path) -> tuple[int, int, dict]:
    """(rows of a, rows differing in either direction, totals of a) — compared with DuckDB, not timed."""
    import duckdb

    con = duckdb.connect()
    q = "SELECT contract_id, balance_cents, dpd::BIGINT, overdue_principal_cents::BIGINT FROM read_parquet(?)"
    diff = con.execute(f"SELECT count(*) FROM (({q} EXCEPT {q}) UNION ALL ({q} EXCEPT {q}))",
                       [str(a), str(b), str(b), str(a)]).fetchone()[0]
    n, dpd, overdue = con.execute("SELECT count(*), sum(dpd), sum(overdue_principal_cents) FROM read_parquet(?)",
                                  [str(a)]).fetchone()
    return n, diff, {"sum_dpd": int(dpd), "sum_overdue_principal_cents": int(overdue)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loans", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--repeat", type=int, default=1, help="runs per engine and N (the best CPU figure is kept)")
    ap.add_argument("--keep", action="store_true", help="keep generated Parquet (files already cached always stay)")
    ap.add_argument("--child", choices=["duckdb", "polars"], help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a.child, a.data, a.out)
    sys.stdout.reconfigure(line_buffering=True)
    summary = []
    for n in a.loans:
        folder = dataset_dir(n, a.seed)
        cached = (folder / "complete.json").exists()
        write_portfolio(n, a.seed, folder, text=False, log=lambda m: print(m, file=sys.stderr, flush=True))
        with tempfile.TemporaryDirectory(prefix="bench_engines_") as tmp:
            outs = {}
            for engine in ("duckdb", "polars"):
                runs = []
                for r in range(a.repeat):
                    outs[engine] = Path(tmp) / f"{engine}.parquet"
                    runs.append(measure(engine, folder, outs[engine]))
                best = min(runs, key=lambda x: x["cpu_s"])
                best["peak_rss_mib"] = max(x["maxrss_kib"] for x in runs) // 1024
                summary.append((n, engine, best))
                print(f"loans={n} engine={engine} cpu_s={best['cpu_s']:.2f} wall_s={best['wall_s']:.2f} "
                      f"peak_rss_mib={best['peak_rss_mib']} rows={best['rows']}")
            rows, diff, totals = same_results(outs["duckdb"], outs["polars"])
            print(f"loans={n} check: {rows:,} loans, {diff} differing rows between DuckDB and Polars "
                  f"(sum dpd {totals['sum_dpd']:,}, overdue principal {totals['sum_overdue_principal_cents']:,} cents)")
            if diff:
                print(f"loans={n} CHECK FAILED: the engines disagree on {diff} rows")
        if not a.keep and not cached:
            shutil.rmtree(folder, ignore_errors=True)
    by = {(n, e): r for n, e, r in summary}
    for n in a.loans:
        d, p = by[(n, "duckdb")], by[(n, "polars")]
        print(f"loans={n} polars/duckdb: cpu {p['cpu_s'] / d['cpu_s']:.2f}x wall {p['wall_s'] / d['wall_s']:.2f}x "
              f"peak_rss {p['peak_rss_mib'] / d['peak_rss_mib']:.2f}x")


if __name__ == "__main__":
    main()
