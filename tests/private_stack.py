"""A private S3 server and state folder for a test module that runs whole months in other processes (an installed
plugin, celery workers), so its reports never mix with the session server's (tests/conftest.py)."""
from __future__ import annotations

import contextlib
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

from plugins.archive import S3Settings
from plugins.archive.local_s3 import LocalS3, LocalS3Ports
from plugins.config import DEFAULT_CONFIG_DIR, load_config
from tests.conftest import _free_port


@contextlib.contextmanager
def private_stack(root: Path, prefix: str) -> Iterator[dict[str, str]]:
    """Start a SeaweedFS server with buckets `<prefix>-inbox|archive|work` and its state under `root/state`;
    yield the environment that points the pipeline (and any process started with it) there; stop it after.
    `root/config` is a copy of config/ for the test to change (POSTLOAN_CONFIG_DIR)."""
    rng, taken = random.Random(f"{os.getpid()}-{prefix}"), set()
    ports = LocalS3Ports(*(_free_port(rng, taken) for _ in range(4)))
    buckets = {kind: f"{prefix}-{kind}" for kind in ("inbox", "archive", "work")}
    settings = S3Settings(endpoint=f"127.0.0.1:{ports.s3}", access_key="", secret_key="", region="us-east-1",
                          secure=False, inbox_bucket=buckets["inbox"], archive_bucket=buckets["archive"],
                          work_bucket=buckets["work"])
    state = root / "state"
    server = LocalS3(state, settings, ports, roles=load_config().access.roles)
    server.start(timeout=90)
    config_dir = root / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config_dir)
    try:
        yield {
            "POSTLOAN_S3_ENDPOINT": server.settings.endpoint,
            "POSTLOAN_S3_ACCESS_KEY": server.settings.access_key,
            "POSTLOAN_S3_SECRET_KEY": server.settings.secret_key,
            "POSTLOAN_BUCKET_INBOX": buckets["inbox"],
            "POSTLOAN_BUCKET_ARCHIVE": buckets["archive"],
            "POSTLOAN_BUCKET_WORK": buckets["work"],
            "POSTLOAN_STATE_DIR": str(state),
            "DAGSTER_HOME": str(state / "dagster_home"),
            "POSTLOAN_CONFIG_DIR": str(config_dir),
        }
    finally:
        server.stop()
