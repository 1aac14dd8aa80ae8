"""Specification: the local object store has no side door, and each role is an S3 identity the server holds
to its grants (SECURITY.md, plugins/archive/local_s3.py, plugins/archive/identities.py).

Against the session's real SeaweedFS, started by the project's launcher as `postloan s3 start` starts it:
every port it listens on but S3 refuses an unauthenticated read, listing, write and delete of a known object
(plain HTTP, and HTTPS without the state folder's client certificate); S3 refuses anonymous requests; the
auditor can put and delete nothing anywhere, the data engineer cannot write the archive, the pipeline can;
the command line acts as the role of the credentials it is given and logs that role.
"""
from __future__ import annotations

import http.client
import io
import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import S3Error
from minio.retention import Retention

from plugins.archive import ObjectStore
from plugins.archive.local_s3 import LocalS3, listening_ports

REPO = Path(__file__).resolve().parent.parent
ROLES = ("data_engineer", "risk_officer", "regulatory_reporting", "auditor")


def _success(status: int | None) -> bool:
    return status is not None and 200 <= status < 400


def _http(port: int, method: str, path: str, body: bytes | None = None, tls: ssl.SSLContext | None = None,
          unix: str | None = None) -> tuple[int | None, str]:
    """(status or None, what came back) of one request; None when the connection or handshake was refused."""
    try:
        if unix:
            conn: http.client.HTTPConnection = _UnixHTTPConnection(unix)
        elif tls is not None:
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=tls)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read(300).decode("utf-8", "replace")
        conn.close()
        return response.status, text
    except (OSError, http.client.HTTPException) as exc:  # reset, TLS alert "certificate required", bad reply
        return None, f"{type(exc).__name__}: {exc}"


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str):
        super().__init__("localhost", timeout=5)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(self._path)


def _no_client_cert() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # we do not check the server; the server checks us
    return context


def _with_client_cert(server: LocalS3) -> ssl.SSLContext:
    ca, cert, key = server.client_tls()
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    context.load_cert_chain(str(cert), str(key))
    return context


def _filer_probes(bucket: str, key: str) -> list[tuple[str, str, bytes | None]]:
    """Reads, listings, writes and deletes of a known object through the filer's HTTP API."""
    return [
        ("GET", "/", None),                                        # UIs, directory listings
        ("GET", f"/buckets/{bucket}/{key}", None),                 # read the object
        ("GET", f"/buckets/{bucket}/?pretty=y", None),             # list the bucket
        ("GET", f"/buckets/{bucket}/{key}?metadata=true", None),   # its chunks (the volume file ids)
        ("PUT", f"/buckets/{bucket}/{key}", b"other bytes"),       # replace it
        ("DELETE", f"/buckets/{bucket}/{key}", None),              # delete it
    ]


def _probes(objects: list[tuple[str, str]], fid: str) -> list[tuple[str, str, bytes | None]]:
    """Every server's ways to read, list, write and delete: the filer's of each known (bucket, key), the
    master's (assign, submit, lookups, dropping a collection) and the volume server's of a known needle."""
    probes = [probe for bucket, key in objects for probe in _filer_probes(bucket, key)]
    return probes + [
        ("GET", "/dir/assign", None),                              # master: a file id to write to
        ("POST", "/submit", b"other bytes"),                       # master: write a blob
        ("GET", "/vol/status", None),                              # master: every volume
        ("GET", f"/dir/lookup?volumeId={fid.split(',')[0]}", None),  # master: where a volume is
        ("POST", f"/col/delete?collection={objects[0][0]}-side-door", None),  # master: drop a collection
        ("GET", f"/{fid}", None),                                  # volume: read the needle
        ("PUT", f"/{fid}", b"other bytes"),                        # volume: overwrite it
        ("DELETE", f"/{fid}", None),                               # volume: delete it
    ]


