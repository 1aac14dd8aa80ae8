"""Two runs at once, against the real servers: the archive writes each content-addressed object once and the
catalog each row once, however many processes race for it; Dagster's run queue (the project's instance
settings, config/dagster/dagster.yaml) starts one run per partition at a time, and run monitoring marks a run
whose process was killed FAILED.

Before issue 12, two runs of one month at once crashed on a UNIQUE constraint and gave 7 archived files a
second identical locked version. Now a put is conditional (`If-None-Match: *`: of racing writers exactly one
succeeds; the others index the winner's object) and a catalog insert of an existing row is a no-op.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from plugins.archive import Archive, Catalog, ObjectStore
from tests.archive_support import isolated_archive

REPO = Path(__file__).resolve().parent.parent
PROCESSES = 8

_RACER = """
import json, os, sys, time
from datetime import date
from pathlib import Path
from plugins.archive import Archive, Catalog, DocumentMeta, ObjectStore, S3Settings
from plugins.config import load_config
settings, url, root, barrier, what = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[4]), sys.argv[5]
archive = Archive(ObjectStore(S3Settings(**settings)), Catalog(url), load_config().retention, root=root)
(barrier / f"ready-{os.getpid()}").touch()
while not (barrier / "go").exists():
    time.sleep(0.001)
if what == "documents":
    for i in range(5):
        archive.archive_document(f"%PDF-1.4 delivered once, archived by eight runs {i}".encode(), DocumentMeta(
            doc_class="loan_contract", original_name=f"HT2026-05{i:02d}_借款合同.pdf", borrower_id="B0500",
            contract_id=f"HT2026-05{i:02d}", period="2026-09", received_date=date(2026, 9, 3),
            maturity=date(2029, 9, 2)))
else:
    archive.publish("management_report", "2026-09", date(2026, 9, 30),
                    {"贷后管理月报_2026-09.pdf": b"%PDF-1.4 the month's report", "workbook.xlsx": b"PK workbook"},
                    {"documents": [], "config_sha256": "c" * 64, "code_version": "test"}, "run-x")
"""


def _race(archive: Archive, url: str, what: str, barrier: Path) -> None:
    s = archive.store.settings
    settings = json.dumps({k: getattr(s, k) for k in s.__dataclass_fields__})
    procs = [subprocess.Popen([sys.executable, "-c", _RACER, settings, url, archive.root, str(barrier), what], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(PROCESSES)]
    deadline = time.monotonic() + 180
    while len(list(barrier.glob("ready-*"))) < PROCESSES:  # all eight connected before any writes
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "a process did not get ready"
        time.sleep(0.05)
    (barrier / "go").touch()
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * PROCESSES, [err[-2000:] for _, err in outputs]


def _versions(archive: Archive) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in archive.store.versions(archive.bucket, archive.root, delete_markers=True):
        counts[v.key] = counts.get(v.key, 0) + 1
    return counts


@pytest.fixture()
def shared(s3_server, config, tmp_path):
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    archive = isolated_archive(s3_server, url, config.retention)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    return archive, url, barrier


def test_eight_processes_archiving_the_same_documents_write_each_once(shared):
    archive, url, barrier = shared
    _race(archive, url, "documents", barrier)
    versions = _versions(archive)
    assert len(versions) == 5 and set(versions.values()) == {1}  # five objects, one version each
    documents = archive.catalog.find_documents()
    assert len(documents) == 5 and {d.object_key for d in documents} == set(versions)
    assert all(d.version_id for d in documents)
    assert len(archive.catalog.receipts("2026-09")) == 5


def test_eight_processes_publishing_the_same_report_write_each_file_and_the_manifest_once(shared):
    archive, url, barrier = shared
    _race(archive, url, "publication", barrier)
    versions = _versions(archive)
    assert len(versions) == 3 and set(versions.values()) == {1}  # two files and their manifest
    assert len(archive.catalog.find_publications("management_report", "2026-09")) == 2


def test_a_conditional_put_refuses_a_second_write_of_a_key(store):
    key = f"probe/conditional-{time.time_ns()}.bin"
    bucket = store.settings.archive_bucket
    assert store.put_if_absent(bucket, key, b"first") is not None
    assert store.put_if_absent(bucket, key, b"second") is None
    assert store.get(bucket, key) == b"first" and len(list(store.versions(bucket, key))) == 1


def test_the_instance_settings_queue_one_run_per_partition_and_monitor_runs(tmp_path, monkeypatch):
    from dagster import DagsterInstance

    from pipelines import settings
    from pipelines.run_monitoring import LocalRunLauncher

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    with DagsterInstance.from_config(str(settings.dagster_home())) as instance:
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        assert limits == [{"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert isinstance(instance.run_launcher, LocalRunLauncher) and instance.run_launcher.supports_check_run_worker_health
        assert instance.run_monitoring_enabled and instance.run_monitoring_max_resume_run_attempts == 0


_DEFS = '''
import time
from pathlib import Path
from dagster import Definitions, job, op

@op
def long_step(context):
    Path(context.instance.root_directory, f"started-{context.run_id}").write_text("")
    time.sleep(120)

@job
def month_job():
    long_step()

defs = Definitions(jobs=[month_job])
'''


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


_IN_PROCESS = """
import runpy, sys
from dagster import DagsterInstance
defs = runpy.run_path(sys.argv[1])["defs"]
defs.resolve_job_def("month_job").execute_in_process(instance=DagsterInstance.get(),
                                                     tags={"dagster/partition": "2026-10"})
