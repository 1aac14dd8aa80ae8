"""The postloan command line.

    postloan demo                      the whole post-loan month on the bundled sample portfolio
    postloan deliver MONTH [MONTH...]  put the sample portfolio's delivery for a month into the inbox
    postloan run month 2026-09         run the monthly job for one month
    postloan run quarter 2026Q3        run the quarterly returns for one quarter
    postloan s3 start|stop|status      the local S3 server (SeaweedFS) for development and tests
    postloan s3 credentials ROLE       that role's development credentials (export line for the shell)
    postloan archive find|get|verify|inputs   search the archive, fetch, verify, trace a report
    postloan archive hold|release|holds|extend|audit|rebuild-catalog|bundle|verify-bundle|log
                                       the audit archive (pipelines/cli_archive.py)
    postloan backfill 2025-10 2026-09  deliver and run past months in order (pipelines/cli_backfill.py)
    postloan extract PATH.pdf          triage and extract one document, as JSON (pipelines/cli_extract.py)
    postloan reports status|approve|reject|deliver|get   maker-checker review, delivery, a period's pack
                                       (pipelines/cli_reports.py)
    postloan config check              validate config/
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from decimal import Decimal

from pipelines import cli_errors as types, settings
from pipelines.cli_archive import open_archive, register_archive_commands
from pipelines.cli_backfill import add_parser as add_backfill_parser
from pipelines.cli_errors import (Parser, UserError, cli_config, guarded, require_object_store,
                                  require_runnable_month, require_runnable_quarter, require_sample_months)
from pipelines.cli_extract import register_extract_command
from pipelines.cli_plugins import register_plugins_command
from pipelines.cli_reports import register_reports_commands
from pipelines.cli_trace import register_trace_command
from plugins.config import PostloanConfig

# The sub-command modules import pipelines/cli_errors.py (errors, argument types, configuration), not this one.
_config = cli_config
_archive = open_archive


def _local_s3(cfg: PostloanConfig):
    from plugins.archive import s3_settings
    from plugins.archive.local_s3 import LocalS3, ports_from_endpoint

    s3 = s3_settings(cfg.storage)
    local = cfg.storage.local_server
    return LocalS3(settings.state_dir(), s3, ports_from_endpoint(s3.endpoint, local.master_port,
                                                                  local.volume_port, local.filer_port),
                   roles=cfg.access.roles)


def _is_loopback(endpoint: str) -> bool:
    return endpoint.split(":")[0] in ("127.0.0.1", "localhost", "[::1]")


_ENSURED: set[str] = set()  # endpoints already checked in this process


def ensure_object_store(cfg: PostloanConfig) -> None:
    """Start the local SeaweedFS when the endpoint is on loopback and nothing answers there; refuse quickly
    (cli_errors.require_object_store) when a remote endpoint does not answer."""
    from plugins.archive import ObjectStore, s3_settings

    s3 = s3_settings(cfg.storage)
    if s3.endpoint in _ENSURED:
        return
    if _is_loopback(s3.endpoint):
        server = _local_s3(cfg)
        if server.start():
            print(f"started local S3 (SeaweedFS) on {s3.endpoint}, data in {server.root}")
        else:
            print(f"using the S3 server already answering on {s3.endpoint}")
        s3 = s3_settings(cfg.storage)  # a first start has just generated the pipeline's credentials
    else:
        require_object_store(s3.endpoint)
    ObjectStore(s3).ensure_buckets()
    _ENSURED.add(s3.endpoint)


def require_delivered(cfg: PostloanConfig, month: str) -> None:
    """The month's delivery is complete in the inbox (its _READY marker, written last, and the core tables)."""
    from plugins.archive import ObjectStore, s3_settings
    from plugins.inbox import READY_MARKER

    store = ObjectStore(s3_settings(cfg.storage))
    bucket = store.settings.inbox_bucket
    keys = set(store.list_keys(bucket, f"core/{month}/"))
    first, last = types.sample_months(cfg)
    how = (f"`postloan deliver {month}` puts the sample's month there; " if first <= month <= last else "")
    if not keys:
        raise UserError(f"month {month} was never delivered: the inbox s3://{bucket} has nothing under core/{month}/; "
                        f"deliver it first ({how}`postloan archive redeliver {month} --as ROLE --reason WHY` "
                        "restores an archived delivery)")
    if f"core/{month}/{READY_MARKER}" not in keys:
        raise UserError(f"the delivery of {month} is incomplete: s3://{bucket}/core/{month}/{READY_MARKER} (written "
                        "last, when every file is in) is missing; finish the delivery or deliver the month again")
    from plugins.portfolio.loanbook import EXTRACT_TABLES

    missing = [t for t in EXTRACT_TABLES if f"core/{month}/{t}.csv" not in keys]
    if missing:
        raise UserError(f"the delivery of {month} lacks core tables {', '.join(missing)} (core/{month}/<table>.csv in "
                        f"s3://{bucket}); deliver them and run the month again")


