"""Jobs, schedules and the inbox sensor."""
from __future__ import annotations

from dagster import (
    AssetSelection,
    DefaultSensorStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    build_schedule_from_partitioned_job,
    define_asset_job,
    schedule,
    sensor,
)

from pipelines import settings
from pipelines.partitions import monthly_partitions, quarterly_partitions
from plugins.archive import ObjectStore, s3_settings
from plugins.config import load_config
from plugins.inbox import delivered_months

monthly_post_loan_job = define_asset_job(
    "monthly_post_loan",
    selection=AssetSelection.groups("ingest", "extract", "risk")
    | AssetSelection.assets("management_report", "published_management_report"),
    description="The post-loan month: ingest and archive, extract, validate, classify, provision, report, publish.",
)

quarterly_regulatory_job = define_asset_job(
    "quarterly_regulatory",
    selection=AssetSelection.assets("g11_return", "published_g11_return"),
    description="Quarterly returns to the regulator (G11) from the quarter-end month's book.",
)

_calendar = load_config(settings.config_dir()).institution.calendar

monthly_schedule = build_schedule_from_partitioned_job(
    monthly_post_loan_job, day_of_month=_calendar.monthly_report_day, hour_of_day=6,
    description="Runs the previous month on the configured report day.",
)


@schedule(job=quarterly_regulatory_job, cron_schedule=f"0 7 {_calendar.monthly_report_day} 1,4,7,10 *",
          description="Runs the previous quarter's returns on the report day after quarter end, before the "
                      "filing deadline (calendar in config/institution.yaml).")
def quarterly_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
    key = quarterly_partitions.get_last_partition_key(current_time=context.scheduled_execution_time)
    if key is None:
        return SkipReason("no complete quarter yet")
    return RunRequest(run_key=f"quarter-{key}", partition_key=key)


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
