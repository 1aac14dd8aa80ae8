"""A run launcher that lets Dagster's run monitoring see a killed run.

Dagster's DefaultRunLauncher cannot tell run monitoring whether a run's process is alive, so a run whose
process was killed (`kill -9`, an OOM kill, a host reboot) stays STARTED forever. This launcher launches
runs exactly as the default one does and adds that health check: the run's process is the one that wrote
its RUN_START event (the run worker of a launched run, or the `postloan run` process of a run executed in
process), and the run is alive while that process is. The instance settings (config/dagster/dagster.yaml)
enable run monitoring with it, so the daemon (`dagster dev`, `dagster-daemon run`) marks a killed run FAILED
within `run_monitoring.poll_interval_seconds`.

The check looks at process ids on this host: it fits the local deployment (one host runs the daemon and
the runs). A deployment whose runs execute elsewhere uses its own launcher (Kubernetes, Docker, ECS), which
checks its workers itself.
"""
from __future__ import annotations

import os
from pathlib import Path

from dagster import DagsterEventType, DagsterRun, DefaultRunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus


class LocalRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher plus a run-worker health check by process id (see the module's docstring)."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        started = self._instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_START, limit=1)
        if not started.records:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "the run has not started yet")
        entry = started.records[0].event_log_entry
        pid = entry.dagster_event.pid if entry.dagster_event else None
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "the run's start event names no process")
        if process_alive(pid, not_started_after=entry.timestamp):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"process {pid} is running")
        return CheckRunHealthResult(WorkerStatus.FAILED, f"the run's process {pid} is gone (killed or crashed)")


def process_alive(pid: int, not_started_after: float | None = None) -> bool:
    """Whether process `pid` runs (a zombie does not); with `not_started_after` (a Unix time), a process of that
    id started later is another one that reused the id, so the one we asked about is gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():  # not Linux: the signal test is all there is
        return True
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    if fields[0] in ("Z", "X"):  # zombie or dead, waiting to be reaped
        return False
    if not_started_after is not None:
        started = _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")
        if started > not_started_after + 2:  # 2 s: clock-tick rounding
            return False
    return True


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0