def require_quarter_inputs(cfg: PostloanConfig, label: str) -> None:
    """The quarterly returns read the quarter-end month's results from the work store: that month was run."""
    from pipelines.partitions import quarter_end_month, quarter_key
    from pipelines.resources import WorkStoreIOManager
    from plugins.archive import ObjectStore, s3_settings

    store = ObjectStore(s3_settings(cfg.storage))
    month = quarter_end_month(quarter_key(label))
    layout = WorkStoreIOManager()
    for asset in ("core_system_extract", "loan_provisions"):
        if not store.exists(store.settings.work_bucket, layout._key([asset], month)):
            raise UserError(f"quarter {label} is built from the results of {month}, which was not run ({asset} "
                            f"{month} is not in s3://{store.settings.work_bucket}): run `postloan run month {month}` "
                            f"first (or `postloan backfill {month} {month}`)")


SCENARIO_ENV = "POSTLOAN_SAMPLE_SCENARIO"  # overrides config/sample.yaml `scenario` (the test suite pins stressed)
SCENARIO_NOTES = {"realistic": "a lender with a believable book: few defaults, every tier populated",
                  "stressed": "a deliberately stressed book (high NPL ratio, ratios 未达标): not a healthy lender"}


def sample_scenario(cfg: PostloanConfig, override: str | None = None) -> str:
    """The sample's scenario: --scenario, else $POSTLOAN_SAMPLE_SCENARIO, else config/sample.yaml."""
    chosen = override or os.environ.get(SCENARIO_ENV) or cfg.sample.scenario
    if chosen not in SCENARIO_NOTES:
        raise UserError(f"unknown sample scenario {chosen!r} (from {SCENARIO_ENV} or --scenario): one of "
                        f"{', '.join(SCENARIO_NOTES)}")
    return chosen


def deliver_sample(cfg: PostloanConfig, months: list[str], scenario: str | None = None) -> None:
    """What the lender's systems do: drop the month's core extracts and documents into the inbox."""
    from plugins.archive import ObjectStore, s3_settings
    from plugins.documents.render import render_document
    from plugins.inbox import deliver
    from plugins.ingest import month_end
    from plugins.sample import core_extract, csv_bytes, documents_for_month, generate_portfolio

    s = cfg.sample
    scenario = sample_scenario(cfg, scenario)
    started = time.monotonic()
    portfolio = generate_portfolio(seed=s.seed, start=s.start, end=s.end, n_borrowers=s.borrowers,
                                   n_contracts=s.contracts, scenario=scenario)
    print(f"sample portfolio ({scenario}): {len(portfolio.borrowers)} borrowers, {len(portfolio.loans)} contracts "
          f"({time.monotonic() - started:.1f}s)")
    store = ObjectStore(s3_settings(cfg.storage))
    for month in months:
        tables = {name: csv_bytes(frame) for name, frame in core_extract(portfolio, month_end(month)).items()}
        specs = documents_for_month(portfolio, month)
        documents = [(spec, render_document(spec)) for spec in specs]
        written = deliver(store, month, tables, documents)
        print(f"delivered {month} to s3://{store.settings.inbox_bucket}: {len(tables)} core tables, "
              f"{len(documents)} documents ({written} objects)")


