"""Scale of the month's classification and provisioning against a plain DuckDB baseline.

    .venv/bin/python bench/scale.py --loans N [--keep] [--seed S] [--project-input auto|typed|text]

1. Generates a portfolio of N contracts (bench/portfolio.py: ~36 monthly instalments each, the sample's mix)
   as typed Parquet, plus the same data as text (the project's current input form); reused from
   .state/bench/portfolio/ when already there for the same N and seed (kept afterwards with --keep).
2. Project side, in a fresh subprocess: reads the Parquet into pandas frames and runs the project's public
   functions for one month end: `classify_period` (the loan book and its five-tier verdicts with every
   registered rule), then, on the book with its tiers, `inputs_from_extract` (matrix=None: the configured
   fallback matrix, as without tier_history) and `assets.provision.provisioned_book` (2002, 2012 and ECL).
3. Baseline, in a fresh subprocess: one plain DuckDB query over the typed Parquet
   (bench/baselines/dpd_floors_2002.sql): days past due, the overdue floors and the 2002 provision per tier.
4. Checks that the two agree where they should: per overdue band (the floors of config/classification.yaml
   applied to each side's days past due) the number of loans, their balance, overdue principal and the 2002
   provision at the band's tier. The project applies other rules as well, so its final tiers are shown beside.

CPU seconds are user + sys of each child process for its work (reading the Parquet included, interpreter
start-up and imports excluded; they are printed separately). Peak RSS is the child's ru_maxrss. The last line:

    loans=N project_s=X baseline_s=Y ratio=Z peak_rss_mib=M

X and Y in CPU seconds, Z = X / Y, M the project side's peak RSS in MiB. A project side killed by the time
limit or by the kernel still gets its CPU seconds and peak RSS (from RUSAGE_CHILDREN) and a line saying so.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from portfolio import AS_OF, SEED, dataset_dir, paths, write_portfolio  # noqa: E402

BASELINE_SQL = BENCH / "baselines" / "dpd_floors_2002.sql"
TIERS = (1, 2, 3, 4, 5)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------- configuration shared by both sides

def floor_days(cfg) -> dict[int, int]:
    """tier → days: overdue MORE than this many days puts a loan at least at that tier (overdue_floors)."""
    days = {f.tier: f.days for f in cfg.classification.overdue_floors}
    missing = [t for t in (2, 3, 4, 5) if t not in days]
    if missing:
        raise SystemExit(f"config/classification.yaml overdue_floors has no band for tier(s) {missing}")
    return days


def rates_2002(cfg) -> dict[int, "Decimal"]:
    from decimal import Decimal

    method = cfg.provisioning.regulatory_2002
    return {t: r * (1 + method.float.get(t, Decimal(0))) for t, r in method.rates.items()}


def floor_tier(dpd, days: dict[int, int]):
    """The overdue floor tier of each dpd (1 when not overdue), as the classification check computes it."""
    import numpy as np

    tier = np.ones(len(dpd), dtype=np.int64)
    for t in sorted(days):
        tier = np.where(np.asarray(dpd) > days[t], t, tier)
    return tier


# ---------------------------------------------------------------- project side (child)

def _stage(startup: resource.struct_rusage) -> tuple[float, int]:
    """(CPU seconds since start-up, peak RSS MiB so far) at the end of a stage."""
    now = resource.getrusage(resource.RUSAGE_SELF)
    return _cpu(now) - _cpu(startup), now.ru_maxrss // 1024


# The instalment tables' lean form (accepted by plugins/portfolio/typed.py as already typed): the contract id,
# repeated on every instalment, as a pandas categorical (int32 codes into one list of ids), and the small
# counts in the narrowest of int8 / int16 / int32 that holds the column's values.
LEAN_KEYS = {"schedules": ["contract_id"], "payments": ["contract_id"]}
LEAN_INT32 = {"schedules": ["schedule_version", "instalment_no"], "payments": ["schedule_version", "instalment_no"]}


# The columns the project's functions read (the loan book: plugins/portfolio/loanbook.py; the ECL terms:
# plugins/provisioning/ecl.py inputs_from_extract); the project side reads only these from the typed Parquet.
PROJECT_COLUMNS = {
    "borrowers": ["borrower_id", "name", "kind", "industry_name"],
    "loans": ["contract_id", "borrower_id", "product", "issuance_type", "annual_rate", "start_date", "maturity_date",
              "industry_code", "region", "restructured_on", "extended_on", "outstanding_principal"],
    "schedules": ["contract_id", "schedule_version", "instalment_no", "due_date", "principal_due", "interest_due"],
    "payments": ["contract_id", "schedule_version", "instalment_no", "paid_date", "principal_paid", "interest_paid"],
    "collateral": ["collateral_id", "contract_id", "collateral_type", "appraised_value", "valuation_date"],
    "guarantors": ["contract_id", "guarantee_type", "guaranteed_amount"],
}


def categorical(column) -> "pd.Categorical":
    """A dictionary-encoded Arrow column (a dictionary per row group) as one pandas categorical, without
    turning each row into a Python string: the dictionaries unified, the indices concatenated, the categories
    Arrow-backed strings."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    column = column.unify_dictionaries()
    dictionary = column.chunk(0).dictionary if column.num_chunks else pa.array([], pa.string())
    indices = pa.chunked_array([c.indices for c in column.chunks], type=pa.int32()) if column.num_chunks else \
        pa.chunked_array([], pa.int32())
    codes = (indices.fill_null(-1) if column.null_count else indices).to_numpy()  # one copy, int32
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(pd.Index(dictionary.to_pandas())))


