"""A backfill launched as the Dagster UI does (an ASSET backfill of all partitions at once, run by the daemon)
publishes the same bytes as the oldest-first CLI backfill (pipelines/cli_backfill.py).

Monthly assets declare their dependencies on earlier months (loan_classification and borrower_statements on
their previous partition, tier_migration on this and the previous month, the history assets on windows), so
Dagster's backfill daemon has to run the months in order even when all are submitted at once and the
run coordinator would run two runs side by side.

Why a month takes several runs (Dagster 1.13, dagster/_core/execution/asset_backfill.py): every 30 s the daemon
requests the targeted asset partitions whose parents are materialized, one run per month. A child joins the run
of a parent requested in the same iteration only through an identity mapping, and only when all its pending
partitions are those the parent is requested for; otherwise it waits for the parent's materialization:
- a self-dependent asset (loan_classification, borrower_statements, contract_state, published_loan_classification)
  never joins the run of its other parents;
- an input spanning this month and earlier ones (tier_migration, the history windows, portfolio_trend's
  trend window) is no identity mapping;
- with several months in flight, a child's pending months include months its parent is not being run for.
So each month takes 11-13 runs (150 for the 12 months on 2026-12-01, two at a time: the UI backfill 23 min, the
CLI backfill 6.5 min, the test 31 min on this 2-core machine, shared). A BackfillPolicy would not remove them: a
multi-partition run would need every asset to compute a range of months (each reading the month before), and a
one-partition policy groups nothing. What made the runs slow was the per-step process of Dagster's default
executor (a month's first run, ingest and extraction: 158 s with a process per step, 22-54 s in one process, on
the same machine); the code location now runs each run's steps in its process (pipelines/definitions.py), as
the CLI does.
"""
from __future__ import annotations

import difflib
import hashlib
import io
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from pipelines import settings

REPO_ROOT = settings.REPO_ROOT
# The 12 months: the sample's last year (2025-10 … 2026-09).
START, END = "2025-10", "2026-09"
MONTHLY_REPORT_KINDS = ("management_report", "loan_classification")
BACKFILL_TIMEOUT = 40 * 60

DAGSTER_YAML = """\
# Fresh instance for the UI-backfill test: SQLite storage in this folder (the default), runs queued and
# dequeued by the daemon, two at a time (so running months out of order would be possible).
telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 2
run_launcher:
  module: dagster.core.launcher
  class: DefaultRunLauncher
"""


def _namespace(monkeypatch: pytest.MonkeyPatch, root: Path, tag: str) -> dict[str, str]:
    """Own buckets, catalog and DAGSTER_HOME on the session's S3 server, in os.environ. The state folder stays the
    session's (s3_env): the local server's credentials live there and the CLI finds its server through it."""
    state = root / f"state-{tag}"
    home = state / "dagster_home"
    home.mkdir(parents=True)
    values = {
        "POSTLOAN_BUCKET_INBOX": f"uibf-{tag}-inbox",
        "POSTLOAN_BUCKET_ARCHIVE": f"uibf-{tag}-archive",
        "POSTLOAN_BUCKET_WORK": f"uibf-{tag}-work",
        "POSTLOAN_CATALOG_URL": f"sqlite:///{state / 'catalog.sqlite'}",
        "DAGSTER_HOME": str(home),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def _publications(report_kinds=MONTHLY_REPORT_KINDS) -> dict[tuple[str, str, str], dict[str, bytes]]:
    """(report kind, period, file name) → {sha256: bytes} of every object under reports/ in the archive bucket."""
    from pipelines import cli
    from plugins.archive import ObjectStore, s3_settings

    store = ObjectStore(s3_settings(cli._config().storage))
    bucket = store.settings.archive_bucket
    found: dict[tuple[str, str, str], dict[str, bytes]] = defaultdict(dict)
    for key in store.list_keys(bucket, "reports/"):
        _, kind, period, _digest, name = key.split("/", 4)
        if kind in report_kinds:
            data = store.get(bucket, key)
            found[(kind, period, name)][hashlib.sha256(data).hexdigest()] = data
    return dict(found)


def _text(name: str, data: bytes) -> list[str]:
    """Readable lines of a report file, for a diff in the failure message."""
    suffix = name.rsplit(".", 1)[-1].lower()
    try:
        if suffix == "pdf":
            import pypdfium2

            pdf = pypdfium2.PdfDocument(io.BytesIO(data))
            return "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf))).splitlines()
        if suffix in ("xlsx", "xlsm"):
            import openpyxl

            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
            return [f"{sheet.title}!{row}" for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)]
        return data.decode("utf-8", errors="replace").splitlines()
    except Exception as exc:  # noqa: BLE001 - only for the message
        return [f"<unreadable {suffix}: {exc!r}; {len(data)} bytes>"]


