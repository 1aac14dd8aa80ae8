"""The access log under attack: one writer at a time whatever the backend, and anchored in the WORM archive.

- Eight processes appending at once leave one unbroken chain (before issue 12 they broke it in 6 places):
  each append reads the last entry and inserts the next under the database's lock (SQLite BEGIN IMMEDIATE,
  PostgreSQL an advisory lock).
- A chain rewritten after dropping the append-only triggers, every hash recomputed, is consistent in
  itself, so the chain alone says "intact"; the exports archived under object lock say otherwise, and
  `postloan archive log` compares the two.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from plugins.archive import Archive, Catalog, ObjectStore
from plugins.archive.access import (AccessPolicy, ArchiveSession, export_access_log, verify_access_chain,
                                    verify_against_anchors)
from plugins.archive.catalog import GENESIS_HASH, access_entry_hash
from tests.archive_support import isolated_archive, meta, postgres_databases

REPO = Path(__file__).resolve().parent.parent
WRITERS, ENTRIES_EACH = 8, 25

_WRITER = """
import sys, time
from pathlib import Path
from plugins.archive.catalog import Catalog
url, who, n, barrier = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
catalog = Catalog(url)
(barrier / f"ready-{who}").touch()
while not (barrier / "go").exists():
    time.sleep(0.001)
began = time.time()
for i in range(n):
    catalog.append_access(who, "auditor", "get", f"doc-{i}", "eight writers at once", {"i": i})