def typed_column(name: str, field, column):
    """One column of a typed Parquet table as the project's typed frames hold it (see typed_frame)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if name in LEAN_KEYS and field.name in LEAN_KEYS[name]:
        return categorical(column)
    if pa.types.is_decimal(field.type):
        return column.cast(pa.float64()).to_numpy()
    if pa.types.is_integer(field.type):
        if column.null_count:  # integers with empty cells: nullable Int64, never float
            return column.to_pandas(types_mapper={field.type: pd.Int64Dtype()}.get).array
        if field.name in LEAN_INT32.get(name, ()):
            low, high = (pc.min_max(column)[k].as_py() for k in ("min", "max")) if len(column) else (0, 0)
            narrow = next(t for t in (pa.int8(), pa.int16(), pa.int32(), field.type)
                          if t == field.type or (np.iinfo(t.to_pandas_dtype()).min <= low
                                                 and high <= np.iinfo(t.to_pandas_dtype()).max))
            return column.cast(narrow).to_numpy()
        return column.to_numpy()
    if pa.types.is_date32(field.type):
        return pd.arrays.ArrowExtensionArray(column)
    return column.to_pandas().array


def typed_frame(table, name: str = "") -> "pd.DataFrame":
    """A typed Parquet table as the project's typed frames (plugins/portfolio/typed.py, config/schema.yaml):
    dates date32[pyarrow], money int64 cents, counts int64 (Int64 when a column has nulls), decimals float64,
    text Arrow-backed strings; the instalment tables in their lean form (LEAN_KEYS, LEAN_INT32)."""
    import pandas as pd

    return pd.DataFrame({f.name: typed_column(name, f, table[f.name]) for f in table.schema}, copy=False)


def read_typed(path: Path, name: str) -> "pd.DataFrame":
    """The PROJECT_COLUMNS of one typed Parquet file as a typed frame, read and converted a column at a time
    (the Arrow buffers of a column freed before the next is read: the peak is the frame, not frame + table)."""
    import pandas as pd
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path, read_dictionary=LEAN_KEYS.get(name))
    wanted = PROJECT_COLUMNS.get(name)
    columns = {}
    for field in file.schema_arrow:
        if wanted is None or field.name in wanted:
            # one thread: fewer CPU seconds for the same bytes (the columns are read one at a time anyway)
            columns[field.name] = typed_column(name, field, file.read(columns=[field.name], use_threads=False)[field.name])
    return pd.DataFrame(columns, copy=False)


def read_frames(folder: Path, form: str) -> dict:
    import pyarrow.parquet as pq

    from plugins.portfolio.arrow_memory import keep_freed_memory

    keep_freed_memory()  # as the work store's IO manager does before it reads a table (pipelines/resources.py)

    if form == "typed":
        return {t: read_typed(p, t) for t, p in paths(folder, form).items()}
    return {t: pq.read_table(p).to_pandas() for t, p in paths(folder, form).items()}


def text_frames_for_current_project(folder: Path) -> dict:
    """TEMPORARY FALLBACK: the same portfolio as all-string frames (ISO dates, yuan '1234.56', '' for empty),
    the form `open_book` and `inputs_from_extract` take today, for as long as they fail on typed frames."""
    return read_frames(folder, "text")


def project_child(folder: Path, form: str) -> None:
    import pandas as pd

    from assets.provision import provisioned_book
    from plugins import registry
    from plugins.classification.period import classify_period
    from plugins.config import load_config
    from plugins.provisioning.ecl import inputs_from_extract
    from plugins.provisioning.methods import Regulatory2002

    startup = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter()
    cfg = load_config()
    extract = read_frames(folder, "typed") if form == "typed" else text_frames_for_current_project(folder)
    stamps, stages = {"read": time.perf_counter() - wall}, {"read": _stage(startup)}
    book, verdicts, _ = classify_period(extract, AS_OF, cfg.classification, registry.classification_rules())
    stamps["classify"], stages["classify"] = time.perf_counter() - wall, _stage(startup)
    if isinstance(verdicts, pd.DataFrame):  # the verdict frame (engine.VERDICT_COLUMNS)
        tiers = verdicts[["contract_id", "tier"]]
    else:  # a list of Verdict
        tiers = pd.DataFrame({"contract_id": [v.contract_id for v in verdicts], "tier": [v.tier for v in verdicts]})
    frame = book.assign(tier=tiers["tier"].to_numpy())  # the verdicts are in the book's order
    inputs = inputs_from_extract(extract, AS_OF, None, None)
    stamps["ecl_inputs"], stages["ecl_inputs"] = time.perf_counter() - wall, _stage(startup)
    frame = provisioned_book(frame, inputs, cfg)
    stamps["provision"], stages["provision"] = time.perf_counter() - wall, _stage(startup)
    done = resource.getrusage(resource.RUSAGE_SELF)

    # Not measured: the figures to compare with the baseline.
    days = floor_days(cfg)
    frame["floor_tier"] = floor_tier(frame["dpd"].to_numpy(), days)
    at_floor = Regulatory2002().provisions(frame.assign(tier=frame["floor_tier"]), cfg.provisioning)
    frame["provision_2002_at_floor_cents"] = at_floor.to_numpy()
    bands = frame.groupby("floor_tier").agg(
        loans=("contract_id", "size"), balance_cents=("balance_cents", "sum"),
        overdue_principal_cents=("overdue_principal_cents", "sum"),
        provision_2002_cents=("provision_2002_at_floor_cents", "sum"))
    final = frame.groupby("tier").agg(loans=("contract_id", "size"), balance_cents=("balance_cents", "sum"))
    frame[["contract_id", "dpd", "balance_cents", "overdue_principal_cents"]].to_parquet(folder / "project_loans.parquet")
    result = {
        "cpu_s": _cpu(done) - _cpu(startup), "startup_cpu_s": _cpu(startup), "maxrss_kib": done.ru_maxrss,
        "wall_s": time.perf_counter() - wall, "stamps": stamps, "steps": stages, "form": form,
        "bands": {int(t): {k: int(v) for k, v in r.items()} for t, r in bands.iterrows()},
        "final_tiers": {int(t): {k: int(v) for k, v in r.items()} for t, r in final.iterrows()},
        "below_floor": int((frame["tier"] < frame["floor_tier"]).sum()),
        "provisions": {c.removeprefix("provision_").removesuffix("_cents"): int(frame[c].sum())
                       for c in frame.columns if c.startswith("provision_") and c.endswith("_cents")
                       and c != "provision_2002_at_floor_cents"},
        "stages": {int(k): int(v) for k, v in frame["stage"].value_counts().sort_index().items()},
    }
    print("RESULT " + json.dumps(result), flush=True)


# ---------------------------------------------------------------- baseline (child)

def baseline_params(folder: Path) -> dict:
    from plugins.config import load_config

    cfg = load_config()
    typed = paths(folder, "typed")
    params = {"loans": str(typed["loans"]), "schedules": str(typed["schedules"]), "payments": str(typed["payments"]),
              "as_of": AS_OF.isoformat()}
    params.update({f"floor_{t}_days": d for t, d in floor_days(cfg).items()})
    params.update({f"rate_{t}": str(r) for t, r in rates_2002(cfg).items()})
    return params


def baseline_child(folder: Path, params: dict) -> None:
    import duckdb

    startup = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter()
    con = duckdb.connect()
    rows = con.execute(BASELINE_SQL.read_text(encoding="utf-8"), params).fetchall()
    done = resource.getrusage(resource.RUSAGE_SELF)
    bands = {int(t): {"loans": int(n), "balance_cents": int(b), "overdue_principal_cents": int(o),
                      "provision_2002_cents": int(p)} for t, n, b, o, p in rows}
    print("RESULT " + json.dumps({"cpu_s": _cpu(done) - _cpu(startup), "startup_cpu_s": _cpu(startup),
                                  "maxrss_kib": done.ru_maxrss, "wall_s": time.perf_counter() - wall,
                                  "threads": con.execute("SELECT current_setting('threads')").fetchone()[0],
                                  "bands": bands}), flush=True)


# ---------------------------------------------------------------- parent

def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def default_rss_limit_gib() -> float:
    """What the machine has available now, less 4 GiB for everyone else (the project side is killed above it)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return max(1.0, int(line.split()[1]) / 2**20 - 4)
    except OSError:
        pass
    return 8.0