def _instance():
    from dagster import DagsterInstance

    os.environ["DAGSTER_HOME"] = str(settings.dagster_home())
    return DagsterInstance.get()


def _partition_label(partition_key: str) -> str:
    """What a person reads for a partition: a quarter as 2026Q3 (its key is the first day, 2026-07-01)."""
    from pipelines.partitions import quarter_label

    return quarter_label(partition_key) if len(partition_key) == 10 else partition_key


def run_job(job_name: str, partition_key: str, instance=None):
    from pipelines.definitions import defs

    job = defs.resolve_job_def(job_name)
    run_config = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    shown = _partition_label(partition_key)
    print(f"running {job_name} for {shown} …", flush=True)
    started = time.monotonic()
    result = job.execute_in_process(partition_key=partition_key, instance=instance or _instance(),
                                    run_config=run_config, raise_on_error=False)
    print(f"{job_name} {shown}: {'succeeded' if result.success else 'FAILED'} in "
          f"{time.monotonic() - started:.0f}s (run {result.run_id})", flush=True)
    return result


def _check_failures(result) -> list[str]:
    """One line per failed asset check: its name, asset, what it checks or found, and its counts."""
    return [f"check {f['check']} on {f['asset']} failed: {f['description']}" for f in _failed_checks(result)]


def _failed_checks(result) -> list[dict]:
    graph = result.job_def.asset_layer.asset_graph
    failed = []
    for event in result.all_events:
        if event.event_type_value != "ASSET_CHECK_EVALUATION" or event.event_specific_data.passed:
            continue
        evaluation = event.event_specific_data
        description = evaluation.description
        if not description:  # the check reported no description of its own: say what it checks
            try:
                description = graph.get_check_spec(evaluation.asset_check_key).description
            except Exception:  # noqa: BLE001 - a check outside this job's graph
                description = None
        counts = [f"{name}: {len(value.value) if isinstance(value.value, (list, dict)) else value.value}"
                  for name, value in (evaluation.metadata or {}).items()
                  if isinstance(getattr(value, "value", None), (int, float, list, dict))
                  and not isinstance(value.value, bool)][:4]
        text = " ".join((description or "no description").split())
        failed.append({"check": evaluation.check_name, "asset": evaluation.asset_key.to_user_string(),
                       "description": text + (f" ({', '.join(counts)})" if counts else ""),
                       "severity": str(getattr(evaluation.severity, "value", evaluation.severity))})
    return failed


def _failed_steps(result) -> list[dict]:
    steps = []
    for event in result.get_step_failure_events():
        error = event.event_specific_data.error
        message = " ".join(((error.message or "") if error else "").split()) if error else ""
        steps.append({"step": event.step_key, "error": message[:300]})
    return steps


def _asset_value(result, key: str):
    try:
        return result.asset_value(key)
    except Exception:  # noqa: BLE001 - not materialized in this run (blocked by a failed check, or failed)
        return None


def _summary_data(result, kind: str, period: str) -> dict:
    """What a run did, for people (`_print_summary`) and scripts (`postloan run ... --json`)."""
    from plugins.money import yuan

    data: dict = {"job": result.job_def.name, "kind": kind, "period": period, "success": result.success,
                  "run_id": result.run_id, "published": [], "manifests": [],
                  "failed_checks": _failed_checks(result), "failed_steps": _failed_steps(result)}
    if kind == "month":
        documents = _asset_value(result, "inbox_documents")
        if documents is not None:
            bad = documents[documents["status"] != "archived"]
            data["documents"] = {"archived": int(len(documents) - len(bad)),
                                 "quarantined": [{"file": r.file_name, "reason": r.reason}
                                                 for r in bad.itertuples(index=False)]}
        provisions = _asset_value(result, "loan_provisions")
        if provisions is not None:
            from plugins.provisioning import indicators

            ind = indicators(provisions, provisions["booked_provision_cents"], _config().provisioning)
            data["indicators"] = {"loans": int(ind.loans), "balance_yuan": str(yuan(ind.balance_cents)),
                                  "npl_ratio": ind.npl_ratio, "provision_coverage": ind.provision_coverage,
                                  "loan_provision_ratio": ind.loan_provision_ratio}
        collections = _collections_summary(result)
        if collections:
            data["collections"] = collections
        duties = _duties_summary(lambda key: _asset_value(result, key), period)
        if duties:
            data["duties"] = duties
        published_assets = ("published_management_report",)
    else:
        published_assets = ("published_g11_return", "published_east_extract")
    for asset_name in published_assets:
        published = _asset_value(result, asset_name)
        if published is None:
            data.setdefault("not_published", []).append(asset_name)
            continue
        data["published"] += [{"file": f["file"], "key": f["key"], "sha256": f["sha256"]} for f in published["files"]]
        data["manifests"].append(published["manifest_key"])
    return data


