"""Jobs, schedules and the inbox sensor."""
from __future__ import annotations

from dagster import (
    AssetSelection,
    DagsterRunStatus,
    RunStatusSensorContext,
    DefaultSensorStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    build_schedule_from_partitioned_job,
    ScheduleDefinition,
    define_asset_job,
    job,
    op,
    partition_loading_context,
    run_status_sensor,
    schedule,
    sensor,
)

from pipelines import settings
from pipelines.resources import ArchiveResource
from pipelines.partitions import TIMEZONE, monthly_partitions, quarter_end, quarterly_partitions
from plugins.calendar import filing_deadline
from plugins.archive import ObjectStore, s3_settings
from plugins.config import load_config
from plugins.inbox import delivered_months

monthly_post_loan_job = define_asset_job(
    "monthly_post_loan",
    selection=AssetSelection.groups("ingest", "extract", "risk", "monitoring")
    | AssetSelection.assets("portfolio_trend", "management_report", "management_workbook",
                            "published_management_report", "data_quality_evidence",
                            "published_loan_classification", "report_publications"),
    description="The post-loan month: ingest and archive, extract, validate, classify, provision, report, publish.",
)

quarterly_regulatory_job = define_asset_job(
    "quarterly_regulatory",
    selection=AssetSelection.assets("g11_return", "east_extract", "returns_reconciliation", "published_g11_return",
                                    "published_east_extract"),
    description="Quarterly returns to the regulator (G11, EAST-style extracts) from the quarter-end month's book, "
                "published only when they reconcile with each other and the loan book.",
)

_calendar = load_config(settings.config_dir()).institution.calendar

monthly_schedule = build_schedule_from_partitioned_job(
    monthly_post_loan_job, day_of_month=_calendar.monthly_report_day, hour_of_day=6,
    description="Runs the previous month on the configured report day.",
)


@schedule(job=quarterly_regulatory_job,
          cron_schedule=f"0 7 {_calendar.quarterly_run_day_after_quarter_end} 1,4,7,10 *", execution_timezone=TIMEZONE,
          description="Runs the previous quarter's returns on the configured day after quarter end, leaving "
                      "days before the filing deadline (calendar in config/institution.yaml).")
def quarterly_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
    # Dagster 1.13: the evaluation time goes through partition_loading_context (no current_time argument).
    with partition_loading_context(effective_dt=context.scheduled_execution_time):
        key = quarterly_partitions.get_last_partition_key()
    if key is None:
        return SkipReason("no complete quarter yet")
    deadline = filing_deadline(quarter_end(key), _calendar)
    return RunRequest(run_key=f"quarter-{key}", partition_key=key,
                      tags={"postloan/filing_deadline": deadline.isoformat(),
                            "postloan/data_cutoff": quarter_end(key).isoformat()})


@sensor(job=monthly_post_loan_job, minimum_interval_seconds=60, default_status=DefaultSensorStatus.STOPPED,
        description="Starts the month's run when a complete delivery (its _READY marker) lands in the inbox.")
def inbox_delivery_sensor(context: SensorEvaluationContext):
    store = ObjectStore(s3_settings(load_config(settings.config_dir()).storage))
    seen = set((context.cursor or "").split(",")) - {""}
    months = [m for m in delivered_months(store) if m not in seen and monthly_partitions.has_partition_key(m)]
    if not months:
        yield SkipReason("no new complete delivery in the inbox")
        return
    for month in months:
        yield RunRequest(run_key=f"delivery-{month}", partition_key=month)
    context.update_cursor(",".join(sorted(seen | set(months))))


archive_integrity_audit_job = define_asset_job(
    "archive_integrity_audit_job", selection=AssetSelection.assets("archive_integrity_audit"),
    description="Re-hash the archive against its catalog (resumes an unfinished audit); archive the access log.")

archive_integrity_schedule = ScheduleDefinition(
    job=archive_integrity_audit_job,
    cron_schedule=load_config(settings.config_dir()).retention.integrity_audit.cron, execution_timezone=TIMEZONE,
    description="The archive's integrity audit (cron in config/retention.yaml integrity_audit.cron).")


# --- maker-checker: drafts awaiting approval, and delivery of what was approved (plugins/reports/approval.py)

@op(description="Deliver every approved report draft not yet delivered: its files (the management PDF with its "
                "审批页) and the release manifest naming maker and checker, under delivered/ in the archive.",
    required_resource_keys={"archive", "config"})  # (this module's annotations are strings: keys, not types)
def deliver_approved_reports_op(context) -> list:
    from plugins.reports.approval import deliver_pending

    from assets.publications import publish_releases

    archive, cfg = context.resources.archive.get(), context.resources.config.get()
    delivered = deliver_pending(archive, cfg.institution.name)
    for row in delivered:
        context.log.info(f"delivered {row['draft']} → {row['release']}")
    # the publisher plugins get what was just approved and delivered (each file once: their ledger)
    for row in publish_releases(archive, cfg.plugins):
        context.log.info(f"{row['publisher']}: {row['file']} {row['status']} {row['receipt']}")
    return delivered


