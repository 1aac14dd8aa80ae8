"""Access to the archive: roles from config/access.yaml, masked identifiers, and an append-only log of
every lookup and download that is itself archived."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from plugins.archive.access import (AccessDenied, AccessPolicy, ArchiveSession, entries_from_export,
                                    export_access_log, mask_value, verify_access_chain)
from plugins.config import ConfigError, load_config
from tests.archive_support import isolated_archive, meta


@pytest.fixture()
def archive_with_docs(s3_server, config, tmp_path):
    archive = isolated_archive(s3_server, f"sqlite:///{tmp_path / 'catalog.sqlite'}", config.retention)
    contract, _ = archive.archive_document(b"%PDF-1.4 contract B0042", meta("HT2026-0042_借款合同.pdf", "B0042", "HT2026-0042"))
    statement, _ = archive.archive_document(b"%PDF-1.4 statement B0042",
                                            meta("B0042_2026Q3_财务报表.pdf", "B0042", None, doc_class="financial_statement"))
    return archive, contract, statement


def _session(archive, config, role: str, actor: str = "zhao.min", reason: str = "2026 annual audit, sample 17"):
    return ArchiveSession(archive, AccessPolicy(config.access), actor, role, reason)


def test_an_auditor_never_sees_unmasked_borrower_identifiers(archive_with_docs, config):
    archive, contract, statement = archive_with_docs
    rows = _session(archive, config, "auditor").find(borrower_id="B0042")
    assert {r["sha256"] for r in rows} == {contract.sha256, statement.sha256}
    assert all(r["borrower_id"] == "B**42" for r in rows)
    assert not any("B0042" in str(value) for r in rows for value in r.values())
    assert any(r["original_name"] == "B**42_2026Q3_财务报表.pdf" for r in rows)


def test_a_risk_officer_sees_identifiers(archive_with_docs, config):
    archive, *_ = archive_with_docs
    rows = _session(archive, config, "risk_officer").find(borrower_id="B0042")
    assert {r["borrower_id"] for r in rows} == {"B0042"}


def test_every_lookup_and_download_is_logged_with_who_when_what_why(archive_with_docs, config):
    archive, contract, _ = archive_with_docs
    session = _session(archive, config, "auditor")
    session.find(borrower_id="B0042")
    assert session.get(contract.sha256) == b"%PDF-1.4 contract B0042"
    session.verify(contract.sha256)
    entries = archive.catalog.access_entries()
    assert [e.action for e in entries] == ["find", "get", "verify"]
    assert all(e.actor == "zhao.min" and e.role == "auditor" and e.reason == "2026 annual audit, sample 17" and e.at
               for e in entries)
    assert entries[0].target == '{"borrower_id": "B0042"}' and entries[1].target == contract.sha256
    assert verify_access_chain(entries) == []


def test_the_auditor_is_read_only_and_refusals_are_logged_too(archive_with_docs, config):
    archive, contract, _ = archive_with_docs
    session = _session(archive, config, "auditor")
    with pytest.raises(AccessDenied, match="may not hold"):
        session.require("hold", contract.sha256)
    assert archive.catalog.access_entries()[-1].action == "denied:hold"
    with pytest.raises(AccessDenied, match="needs a reason"):
        _session(archive, config, "auditor", reason="  ")


def test_the_access_log_is_append_only(archive_with_docs, config):
    archive, contract, _ = archive_with_docs
    _session(archive, config, "auditor").get(contract.sha256)
    with archive.catalog.engine.connect() as conn:
        for statement in ("UPDATE access_log SET actor = 'nobody'", "DELETE FROM access_log"):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                conn.exec_driver_sql(statement)
    assert archive.catalog.access_entries()[0].actor == "zhao.min"


def test_the_access_log_is_itself_archived(archive_with_docs, config):
    archive, contract, _ = archive_with_docs
    session = _session(archive, config, "auditor")
    session.find(contract_id="HT2026-0042")
    session.get(contract.sha256)
    first = export_access_log(archive)
    assert first["entries"] == 2 and export_access_log(archive) is None  # nothing new
    session.get(contract.sha256)
    second = export_access_log(archive)
    assert (second["first_id"], second["last_id"]) == (3, 3)
    exported = entries_from_export(archive.store.get(archive.bucket, first["object_key"]))
    assert exported == archive.catalog.access_entries()[:2] and verify_access_chain(exported) == []
    assert archive.store.info(archive.bucket, first["object_key"]).retain_until is not None  # locked


def test_a_tampered_log_entry_breaks_the_chain(archive_with_docs, config):
    from dataclasses import replace

    archive, contract, _ = archive_with_docs
    session = _session(archive, config, "auditor")
    session.get(contract.sha256)
    session.get(contract.sha256)
    entries = archive.catalog.access_entries()
    entries[0] = replace(entries[0], actor="someone else")
    assert verify_access_chain(entries) == [f"entry {entries[0].id}: content does not match its hash"]


def test_masking_keeps_values_apart_and_hides_identity():
    assert mask_value("B0042") == "B**42"
    assert mask_value("110101199001011234") == "110101********1234"
    assert mask_value("张三丰") == "张**"
    assert mask_value(None) is None


def test_a_read_only_role_with_a_write_action_is_refused(tmp_path):
    import shutil

    from plugins.config import DEFAULT_CONFIG_DIR

    target = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, target)
    path = target / "access.yaml"
    path.write_text(path.read_text().replace("actions: [find, get, verify, inputs, audit, bundle, read_log]",
                                             "actions: [find, get, hold]"))
    with pytest.raises(ConfigError, match=r"access\.yaml: key 'roles\.auditor': Value error, a read-only role may not hold"):
        load_config(target)


def test_the_session_takes_its_role_from_the_s3_credentials_and_logs_their_access_key(archive_with_docs, config,
                                                                                      tmp_path):
    """A deployment's identity map (POSTLOAN_S3_IDENTITIES: access key → role, no secrets) names the role of the
    credentials in use; a key it does not name is refused before anything is read."""
    import json

    from plugins.archive.access import authenticated_role
    from plugins.archive.identities import IDENTITIES_ENV, identity_map_path

    archive, contract, _ = archive_with_docs
    key = archive.store.settings.access_key
    identity_map = tmp_path / "identities.json"
    identity_map.write_text(json.dumps({"roles": {"auditor": {"access_key": key}}}))
    assert identity_map_path({IDENTITIES_ENV: str(identity_map)}) == identity_map
    session = ArchiveSession.authenticated(archive, AccessPolicy(config.access), "zhao.min", "sample 4", identity_map)
    assert session.role == "auditor"
    session.get(contract.sha256)
    entry = archive.catalog.access_entries()[-1]
    assert (entry.role, entry.action, json.loads(entry.detail)["s3_access_key"]) == ("auditor", "get", key)
    with pytest.raises(AccessDenied, match=f"the S3 access key {key} is not a role's identity"):
        authenticated_role(archive.store.settings, tmp_path / "nobody.json")


def test_each_roles_s3_grants_follow_its_archive_actions(config):
    """The table the server enforces (plugins/archive/identities.py, SECURITY.md), derived from access.yaml."""
    from plugins.archive.identities import role_grants

    grants = {name: role_grants(name, role.actions, role.read_only, "in", "ar", "wk")
              for name, role in config.access.roles.items()}
    assert set(grants) == {"pipeline", "data_engineer", "risk_officer", "regulatory_reporting", "auditor"}
    assert "Admin" in grants["pipeline"]
    writes = ("Write", "Admin", "Tagging", "PutObjectLegalHold", "PutObjectRetention", "DeleteBucket")

    def writes_of(role: str) -> list[str]:
        return [g for g in grants[role] if g.split(":", 1)[0] in writes]

    assert writes_of("auditor") == []  # read-only: nothing anywhere
    assert [g for g in writes_of("data_engineer") if g.split(":", 1)[1].startswith("ar")] == []
    # approve: the maker-checker decisions (approvals/, plugins/reports/approval.py); archive redeliver
    assert writes_of("regulatory_reporting") == ["Write:ar/approvals/*", "PutObjectRetention:ar/approvals/*",
                                                 "Write:in"]
    # hold, release, extend: a request under hold-requests/ only; the pipeline sets the flags (HoldRequests)
    assert sorted(writes_of("risk_officer")) == sorted([
        "Write:ar/hold-requests/*", "PutObjectRetention:ar/hold-requests/*",
        "Write:ar/approvals/*", "PutObjectRetention:ar/approvals/*", "Write:in"])
    for role in grants:  # no role but the pipeline writes documents, reports or manifests
        if role != "pipeline":
            assert "Write:ar" not in grants[role] and not [g for g in grants[role] if g.startswith("Admin")]
