"""The postloan code location: assets, checks, jobs, schedules, sensors and resources."""
from __future__ import annotations

from dagster import Definitions, load_asset_checks_from_modules, load_assets_from_modules

import assets.archive_audit
import assets.extract
import assets.ingest
import assets.regulatory
import assets.reports
import assets.classify
import assets.provision
import assets.migration
import assets.early_warning
import assets.allowance
import assets.monitoring
import assets.state
import assets.disposal
import assets.publications
import assets.collections
from pipelines.jobs import (
    archive_integrity_audit_job,
    archive_integrity_schedule,
    deliver_approved_reports,
    apply_hold_requests,
    hold_request_sensor,
    anchor_access_log,
    access_log_anchor_sensor,
    inbox_delivery_sensor,
    monthly_post_loan_job,
    monthly_schedule,
    quarterly_regulatory_job,
    quarterly_schedule,
    report_approval_sensor,
)
from pipelines.distributed import in_process_or_celery_executor
from pipelines.resources import ArchiveResource, PostloanConfigResource, WorkStoreIOManager

ASSET_MODULES = [assets.ingest, assets.extract, assets.classify, assets.migration, assets.early_warning, assets.provision, assets.allowance, assets.monitoring, assets.reports, assets.archive_audit,
                 assets.regulatory, assets.state, assets.disposal, assets.publications,
                 assets.collections]

defs = Definitions(
    # Every step of a run in the run's own process, as `postloan run`/`backfill` run them (execute_in_process):
    # Dagster's default starts a process per step, each importing these definitions again (~4 s of CPU), so a
    # UI backfill of 12 months (some 30 steps a month, split over several runs) spent most of its time starting
    # processes; a month's steps mostly wait on each other, so little parallelism is lost. A run whose config
    # chooses `celery` runs each step on the celery workers instead (pipelines/distributed.py, docs/scale-out.md).
    executor=in_process_or_celery_executor,
    assets=load_assets_from_modules(ASSET_MODULES),
    asset_checks=load_asset_checks_from_modules(ASSET_MODULES),
    jobs=[monthly_post_loan_job, quarterly_regulatory_job, archive_integrity_audit_job, deliver_approved_reports,
          apply_hold_requests, anchor_access_log],
    schedules=[monthly_schedule, quarterly_schedule, archive_integrity_schedule],
    sensors=[inbox_delivery_sensor, report_approval_sensor, hold_request_sensor,
             access_log_anchor_sensor],
    resources={
        "config": PostloanConfigResource(),
        "archive": ArchiveResource(),
        "work_io_manager": WorkStoreIOManager(),
    },
)
