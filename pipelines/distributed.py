"""Scale-out: the same Definitions on Dagster's celery executor (dagster-celery) over RabbitMQ.

The code location's executor (`in_process_or_celery`) runs every step in the run's own process by default, as
`postloan run` and the schedules always have; a run whose config says

    execution:
      config:
        celery:
          broker: {env: POSTLOAN_CELERY_BROKER}    # default pyamqp://guest@localhost:5672//
          backend: {env: POSTLOAN_CELERY_BACKEND}  # default rpc://

hands each step to a celery worker instead (any number of them, on any machine that reaches the broker, the
run and event storage and the object store). Celery needs a persistent instance shared by the workers:
run and event storage on PostgreSQL (config/dagster/dagster-postgres.yaml, POSTLOAN_PG_URL). Workers start with
`make workers` (`postloan_celery_workers` below); docs/scale-out.md says how.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from dagster import (
    DagsterInstance,
    ExecutorDefinition,
    Field,
    JobDefinition,
    Selector,
    execute_job,
    executor,
    in_process_executor,
    multiple_process_executor_requirements,
    reconstructable,
)
from dagster_celery import celery_executor

BROKER_VARIABLE = "POSTLOAN_CELERY_BROKER"
BACKEND_VARIABLE = "POSTLOAN_CELERY_BACKEND"
DEFAULT_BROKER = "pyamqp://guest:guest@127.0.0.1:5672//"
DEFAULT_BACKEND = "rpc://"
WORKER_CONFIG = Path(__file__).resolve().parent.parent / "config" / "dagster" / "celery.yaml"


def _requirements(executor_config: Mapping[str, object]):
    # Celery steps run in other processes: the job must be reconstructable and the instance persistent.
    return multiple_process_executor_requirements() if "celery" in executor_config else []


@executor(
    name="in_process_or_celery",
    config_schema=Field(Selector({"in_process": in_process_executor.config_schema.as_field(),
                                  "celery": celery_executor.config_schema.as_field()}),
                        default_value={"in_process": {}}),
    requirements=_requirements,
)
def in_process_or_celery_executor(init_context):
    """In process (the default), or each step on a celery worker (`execution: config: celery: {...}`)."""
    (mode, config), = init_context.executor_config.items()
    chosen: ExecutorDefinition = celery_executor if mode == "celery" else in_process_executor
    return chosen.executor_creation_fn(init_context._replace(executor_def=chosen, executor_config=config))


def celery_run_config(broker: str | None = None, backend: str | None = None) -> dict:
    """Run config choosing celery: the broker and result backend given, else from the environment
    (POSTLOAN_CELERY_BROKER, POSTLOAN_CELERY_BACKEND), else RabbitMQ on loopback and celery's rpc backend."""
    return {"execution": {"config": {"celery": {
        "broker": broker or os.environ.get(BROKER_VARIABLE, DEFAULT_BROKER),
        "backend": backend or os.environ.get(BACKEND_VARIABLE, DEFAULT_BACKEND)}}}}


# ------------------------------------------------------------------ runs on celery


def monthly_post_loan_job() -> JobDefinition:
    """The monthly job, for reconstruction in the workers (a module-level function: `reconstructable`)."""
    from pipelines.definitions import defs

    return defs.resolve_job_def("monthly_post_loan")


def quarterly_regulatory_job() -> JobDefinition:
    from pipelines.definitions import defs

    return defs.resolve_job_def("quarterly_regulatory")


JOBS = {"monthly_post_loan": monthly_post_loan_job, "quarterly_regulatory": quarterly_regulatory_job}


def run_on_celery(job_name: str, partition_key: str, instance: DagsterInstance, broker: str | None = None,
                  backend: str | None = None):
    """Run one partition of a job with every step on the celery workers; waits for the run to end."""
    run_config = {**celery_run_config(broker, backend),
                  "loggers": {"console": {"config": {"log_level": "INFO"}}}}
    return execute_job(reconstructable(JOBS[job_name]), instance=instance, run_config=run_config,
                       tags={"dagster/partition": partition_key})


# ------------------------------------------------------------------ workers


def worker_command(name: str, config_yaml: Path = WORKER_CONFIG, concurrency: int = 1) -> list[str]:
    """One celery worker for the postloan steps (foreground; `dagster-celery worker start`)."""
    return [str(Path(sys.executable).with_name("dagster-celery")), "worker", "start", "--name", name,
            "--config-yaml", str(config_yaml), "--app", "dagster_celery.app", "--loglevel", "INFO",
            "--", f"--concurrency={concurrency}", "--without-heartbeat", "--without-mingle", "--without-gossip"]


def start_workers(count: int, env: Mapping[str, str] | None = None, log_dir: Path | None = None,
                  prefix: str = "postloan") -> list[subprocess.Popen]:
    """Start `count` workers, each in its own process group (so stopping one ends its pool too)."""
    env = dict(env or os.environ)
    # dagster-celery starts `celery` by name: this environment's own, whether or not the venv is activated
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    workers = []
    for index in range(1, count + 1):
        log = open(Path(log_dir) / f"worker{index}.log", "ab") if log_dir else None  # None: this terminal
        workers.append(subprocess.Popen(worker_command(f"{prefix}{index}"), env=env,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    return workers


def stop_workers(workers: Sequence[subprocess.Popen], timeout: float = 30) -> None:
    """Warm shutdown (SIGTERM: finish the current step), then kill what is left, each by its own group."""
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for worker in workers:
        try:
            worker.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def main(argv: list[str] | None = None) -> int:
    """`python -m pipelines.distributed [N]` (what `make workers` runs): N workers (2) in the foreground,
    stopped together by Ctrl-C."""
    count = int((argv if argv is not None else sys.argv[1:] or ["2"])[0])
    workers = start_workers(count)
    print(f"{count} celery worker(s) started on {os.environ.get(BROKER_VARIABLE, DEFAULT_BROKER)} "
          f"(config {WORKER_CONFIG}); Ctrl-C stops them", flush=True)
    try:
        while all(w.poll() is None for w in workers):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        stop_workers(workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