def run_child(args: list[str], timeout: float, rss_limit_gib: float = 1e9) -> tuple[dict | None, float, int, str]:
    """(result or None, CPU seconds and peak RSS KiB from RUSAGE_CHILDREN, failure text).

    The child is killed after `timeout` wall seconds, or as soon as its RSS exceeds `rss_limit_gib`
    (so that a run out of memory fails here rather than the kernel's OOM killer picking a neighbour)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    failure = ""
    deadline = time.monotonic() + timeout
    while True:
        try:
            out, err = proc.communicate(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            rss = _rss_kib(proc.pid)
            if rss > rss_limit_gib * 2**20:
                failure = f"killed at RSS {rss / 2**20:.1f} GiB (memory limit {rss_limit_gib:.1f} GiB)"
            elif time.monotonic() > deadline:
                failure = f"killed after {timeout:.0f}s wall (time limit)"
            if failure:
                proc.kill()
                out, err = proc.communicate()
                break
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = _cpu(after) - _cpu(before)
    if not failure and proc.returncode != 0:
        failure = (f"exit status {proc.returncode}" + (" (killed by signal, out of memory?)" if proc.returncode < 0 else "")
                   + (": " + err.strip().splitlines()[-1] if err.strip() else ""))
    result = next((json.loads(line[7:]) for line in out.splitlines() if line.startswith("RESULT ")), None)
    if failure and err.strip():
        log("  child stderr (last lines):\n    " + "\n    ".join(err.strip().splitlines()[-8:]))
    return result, cpu, after.ru_maxrss, failure


def typed_input_supported() -> bool:
    """Whether the project's loan book takes typed frames today (it calls a `type_tables`)."""
    import inspect

    try:
        from plugins.portfolio import loanbook
        return "type_tables" in inspect.getsource(loanbook)
    except Exception:
        return False


