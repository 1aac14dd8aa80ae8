"""State changed behind the project's back, against the real S3 server: the integrity audit reconciles what
the server says with the catalog, and the command line refuses what does not check out.

Each fault is produced for real through the S3 API with the pipeline's identity (the bucket owner, the only
identity that may write there): a legal hold switched off, a legal hold switched on, a delete marker over an
archived document, a second identical version of it, a manifest overwritten with other bytes. The catalog's
claim that a document is retained longer than the server says is made by editing the catalog, the one way
left (the server refuses to shorten a COMPLIANCE retention).
"""
from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta

import pytest

from plugins.archive import sha256_hex
from plugins.archive.audit import IntegrityAudit
from plugins.archive.holds import LegalHolds
from tests.archive_support import isolated_archive, meta


@pytest.fixture()
def archive(s3_server, config, tmp_path):
    return isolated_archive(s3_server, f"sqlite:///{tmp_path / 'catalog.sqlite'}", config.retention)


def _findings(archive) -> list[tuple[str, str]]:
    report = IntegrityAudit(archive).run()
    assert report.finished
    return [(f["kind"], f["object_key"]) for f in report.findings]


def _put(archive, key: str, data: bytes) -> None:
    archive.store.client.put_object(archive.bucket, key, io.BytesIO(data), len(data))