def _collections_summary(result) -> dict:
    """Collections run (assets/collections.py): open cases and a few that need attention, notices by kind,
    penalty interest accrued this month."""
    from plugins.money import yuan

    out: dict = {}
    cases = _asset_value(result, "collection_cases")
    if cases is not None:
        frame = cases["cases"]
        open_ = frame[frame["status"] == "open"]
        out["open_cases"] = int(len(open_))
        out["past_next_action"] = sorted(open_.loc[open_["past_next_action"], "case_id"].astype(str))[:3]
        out["no_legal_step"] = sorted(open_.loc[open_["needs_legal_step"], "case_id"].astype(str))[:3]
    notices = _asset_value(result, "collection_notices")
    if notices is not None:
        table = notices["notices"]
        out["notices"] = {str(k): int(v) for k, v in table.groupby("kind_name").size().items()} if len(table) else {}
        out["notice_examples"] = list(table.drop_duplicates("kind_name")["file_name"])[:5]
    penalty = _asset_value(result, "penalty_interest")
    if penalty is not None and len(penalty):
        out["penalty_this_month_yuan"] = str(yuan(int(penalty["accrued_this_month_cents"].sum())))
    return out


DUTY_EXAMPLES = 3  # loans named per duty in the run summary; the count says how many in all
# Signals of monitoring_findings (plugins/monitoring/*) by the duty the summary names them under.
DUTY_SIGNALS = {"guarantors": ("guarantor_non_performing", "guarantor_deterioration"),
                "collateral": ("appraisal_overdue", "insurance_expiring", "insurance_lapsed"),
                "events": ("major_event", "inspection_finding")}
DUTY_TITLES = {"transfers": "transfers (转让) this month", "court_cases": "court cases (诉讼) open",
               "guarantors": "guarantor signals", "collateral": "collateral signals (appraisal, insurance)",
               "fund_flows": "fund-flow findings",
               "vehicle_alerts": "vehicle and leased-asset alerts", "events": "events and inspection findings",
               "escalated": "warnings escalated"}


def _duties_summary(value, month: str) -> dict:
    """A few of each post-loan duty the month has (transfers, court cases, guarantor and collateral signals,
    fund-flow findings, vehicle alerts, events, escalated warnings): {duty: {"count", "examples"}}, only the
    duties with something to name. `value(asset_key)` is the run's value of that asset, None when not run."""
    from plugins.money import yuan

    out: dict = {}

    def named(duty: str, frame, describe) -> None:
        if frame is not None and len(frame):
            rows = list(frame.itertuples(index=False))
            out[duty] = {"count": len(rows), "examples": [describe(r) for r in rows[:DUTY_EXAMPLES]]}

    disposal = value("disposal_status")
    if disposal is not None:
        transfers = disposal["transfers"]
        this_month = transfers[[str(d)[:7] == month for d in transfers["transferred_on"]]]
        named("transfers", this_month, lambda r: f"{r.contract_id} to {r.buyer or 'an unnamed buyer'}, loss {yuan(int(r.loss_cents)):,} 元")
        cases = disposal["cases"]
        named("court_cases", cases[cases["closed_on"].isna()], lambda r: f"{r.contract_id} {r.court} ({r.stage})")
    findings = value("monitoring_findings")
    if findings is not None:
        signals = findings["signals"]
        for duty, names in DUTY_SIGNALS.items():
            named(duty, signals[signals["signal"].isin(names)], lambda r: f"{r.contract_id} {r.signal}")
        named("fund_flows", findings.get("fund_flows"),
              lambda r: f"{r.contract_id} {yuan(int(r.amount_cents)):,} 元 to {r.payee} ({r.finding})")
        named("vehicle_alerts", findings.get("asset_alerts"), lambda r: f"{r.contract_id} {r.plate or r.asset_id} {r.alert}")
    lifecycle = value("warning_lifecycle")
    if lifecycle is not None and len(lifecycle):
        named("escalated", lifecycle[lifecycle["escalated"].astype(bool)],
              lambda r: f"{r.contract_id} {r.signal} ({int(r.age_days)} days)")
    return out


