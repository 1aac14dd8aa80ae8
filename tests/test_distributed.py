"""Scale-out: a month on two celery workers over RabbitMQ (loopback), run and event storage on PostgreSQL
(loopback), publishes the same bytes as the in-process run of the same month, and adds no object to the archive.

The month runs are marked `distributed` (and `slow`: two whole months): `make test-distributed`, which .ci/run
runs when RabbitMQ answers; skipped, with the reason, when RabbitMQ or PostgreSQL does not answer. The executor's
choice itself is checked in the default suite.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pipelines.distributed import start_workers, stop_workers
from plugins.config import DEFAULT_CONFIG_DIR
from tests.private_stack import private_stack


MONTH = "2026-09"
RABBITMQ = ("127.0.0.1", 5672)
PG_ADMIN_URL = os.environ.get("POSTLOAN_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
INSTANCE_YAML = """storage:
  postgres:
    postgres_url:
      env: POSTLOAN_PG_URL
telemetry:
  enabled: false
"""

# The same month twice against one instance and one archive: in process, then on the celery workers.
RUN_BOTH = '''
import json, os, sys
from pathlib import Path
from dagster import DagsterEventType, DagsterInstance
from pipelines import cli, settings
from pipelines.distributed import run_on_celery
from plugins.archive import ObjectStore, s3_settings
from plugins.config import load_config

month, out = sys.argv[1], Path(sys.argv[2])
cfg = load_config(settings.config_dir())
store = ObjectStore(s3_settings(cfg.storage))

def archive_objects():
    bucket = store.settings.archive_bucket
    return sorted([o.object_name, o.version_id] for o in store.client.list_objects(bucket, recursive=True,
                                                                                   include_version=True))

def reports():
    bucket = store.settings.archive_bucket
    return {key: store.get(bucket, key).hex() for key in store.list_keys(bucket, "reports/")}

def published(instance, run_id):
    rows = {}
    for record in instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION).records:
        m = record.event_log_entry.dagster_event.event_specific_data.materialization
        if m.asset_key.path[0].startswith("published_") and "files" in m.metadata:
            rows[m.asset_key.path[0]] = sorted([f["file"], f["sha256"]] for f in m.metadata["files"].value)
    return rows

def step_pids(instance, run_id):
    return sorted({r.event_log_entry.dagster_event.pid for r in instance.get_records_for_run(
        run_id, of_type=DagsterEventType.STEP_START).records})

cli.deliver_sample(cfg, [month])
with DagsterInstance.get() as instance:
    first = cli.run_job("monthly_post_loan", month, instance)
    after_first, reports_first = archive_objects(), reports()
    second = run_on_celery("monthly_post_loan", month, instance)
    result = {"in_process": {"success": first.success, "published": published(instance, first.run_id),
                             "pids": step_pids(instance, first.run_id)},
              "celery": {"success": second.success, "published": published(instance, second.run_id),
                         "pids": step_pids(instance, second.run_id),
                         "storage": type(instance.run_storage).__name__},
              "coordinator_pid": os.getpid(),
              "objects_same": after_first == archive_objects(), "reports_same": reports_first == reports()}
(out / "result.json").write_text(json.dumps(result))
'''


def _answers(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=3):
            return True
    except OSError:
        return False


def _database():
    """A fresh PostgreSQL database for the instance; (url, drop)."""
    import psycopg2

    admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=3)
    admin.autocommit = True
    name = f"postloan_celery_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")

    def drop() -> None:
        with admin.cursor() as cur:
            cur.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()

    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", drop


def _vhost() -> tuple[str, object]:
    """A RabbitMQ virtual host of this test's own, so no other run's workers take its steps (the default one
    when rabbitmqctl is not at hand); (broker url, remove)."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        return "pyamqp://guest:guest@127.0.0.1:5672//", lambda: None
    name = f"postloan-test-{uuid.uuid4().hex[:8]}"
    subprocess.run([ctl, "add_vhost", name], check=True, capture_output=True, timeout=60)
    subprocess.run([ctl, "set_permissions", "-p", name, "guest", ".*", ".*", ".*"], check=True,
                   capture_output=True, timeout=60)
    return (f"pyamqp://guest:guest@127.0.0.1:5672/{name}",
            lambda: subprocess.run([ctl, "delete_vhost", name], capture_output=True, timeout=60))