def compare(project: dict, baseline: dict) -> list[str]:
    problems = []
    for t in TIERS:
        p = project["bands"].get(str(t), {})
        b = baseline["bands"].get(str(t), {})
        for key in ("loans", "balance_cents", "overdue_principal_cents", "provision_2002_cents"):
            if p.get(key, 0) != b.get(key, 0):
                problems.append(f"tier {t} {key}: project {p.get(key, 0):,} baseline {b.get(key, 0):,}")
    return problems


def diagnose(folder: Path, params: dict) -> None:
    """Per-loan differences in days past due between the project's book and the baseline's CTEs (not timed)."""
    import duckdb

    sql = BASELINE_SQL.read_text(encoding="utf-8")
    ctes = sql[:sql.index(",\nrates (tier, rate)")]
    query = ctes + """
    SELECT p.contract_id, p.dpd AS project_dpd, b.dpd AS baseline_dpd,
           p.overdue_principal_cents AS project_overdue, b.overdue_principal_cents AS baseline_overdue,
           p.balance_cents AS project_balance, b.balance_cents AS baseline_balance
    FROM read_parquet($project) AS p FULL JOIN floored AS b USING (contract_id)
    WHERE p.dpd IS DISTINCT FROM b.dpd OR p.overdue_principal_cents IS DISTINCT FROM b.overdue_principal_cents
       OR p.balance_cents IS DISTINCT FROM b.balance_cents
    ORDER BY contract_id LIMIT 10"""
    con = duckdb.connect()
    rows = con.execute(query, {**params, "project": str(folder / "project_loans.parquet")}).fetchall()
    con.close()
    log("  first loans that differ (contract, project dpd, baseline dpd, overdue principal p/b, balance p/b):")
    for r in rows:
        log(f"    {r}")