def _print_summary(data: dict) -> None:
    print(f"\n== {data['period']} ==")
    if "documents" in data:
        docs = data["documents"]
        print(f"documents archived: {docs['archived']}, quarantined: {len(docs['quarantined'])}")
        for row in docs["quarantined"]:
            print(f"  quarantined {row['file']}: {row['reason']}")
    if "indicators" in data:
        ind = data["indicators"]
        print(f"loans: {ind['loans']}, balance: {Decimal(ind['balance_yuan']):,} 元, NPL ratio: {_pct(ind['npl_ratio'])}, "
              f"provision coverage: {_pct(ind['provision_coverage'])}, "
              f"loan provision ratio: {_pct(ind['loan_provision_ratio'])}")
    if "collections" in data:
        col = data["collections"]
        print(f"collection cases open: {col.get('open_cases', 0)}; past their next action: "
              f"{', '.join(col.get('past_next_action', [])) or 'none'}; past 90 days with no legal step: "
              f"{', '.join(col.get('no_legal_step', [])) or 'none'}")
        print("notices: " + (", ".join(f"{k} {v}" for k, v in col.get("notices", {}).items()) or "none")
              + (f" (e.g. {', '.join(col.get('notice_examples', [])[:3])}; `postloan archive find --class "
                 f"collection_notice --period {data['period']}`)" if col.get("notice_examples") else ""))
        if "penalty_this_month_yuan" in col:
            print(f"penalty interest (罚息及复利) accrued this month: {Decimal(col['penalty_this_month_yuan']):,} 元")
    for duty, found in data.get("duties", {}).items():
        more = f" and {found['count'] - len(found['examples'])} more" if found["count"] > len(found["examples"]) else ""
        print(f"{DUTY_TITLES[duty]}: {found['count']} — {'; '.join(found['examples'])}{more}")
    for f in data["published"]:
        print(f"published {f['key']}" + (f"  ({data['period']})" if data["kind"] == "quarter" else ""))
    for key in data["manifests"]:
        print(f"manifest  {key}")
    for name in data.get("not_published", []):
        print(f"{name} for {data['period']} was not published")
    for f in data["failed_checks"]:
        print(f"check {f['check']} on {f['asset']} failed: {f['description']}")
    for f in data["failed_steps"]:
        print(f"step {f['step']} failed: {f['error']}")


def _summary(result, month: str) -> None:
    _print_summary(_summary_data(result, "month", month))


def _pct(value) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"


def cmd_demo(args: argparse.Namespace) -> int:
    cfg = _config()
    month = args.month or cfg.sample.end.strftime("%Y-%m")
    require_sample_months(cfg, [month])
    require_runnable_month(cfg, month)
    scenario = sample_scenario(cfg, args.scenario)
    ensure_object_store(cfg)
    deliver_sample(cfg, [month], scenario)
    instance = _instance()
    monthly = run_job("monthly_post_loan", month, instance)
    print(f"\nsample scenario: {scenario} — {SCENARIO_NOTES[scenario]} (`postloan demo --scenario "
          f"{'stressed' if scenario == 'realistic' else 'realistic'}` for the other)")
    _summary(monthly, month)
    ok = monthly.success
    if int(month[5:7]) % 3 == 0:
        from pipelines.partitions import quarter_key

        label = types.quarter_of_month(month)
        quarterly = run_job("quarterly_regulatory", quarter_key(label), instance)
        _print_summary(_summary_data(quarterly, "quarter", label))
        ok = ok and quarterly.success
    print(f"\nsample scenario: {scenario} — {SCENARIO_NOTES[scenario]}")
    print("reports are published as drafts awaiting approval (`postloan reports status`); a role that may "
          "approve releases them: `postloan reports approve KIND PERIOD --as risk_officer --reason WHY`")
    print(f"Dagster runs are in {settings.dagster_home()} — browse them with `make ui`.")
    return 0 if ok else 1


