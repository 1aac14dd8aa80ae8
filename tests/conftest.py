"""Shared fixtures: a real SeaweedFS S3 server per test session, on free loopback ports, started by the
project's own launcher (plugins/archive/local_s3.py) exactly as `postloan s3 start` starts it: only S3
answers, with one identity per role of config/access.yaml plus the pipeline's, whose credentials are the
session's default."""
from __future__ import annotations

import contextlib
import os
import random
import socket
from pathlib import Path

import pytest

from plugins.archive import Archive, Catalog, ObjectStore, S3Settings
from plugins.archive.local_s3 import LocalS3, LocalS3Ports
from plugins.config import load_config

# The suite's hand numbers are written on the stressed sample book (NPL ratio about 20%), not on the demo's
# default realistic one: every sample the command line generates in a test is the stressed scenario. The one
# place the suite is pinned (pipelines/cli.py sample_scenario reads it; plugins' generate_portfolio defaults to
# stressed). tests/test_demo_scenarios.py checks the realistic book itself.
os.environ["POSTLOAN_SAMPLE_SCENARIO"] = "stressed"


def _free_port(rng: random.Random, taken: set[int]) -> int:
    # weed also binds port+10000 for gRPC, so both must be free.
    while True:
        port = rng.randrange(20000, 40000)
        if port in taken or port + 10000 in taken:
            continue
        if all(_bindable(p) for p in (port, port + 10000)):
            taken.update({port, port + 10000})
            return port


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory):
    """A real S3 server (SeaweedFS) in a fresh state folder: its credentials are generated there at start,
    `settings` carries the pipeline's; anonymous requests are refused."""
    rng, taken = random.Random(os.getpid()), set()
    ports = LocalS3Ports(*(_free_port(rng, taken) for _ in range(4)))
    settings = S3Settings(endpoint=f"127.0.0.1:{ports.s3}", access_key="", secret_key="",
                          region="us-east-1", secure=False, inbox_bucket="test-inbox",
                          archive_bucket="test-archive", work_bucket="test-work")
    server = LocalS3(tmp_path_factory.mktemp("state"), settings, ports, roles=load_config().access.roles)
    server.start(timeout=90)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_env(s3_server: LocalS3):
    """Environment pointing the pipeline at the test server, as its pipeline identity, and at the server's
    state folder (fresh for the session: catalog, DAGSTER_HOME, and the local credentials the CLI reads)."""
    state = s3_server.root.parent
    values = {
        "POSTLOAN_S3_ENDPOINT": s3_server.settings.endpoint,
        "POSTLOAN_S3_ACCESS_KEY": s3_server.settings.access_key,
        "POSTLOAN_S3_SECRET_KEY": s3_server.settings.secret_key,
        "POSTLOAN_BUCKET_INBOX": "test-inbox",
        "POSTLOAN_BUCKET_ARCHIVE": "test-archive",
        "POSTLOAN_BUCKET_WORK": "test-work",
        "POSTLOAN_STATE_DIR": str(state),
        "DAGSTER_HOME": str(state / "dagster_home"),
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    yield values
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture()
def as_role(s3_env, s3_server: LocalS3):
    """`with as_role("auditor"): ...` runs the block with that role's S3 credentials in the environment, as
    `eval "$(postloan s3 credentials auditor)"` would; the pipeline's are back afterwards."""
    @contextlib.contextmanager
    def switch(role: str):
        creds = s3_server.credentials[role]
        keys = ("POSTLOAN_S3_ACCESS_KEY", "POSTLOAN_S3_SECRET_KEY")
        saved = {key: os.environ.get(key) for key in keys}
        os.environ.update(dict(zip(keys, (creds.access_key, creds.secret_key))))
        try:
            yield s3_server.settings_for(role)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    return switch


@pytest.fixture(scope="session")
def config():
    return load_config()


@pytest.fixture()
def store(s3_server: LocalS3) -> ObjectStore:
    store = ObjectStore(s3_server.settings)
    store.ensure_buckets()
    return store


@pytest.fixture()
def archive(store: ObjectStore, tmp_path: Path, config) -> Archive:
    return Archive(store, Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}"), config.retention)