def table(title: str, bands: dict, keys=("loans", "balance_cents", "overdue_principal_cents", "provision_2002_cents")) -> None:
    print(title)
    print("  tier " + " ".join(f"{k:>24}" for k in keys))
    for t in TIERS:
        row = bands.get(str(t), {})
        print(f"  {t:>4} " + " ".join(f"{row.get(k, 0):>24,}" for k in keys))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loans", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--keep", action="store_true", help="keep the generated Parquet for the next run "
                    "(files already cached before the run are always kept)")
    ap.add_argument("--project-input", choices=["auto", "typed", "text"], default="auto",
                    help="typed frames (when the project takes them), or the text fallback; auto tries typed first")
    ap.add_argument("--timeout", type=float, default=600, help="wall seconds allowed to the project side")
    ap.add_argument("--max-rss-gib", type=float, help="kill the project side above this RSS "
                    "(default: the memory available at the start less 4 GiB)")
    ap.add_argument("--child", choices=["project", "baseline"], help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--form", default="typed", help=argparse.SUPPRESS)
    ap.add_argument("--params", help=argparse.SUPPRESS)
    a = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    if a.child == "project":
        return project_child(a.data, a.form)
    if a.child == "baseline":
        return baseline_child(a.data, json.loads(a.params))

    folder = dataset_dir(a.loans, a.seed)
    cached = (folder / "complete.json").exists()
    started = time.perf_counter()
    write_portfolio(a.loans, a.seed, folder, log=log)
    log(f"generation: {'reused' if cached else f'{time.perf_counter() - started:.1f}s wall'} — {folder}")
    params = baseline_params(folder)
    rss_limit = a.max_rss_gib or default_rss_limit_gib()

    forms = {"auto": ["typed", "text"] if typed_input_supported() else ["text"], "typed": ["typed"],
             "text": ["text"]}[a.project_input]
    if a.project_input == "auto" and forms == ["text"]:
        log("project side: plugins.portfolio.loanbook has no type_tables yet — TEMPORARY FALLBACK to text frames "
            "(text_frames_for_current_project)")
    project = failure = None
    for form in forms:
        log(f"project side ({form} frames): classify_period + inputs_from_extract + provisioned_book …")
        project, p_cpu, p_rss, failure = run_child(["--child", "project", "--data", str(folder), "--form", form],
                                                   a.timeout, rss_limit)
        if project is not None:
            break
        log(f"project side ({form} frames) failed: {failure}")
        if failure.startswith("killed") or "signal" in failure:
            break  # a time or memory limit, not the input form
    if project:
        log(f"project side: {project['cpu_s']:.2f} CPU s ({project['wall_s']:.1f}s wall, start-up "
            f"{project['startup_cpu_s']:.2f} CPU s not counted), peak RSS {project['maxrss_kib'] // 1024} MiB; "
            f"wall at " + ", ".join(f"{k} {v:.1f}s" for k, v in project["stamps"].items()))
        done, previous = project.get("steps", {}), 0.0
        steps = []
        for name, (cpu, rss) in done.items():
            steps.append(f"{name} {cpu - previous:.1f} CPU s (peak RSS so far {rss} MiB)")
            previous = cpu
        log("project side by step: " + ", ".join(steps))
    log("baseline: DuckDB, bench/baselines/dpd_floors_2002.sql …")
    baseline, b_cpu, _, b_failure = run_child(["--child", "baseline", "--data", str(folder),
                                               "--params", json.dumps(params)], a.timeout)
    if baseline is None:
        raise SystemExit(f"baseline failed: {b_failure}")
    log(f"baseline: {baseline['cpu_s']:.2f} CPU s ({baseline['wall_s']:.1f}s wall, {baseline['threads']} threads), "
        f"peak RSS {baseline['maxrss_kib'] // 1024} MiB")

    table("baseline per overdue-floor tier (cents):", baseline["bands"])
    if project:
        table(f"project per overdue-floor tier of its dpd (cents; input: {project['form']} frames):", project["bands"])
        table("project final tiers (all rules):", project["final_tiers"], ("loans", "balance_cents"))
        print("project provisions (cents): " + ", ".join(f"{k} {v:,}" for k, v in project["provisions"].items())
              + f"; ECL stages {project['stages']}")
        problems = compare(project, baseline)
        if project["below_floor"]:
            problems.append(f"{project['below_floor']} loans have a final tier below their overdue floor")
        if problems:
            print("CHECK FAILED: the project and the baseline disagree on the overdue-floor part:")
            for p in problems:
                print("  " + p)
            diagnose(folder, params)
        else:
            print("check: the project and the baseline agree per overdue-floor tier (loans, balance, overdue "
                  "principal, 2002 provision at the floor tier); no final tier below its floor")
        x, rss = project["cpu_s"], project["maxrss_kib"] // 1024
    else:
        print(f"project side did not finish: {failure}; CPU and peak RSS below are what it used until then "
              "(start-up included)")
        x, rss = p_cpu, p_rss // 1024
    if not a.keep and not cached:  # files found in the cache stay for whoever generated them
        shutil.rmtree(folder, ignore_errors=True)
    y = baseline["cpu_s"]
    print(f"loans={a.loans} project_s={x:.2f} baseline_s={y:.2f} ratio={x / y:.2f} peak_rss_mib={rss}", flush=True)


if __name__ == "__main__":
    main()