@job(description="Delivers approved reports (started by report_approval_sensor when a checker approves).")
def deliver_approved_reports():
    deliver_approved_reports_op()


@sensor(job=deliver_approved_reports, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="Maker-checker: lists the report drafts awaiting approval (`postloan reports approve KIND "
                    "PERIOD`); when a checker has approved one, starts its delivery.")
def report_approval_sensor(context: SensorEvaluationContext):
    from plugins.reports.approval import pending_summary

    rows = pending_summary(ArchiveResource().get())
    awaiting = [f"{r['report_kind']} {r['period']} ({', '.join(r['files'])})" for r in rows if r["status"] == "draft"]
    approved = sorted(r["manifest"].rsplit("/", 1)[1][:12] for r in rows if r["status"] == "approved")
    if awaiting:
        context.log.info(f"{len(awaiting)} draft(s) await approval: " + "; ".join(awaiting))
    if approved:
        yield RunRequest(run_key="deliver-" + "-".join(approved),
                         tags={"postloan/awaiting_approval": str(len(awaiting))})
        return
    yield SkipReason(f"{len(awaiting)} draft(s) await approval" + (": " + "; ".join(awaiting) if awaiting else "")
                     + "; nothing approved to deliver")


# --- legal holds: the risk officer requests, the pipeline applies (plugins/archive/holds.py HoldRequests)

@op(description="Apply every pending legal-hold / release / retention request (hold-requests/ in the archive) as "
                "the pipeline's identity, the only one the object store lets set legal holds and retention; each "
                "outcome goes into the access log.",
    required_resource_keys={"archive"})
def apply_hold_requests_op(context) -> list:
    from plugins.archive.holds import apply_and_log

    archive = context.resources.archive.get()
    outcomes = apply_and_log(archive, "dagster", f"run {context.run_id}: apply hold requests",
                             archive.store.settings.access_key)
    for row in outcomes:
        context.log.info(f"{row['event']} {row['target']} ({row['request']}): "
                         + ("applied" if row["applied"] else f"refused: {row['error']}"))
    return outcomes


@job(description="Applies the pending legal-hold requests (started by hold_request_sensor).")
def apply_hold_requests():
    apply_hold_requests_op()


@sensor(job=apply_hold_requests, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="Starts apply_hold_requests when a risk officer has requested a legal hold, a release or a "
                    "retention extension (`postloan archive hold|release|extend`) not yet applied.")
def hold_request_sensor(context: SensorEvaluationContext):
    from plugins.archive.holds import HoldRequests

    pending = HoldRequests(ArchiveResource().get()).pending()
    if not pending:
        yield SkipReason("no pending hold request")
        return
    yield RunRequest(run_key="holds-" + pending[-1].key.rsplit("/", 1)[1].removesuffix(".json"),
                     tags={"postloan/hold_requests": str(len(pending))})


# --- the access log anchored at the end of each monthly run (plugins/archive/access.py export_access_log)

@op(description="Anchor the access log: record the finished monthly run in it, then archive the entries not yet "
                "exported under COMPLIANCE lock (the export carries the chain's head hash; `postloan archive log` "
                "compares the live chain with every archived export).",
    required_resource_keys={"archive"})
def anchor_access_log_op(context) -> dict:
    from plugins.archive.access import export_access_log

    archive = context.resources.archive.get()
    tags = context.run.tags
    archive.catalog.append_access(f"dagster run {context.run_id}", "pipeline", "anchor_log", "access_log",
                                  "end of the monthly run", {"monthly_run": tags.get("postloan/monthly_run"),
                                                             "partition": tags.get("postloan/partition")})
    exported = export_access_log(archive) or {}
    context.log.info(f"access log anchored up to entry {exported.get('last_id')}: head {exported.get('head_hash')}")
    return exported


@job(description="Anchors the access log's head hash in the WORM archive (started by access_log_anchor_sensor "
                 "when a monthly run succeeds).")
def anchor_access_log():
    anchor_access_log_op()


@run_status_sensor(run_status=DagsterRunStatus.SUCCESS, monitored_jobs=[monthly_post_loan_job],
                   request_job=anchor_access_log, default_status=DefaultSensorStatus.RUNNING,
                   description="At the end of each successful monthly run, anchors the access log (export with its "
                               "head hash into the archive), as each scheduled audit and `archive log --export` do.")
def access_log_anchor_sensor(context: RunStatusSensorContext) -> RunRequest:
    run = context.dagster_run
    partition = run.tags.get("dagster/partition", "")
    return RunRequest(run_key=f"anchor-{run.run_id}",
                      tags={"postloan/monthly_run": run.run_id, "postloan/partition": partition})
