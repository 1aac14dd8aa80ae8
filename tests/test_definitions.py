"""The code location loads: assets, checks, jobs, schedules, sensor and resources resolve."""
from __future__ import annotations

from dagster import build_sensor_context


def test_definitions_load_with_jobs_schedules_and_sensor():
    from pipelines.definitions import defs

    assert defs.resolve_job_def("monthly_post_loan").partitions_def is not None
    assert defs.resolve_job_def("quarterly_regulatory").partitions_def is not None
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert {"core_system_extract", "inbox_documents", "loan_classification", "loan_provisions",
            "published_management_report", "published_g11_return"} <= keys
    assert {s.name for s in defs.schedules} == {"monthly_post_loan_schedule", "quarterly_schedule",
                                                "archive_integrity_audit_job_schedule"}


def test_the_workspace_file_names_the_definitions_module():
    import yaml
    from pipelines.settings import REPO_ROOT

    workspace = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())
    target = workspace["load_from"][0]["python_module"]
    assert (target["module_name"], target["attribute"]) == ("pipelines.definitions", "defs")


def test_the_inbox_sensor_requests_a_run_for_each_complete_delivery(s3_env):
    from pipelines.jobs import inbox_delivery_sensor
    from plugins.archive import ObjectStore, s3_settings
    from plugins.config import load_config
    from plugins.inbox import READY_MARKER

    store = ObjectStore(s3_settings(load_config().storage))
    store.ensure_buckets()
    store.put(store.settings.inbox_bucket, f"core/2025-01/{READY_MARKER}", b"")
    store.put(store.settings.inbox_bucket, "core/2025-02/loans.csv", b"incomplete delivery, no marker")
    context = build_sensor_context(cursor="")
    requests = list(inbox_delivery_sensor(context))
    assert "2025-01" in [r.partition_key for r in requests]
    assert "2025-02" not in [r.partition_key for r in requests]
    again = build_sensor_context(cursor=context.cursor)
    assert "2025-01" not in [getattr(r, "partition_key", None) for r in inbox_delivery_sensor(again) or []]
