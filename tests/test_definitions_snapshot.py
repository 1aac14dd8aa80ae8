"""The whole Definitions against a readable snapshot (tests/snapshots/definitions.txt): every asset key with its
group, partitions and upstream assets, every check, job, schedule and sensor, and the partitions.

A change to any of them fails here with the difference. When the change is meant, regenerate the snapshot and
commit it with the change:

    make snapshot        (= .venv/bin/python -m tests.test_definitions_snapshot)
"""
from __future__ import annotations

import difflib
import sys
from pathlib import Path

SNAPSHOT = Path(__file__).resolve().parent / "snapshots" / "definitions.txt"
REGENERATE = "make snapshot"


def _describe_partitions(partitions_def) -> str:
    """A partitions definition by what it is, not by today's keys (time windows grow every month)."""
    kind = type(partitions_def).__name__
    if hasattr(partitions_def, "partitions_defs"):  # multi-dimensional
        return kind + "(" + ", ".join(f"{d.name}={_describe_partitions(d.partitions_def)}"
                                      for d in partitions_def.partitions_defs) + ")"
    if hasattr(partitions_def, "cron_schedule"):
        return (f"{kind}(cron={partitions_def.cron_schedule!r}, start={partitions_def.start:%Y-%m-%d}, "
                f"fmt={partitions_def.fmt!r}, end_offset={partitions_def.end_offset}, "
                f"timezone={partitions_def.timezone})")
    return f"{kind}({', '.join(partitions_def.get_partition_keys())})"


class _PartitionNames:
    """Each distinct partitions definition under a short name: the variable of pipelines/partitions.py that
    holds it (monthly_partitions → monthly), else partitions_<n>."""

    def __init__(self) -> None:
        import pipelines.partitions as module

        self.known = {id(v): n.removesuffix("_partitions") for n, v in vars(module).items()
                      if n.endswith("_partitions") and not n.startswith("_")}
        self.used: dict[str, str] = {}

    def __call__(self, partitions_def) -> str:
        if partitions_def is None:
            return "-"
        name = self.known.get(id(partitions_def)) or f"partitions_{len(self.used) + 1}"
        self.used.setdefault(name, _describe_partitions(partitions_def))
        return name


def describe() -> str:
    """The Definitions of pipelines/definitions.py as sorted, readable lines."""
    from pipelines.definitions import defs

    graph, partitions = defs.resolve_asset_graph(), _PartitionNames()
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        parents = ", ".join(sorted(p.to_user_string() for p in node.parent_keys)) or "-"
        lines.append(f"asset {key.to_user_string()}: group={node.group_name} "
                     f"partitions={partitions(node.partitions_def)} upstream=[{parents}]")
    for check in sorted(graph.asset_check_keys, key=lambda c: (c.asset_key.to_user_string(), c.name)):
        spec = graph.get_check_spec(check)
        lines.append(f"check {check.asset_key.to_user_string()}:{check.name}: blocking={spec.blocking}")
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__ASSET_JOB"):
            continue
        selected = sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys)
        lines.append(f"job {job.name}: executor={job.executor_def.name} "
                     f"partitions={partitions(job.partitions_def)} assets=[{', '.join(selected) or '-'}]")
    repository = defs.get_repository_def()
    for schedule in sorted(repository.schedule_defs, key=lambda s: s.name):
        lines.append(f"schedule {schedule.name}: job={schedule.job_name} cron={schedule.cron_schedule!r} "
                     f"default_status={schedule.default_status.value}")
    for sensor in sorted(repository.sensor_defs, key=lambda s: s.name):
        jobs = ", ".join(sorted(t.job_name for t in sensor.targets)) or "-"
        lines.append(f"sensor {sensor.name}: jobs=[{jobs}] minimum_interval_seconds="
                     f"{sensor.minimum_interval_seconds} default_status={sensor.default_status.value}")
    lines += [f"partitions {name}: {text}" for name, text in sorted(partitions.used.items())]
    return "\n".join(lines) + "\n"


def test_the_definitions_match_the_snapshot():
    expected = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else ""
    actual = describe()
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            "tests/snapshots/definitions.txt", "the Definitions now"))
        raise AssertionError(f"the Definitions changed; if that is meant, run `{REGENERATE}` and commit "
                             f"{SNAPSHOT.relative_to(SNAPSHOT.parents[2])} with the change:\n{diff}")


def test_dg_check_defs_passes_on_this_project(tmp_path: Path):
    """`dg check defs` ([tool.dg] in pyproject.toml) loads and validates the code location."""
    import os
    import subprocess

    dg = Path(sys.executable).with_name("dg")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "POSTLOAN_STATE_DIR": str(tmp_path / "state")}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    checked = subprocess.run([str(dg), "check", "defs"], cwd=SNAPSHOT.parents[2], env=env, capture_output=True,
                             text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr


if __name__ == "__main__":
    SNAPSHOT.parent.mkdir(exist_ok=True)
    SNAPSHOT.write_text(describe(), encoding="utf-8")
    print(f"wrote {SNAPSHOT} ({len(describe().splitlines())} lines)", file=sys.stderr)
    sys.exit(0)