def _difference(a: dict, b: dict) -> str:
    """What a developer needs: which files differ for which period, and a diff of the first that differs."""
    lines, first = [], None
    for key in sorted(set(a) | set(b)):
        sha_a, sha_b = sorted(a.get(key, {})), sorted(b.get(key, {}))
        if sha_a != sha_b:
            kind, period, name = key
            lines.append(f"  {kind} {period} {name}: CLI {[s[:12] for s in sha_a] or 'missing'} "
                         f"vs UI backfill {[s[:12] for s in sha_b] or 'missing'}")
            if first is None and sha_a and sha_b:
                first = key
    message = f"{len(lines)} monthly publication(s) differ between the CLI and the UI backfill:\n" + "\n".join(lines)
    if first is not None:
        name = first[2]
        text_a = _text(name, next(iter(a[first].values())))
        text_b = _text(name, next(iter(b[first].values())))
        diff = list(difflib.unified_diff(text_a, text_b, "cli_backfill", "ui_backfill", n=2, lineterm=""))
        message += (f"\nfirst differing report: {' '.join(first)} (text diff, {len(diff)} lines"
                    f"{', first 60' if len(diff) > 60 else ''}; empty = same text, different bytes):\n"
                    + "\n".join(diff[:60]))
    return message


def _graphql_asset_backfill(instance, asset_keys, start: str, end: str) -> str:
    """Launch the backfill as the UI does: the launchPartitionBackfill mutation, all partitions in one request.

    Each asset's months are named (partitionsByAssets) rather than one list of months for the selection
    (partitionNames, what the asset graph's launch dialog sends): from partitionNames Dagster also targets every
    partition downstream of the selected ones through the partition mappings, i.e. the months after END up to
    the clock's last month (the sample ends in 2026-09, the clock is later), where nothing was delivered; and it
    leaves out the first month's earlier_statement_figures (only earlier months feed it). See
    test_what_a_backfill_of_the_months_targets.
    """
    from dagster_graphql.client.query import LAUNCH_PARTITION_BACKFILL_MUTATION
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    params = {
        "partitionsByAssets": [{"assetKey": {"path": list(key.path)}, "partitions": {"range": {"start": start, "end": end}}}
                               for key in asset_keys],
        "title": "test_backfill_ui",
    }
    with define_out_of_process_context(str(REPO_ROOT / "workspace.yaml"), None, instance) as context:
        result = execute_dagster_graphql(context, LAUNCH_PARTITION_BACKFILL_MUTATION, {"backfillParams": params})
    payload = result.data["launchPartitionBackfill"]
    assert payload["__typename"] == "LaunchBackfillSuccess", payload
    return payload["backfillId"]