def _submit(port: int, tls: ssl.SSLContext, data: bytes) -> str:
    """Write a needle through the master's /submit (as a holder of the client certificate); its file id."""
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="needle.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=tls)
    conn.request("POST", "/submit", body=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    response = conn.getresponse()
    text = response.read().decode()
    assert response.status == 201, text
    return json.loads(text)["fid"]


@pytest.fixture(scope="module")
def known_object(s3_server: LocalS3):
    """A COMPLIANCE-locked object in the archive bucket, put through S3 by the pipeline."""
    store = ObjectStore(s3_server.settings)
    store.ensure_buckets()
    bucket, key = s3_server.settings.archive_bucket, f"t-security-{uuid.uuid4().hex[:12]}/documents/ab/probe.pdf"
    data = b"%PDF-1.4 side door probe " + uuid.uuid4().hex.encode()
    stored = store.put(bucket, key, data, "application/pdf",
                       retain_until=datetime.now(timezone.utc) + timedelta(days=1))
    return bucket, key, stored.version_id, data


@pytest.fixture(scope="module")
def known_targets(s3_server: LocalS3, known_object):
    """What the probes aim at: the locked archive object, an inbox object (unversioned, so the filer keeps it
    under its own path) and a needle on the volume server, with what each holds."""
    store = ObjectStore(s3_server.settings)
    inbox_key = f"t-security-{uuid.uuid4().hex[:12]}/core/2099-12/loans.csv"
    inbox_data = b"contract_id,borrower_id\nHT1,B1\n"
    store.put(s3_server.settings.inbox_bucket, inbox_key, inbox_data, "text/csv")
    needle = b"needle " + uuid.uuid4().hex.encode()
    fid = _submit(s3_server.ports.master, _with_client_cert(s3_server), needle)
    yield {"objects": [known_object[:2], (s3_server.settings.inbox_bucket, inbox_key)], "fid": fid,
           "inbox": (inbox_key, inbox_data), "needle": needle}
    store.client.remove_object(s3_server.settings.inbox_bucket, inbox_key)


def test_the_server_listens_on_the_launchers_ports_only(s3_server: LocalS3):
    listening = listening_ports(s3_server.pid())
    known = s3_server.ports.all()
    assert s3_server.ports.s3 in listening
    unknown = set(listening) - set(known.values())
    assert not unknown, f"ports the launcher does not know: {unknown}"
    assert {known["master"], known["volume"], known["filer"]} <= set(listening)


def test_no_port_but_s3_answers_an_unauthenticated_read_or_write(s3_server: LocalS3, known_object, known_targets):
    bucket, key, version, data = known_object
    names = {port: name for name, port in s3_server.ports.all().items()}
    answered = []
    for port in listening_ports(s3_server.pid()):
        if port == s3_server.ports.s3:
            continue
        for method, path, body in _probes(known_targets["objects"], known_targets["fid"]):
            for how, tls in (("http", None), ("https without client certificate", _no_client_cert())):
                status, text = _http(port, method, path, body, tls)
                if _success(status):
                    answered.append(f"{names.get(port, port)} {how} {method} {path}: {status} {text[:80]}")
    assert answered == []
    # Everything is as it was: the archived object has one version and its bytes, the inbox object its bytes.
    store = ObjectStore(s3_server.settings)
    assert [v.version_id for v in store.versions(bucket, key)] == [version]
    assert store.get(bucket, key) == data
    inbox_key, inbox_data = known_targets["inbox"]
    assert store.get(s3_server.settings.inbox_bucket, inbox_key) == inbox_data


def test_with_the_client_certificate_the_filer_and_volume_still_want_a_signed_token(s3_server: LocalS3,
                                                                                    known_targets):
    """Two locks, not one: the certificate (only in the 0700 state folder) gets past TLS, and the filer and
    volume server still refuse every read and write that carries no token signed with security.toml's keys."""
    tls, fid = _with_client_cert(s3_server), known_targets["fid"]
    needle = [("GET", f"/{fid}", None), ("PUT", f"/{fid}", b"x"), ("DELETE", f"/{fid}", None)]
    for port, probes in ((s3_server.ports.filer, [p for b, k in known_targets["objects"] for p in _filer_probes(b, k)]),
                         (s3_server.ports.volume, [("GET", "/", None), *needle])):
        for method, path, body in probes:
            status, text = _http(port, method, path, body, tls)
            assert status == 401 and "jwt" in text, (port, method, path, status, text)


def test_the_unix_sockets_are_out_of_other_users_reach(s3_server: LocalS3, known_targets):
    assert stat.S_IMODE(s3_server.root.stat().st_mode) == 0o700  # data, keys, credentials, sockets
    inodes = set()
    for fd in Path(f"/proc/{s3_server.pid()}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    paths = {line.split()[-1] for line in Path("/proc/net/unix").read_text().splitlines()[1:]
             if len(line.split()) > 7 and line.split()[6] in inodes}
    assert paths
    for path in paths:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        inside = Path(path).parent == s3_server.root
        assert inside or not mode & 0o022, f"{path} ({oct(mode)}) is connectable by other users"
    filer = s3_server.root / "filer.sock"
    if str(filer) in paths:  # and even its owner gets nothing without a signed token
        for method, path, body in (p for b, k in known_targets["objects"] for p in _filer_probes(b, k)):
            status, text = _http(0, method, path, body, unix=str(filer))
            assert not _success(status), (method, path, status, text)


def test_s3_refuses_anonymous_requests(s3_server: LocalS3, known_object):
    bucket, key, _, _ = known_object
    anonymous = Minio(s3_server.settings.endpoint, secure=False)
    for attempt in (lambda: anonymous.get_object(bucket, key).read(),
                    lambda: list(anonymous.list_objects(bucket, recursive=True)),
                    lambda: anonymous.put_object(bucket, f"{key}.anon", io.BytesIO(b"x"), 1),
                    lambda: anonymous.remove_object(bucket, key)):
        with pytest.raises(S3Error) as refused:
            attempt()
        assert refused.value.code == "AccessDenied"
    for method, path in (("GET", f"/{bucket}/{key}"), ("GET", f"/{bucket}?list-type=2"), ("PUT", f"/{bucket}/x"),
                         ("DELETE", f"/{bucket}/{key}"), ("GET", "/")):
        status, text = _http(s3_server.ports.s3, method, path, b"x" if method == "PUT" else None)
        assert status == 403 and "AccessDenied" in text, (method, path, status, text)


def _client(s3_server: LocalS3, role: str) -> Minio:
    settings = s3_server.settings_for(role)
    return Minio(settings.endpoint, access_key=settings.access_key, secret_key=settings.secret_key,
                 region=settings.region, secure=False)


def _refused(action) -> str:
    with pytest.raises(S3Error) as refused:
        action()
    return refused.value.code


@pytest.fixture(scope="module")
def session_document(s3_env, s3_server: LocalS3):
    """A document archived by the pipeline at the archive's root, where the roles' grants apply (in the
    session's catalog, as the command line archives, under a period and borrower no other suite reads)."""
    from pipelines.settings import catalog_url
    from plugins.archive import Archive, Catalog, DocumentMeta
    from plugins.config import load_config

    store = ObjectStore(s3_server.settings)
    store.ensure_buckets()
    archive = Archive(store, Catalog(catalog_url(None)), load_config().retention)
    tag = uuid.uuid4().hex[:8]
    record, _ = archive.archive_document(f"%PDF-1.4 security {tag}".encode(), DocumentMeta(
        doc_class="loan_contract", original_name=f"HT-SEC-{tag}.pdf", borrower_id=f"BSEC{tag}",
        contract_id=f"HT-SEC-{tag}", period="2099-12", received_date=date(2099, 12, 3), maturity=date(2102, 12, 2)))
    return record


@pytest.mark.parametrize("role", ROLES)
def test_no_role_puts_or_deletes_an_archived_document(s3_server: LocalS3, session_document, role):
    client, bucket = _client(s3_server, role), s3_server.settings.archive_bucket
    key, version = session_document.object_key, session_document.version_id
    assert client.get_object(bucket, key, version_id=version).read().startswith(b"%PDF")  # every role reads
    assert _refused(lambda: client.put_object(bucket, key, io.BytesIO(b"other bytes"), 11)) == "AccessDenied"
    assert _refused(lambda: client.put_object(bucket, f"documents/ff/{uuid.uuid4().hex}.pdf",
                                              io.BytesIO(b"new"), 3)) == "AccessDenied"
    assert _refused(lambda: client.put_object(bucket, f"reports/x/{uuid.uuid4().hex}.pdf",
                                              io.BytesIO(b"new"), 3)) == "AccessDenied"
    assert _refused(lambda: client.remove_object(bucket, key)) == "AccessDenied"  # not even a delete marker
    assert _refused(lambda: client.remove_object(bucket, key, version_id=version)) == "AccessDenied"
    assert [v.version_id for v in ObjectStore(s3_server.settings).versions(bucket, key)] == [version]


def test_the_auditor_puts_nothing_anywhere_and_deletes_nothing(s3_server: LocalS3, known_object):
    auditor, s = _client(s3_server, "auditor"), s3_server.settings
    pipeline = ObjectStore(s)
    probe = f"t-security-{uuid.uuid4().hex[:12]}/probe.txt"  # a root of its own, as isolated archives have
    for bucket in (s.inbox_bucket, s.archive_bucket, s.work_bucket):
        pipeline.put(bucket, probe, b"pipeline's")
    try:
        for bucket in (s.inbox_bucket, s.archive_bucket, s.work_bucket):
            assert _refused(lambda: auditor.put_object(bucket, f"security/{uuid.uuid4().hex}", io.BytesIO(b"x"),
                                                       1)) == "AccessDenied", bucket
            assert _refused(lambda: auditor.remove_object(bucket, probe)) == "AccessDenied", bucket
        bucket, key, version, _ = known_object
        assert _refused(lambda: auditor.enable_object_legal_hold(bucket, key, version_id=version)) == "AccessDenied"
        later = Retention(COMPLIANCE, datetime.now(timezone.utc) + timedelta(days=400))
        assert _refused(lambda: auditor.set_object_retention(bucket, key, later, version_id=version)) == "AccessDenied"
        assert _refused(lambda: auditor.make_bucket(f"sec-{uuid.uuid4().hex[:8]}")) == "AccessDenied"
        assert _refused(lambda: auditor.get_object(s.inbox_bucket, probe).read()) == "AccessDenied"
        assert auditor.get_object(s.archive_bucket, probe).read() == b"pipeline's"  # reading the archive: yes
        assert auditor.get_object(s.work_bucket, probe).read() == b"pipeline's"  # and the work bucket (bundles)
    finally:
        for bucket in (s.inbox_bucket, s.work_bucket):
            pipeline.client.remove_object(bucket, probe)


def test_the_data_engineer_cannot_write_the_archive_but_redelivers_into_the_inbox(s3_server: LocalS3,
                                                                                  session_document):
    engineer, s = _client(s3_server, "data_engineer"), s3_server.settings
    key, version = session_document.object_key, session_document.version_id
    for archive_key in ("documents/aa/x.pdf", "holds/H1/placed.json", "access-log/1-1.jsonl", "manifests/x.json"):
        assert _refused(lambda: engineer.put_object(s.archive_bucket, archive_key, io.BytesIO(b"x"), 1)) == \
            "AccessDenied", archive_key
    assert _refused(lambda: engineer.enable_object_legal_hold(s.archive_bucket, key, version_id=version)) == \
        "AccessDenied"
    later = Retention(COMPLIANCE, datetime.now(timezone.utc) + timedelta(days=40000))
    assert _refused(lambda: engineer.set_object_retention(s.archive_bucket, key, later, version_id=version)) == \
        "AccessDenied"
    assert _refused(lambda: engineer.put_object(s.work_bucket, "security/x", io.BytesIO(b"x"), 1)) == "AccessDenied"
    probe = f"security/{uuid.uuid4().hex}.txt"
    engineer.put_object(s.inbox_bucket, probe, io.BytesIO(b"redelivered"), 11)  # archive redeliver
    assert engineer.get_object(s.inbox_bucket, probe).read() == b"redelivered"
    engineer.remove_object(s.inbox_bucket, probe)


def test_the_risk_officer_requests_holds_but_sets_no_flag_and_writes_no_hold_record(s3_server: LocalS3,
                                                                                    session_document):
    """Least privilege: the risk officer's only archive write is a request under hold-requests/; legal holds,
    retention and the holds/ records are the pipeline's (plugins/archive/holds.py HoldRequests)."""
    from plugins.archive import Archive, Catalog
    from plugins.archive.holds import HoldRequests
    from plugins.config import load_config

    officer, bucket = _client(s3_server, "risk_officer"), s3_server.settings.archive_bucket
    key, version = session_document.object_key, session_document.version_id
    pipeline = ObjectStore(s3_server.settings)
    assert _refused(lambda: officer.enable_object_legal_hold(bucket, key, version_id=version)) == "AccessDenied"
    pipeline.set_legal_hold(bucket, key, version, True)  # as when the pipeline applies a hold
    try:
        assert _refused(lambda: officer.disable_object_legal_hold(bucket, key, version_id=version)) == "AccessDenied"
        assert pipeline.info(bucket, key, version).legal_hold
    finally:
        pipeline.set_legal_hold(bucket, key, version, False)
    later = Retention(COMPLIANCE, datetime.now(timezone.utc) + timedelta(days=40000))
    assert _refused(lambda: officer.set_object_retention(bucket, key, later, version_id=version)) == "AccessDenied"
    for archive_key in (key, "holds/H1/placed.json", "access-log/x.jsonl", "manifests/x.json"):
        assert _refused(lambda: officer.put_object(bucket, archive_key, io.BytesIO(b"x"), 1)) == "AccessDenied", \
            archive_key
    # A request covering no document, so it is never pending for anyone who applies requests.
    officer_archive = Archive(ObjectStore(s3_server.settings_for("risk_officer")), Catalog("sqlite://"),
                              load_config().retention)
    request = HoldRequests(officer_archive).request_extend([], datetime(2100, 1, 1, tzinfo=timezone.utc),
                                                           "grant probe", "document", "none", "li.wei", "risk_officer")
    stored = pipeline.info(bucket, request.key)
    assert stored.retain_until and stored.retain_until > datetime.now(timezone.utc)  # WORM, as hold records are


def test_the_pipeline_writes_what_it_needs(s3_server: LocalS3):
    pipeline, s = ObjectStore(s3_server.settings), s3_server.settings
    probe = f"security/{uuid.uuid4().hex}.txt"
    for bucket in (s.inbox_bucket, s.work_bucket):
        pipeline.put(bucket, probe, b"ok")
        assert pipeline.get(bucket, probe) == b"ok"
        pipeline.client.remove_object(bucket, probe)
    stored = pipeline.put(s.archive_bucket, f"t-security-{uuid.uuid4().hex[:12]}/documents/aa/p.pdf", b"%PDF-1.4",
                          retain_until=datetime.now(timezone.utc) + timedelta(days=1))
    assert stored.version_id


def test_the_command_line_acts_as_the_role_of_its_credentials(s3_env, as_role, capsys):
    """`postloan s3 credentials ROLE` prints the export line; with it the CLI is that role — the server
    refuses what the role may not do, the access log records the role the credentials are, and an --as that
    disagrees is refused in one line."""
    from pipelines import cli
    from pipelines.settings import catalog_url
    from plugins.archive import Catalog

    capsys.readouterr()
    assert cli.main(["s3", "credentials", "auditor"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("export POSTLOAN_S3_ACCESS_KEY=pl-auditor-") and " POSTLOAN_S3_SECRET_KEY=" in line
    exported = dict(part.split("=", 1) for part in line.removeprefix("export ").split())

    borrower = f"BCLI{uuid.uuid4().hex[:6]}"
    with as_role("auditor") as auditor:
        assert exported == {"POSTLOAN_S3_ACCESS_KEY": auditor.access_key, "POSTLOAN_S3_SECRET_KEY": auditor.secret_key}
        assert cli.main(["archive", "find", "--borrower", borrower, "--reason", "sample 3", "--user", "z"]) == 0
        capsys.readouterr()
        assert cli.main(["archive", "find", "--borrower", borrower, "--as", "risk_officer", "--reason", "x"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("postloan: error: --as risk_officer disagrees with the S3 credentials in use, "
                              "which are the auditor identity's") and "\n" not in err
        with pytest.raises(S3Error) as refused:  # and what the CLI would write, the server refuses
            cli._archive().store.put(auditor.inbox_bucket, "security/cli.txt", b"x")
        assert refused.value.code == "AccessDenied"
    entries = Catalog(catalog_url(None)).access_entries(target=json.dumps({"borrower_id": borrower}))
    logged = [(e.role, e.actor, json.loads(e.detail)["s3_access_key"]) for e in entries]
    assert logged == [("auditor", "z", auditor.access_key)]

    os.environ["POSTLOAN_S3_ACCESS_KEY"], saved = "pl-auditor-forged", os.environ["POSTLOAN_S3_ACCESS_KEY"]
    try:
        assert cli.main(["archive", "find", "--borrower", borrower]) == 2
        assert "refused: the S3 access key pl-auditor-forged is not a role's identity" in capsys.readouterr().err
    finally:
        os.environ["POSTLOAN_S3_ACCESS_KEY"] = saved


def _free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 10000 < 65536 and port not in ports and port + 10000 not in ports:
            try:
                with socket.socket() as grpc:
                    grpc.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
            ports.append(port)
    return ports


@pytest.mark.slow
def test_from_a_fresh_state_folder_postloan_s3_start_leaves_only_authenticated_s3(tmp_path):
    """The done-when of issue 12, as a user runs it: `postloan s3 start` on a fresh state folder, then the
    side-door probe on every port it opened, and the auditor's put and delete refused by the server."""
    import shutil

    from plugins.config import DEFAULT_CONFIG_DIR

    s3, master, volume, filer = _free_ports(4)
    config = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config)
    storage = config / "storage.yaml"
    storage.write_text(storage.read_text().replace("master_port: 9333", f"master_port: {master}")
                       .replace("volume_port: 8080", f"volume_port: {volume}")
                       .replace("filer_port: 8888", f"filer_port: {filer}"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTLOAN_", "WEED_"))}
    env.update({"POSTLOAN_STATE_DIR": str(tmp_path / "state"), "POSTLOAN_CONFIG_DIR": str(config),
                "POSTLOAN_S3_ENDPOINT": f"127.0.0.1:{s3}"})

    def postloan(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=REPO, env=env,
                              capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    assert postloan("s3", "start").startswith("started")
    try:
        from plugins.archive import S3Settings
        from plugins.archive.local_s3 import LocalS3Ports

        server = LocalS3(tmp_path / "state", S3Settings(f"127.0.0.1:{s3}", "", "", "us-east-1", False,
                                                        "postloan-inbox", "postloan-archive", "postloan-work"),
                         LocalS3Ports(s3, master, volume, filer))
        store = ObjectStore(server.settings)
        store.ensure_buckets()
        key = "documents/ab/fresh.pdf"
        store.put("postloan-archive", key, b"%PDF-1.4 fresh",
                  retain_until=datetime.now(timezone.utc) + timedelta(days=1))
        ports = listening_ports(server.pid())
        assert set(ports) == set(server.ports.all().values())
        fid = _submit(master, _with_client_cert(server), b"needle")
        for port in ports:
            if port == s3:
                continue
            for method, path, body in _probes([("postloan-archive", key)], fid):
                for tls in (None, _no_client_cert()):
                    status, text = _http(port, method, path, body, tls)
                    assert not _success(status), (port, method, path, status, text)
        exported = dict(part.split("=", 1) for part in postloan("s3", "credentials", "auditor").split()[1:])
        auditor = Minio(f"127.0.0.1:{s3}", access_key=exported["POSTLOAN_S3_ACCESS_KEY"],
                        secret_key=exported["POSTLOAN_S3_SECRET_KEY"], secure=False)
        for bucket in ("postloan-inbox", "postloan-archive", "postloan-work"):
            assert _refused(lambda: auditor.put_object(bucket, "x", io.BytesIO(b"x"), 1)) == "AccessDenied"
        assert _refused(lambda: auditor.remove_object("postloan-archive", key)) == "AccessDenied"
        assert store.get("postloan-archive", key) == b"%PDF-1.4 fresh"
    finally:
        postloan("s3", "stop")