"""


@pytest.mark.slow
def test_the_run_queue_holds_a_second_run_of_the_month_and_monitoring_fails_a_killed_run(tmp_path, monkeypatch):
    """Real daemon, real runs. Two runs of one partition are submitted: the second waits QUEUED while the first
    runs, and starts when the first ends. A run executed in process, as `postloan run month` executes it, is
    killed (SIGKILL): no code server watches it, and run monitoring marks it FAILED."""
    from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

    from pipelines import settings

    home = tmp_path / "dh"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    settings.dagster_home()
    with DagsterInstance.from_config(str(home)) as instance:  # the storage created once, before the processes
        instance.get_runs()
    defs_file = tmp_path / "defs.py"
    defs_file.write_text(_DEFS)
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(REPO)}
    bin_dir = Path(sys.executable).parent
    log = (tmp_path / "daemon.log").open("w")  # kept in the test's folder for a failure's diagnosis
    daemon = subprocess.Popen([bin_dir / "dagster-daemon", "run", "-f", defs_file], cwd=REPO, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for _ in range(2):
            subprocess.run([bin_dir / "dagster", "job", "launch", "-f", defs_file, "-j", "month_job",
                            "--tags", json.dumps({"dagster/partition": "2026-09"})],
                           cwd=REPO, env=env, check=True, capture_output=True, timeout=120)
        with DagsterInstance.from_config(str(home)) as instance:
            def one_started():
                runs = instance.get_runs()
                started = [r for r in runs if r.status == DagsterRunStatus.STARTED
                           and (home / f"started-{r.run_id}").exists()]
                return len(runs) == 2 and len(started) == 1 and (started[0], next(r for r in runs if r is not started[0]))

            def pid_of(run_id: str) -> int:
                start = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_START).records[0]
                return start.event_log_entry.dagster_event.pid

            first, second = _wait(one_started, 180, "one of the two runs to start")
            time.sleep(12)  # longer than the queue's dequeue interval: the second run would have started by now
            assert instance.get_run_by_id(second.run_id).status == DagsterRunStatus.QUEUED
            os.kill(pid_of(first.run_id), signal.SIGKILL)
            _wait(lambda: instance.get_run_by_id(second.run_id).status == DagsterRunStatus.STARTED
                  and (home / f"started-{second.run_id}").exists(), 120, "the queued run to start once the first ended")
            assert instance.get_run_by_id(first.run_id).status == DagsterRunStatus.FAILURE
            os.kill(pid_of(second.run_id), signal.SIGKILL)

            in_process = subprocess.Popen([sys.executable, "-c", _IN_PROCESS, defs_file], cwd=REPO, env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            run = _wait(lambda: next((r for r in instance.get_runs() if r.tags.get("dagster/partition") == "2026-10"
                                      and (home / f"started-{r.run_id}").exists()), None), 120,
                        "the in-process run to start")
            assert pid_of(run.run_id) == in_process.pid
            in_process.kill()
            in_process.wait()
            _wait(lambda: instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE, 90,
                  "run monitoring to mark the killed run FAILED")
            messages = [r.event_log_entry.dagster_event.message for r in instance.get_records_for_run(
                run.run_id, of_type={DagsterEventType.RUN_FAILURE, DagsterEventType.ENGINE_EVENT}).records]
            assert any(f"the run's process {in_process.pid} is gone (killed or crashed)" in (m or "") for m in messages)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)