def test_a_legal_hold_removed_through_the_s3_api_is_a_finding(archive, s3_env, as_role, monkeypatch, capsys):
    from pipelines import cli, cli_archive

    held, _ = archive.archive_document(b"%PDF-1.4 contract under litigation", meta("HT2026-0301_借款合同.pdf",
                                                                                  "B0301", "HT2026-0301"))
    hold, covered = LegalHolds(archive).place("litigation", "contract", "HT2026-0301", "诉讼 (2026)沪0101民初7号",
                                              "li.wei", "risk_officer")
    assert covered == 1 and _findings(archive) == []
    archive.store.set_legal_hold(archive.bucket, held.object_key, held.version_id, False)  # behind our back
    assert _findings(archive) == [("hold_removed", held.object_key)]
    assert not LegalHolds(archive).is_held(held)
    # `archive holds` says the hold is active in the catalog and names the document the server no longer holds
    monkeypatch.setattr(cli_archive, "open_archive", lambda: archive)
    capsys.readouterr()
    assert cli.main(["archive", "holds", "--active", "--as", "pipeline", "--reason", "hold review"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["hold_id"] == hold.hold_id and row["documents_not_held_by_server"] == [held.sha256]


def test_a_legal_hold_set_through_the_s3_api_without_a_hold_is_a_finding(archive):
    record, _ = archive.archive_document(b"%PDF-1.4 nobody held me", meta("HT2026-0302_借款合同.pdf"))
    archive.store.set_legal_hold(archive.bucket, record.object_key, record.version_id, True)
    try:
        assert _findings(archive) == [("hold_unrecorded", record.object_key)]
    finally:
        archive.store.set_legal_hold(archive.bucket, record.object_key, record.version_id, False)


def test_a_delete_marker_over_an_archived_document_is_a_finding_and_the_evidence_stays(archive):
    record, _ = archive.archive_document(b"%PDF-1.4 deleted behind our back", meta("HT2026-0303_借款合同.pdf"))
    archive.store.client.remove_object(archive.bucket, record.object_key)  # no version: a delete marker
    assert not archive.store.exists(archive.bucket, record.object_key)
    assert _findings(archive) == [("deleted", record.object_key)]
    assert archive.fetch(record.sha256) == b"%PDF-1.4 deleted behind our back"
    # archiving the same bytes again writes no new version over the marker: the catalog knows them
    _, new = archive.archive_document(b"%PDF-1.4 deleted behind our back", meta("HT2026-0303_借款合同.pdf"))
    assert not new and len(list(archive.store.versions(archive.bucket, record.object_key))) == 1


def test_a_second_identical_version_is_reported_as_a_duplicate_not_as_an_overwrite(archive):
    data = b"%PDF-1.4 written twice"
    record, _ = archive.archive_document(data, meta("HT2026-0304_借款合同.pdf"))
    _put(archive, record.object_key, data)  # what a non-idempotent second run did before issue 12
    _put(archive, record.object_key, b"%PDF-1.4 other bytes")
    report = IntegrityAudit(archive).run()
    kinds = sorted((f["kind"], f["actual_sha256"]) for f in report.findings)
    assert kinds == sorted([("duplicate", record.sha256), ("overwritten", sha256_hex(b"%PDF-1.4 other bytes"))])


def test_a_catalogued_retention_the_server_does_not_have_is_a_finding(archive):
    record, _ = archive.archive_document(b"%PDF-1.4 retention", meta("HT2026-0305_借款合同.pdf"))
    longer = datetime.fromisoformat(record.retain_until) + timedelta(days=365)
    archive.catalog.set_retain_until(record.sha256, longer.isoformat())
    assert _findings(archive) == [("retention_short", record.object_key)]


def _published(archive) -> str:
    result = archive.publish("management_report", "2026-09", date(2026, 9, 30), {"report.pdf": b"%PDF-1.4 report"},
                             {"documents": [], "config_sha256": "c" * 64, "code_version": "test"}, "run-1")
    return result["manifest_key"].removeprefix(f"s3://{archive.bucket}/")


def test_a_forged_manifest_is_a_finding_and_archive_inputs_refuses_it(archive, s3_env, monkeypatch, capsys):
    from pipelines import cli, cli_archive

    manifest_key = _published(archive)
    assert _findings(archive) == []
    forged = json.dumps({"report_kind": "management_report", "period": "2026-09", "inputs": {"documents": []},
                         "outputs": {}}).encode()
    _put(archive, manifest_key, forged)
    assert _findings(archive) == [("overwritten", manifest_key)]  # the first version is the evidence
    monkeypatch.setattr(cli_archive, "open_archive", lambda: archive)
    capsys.readouterr()
    code = cli.main(["archive", "inputs", "management_report", "2026-09"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("postloan: error: refused: the manifest") and "does not hash to the SHA-256 in its name" in err


def test_a_manifest_whose_first_version_does_not_match_its_name_is_a_mismatch(archive):
    manifest_key = _published(archive)
    other = manifest_key.rsplit("/", 1)[0] + "/" + "a" * 64 + ".json"
    _put(archive, other, b'{"forged": true}')  # a manifest planted under a name it does not hash to
    with archive.catalog.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE publications SET manifest_key = '{other}'")
    assert ("mismatch", other) in _findings(archive)


# --- whole months under faults (slow): a private server, so that killing it harms no other suite ------------

def _private_server(tmp_path_factory):
    import os
    import random

    from plugins.archive import S3Settings
    from plugins.archive.local_s3 import LocalS3, LocalS3Ports
    from plugins.config import load_config
    from tests.conftest import _free_port

    rng, taken = random.Random(os.getpid() + 12), set()
    ports = LocalS3Ports(*(_free_port(rng, taken) for _ in range(4)))
    settings = S3Settings(endpoint=f"127.0.0.1:{ports.s3}", access_key="", secret_key="", region="us-east-1",
                          secure=False, inbox_bucket="faults-inbox", archive_bucket="faults-archive",
                          work_bucket="faults-work")
    server = LocalS3(tmp_path_factory.mktemp("faults-state"), settings, ports, roles=load_config().access.roles)
    server.start(timeout=90)
    return server


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    """A server and state folder of their own; `env` is what every `postloan` process of these tests gets."""
    import os

    from plugins.archive import Archive, Catalog, ObjectStore

    import shutil
    from pathlib import Path

    server = _private_server(tmp_path_factory)
    state = server.root.parent
    s = server.settings
    # The configuration as it is now, for every run of these tests: a rerun is byte-identical for the same
    # inputs and configuration (README), so the configuration must not change under the tests' feet.
    shutil.copytree(Path(__file__).resolve().parent.parent / "config", state / "config")
    env = {**os.environ, "POSTLOAN_S3_ENDPOINT": s.endpoint, "POSTLOAN_S3_ACCESS_KEY": s.access_key,
           "POSTLOAN_S3_SECRET_KEY": s.secret_key, "POSTLOAN_BUCKET_INBOX": s.inbox_bucket,
           "POSTLOAN_BUCKET_ARCHIVE": s.archive_bucket, "POSTLOAN_BUCKET_WORK": s.work_bucket,
           "POSTLOAN_STATE_DIR": str(state), "DAGSTER_HOME": str(state / "dagster_home"),
           "POSTLOAN_CONFIG_DIR": str(state / "config")}
    env.pop("POSTLOAN_CATALOG_URL", None)
    # The Dagster instance's SQLite storage created once, as the first `postloan` command of a deployment
    # creates it: two processes creating a fresh instance's tables at once trip over Dagster's migrations.
    from dagster import DagsterInstance

    home = state / "dagster_home"
    home.mkdir()
    shutil.copy(Path(__file__).resolve().parent.parent / "config" / "dagster" / "dagster.yaml", home / "dagster.yaml")
    with DagsterInstance.from_config(str(home)) as instance:
        instance.get_runs()
    from plugins.config import load_config

    store = ObjectStore(s)
    store.ensure_buckets()
    archive = Archive(store, Catalog(f"sqlite:///{state / 'catalog.sqlite'}"), load_config(state / "config").retention)
    try:
        yield server, env, archive
    finally:
        server.stop()


def _postloan(env, *args: str):
    """`postloan ARGS` in its own process; its output goes to files (a pipe nobody reads would stall it)."""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    process = subprocess.Popen([sys.executable, "-m", "pipelines.cli", *args],
                               cwd=Path(__file__).resolve().parent.parent, env=env, stdout=out, stderr=err, text=True)
    process.output_files = (out, err)
    return process


def _output(process) -> tuple[str, str]:
    texts = []
    for f in process.output_files:
        f.seek(0)
        texts.append(f.read())
    return texts[0], texts[1]


def _finish(process, timeout: float = 1500) -> tuple[int, str, str]:
    process.wait(timeout=timeout)
    return (process.returncode, *_output(process))


def _succeeds(process) -> None:
    code, _, err = _finish(process)
    assert code == 0, err[-3000:]


def _census(archive) -> dict:
    """Objects, versions and catalog rows of the archive; duplicated keys and hidden (delete-marked) keys."""
    versions: dict[str, int] = {}
    markers = 0
    for v in archive.store.versions(archive.bucket, "", delete_markers=True):
        if v.is_delete_marker:
            markers += 1
        else:
            versions[v.key] = versions.get(v.key, 0) + 1
    catalog = archive.catalog
    return {"keys": sorted(versions), "objects": len(versions), "versions": sum(versions.values()), "delete_markers": markers,
            "keys_with_two_versions": sorted(k for k, n in versions.items() if n > 1),
            "documents": len(catalog.find_documents()), "publications": len(catalog.find_publications()),
            "document_objects": sum(1 for k in versions if k.startswith(("documents/", "quarantine/")))}


def _nothing_lost(archive, month: str) -> list[str]:
    """Every file delivered for `month` (core tables and documents) whose bytes the catalog does not hold."""
    inbox = archive.store.settings.inbox_bucket
    lost = []
    for prefix in (f"core/{month}/", f"documents/{month}/"):
        for key in archive.store.list_keys(inbox, prefix):
            if key.endswith(("_READY", "manifest.csv")):
                continue
            if archive.catalog.document(sha256_hex(archive.store.get(inbox, key))) is None:
                lost.append(key)
    return lost


def _assert_whole(archive, month: str) -> dict:
    census = _census(archive)
    assert census["keys_with_two_versions"] == [] and census["delete_markers"] == 0
    assert census["documents"] == census["document_objects"]  # one catalog row per stored document, no more
    assert _nothing_lost(archive, month) == []
    report = IntegrityAudit(archive).run(resume=False)
    assert report.finished and report.findings == []  # every hash verified, nothing overwritten or orphaned
    return census


def _wait_for_documents(archive, at_least: int, process, timeout: float = 900) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the run ended before it could be interrupted: {_output(process)[1][-3000:]}"
        if sum(1 for _ in archive.store.list_keys(archive.bucket, "documents/")) >= at_least:
            return
        time.sleep(0.5)
    raise AssertionError("the run archived no documents in time")


@pytest.mark.slow
def test_two_runs_of_one_month_at_once_neither_crash_nor_write_a_second_version(months):
    server, env, archive = months
    _succeeds(_postloan(env, "deliver", "2026-09"))
    first, second = _postloan(env, "run", "month", "2026-09", "--json"), _postloan(env, "run", "month", "2026-09", "--json")
    results = [_finish(first), _finish(second)]
    assert [code for code, _, _ in results] == [0, 0], [err[-3000:] for _, _, err in results]
    census = _assert_whole(archive, "2026-09")
    assert census["publications"] > 0
    # and a third run, alone, adds nothing
    _succeeds(_postloan(env, "run", "month", "2026-09", "--json"))
    assert _census(archive) == census


@pytest.mark.slow
def test_a_run_killed_mid_way_then_rerun_loses_and_duplicates_nothing(months):
    import signal

    server, env, archive = months
    _succeeds(_postloan(env, "deliver", "2026-08"))
    before = _census(archive)["document_objects"]
    run = _postloan(env, "run", "month", "2026-08")
    _wait_for_documents(archive, before + 3, run)
    run.send_signal(signal.SIGKILL)
    run.wait()
    _succeeds(_postloan(env, "run", "month", "2026-08", "--json"))
    census = _assert_whole(archive, "2026-08")
    _succeeds(_postloan(env, "run", "month", "2026-08", "--json"))
    assert _census(archive) == census


@pytest.mark.slow
def test_the_object_store_killed_mid_run_then_rerun_loses_and_duplicates_nothing(months):
    import os
    import signal

    server, env, archive = months
    _succeeds(_postloan(env, "deliver", "2026-07"))
    before = _census(archive)["document_objects"]
    run = _postloan(env, "run", "month", "2026-07")
    _wait_for_documents(archive, before + 3, run)
    os.killpg(server.pid(), signal.SIGKILL)  # the server this module started, and only it
    code, _, _ = _finish(run, timeout=600)
    assert code != 0  # the run fails (it neither hangs nor reports success)
    server.start(timeout=90)
    _succeeds(_postloan(env, "run", "month", "2026-07", "--json"))
    census = _assert_whole(archive, "2026-07")
    _succeeds(_postloan(env, "run", "month", "2026-07", "--json"))
    assert _census(archive) == census