def cmd_deliver(args: argparse.Namespace) -> int:
    cfg = _config()
    require_sample_months(cfg, args.months)  # past the sample's end there is nothing true to deliver
    scenario = sample_scenario(cfg, args.scenario)
    ensure_object_store(cfg)
    deliver_sample(cfg, args.months, scenario)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    cfg = _config()
    if args.kind == "month":
        require_runnable_month(cfg, args.period)
    else:
        require_runnable_quarter(cfg, args.period)
    # With --json, stdout carries the summary alone; progress and the run's log go to stderr.
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        ensure_object_store(cfg)
        if args.kind == "month":
            require_delivered(cfg, args.period)
            result = run_job("monthly_post_loan", args.period)
        else:
            from pipelines.partitions import quarter_key

            require_quarter_inputs(cfg, args.period)
            result = run_job("quarterly_regulatory", quarter_key(args.period))
    data = _summary_data(result, args.kind, args.period)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, default=lambda v: float(v) if isinstance(v, Decimal) else str(v)))
    else:
        _print_summary(data)
    return 0 if result.success else 1


def cmd_s3(args: argparse.Namespace) -> int:
    cfg = _config()
    if args.role is not None and args.action != "credentials":
        raise UserError(f"`postloan s3 {args.action}` takes no role; `postloan s3 credentials {args.role}` prints "
                        "that role's credentials")
    server = _local_s3(cfg)
    if args.action == "start":
        print("started" if server.start() else "already running", server.settings.endpoint)
    elif args.action == "stop":
        print("stopped" if server.stop() else "not started from this state folder")
    elif args.action == "credentials":
        return _print_credentials(cfg, server, args.role)
    else:
        print(("answering on " if server.is_ready() else "not answering on ") + server.settings.endpoint)
    return 0