def test_a_run_stays_in_process_unless_its_config_chooses_celery():
    from dagster import validate_run_config

    from pipelines.definitions import defs
    from pipelines.distributed import _requirements, celery_run_config

    job = defs.resolve_job_def("monthly_post_loan")
    assert job.executor_def.name == "in_process_or_celery"
    default = validate_run_config(job, {})["execution"]["in_process_or_celery"]
    assert list(default) == ["in_process"] and _requirements(default) == []
    broker = "pyamqp://guest:guest@127.0.0.1:5672//"
    chosen = validate_run_config(job, celery_run_config(broker))["execution"]["in_process_or_celery"]
    assert chosen["celery"]["broker"] == broker
    # steps in other processes: the job must be reconstructable and the instance shared (PostgreSQL)
    assert {r.name for r in _requirements(chosen)} == {"RECONSTRUCTABLE_PIPELINE", "NON_EPHEMERAL_INSTANCE",
                                                       "PERSISTENT_OUTPUTS"}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    if not _answers(RABBITMQ):
        pytest.skip(f"no RabbitMQ answers at {RABBITMQ[0]}:{RABBITMQ[1]}")
    try:
        pg_url, drop_database = _database()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        pytest.skip(f"no PostgreSQL server answers at {PG_ADMIN_URL}: {exc}")
    broker, remove_vhost = _vhost()
    root = tmp_path_factory.mktemp("distributed")
    out, logs = root / "out", root / "logs"
    out.mkdir()
    logs.mkdir()
    try:
        with private_stack(root, "celery") as env:
            home = Path(env["DAGSTER_HOME"])
            home.mkdir(parents=True, exist_ok=True)
            (home / "dagster.yaml").write_text(INSTANCE_YAML)
            run_env = {**os.environ, **env, "POSTLOAN_PG_URL": pg_url, "POSTLOAN_CELERY_BROKER": broker,
                       "POSTLOAN_CELERY_BACKEND": "rpc://", "PYTHONPATH": str(DEFAULT_CONFIG_DIR.parent)}
            workers = start_workers(2, run_env, logs, prefix=f"postloan-test-{os.getpid()}-")
            try:
                run = subprocess.run([sys.executable, "-c", RUN_BOTH, MONTH, str(out)], env=run_env,
                                     capture_output=True, text=True, timeout=2400)
            finally:
                stop_workers(workers)
    finally:
        remove_vhost()
        drop_database()
    assert run.returncode == 0, run.stderr[-4000:]
    return {"result": json.loads((out / "result.json").read_text()),
            "logs": {p.name: p.read_text(errors="replace") for p in sorted(logs.glob("*.log"))}}


@pytest.mark.distributed
@pytest.mark.slow
def test_both_runs_succeed_with_storage_on_postgresql(two_runs):
    result = two_runs["result"]
    assert result["in_process"]["success"] and result["celery"]["success"]
    assert result["celery"]["storage"] == "PostgresRunStorage"


@pytest.mark.distributed
@pytest.mark.slow
def test_the_celery_run_publishes_the_same_bytes_as_the_in_process_run(two_runs):
    result = two_runs["result"]
    assert result["celery"]["published"] == result["in_process"]["published"]
    assert set(result["in_process"]["published"]) >= {"published_management_report", "published_loan_classification"}
    assert result["reports_same"] and result["objects_same"]  # the second run wrote no object at all


@pytest.mark.distributed
@pytest.mark.slow
def test_the_steps_ran_on_both_workers_not_in_the_run_process(two_runs):
    result = two_runs["result"]
    assert result["in_process"]["pids"] == [result["coordinator_pid"]]
    assert result["coordinator_pid"] not in result["celery"]["pids"]
    executed = {name: log.count("succeeded in") for name, log in two_runs["logs"].items()}
    assert sorted(executed) == ["worker1.log", "worker2.log"] and all(executed.values()), executed