print(began, time.time())
"""


def _eight_writers_at_once(url: str, barrier: Path) -> None:
    Catalog(url).dispose()  # tables created once, before the race
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, url, f"writer-{w}", str(ENTRIES_EACH), str(barrier)],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(WRITERS)]
    deadline = time.monotonic() + 180
    while len(list(barrier.glob("ready-*"))) < WRITERS:  # every process imported and connected ...
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "a writer did not get ready"
        time.sleep(0.05)
    (barrier / "go").touch()  # ... before the first append
    outputs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0] * WRITERS, [err for _, err in outputs]
    spans = [tuple(map(float, out.split())) for out, _ in outputs]
    assert max(began for began, _ in spans) < min(ended for _, ended in spans)  # all eight were writing at once


def _assert_one_unbroken_chain(url: str) -> None:
    entries = Catalog(url).access_entries()
    assert len(entries) == WRITERS * ENTRIES_EACH
    assert [e.id for e in entries] == list(range(1, WRITERS * ENTRIES_EACH + 1))
    assert verify_access_chain(entries) == []
    assert len({e.prev_hash for e in entries}) == len(entries)  # no two entries link to one predecessor
    by_writer = {f"writer-{w}": 0 for w in range(WRITERS)}
    for e in entries:
        by_writer[e.actor] += 1
    assert set(by_writer.values()) == {ENTRIES_EACH}
    assert [e.at for e in entries] == sorted(e.at for e in entries)  # stamped under the lock: in chain order


def test_eight_processes_appending_at_once_leave_one_unbroken_chain_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    _eight_writers_at_once(url, tmp_path)
    _assert_one_unbroken_chain(url)


@pytest.mark.postgres
def test_eight_processes_appending_at_once_leave_one_unbroken_chain_on_postgresql(tmp_path):
    with postgres_databases(1) as (url,):
        _eight_writers_at_once(url, tmp_path)
        _assert_one_unbroken_chain(url)
        Catalog(url).dispose()


def _rewrite_chain_without_triggers(catalog: Catalog, entry_id: int, reason: str) -> None:
    """What an insider with the database's password does: drop the append-only triggers, change one entry,
    and recompute every hash from there on so that the chain is consistent again."""
    with catalog.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER access_log_no_update")
        rows = conn.exec_driver_sql("SELECT id, at, actor, role, action, target, reason, detail, prev_hash "
                                    "FROM access_log ORDER BY id").fetchall()
        prev = GENESIS_HASH
        for row in rows:
            new_reason = reason if row.id == entry_id else row.reason
            if row.id >= entry_id:
                entry_hash = access_entry_hash(prev, row.at, row.actor, row.role, row.action, row.target,
                                               new_reason, row.detail)
                conn.execute(sa.text("UPDATE access_log SET reason = :r, prev_hash = :p, entry_hash = :h "
                                     "WHERE id = :i"), {"r": new_reason, "p": prev, "h": entry_hash, "i": row.id})
                prev = entry_hash
            else:
                prev = conn.exec_driver_sql(f"SELECT entry_hash FROM access_log WHERE id = {row.id}").scalar()


@pytest.fixture()
def anchored_archive(s3_server, config, tmp_path):
    """An archive whose log has three entries, exported (anchored) into the archive, and one later entry."""
    archive = isolated_archive(s3_server, f"sqlite:///{tmp_path / 'catalog.sqlite'}", config.retention)
    record, _ = archive.archive_document(b"%PDF-1.4 anchored log", meta("HT2026-0077_借款合同.pdf"))
    session = ArchiveSession(archive, AccessPolicy(config.access), "zhao.min", "auditor", "annual audit 2026")
    session.find(contract_id="HT2026-0001")
    session.get(record.sha256)
    session.verify(record.sha256)
    exported = export_access_log(archive)
    session.get(record.sha256)
    return archive, exported


def test_an_export_anchors_the_head_hash_in_the_worm_archive(anchored_archive):
    archive, exported = anchored_archive
    entries = archive.catalog.access_entries()
    info = archive.store.info(archive.bucket, exported["object_key"])
    assert info.metadata["head-hash"] == entries[2].entry_hash == exported["head_hash"]
    assert info.metadata["prev-hash"] == GENESIS_HASH and info.lock_mode == "COMPLIANCE"
    check = verify_against_anchors(archive, entries)
    assert check.problems == [] and (check.exports, check.anchored_entries, check.last_anchored_id,
                                     check.unanchored_entries) == (1, 3, 3, 1)


def test_a_chain_rewritten_after_dropping_the_triggers_is_caught_by_the_archived_anchor(anchored_archive):
    archive, _ = anchored_archive
    _rewrite_chain_without_triggers(archive.catalog, 2, "routine check")
    entries = archive.catalog.access_entries()
    assert entries[1].reason == "routine check"
    assert verify_access_chain(entries) == []  # consistent in itself: the chain alone cannot tell
    problems = verify_against_anchors(archive, entries).problems
    assert problems == [f"entry {i}: differs from the archived export {archive.root}access-log/"
                        f"000000000001-000000000003.jsonl (the chain was rewritten after it was exported)"
                        for i in (2, 3)]


def test_archive_log_reports_the_rewritten_chain(anchored_archive, s3_server, as_role, monkeypatch, capsys):
    from pipelines import cli, cli_archive

    archive, _ = anchored_archive
    _rewrite_chain_without_triggers(archive.catalog, 2, "routine check")
    auditor = Archive(ObjectStore(s3_server.settings_for("auditor")), archive.catalog, archive.retention,
                      root=archive.root)
    monkeypatch.setattr(cli_archive, "open_archive", lambda: auditor)  # this test's archive, as the auditor
    capsys.readouterr()
    with as_role("auditor"):
        code = cli.main(["archive", "log", "--as", "auditor", "--reason", "annual audit 2026", "--user", "zhao.min"])
    err = capsys.readouterr().err
    assert code == 1
    assert "chain intact" not in err
    assert "entry 2: differs from the archived export" in err and "entry 3: differs" in err


@pytest.mark.postgres
def test_on_postgresql_each_role_is_a_database_user_and_the_log_is_append_only_for_all(config):
    """The grants of `postloan archive catalog-grants`, applied to a real database: each role's user reads the
    catalog and appends to the access log; none may change or delete a log entry, even with the triggers gone;
    the auditor writes no catalog row but its own log entries and audits; only the pipeline indexes documents."""
    import uuid

    import psycopg2

    from tests.archive_support import PG_ADMIN_URL

    prefix = f"pl{uuid.uuid4().hex[:8]}_"
    roles = {name: list(role.actions) for name, role in config.access.roles.items()}
    admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=3)
    admin.autocommit = True
    try:
        with postgres_databases(1) as (url,), admin.cursor() as cur:
            _grants_hold(url, roles, prefix, cur)
    finally:  # roles are cluster-wide; the database went with postgres_databases
        with admin.cursor() as cur:
            for name in roles:
                cur.execute(f"DROP ROLE IF EXISTS {prefix}{name}")
        admin.close()


def _grants_hold(url: str, roles: dict[str, list[str]], prefix: str, cur) -> None:
    import psycopg2

    from plugins.archive.catalog import catalog_grants

    database = url.rsplit("/", 1)[1]
    owner = Catalog(url)
    owner.append_access("li.wei", "risk_officer", "get", "doc", "before the grants", {})
    owner.dispose()
    for name in roles:
        cur.execute(f"CREATE ROLE {prefix}{name} LOGIN")
    with psycopg2.connect(url.replace("+psycopg2", "")) as conn, conn.cursor() as db:
        db.execute("DROP TRIGGER access_log_append_only ON access_log")  # the grants alone must hold
        for statement in catalog_grants(roles, prefix, database):
            db.execute(statement)

    def as_user(name: str) -> Catalog:
        return Catalog(url.replace("postgres@", f"{prefix}{name}@"))

    def refused(catalog: Catalog, sql: str) -> bool:
        with catalog.engine.connect() as conn:
            try:
                conn.exec_driver_sql(sql)
            except sa.exc.ProgrammingError as exc:
                return "permission denied" in str(exc)
        return False

    for name in roles:
        catalog = as_user(name)
        catalog.append_access(f"{name}.user", name, "find", "*", "grants test", {})
        assert catalog.find_documents() == []
        for sql in ("UPDATE access_log SET reason = 'x'", "DELETE FROM access_log", "TRUNCATE access_log",
                    "DELETE FROM documents"):
            assert refused(catalog, sql), (name, sql)
        catalog.dispose()
    auditor, pipeline = as_user("auditor"), as_user("pipeline")
    document = ("INSERT INTO documents (sha256, status, doc_class, size, object_key, ingested_at) "
                "VALUES ('a', 'archived', 'x', 1, 'k', 'now')")
    assert refused(auditor, document)
    hold = ("INSERT INTO legal_holds (hold_id, kind, scope, target, reason, placed_by, placed_role, "
            "placed_at, placed_key, placed_sha256) VALUES ('h', 'k', 's', 't', 'r', 'b', 'r', 'a', 'k', 's')")
    assert refused(auditor, hold)
    # the risk officer requests holds (WORM objects); only the pipeline writes the catalog's hold rows
    risk_officer = as_user("risk_officer")
    assert refused(risk_officer, hold)
    assert refused(risk_officer, "UPDATE documents SET retain_until = 'x'")
    risk_officer.dispose()
    with pipeline.engine.begin() as conn:
        conn.exec_driver_sql(document)
    entries = auditor.access_entries()
    assert len(entries) == 1 + len(roles) and verify_access_chain(entries) == []
    auditor.dispose()
    pipeline.dispose()


def test_each_successful_monthly_run_ends_with_the_log_anchored_in_the_archive(anchored_archive):
    """access_log_anchor_sensor answers a successful run with the anchor job, which logs the run's end and
    exports the log: `archive log` then finds every entry anchored, none vouched for by the chain alone."""
    from types import SimpleNamespace

    from dagster import DagsterInstance, RunRequest, build_run_status_sensor_context

    from pipelines.jobs import access_log_anchor_sensor, anchor_access_log

    archive, _ = anchored_archive
    resources = {"archive": SimpleNamespace(get=lambda: archive)}  # this test's isolated archive
    instance = DagsterInstance.ephemeral()
    finished = anchor_access_log.execute_in_process(resources=resources, instance=instance,
                                                    tags={"dagster/partition": "2026-09"})
    request = access_log_anchor_sensor(build_run_status_sensor_context(
        sensor_name="access_log_anchor_sensor", dagster_event=finished.get_run_success_event(),
        dagster_instance=instance, dagster_run=finished.dagster_run))
    assert isinstance(request, RunRequest) and request.run_key == f"anchor-{finished.run_id}"
    assert request.tags["postloan/partition"] == "2026-09"
    anchored = anchor_access_log.execute_in_process(resources=resources, instance=instance, tags=request.tags)
    assert anchored.success
    entries = archive.catalog.access_entries()
    assert (entries[-1].action, entries[-1].target) == ("anchor_log", "access_log")
    assert finished.run_id in entries[-1].detail
    exported = anchored.output_for_node("anchor_access_log_op")
    assert exported["head_hash"] == entries[-1].entry_hash
    check = verify_against_anchors(archive, entries)
    assert check.problems == [] and check.unanchored_entries == 0 and check.last_anchored_id == entries[-1].id