def _print_credentials(cfg: PostloanConfig, server, role: str | None) -> int:
    """`postloan s3 credentials ROLE`: the local server's development credentials of one role, as an export
    line for the shell (`eval "$(postloan s3 credentials auditor)"`); the CLI then acts as that identity."""
    import shlex

    if role is None:
        raise UserError("name the role: `postloan s3 credentials ROLE`, ROLE one of "
                        f"{', '.join(cfg.access.roles)}")
    known = server.credentials
    if not known:
        raise UserError(f"the local S3 server has no credentials yet ({server.credentials_file} does not exist): "
                        "start it once with `postloan s3 start`")
    if role not in known:
        raise UserError(f"the local S3 server has no identity for role {role}: restart it (`postloan s3 stop`, "
                        "`postloan s3 start`) to create identities for the roles added to config/access.yaml")
    creds = known[role]
    storage = cfg.storage
    print(f"export {storage.access_key_env}={shlex.quote(creds.access_key)} "
          f"{storage.secret_key_env}={shlex.quote(creds.secret_key or '')}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from plugins import registry
    from plugins.config import _FILES as CONFIG_FILES, load_yaml_model
    from plugins.documents.statements import ChartOfAccounts
    from plugins.reports.east import load_east_spec
    from plugins.validation import load_validation_config

    cfg = _config()
    # Files with their own loaders are checked too, so a typo fails here rather than mid-run.
    load_validation_config(cfg.config_dir / "validation.yaml")
    load_east_spec(cfg.config_dir)
    load_yaml_model(cfg.config_dir / "chart_of_accounts.yaml", ChartOfAccounts)
    registry.check(cfg.plugins)  # plugins.yaml: every enabled plugin loads with its own settings
    checked = sorted([f"{name}.yaml" for name in CONFIG_FILES] + ["validation.yaml", "east.yaml",
                                                                   "chart_of_accounts.yaml"])
    print(f"configuration in {cfg.config_dir} is valid (sha256 {cfg.digest}): {', '.join(checked)}")
    unchecked = sorted(p.name for p in cfg.config_dir.glob("*.yaml") if p.name not in checked)
    if unchecked:
        print(f"not validated (no loader knows them, but they count in the digest): {', '.join(unchecked)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="postloan", description="Post-loan management pipeline (贷后管理).")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the whole month (and quarter) on the bundled sample portfolio")
    demo.add_argument("--month", type=types.month, help="YYYY-MM (default: the sample's last month)")
    demo.add_argument("--scenario", choices=sorted(SCENARIO_NOTES), default=None,
                      help="the sample book: realistic (few defaults) or stressed (default: config/sample.yaml "
                           f"scenario, or ${SCENARIO_ENV})")
    demo.set_defaults(func=cmd_demo)

    deliver = sub.add_parser("deliver", help="deliver sample months into the inbox")
    deliver.add_argument("months", nargs="+", metavar="MONTH", type=types.month, help="YYYY-MM, e.g. 2026-09")
    deliver.add_argument("--scenario", choices=sorted(SCENARIO_NOTES), default=None,
                         help="the sample book (default: config/sample.yaml scenario, or $POSTLOAN_SAMPLE_SCENARIO)")
    deliver.set_defaults(func=cmd_deliver)

    run = sub.add_parser("run", help="run the monthly or quarterly job for one period")
    kinds = run.add_subparsers(dest="kind", required=True, metavar="{month,quarter}")
    for kind, form, period_type in (("month", "YYYY-MM", types.month), ("quarter", "YYYYQn", types.quarter)):
        one = kinds.add_parser(kind, help=f"run the {kind}ly job for one {kind} ({form})")
        one.add_argument("period", metavar=kind.upper(), type=period_type,
                         help="e.g. 2026-09" if kind == "month" else "e.g. 2026Q3 (or 2026-Q3)")
        one.add_argument("--json", action="store_true",
                         help="print the run's summary as one JSON object on stdout (progress goes to stderr)")
        one.set_defaults(func=cmd_run)

    s3 = sub.add_parser("s3", help="the local S3 server (SeaweedFS); `s3 credentials ROLE` prints a role's "
                                   "development credentials as an export line")
    s3.add_argument("action", choices=["start", "stop", "status", "credentials"])
    s3.add_argument("role", nargs="?", type=types.role, metavar="ROLE",
                    help="with `credentials`: a role of config/access.yaml, or pipeline")
    s3.set_defaults(func=cmd_s3)

    register_archive_commands(sub)  # postloan archive find|get|verify|inputs|hold|... (pipelines/cli_archive.py)
    add_backfill_parser(sub)  # postloan backfill START END (pipelines/cli_backfill.py)
    register_extract_command(sub)  # postloan extract PATH.pdf (pipelines/cli_extract.py)
    register_plugins_command(sub)  # postloan plugins list (pipelines/cli_plugins.py)
    register_reports_commands(sub)  # postloan reports status|approve|reject|deliver|get (pipelines/cli_reports.py)
    register_trace_command(sub)  # postloan trace g11 QUARTER ROW COLUMN (pipelines/cli_trace.py)

    config = sub.add_parser("config", help="validate the configuration")
    config.add_argument("action", choices=["check"])
    config.set_defaults(func=cmd_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user error is one line on stderr (`postloan: error: …`) and exit code 2."""
    # pypdf logs recoverable damage of quarantined files; the quarantine reason already says it.
    logging.getLogger("pypdf").setLevel(logging.ERROR)

    def body() -> int:
        args = build_parser().parse_args(argv)
        return args.func(args)

    return guarded(body)


if __name__ == "__main__":
    sys.exit(main())