def _daemon(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", "workspace.yaml"],
                            cwd=REPO_ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    except ProcessLookupError:
        pass


def _run_errors(instance, runs) -> list[str]:
    """One line per failed step of each failed run: its partition, step and the innermost error."""
    from dagster import DagsterEventType

    errors = []
    for run in runs:
        if run.status.value != "FAILURE":
            continue
        for entry in instance.all_logs(run.run_id, of_type={DagsterEventType.STEP_FAILURE}):
            error = getattr(entry.dagster_event.event_specific_data, "error", None)
            while error is not None and error.cause is not None:
                error = error.cause
            reason = error.message.strip().splitlines()[-1] if error is not None and error.message else "?"
            errors.append(f"  run {run.run_id[:8]} {run.tags.get('dagster/partition')} step {entry.step_key}: {reason}")
    return errors


def _ts(value: float | None) -> str:
    return "-" if value is None else datetime.fromtimestamp(value, timezone.utc).strftime("%H:%M:%S")


def _monthly_asset_keys():
    from pipelines.definitions import defs

    return sorted(defs.resolve_job_def("monthly_post_loan").asset_layer.selected_asset_keys,
                  key=lambda k: k.to_user_string())


def test_what_a_backfill_of_the_months_targets() -> None:
    """Why the slow test names each asset's months, and why borrower_statements must do without the month's
    earlier_statement_figures: the plan Dagster makes (its own AssetBackfillData) for the UI's two forms."""
    from dagster import AssetKey, DagsterInstance
    from dagster._core.definitions.selector import PartitionRangeSelector, PartitionsByAssetSelector, PartitionsSelector
    from dagster._core.execution.asset_backfill import AssetBackfillData

    from pipelines.cli_backfill import months_between
    from pipelines.definitions import defs

    graph, keys, months = defs.resolve_asset_graph(), _monthly_asset_keys(), months_between(START, END)
    clock = datetime(2026, 12, 1, tzinfo=timezone.utc).timestamp()  # the months after END exist, as on this machine
    with DagsterInstance.ephemeral() as instance:
        by_names = AssetBackfillData.from_asset_partitions(graph, months, keys, instance, clock, all_partitions=False)
        by_assets = AssetBackfillData.from_partitions_by_assets(graph, instance, clock, [
            PartitionsByAssetSelector(asset_key=key, partitions=PartitionsSelector(
                ranges=[PartitionRangeSelector(start=START, end=END)])) for key in keys])

    def targeted(data, name: str) -> list[str]:
        return sorted(data.target_subset.get_partitions_subset(AssetKey(name)).get_partition_keys())

    after = ["2026-10", "2026-11"]
    assert targeted(by_names, "core_system_extract") == months
    assert targeted(by_names, "earlier_statement_figures") == [*months[1:], *after]  # not the first month
    # and downstream of those, months where nothing was delivered (which assets depends on Dagster's search)
    assert {month for key in keys for month in targeted(by_names, key.to_user_string())} == {*months, *after}
    assert {name.to_user_string(): targeted(by_assets, name.to_user_string()) for name in keys} == \
        {name.to_user_string(): months for name in keys}


def test_borrower_statements_and_the_previous_filing_check_run_without_the_months_earlier_figures(
        s3_env, tmp_path, monkeypatch) -> None:
    """A UI backfill may not have materialized earlier_statement_figures of the month (not targeted for its first
    month; and the check runs in statement_figures_extracted's run): both read it as absent, neither fails."""
    from dagster import (
        AssetCheckKey, AssetKey, AssetSelection, AssetSpec, Definitions, asset, build_asset_context, define_asset_job,
    )

    from assets.extract import (
        borrower_statements, earlier_statement_figures, statement_figures_extracted,
        statements_consistent_with_previous_filing,
    )
    from pipelines.partitions import monthly_partitions
    from pipelines.resources import ArchiveResource, PostloanConfigResource, WorkStoreIOManager, _parquet
    from plugins.archive import ObjectStore, s3_settings
    from plugins.config import load_config
    from plugins.extraction import FIGURE_COLUMNS

    _namespace(monkeypatch, tmp_path, "fast")  # own buckets: no other test's months in this work store
    month, none = "2026-09", pd.DataFrame(columns=FIGURE_COLUMNS)
    state = borrower_statements(build_asset_context(partition_key=month), statement_figures_extracted=none,
                                earlier_statement_figures={}, previous_statements={})
    assert state.metadata["source"].startswith("bootstrap: this month only")

    store = ObjectStore(s3_settings(load_config().storage))
    store.ensure_buckets()
    store.put(store.settings.work_bucket, f"statement_figures_extracted/{month}", _parquet(none),
              metadata={"kind": "parquet"})
    assert not store.exists(store.settings.work_bucket, f"earlier_statement_figures/{month}")
    check = AssetCheckKey(AssetKey("statement_figures_extracted"), "statements_consistent_with_previous_filing")
    # The check without its asset, as after statement_figures_extracted in that asset's run, before
    # earlier_statement_figures exists; Dagster needs a partitioned asset in a partitioned run, hence the anchor.
    @asset(partitions_def=monthly_partitions, io_manager_key="work_io_manager")
    def anchor() -> None:
        return None

    job = define_asset_job("the_check_alone", selection=AssetSelection.checks(check) | AssetSelection.assets(anchor))
    result = Definitions(
        assets=[AssetSpec("inbox_documents", partitions_def=monthly_partitions), statement_figures_extracted,
                earlier_statement_figures, anchor], asset_checks=[statements_consistent_with_previous_filing],
        jobs=[job], resources={"work_io_manager": WorkStoreIOManager(), "config": PostloanConfigResource(),
                               "archive": ArchiveResource()},
    ).resolve_job_def(job.name).execute_in_process(partition_key=month, raise_on_error=False)
    assert result.success
    evaluation = next(e for e in result.get_asset_check_evaluations() if e.check_name == check.name)
    assert evaluation.passed and evaluation.metadata["earlier_filings_read"].value is False


@pytest.mark.slow
def test_a_ui_asset_backfill_publishes_the_cli_backfills_bytes(s3_env, tmp_path, monkeypatch) -> None:
    from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, RunsFilter
    from dagster._core.execution.backfill import BulkActionStatus
    from dagster._core.storage.tags import BACKFILL_ID_TAG, PARTITION_NAME_TAG

    from pipelines import cli
    from pipelines.cli_backfill import backfill, months_between
    from plugins.archive import ObjectStore, s3_settings

    monkeypatch.chdir(REPO_ROOT)
    months = months_between(START, END)
    timings: dict[str, float] = {}

    # --- run B first (it fails sooner): a fresh namespace, all 12 months submitted at once, the daemon runs them
    env_b = _namespace(monkeypatch, tmp_path, "b")
    Path(env_b["DAGSTER_HOME"], "dagster.yaml").write_text(DAGSTER_YAML)
    cfg = cli._config()
    ObjectStore(s3_settings(cfg.storage)).ensure_buckets()
    cli.deliver_sample(cfg, months)

    asset_keys = _monthly_asset_keys()
    instance = DagsterInstance.from_config(env_b["DAGSTER_HOME"])
    backfill_id = _graphql_asset_backfill(instance, asset_keys, START, END)
    targeted = instance.get_backfill(backfill_id).asset_backfill_data.target_subset
    assert {set(targeted.get_partitions_subset(key).get_partition_keys()) == set(months) for key in asset_keys} == {True}

    log = tmp_path / "dagster-daemon.log"
    daemon = _daemon(dict(os.environ), log)
    started = time.monotonic()
    status = None
    try:
        while time.monotonic() - started < BACKFILL_TIMEOUT:
            status = instance.get_backfill(backfill_id).status
            if status not in (BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING, BulkActionStatus.FAILING):
                break
            if daemon.poll() is not None:
                break
            time.sleep(10)
    finally:
        _stop(daemon)
    timings["ui"] = time.monotonic() - started

    runs = instance.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
    records = {r.dagster_run.run_id: r for r in instance.get_run_records(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))}
    table = []
    for run in sorted(runs, key=lambda r: (records[r.run_id].start_time or 0, r.run_id)):
        rec = records[run.run_id]
        selection = sorted(k.to_user_string() for k in (run.asset_selection or ()))
        table.append(f"  {run.tags.get(PARTITION_NAME_TAG, '?'):8} {_ts(rec.start_time)}–{_ts(rec.end_time)} "
                     f"{run.status.value:8} {run.run_id[:8]} {len(selection)} assets: "
                     f"{', '.join(selection) if len(selection) <= 6 else ', '.join(selection[:6]) + ', …'}")
    print(f"\nUI asset backfill of {len(months)} months: {timings['ui']:.0f}s, {len(runs)} runs, status {status}\n"
          + "\n".join(table))
    problems = []
    if failed := [run for run in runs if run.status.value != "SUCCESS"]:
        # a run can fail on a step (an asset check) without failing the backfill
        problems.append(f"{len(failed)} of {len(runs)} runs did not succeed:\n" + "\n".join(_run_errors(instance, failed)))
    if status not in (BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED):
        daemon_tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        failed_subset = instance.get_backfill(backfill_id).asset_backfill_data.failed_and_downstream_subset
        not_run = [f"  {key.to_user_string()}: {len(subset.get_partition_keys())} partitions"
                   for key, subset in sorted(failed_subset.partitions_subsets_by_asset_key.items(),
                                             key=lambda item: item[0].to_user_string())]
        problems.append(f"backfill {backfill_id} ended {status} after {timings['ui']:.0f}s (daemon exit code "
                        f"{daemon.returncode}; backfill error: {instance.get_backfill(backfill_id).error})\n"
                        "failed steps:\n" + "\n".join(_run_errors(instance, runs))
                        + "\nfailed, and not run because upstream failed:\n" + "\n".join(not_run)
                        + (f"\ndaemon log tail:\n{daemon_tail}" if daemon.returncode else ""))

    # The dependency held: each month's classification was materialized by a run that started only after the
    # previous month's classification was materialized (not merely later by accident of timing).
    events = instance.fetch_materializations(AssetRecordsFilter(asset_key=AssetKey("loan_classification")),
                                             limit=1000, ascending=True).records
    materialized = {}
    for event in events:
        materialized.setdefault(event.partition_key, event)
    if missing := [m for m in months if m not in materialized]:
        problems.append(f"loan_classification was not materialized for {missing}")
    order = []
    for previous, month in zip(months, months[1:]):
        if previous not in materialized or month not in materialized:
            continue
        before, after = materialized[previous], materialized[month]
        run_start = records[after.run_id].start_time
        held = after.run_id != before.run_id and run_start >= before.timestamp
        order.append(f"  {month}: run {after.run_id[:8]} started {_ts(run_start)}, {previous} materialized "
                     f"{_ts(before.timestamp)}{'' if held else '  <-- BEFORE its previous month'}")
        if not held:
            problems.append(f"loan_classification {month} ran before {previous} was materialized")
    print("loan_classification order:\n" + "\n".join(order))

    ui_reports = _publications()

    # --- run A: the CLI backfill, oldest first, in process, in a namespace of its own --------------------
    _namespace(monkeypatch, tmp_path, "a")
    cfg = cli._config()
    ObjectStore(s3_settings(cfg.storage)).ensure_buckets()
    cli.deliver_sample(cfg, months)
    started = time.monotonic()
    lines: list[str] = []
    report = backfill(START, END, deliver=False, quarters=False, progress=lines.append)
    timings["cli"] = time.monotonic() - started
    if not report.success:
        pytest.fail("the CLI backfill failed:\n" + "\n".join(lines) + "\n\n" + "\n\n".join(problems))
    cli_reports = _publications()
    assert {period for _, period, _ in cli_reports} == set(months), sorted(cli_reports)

    print(f"CLI backfill of {len(months)} months: {timings['cli']:.0f}s")
    if ui_reports != cli_reports:
        problems.append(_difference(cli_reports, ui_reports))
    else:
        print(f"{len(ui_reports)} monthly publications ({', '.join(MONTHLY_REPORT_KINDS)}) identical for "
              f"{len(months)} months")
    if problems:
        pytest.fail("\n\n".join(problems) + "\n\nruns of the UI backfill:\n" + "\n".join(table))
