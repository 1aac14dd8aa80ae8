"""The postloan command line.

    postloan demo                      the whole post-loan month on the bundled sample portfolio
    postloan deliver MONTH [MONTH...]  put the sample portfolio's delivery for a month into the inbox
    postloan run month 2026-09         run the monthly job for one month
    postloan run quarter 2026Q3        run the quarterly returns for one quarter
    postloan s3 start|stop|status      the local S3 server (SeaweedFS) for development and tests
    postloan archive find|get|verify|inputs   search the archive, fetch, verify, trace a report
    postloan archive hold|release|holds|extend|audit|rebuild-catalog|bundle|verify-bundle|log
                                       the audit archive (pipelines/cli_archive.py)
    postloan backfill 2025-10 2026-09  deliver and run past months in order (pipelines/cli_backfill.py)
    postloan extract PATH.pdf          triage and extract one document, as JSON (pipelines/cli_extract.py)
    postloan config check              validate config/
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from pipelines import settings
from plugins.config import ConfigError, PostloanConfig, load_config


def _config() -> PostloanConfig:
    return load_config(settings.config_dir())


def _local_s3(cfg: PostloanConfig):
    from plugins.archive import s3_settings
    from plugins.archive.local_s3 import LocalS3, ports_from_endpoint

    s3 = s3_settings(cfg.storage)
    local = cfg.storage.local_server
    return LocalS3(settings.state_dir(), s3, ports_from_endpoint(s3.endpoint, local.master_port,
                                                                  local.volume_port, local.filer_port))


def _is_loopback(endpoint: str) -> bool:
    return endpoint.split(":")[0] in ("127.0.0.1", "localhost", "[::1]")


def ensure_object_store(cfg: PostloanConfig) -> None:
    """Start the local SeaweedFS when the endpoint is on loopback and nothing answers there."""
    from plugins.archive import ObjectStore, s3_settings

    s3 = s3_settings(cfg.storage)
    if _is_loopback(s3.endpoint):
        server = _local_s3(cfg)
        if server.start():
            print(f"started local S3 (SeaweedFS) on {s3.endpoint}, data in {server.root}")
        else:
            print(f"using the S3 server already answering on {s3.endpoint}")
    ObjectStore(s3).ensure_buckets()


def deliver_sample(cfg: PostloanConfig, months: list[str]) -> None:
    """What the lender's systems do: drop the month's core extracts and documents into the inbox."""
    from plugins.archive import ObjectStore, s3_settings
    from plugins.documents.render import render_document
    from plugins.inbox import deliver
    from plugins.ingest import month_end
    from plugins.sample import core_extract, csv_bytes, documents_for_month, generate_portfolio

    s = cfg.sample
    started = time.monotonic()
    portfolio = generate_portfolio(seed=s.seed, start=s.start, end=s.end, n_borrowers=s.borrowers, n_contracts=s.contracts)
    print(f"sample portfolio: {len(portfolio.borrowers)} borrowers, {len(portfolio.loans)} contracts "
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


def run_job(job_name: str, partition_key: str, instance=None):
    from pipelines.definitions import defs

    job = defs.resolve_job_def(job_name)
    run_config = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    print(f"running {job_name} for {partition_key} …", flush=True)
    started = time.monotonic()
    result = job.execute_in_process(partition_key=partition_key, instance=instance or _instance(),
                                    run_config=run_config, raise_on_error=False)
    print(f"{job_name} {partition_key}: {'succeeded' if result.success else 'FAILED'} in "
          f"{time.monotonic() - started:.0f}s (run {result.run_id})", flush=True)
    return result


def _check_failures(result) -> list[str]:
    lines = []
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                lines.append(f"check {evaluation.check_name} on {evaluation.asset_key.to_user_string()} failed: "
                             f"{evaluation.description or ''}")
    return lines


def _summary(result, month: str) -> None:
    from plugins.money import yuan

    outputs = {}
    for key in ("loan_provisions", "inbox_documents", "published_management_report"):
        try:
            outputs[key] = result.asset_value(key)
        except Exception:  # not materialized in this run (blocked by a failed check)
            outputs[key] = None
    provisions, documents, published = (outputs[k] for k in ("loan_provisions", "inbox_documents",
                                                              "published_management_report"))
    print(f"\n== {month} ==")
    if documents is not None:
        archived = int((documents["status"] == "archived").sum())
        print(f"documents archived: {archived}, quarantined: {len(documents) - archived}")
        for row in documents[documents["status"] != "archived"].itertuples(index=False):
            print(f"  quarantined {row.file_name}: {row.reason}")
    if provisions is not None:
        from plugins.provisioning import indicators

        ind = indicators(provisions, provisions["booked_provision_cents"], _config().provisioning)
        print(f"loans: {ind.loans}, balance: {yuan(ind.balance_cents):,} 元, NPL ratio: {_pct(ind.npl_ratio)}, "
              f"provision coverage: {_pct(ind.provision_coverage)}, loan provision ratio: {_pct(ind.loan_provision_ratio)}")
    if published is not None:
        for f in published["files"]:
            print(f"published {f['key']}")
        print(f"manifest  {published['manifest_key']}")
    for line in _check_failures(result):
        print(line)


def _pct(value) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"


def cmd_demo(args: argparse.Namespace) -> int:
    cfg = _config()
    month = args.month or cfg.sample.end.strftime("%Y-%m")
    ensure_object_store(cfg)
    deliver_sample(cfg, [month])
    instance = _instance()
    monthly = run_job("monthly_post_loan", month, instance)
    _summary(monthly, month)
    ok = monthly.success
    if int(month[5:7]) % 3 == 0:
        from pipelines.partitions import quarter_key, quarter_label

        key = quarter_key(f"{month[:4]}Q{int(month[5:7]) // 3}")
        quarterly = run_job("quarterly_regulatory", key, instance)
        for asset_name in ("published_g11_return", "published_east_extract"):
            try:
                for f in quarterly.asset_value(asset_name)["files"]:
                    print(f"published {f['key']}  ({quarter_label(key)})")
            except Exception:  # not materialized: blocked by a failed check, named above
                print(f"{asset_name} for {quarter_label(key)} was not published")
        ok = ok and quarterly.success
    print(f"\nDagster runs are in {settings.dagster_home()} — browse them with `make ui`.")
    return 0 if ok else 1


def cmd_deliver(args: argparse.Namespace) -> int:
    cfg = _config()
    ensure_object_store(cfg)
    deliver_sample(cfg, args.months)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from pipelines.partitions import quarter_key

    cfg = _config()
    ensure_object_store(cfg)
    if args.kind == "month":
        result = run_job("monthly_post_loan", args.period)
        _summary(result, args.period)
    else:
        result = run_job("quarterly_regulatory", quarter_key(args.period))
    return 0 if result.success else 1


def cmd_s3(args: argparse.Namespace) -> int:
    cfg = _config()
    server = _local_s3(cfg)
    if args.action == "start":
        print("started" if server.start() else "already running", server.settings.endpoint)
    elif args.action == "stop":
        print("stopped" if server.stop() else "not started from this state folder")
    else:
        print(("answering on " if server.is_ready() else "not answering on ") + server.settings.endpoint)
    return 0


def _archive():
    from plugins.archive import Archive, Catalog, ObjectStore, s3_settings

    cfg = _config()
    return Archive(ObjectStore(s3_settings(cfg.storage)), Catalog(settings.catalog_url(cfg.storage.catalog_url)),
                   cfg.retention)


def cmd_archive(args: argparse.Namespace) -> int:
    archive = _archive()
    if args.action == "find":
        records = archive.catalog.find_documents(borrower_id=args.borrower, contract_id=args.contract,
                                                 doc_class=args.doc_class, period=args.period, sha256=args.hash,
                                                 status=args.status)
        for r in records:
            print(json.dumps(r.__dict__, ensure_ascii=False))
        print(f"{len(records)} document(s)", file=sys.stderr)
    elif args.action == "get":
        data = archive.fetch(args.hash)
        ok, _ = archive.verify(args.hash)
        Path(args.output).write_bytes(data) if args.output else sys.stdout.buffer.write(data)
        if not ok:
            print("warning: stored bytes do not match the hash", file=sys.stderr)
            return 2
    elif args.action == "verify":
        ok, actual = archive.verify(args.hash)
        print(("OK " if ok else "MISMATCH ") + actual)
        return 0 if ok else 2
    elif args.action == "inputs":
        publications = archive.catalog.find_publications(args.report_kind, args.period)
        if not publications:
            print(f"no publication of {args.report_kind} for {args.period}", file=sys.stderr)
            return 1
        for manifest_key in sorted({p.manifest_key for p in publications}):
            manifest = archive.manifest(manifest_key)
            print(json.dumps({"manifest": manifest_key, **manifest}, ensure_ascii=False, indent=2))
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from plugins.config import _FILES as CONFIG_FILES, load_yaml_model
    from plugins.documents.statements import ChartOfAccounts
    from plugins.reports.east import load_east_spec
    from plugins.validation import load_validation_config

    cfg = _config()
    # Files with their own loaders are checked too, so a typo fails here rather than mid-run.
    load_validation_config(cfg.config_dir / "validation.yaml")
    load_east_spec(cfg.config_dir)
    load_yaml_model(cfg.config_dir / "chart_of_accounts.yaml", ChartOfAccounts)
    checked = sorted([f"{name}.yaml" for name in CONFIG_FILES] + ["validation.yaml", "east.yaml",
                                                                   "chart_of_accounts.yaml"])
    print(f"configuration in {cfg.config_dir} is valid (sha256 {cfg.digest}): {', '.join(checked)}")
    unchecked = sorted(p.name for p in cfg.config_dir.glob("*.yaml") if p.name not in checked)
    if unchecked:
        print(f"not validated (no loader knows them, but they count in the digest): {', '.join(unchecked)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="postloan", description="Post-loan management pipeline (贷后管理).")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the whole month (and quarter) on the bundled sample portfolio")
    demo.add_argument("--month", help="YYYY-MM (default: the sample's last month)")
    demo.set_defaults(func=cmd_demo)

    deliver = sub.add_parser("deliver", help="deliver sample months into the inbox")
    deliver.add_argument("months", nargs="+", metavar="YYYY-MM")
    deliver.set_defaults(func=cmd_deliver)

    run = sub.add_parser("run", help="run the monthly or quarterly job for one period")
    run.add_argument("kind", choices=["month", "quarter"])
    run.add_argument("period", help="YYYY-MM for a month, YYYYQn for a quarter")
    run.set_defaults(func=cmd_run)

    s3 = sub.add_parser("s3", help="the local S3 server (SeaweedFS)")
    s3.add_argument("action", choices=["start", "stop", "status"])
    s3.set_defaults(func=cmd_s3)

    archive = sub.add_parser("archive", help="search and verify the document archive")
    actions = archive.add_subparsers(dest="action", required=True)
    find = actions.add_parser("find", help="documents by borrower, contract, class, period, hash or status")
    find.add_argument("--borrower")
    find.add_argument("--contract")
    find.add_argument("--class", dest="doc_class")
    find.add_argument("--period", help="YYYY-MM")
    find.add_argument("--hash", help="SHA-256 or a prefix of it")
    find.add_argument("--status", choices=["archived", "quarantined"])
    get = actions.add_parser("get", help="fetch one document by hash (verified)")
    get.add_argument("hash")
    get.add_argument("-o", "--output")
    verify = actions.add_parser("verify", help="re-hash a stored document against its catalogued hash")
    verify.add_argument("hash")
    inputs = actions.add_parser("inputs", help="what a published report was built from (its manifest)")
    inputs.add_argument("report_kind", choices=["management_report", "regulatory_return"])
    inputs.add_argument("period", help="YYYY-MM, or YYYYQn for a regulatory return")
    archive.set_defaults(func=cmd_archive)
    from pipelines.cli_archive import register_archive_commands  # holds, audit, bundles, access log

    register_archive_commands(actions)

    from pipelines.cli_backfill import add_parser as add_backfill_parser  # postloan backfill START END

    add_backfill_parser(sub)

    from pipelines.cli_extract import register_extract_command  # postloan extract PATH.pdf

    register_extract_command(sub)

    config = sub.add_parser("config", help="validate the configuration")
    config.add_argument("action", choices=["check"])
    config.set_defaults(func=cmd_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    # pypdf logs recoverable damage of quarantined files; the quarantine reason already says it.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
