"""The whole monthly Dagster job on a generated portfolio of N contracts: the ten slowest steps and the total.

    .venv/bin/python bench/month.py --loans N [--keep]

Delivers the month-end extract of bench/portfolio.py (the text form, written as the core system's CSV; no
PDF documents) into the inbox of a private local S3 server (SeaweedFS on free loopback ports, its data and
the Dagster instance under .state/bench/month/, so it never touches `make demo`'s server or state), as
pipelines/cli.py `demo` and tests/conftest.py do, then runs `monthly_post_loan` for 2026-09 in process
(pipelines.cli.run_job) and prints each step's wall time from the run's events: the ten slowest and the
total. The server is stopped and the state removed at the end (kept with --keep).
"""
from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import socket
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from portfolio import AS_OF, SEED, dataset_dir, paths, write_portfolio  # noqa: E402

MONTH = AS_OF.strftime("%Y-%m")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _free_ports(n: int) -> list[int]:
    # weed also binds port+10000 for gRPC, so both must be free (as tests/conftest.py).
    rng, taken, out = random.Random(os.getpid()), set(), []
    while len(out) < n:
        port = rng.randrange(20000, 40000)
        if port in taken or port + 10000 in taken or not (_bindable(port) and _bindable(port + 10000)):
            continue
        taken.update({port, port + 10000})
        out.append(port)
    return out


def csv_tables(folder: Path) -> dict[str, bytes]:
    """The text Parquet as the core system's UTF-8 CSV files (header, quoted only where needed)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = {}
    for name, path in paths(folder, "text").items():
        sink = io.BytesIO()
        pacsv.write_csv(pq.read_table(path), sink, pacsv.WriteOptions(quoting_style="needed"))
        out[name] = sink.getvalue()
    return out


def step_times(instance, run_id: str) -> tuple[list[tuple[str, float, str]], float]:
    """(step, seconds, outcome) per step from the run's event log, and the run's wall time (first to last event)."""
    starts, rows = {}, []
    first = last = None
    for entry in instance.all_logs(run_id):
        ts = entry.timestamp
        first = ts if first is None else min(first, ts)
        last = ts if last is None else max(last, ts)
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type_value
        if kind == "STEP_START":
            starts[event.step_key] = ts
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts:
            rows.append((event.step_key, ts - starts.pop(event.step_key),
                         "ok" if kind == "STEP_SUCCESS" else "FAILED"))
    rows += [(k, (last or 0) - t, "not finished") for k, t in starts.items()]
    return rows, (last or 0) - (first or 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loans", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--keep", action="store_true", help="keep the generated Parquet and the run's state")
    a = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)

    folder = dataset_dir(a.loans, a.seed)
    cached = (folder / "complete.json").exists()
    write_portfolio(a.loans, a.seed, folder, log=lambda m: print(m, file=sys.stderr, flush=True))
    state = ROOT / ".state" / "bench" / "month" / f"n{a.loans}_{os.getpid()}"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    s3_port, master, volume, filer = _free_ports(4)
    os.environ.update({
        # no credentials: the server generates them into the state folder, and the pipeline finds its own there
        "POSTLOAN_S3_ENDPOINT": f"127.0.0.1:{s3_port}", "POSTLOAN_S3_SECURE": "false",
        "POSTLOAN_BUCKET_INBOX": "bench-inbox", "POSTLOAN_BUCKET_ARCHIVE": "bench-archive",
        "POSTLOAN_BUCKET_WORK": "bench-work", "POSTLOAN_STATE_DIR": str(state),
        "DAGSTER_HOME": str(state / "dagster_home"),
    })
    for key in ("POSTLOAN_S3_ACCESS_KEY", "POSTLOAN_S3_SECRET_KEY"):  # the bench runs as the pipeline
        os.environ.pop(key, None)
    from plugins.archive import ObjectStore, s3_settings
    from plugins.archive.local_s3 import LocalS3, LocalS3Ports
    from plugins.config import load_config
    from plugins.inbox import deliver

    cfg = load_config()
    settings = s3_settings(cfg.storage)
    server = LocalS3(state, settings, LocalS3Ports(s3_port, master, volume, filer))
    server.start(timeout=90)
    try:
        store = ObjectStore(server.settings)
        store.ensure_buckets()
        started = time.perf_counter()
        tables = csv_tables(folder)
        written = deliver(store, MONTH, tables, [])
        print(f"delivered {MONTH}: {len(tables)} core tables ({sum(map(len, tables.values())) / 2**20:.0f} MiB CSV, "
              f"{written} objects) in {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
        from pipelines.cli import _check_failures, _instance, run_job

        instance = _instance()
        result = run_job("monthly_post_loan", MONTH, instance)
        rows, total = step_times(instance, result.run_id)
        rows.sort(key=lambda r: -r[1])
        print(f"monthly_post_loan {MONTH} on {a.loans:,} generated contracts: "
              f"{'succeeded' if result.success else 'FAILED'}; ten slowest steps:")
        for step, seconds, outcome in rows[:10]:
            print(f"  {seconds:9.2f}s  {step}{'' if outcome == 'ok' else '  (' + outcome + ')'}")
        for line in _check_failures(result):
            print(f"  {line}")
        print(f"loans={a.loans} steps={len(rows)} sum_step_s={sum(r[1] for r in rows):.2f} total_s={total:.2f}")
    finally:
        server.stop()
        if not a.keep:
            shutil.rmtree(state, ignore_errors=True)
            if not cached:
                shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
