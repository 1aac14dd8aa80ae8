"""The archive catalog: one row per stored object, on SQLite by default or PostgreSQL.

The object store is the source of truth; the catalog is an index over it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from typing import Any, Iterator

import sqlalchemy as sa

metadata = sa.MetaData()

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),  # archived | quarantined
    sa.Column("doc_class", sa.String(40), nullable=False),
    sa.Column("borrower_id", sa.String(40), index=True),
    sa.Column("contract_id", sa.String(40), index=True),
    sa.Column("period", sa.String(7), index=True),
    sa.Column("original_name", sa.Text),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("page_count", sa.Integer),
    sa.Column("reason_code", sa.String(32)),
    sa.Column("reason", sa.Text),
    sa.Column("object_key", sa.Text, nullable=False),
    sa.Column("version_id", sa.String(80)),
    sa.Column("retain_until", sa.String(32)),
    sa.Column("received_date", sa.String(10)),
    sa.Column("ingested_at", sa.String(32), nullable=False),
)

publications = sa.Table(
    "publications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("report_kind", sa.String(40), nullable=False),
    sa.Column("period", sa.String(10), nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("object_key", sa.Text, nullable=False),
    sa.Column("version_id", sa.String(80)),
    sa.Column("manifest_key", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(64)),
    sa.Column("published_at", sa.String(32), nullable=False),
    sa.UniqueConstraint("report_kind", "period", "file_name", "sha256", name="uq_publication"),
)

# Deliveries: which document arrived in which period under which name. The documents table keeps one
# row per hash (the first delivery); a file delivered again unchanged in a later month (an unchanged
# borrower table, a contract re-sent) is still an input of that month's reports, and is found here.
receipts = sa.Table(
    "receipts",
    metadata,
    sa.Column("period", sa.String(10), primary_key=True),
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("original_name", sa.String(255), primary_key=True),
    sa.Column("doc_class", sa.String(40), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
)

# Legal holds (诉讼 litigation, 处置 disposal) on a document, a contract or a borrower. A document is
# held while any unreleased hold's scope matches it; the placement and release are also written to the
# archive as locked JSON records (holds/<hold_id>/placed.json, released.json) so a rebuild restores them.
legal_holds = sa.Table(
    "legal_holds",
    metadata,
    sa.Column("hold_id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # litigation | disposal
    sa.Column("scope", sa.String(16), nullable=False),  # document | contract | borrower
    sa.Column("target", sa.String(80), nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("placed_by", sa.String(80), nullable=False),
    sa.Column("placed_role", sa.String(40), nullable=False),
    sa.Column("placed_at", sa.String(32), nullable=False),
    sa.Column("placed_key", sa.Text, nullable=False),
    sa.Column("placed_sha256", sa.String(64), nullable=False),
    sa.Column("released_by", sa.String(80)),
    sa.Column("released_role", sa.String(40)),
    sa.Column("release_reason", sa.Text),
    sa.Column("released_at", sa.String(32)),
    sa.Column("released_key", sa.Text),
    sa.Column("released_sha256", sa.String(64)),
)

# Who looked at what, when and why. Append-only: the API has no update or delete, and database
# triggers refuse both. Each entry chains the previous entry's hash, so a gap or an edit shows.
access_log = sa.Table(
    "access_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(80), nullable=False),
    sa.Column("role", sa.String(40), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False),
)

access_log_exports = sa.Table(
    "access_log_exports",
    metadata,
    sa.Column("object_key", sa.String(200), primary_key=True),
    sa.Column("first_id", sa.Integer, nullable=False),
    sa.Column("last_id", sa.Integer, nullable=False),
    sa.Column("entries", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("version_id", sa.String(80)),
    sa.Column("exported_at", sa.String(32), nullable=False),
)

# Integrity audits: operational state (resumable cursor, findings), not rebuilt from the store.
audit_runs = sa.Table(
    "audit_runs",
    metadata,
    sa.Column("audit_id", sa.String(40), primary_key=True),
    sa.Column("mode", sa.String(8), nullable=False),  # full | sample
    sa.Column("confidence", sa.Float),
    sa.Column("corruption_rate", sa.Float),
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("planned", sa.Integer, nullable=False),
    sa.Column("checked", sa.Integer, nullable=False),
    sa.Column("cursor", sa.Text, nullable=False),
    sa.Column("started_at", sa.String(32), nullable=False),
    sa.Column("finished_at", sa.String(32)),
)

audit_findings = sa.Table(
    "audit_findings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("audit_id", sa.String(40), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # mismatch missing orphan overwritten duplicate deleted
    # hold_removed hold_unrecorded retention_short (plugins/archive/audit.py)
    sa.Column("object_key", sa.Text, nullable=False),
    sa.Column("version_id", sa.String(80)),
    sa.Column("expected_sha256", sa.String(64)),
    sa.Column("actual_sha256", sa.String(64)),
    sa.Column("detail", sa.Text, nullable=False),
)

_APPEND_ONLY = "access_log is append-only"
sa.event.listen(access_log, "after_create", sa.DDL(
    f"CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
).execute_if(dialect="sqlite"))
sa.event.listen(access_log, "after_create", sa.DDL(
    f"CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
).execute_if(dialect="sqlite"))
sa.event.listen(access_log, "after_create", sa.DDL(
    "CREATE OR REPLACE FUNCTION access_log_append_only() RETURNS trigger AS $$ BEGIN "
    f"RAISE EXCEPTION '{_APPEND_ONLY}'; END $$ LANGUAGE plpgsql"
).execute_if(dialect="postgresql"))
sa.event.listen(access_log, "after_create", sa.DDL(
    "CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log "
    "FOR EACH ROW EXECUTE FUNCTION access_log_append_only()"
).execute_if(dialect="postgresql"))

# The tables a rebuild from the object store restores, and the columns that identify a row.
REBUILT_TABLES = {"documents": ("sha256",), "publications": ("object_key",), "legal_holds": ("hold_id",),
                  "access_log": ("id",), "access_log_exports": ("object_key",)}


@dataclass(frozen=True)
class DocumentRecord:
    sha256: str
    status: str
    doc_class: str
    borrower_id: str | None
    contract_id: str | None
    period: str | None
    original_name: str | None
    size: int
    page_count: int | None
    reason_code: str | None
    reason: str | None
    object_key: str
    version_id: str | None
    retain_until: str | None
    received_date: str | None
    ingested_at: str


@dataclass(frozen=True)
class PublicationRecord:
    report_kind: str
    period: str
    file_name: str
    sha256: str
    object_key: str
    version_id: str | None
    manifest_key: str
    run_id: str | None
    published_at: str


@dataclass(frozen=True)
class HoldRecord:
    hold_id: str
    kind: str
    scope: str
    target: str
    reason: str
    placed_by: str
    placed_role: str
    placed_at: str
    placed_key: str
    placed_sha256: str
    released_by: str | None = None
    released_role: str | None = None
    release_reason: str | None = None
    released_at: str | None = None
    released_key: str | None = None
    released_sha256: str | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None


@dataclass(frozen=True)
class AccessEntry:
    id: int
    at: str
    actor: str
    role: str
    action: str
    target: str
    reason: str
    detail: str
    prev_hash: str
    entry_hash: str


GENESIS_HASH = "0" * 64


def access_entry_hash(prev_hash: str, at: str, actor: str, role: str, action: str, target: str, reason: str,
                      detail: str) -> str:
    body = json.dumps([prev_hash, at, actor, role, action, target, reason, detail], ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# The PostgreSQL advisory lock that serializes access-log appends (any 64-bit number unique to this purpose).
ACCESS_LOG_LOCK = 0x706F73746C6F616E  # "postloan"


def _insert_new(conn: sa.Connection, table: sa.Table, values: dict) -> bool:
    """INSERT … ON CONFLICT DO NOTHING: a row that already exists (another run inserted it first, even a moment
    ago in another process) is a no-op instead of a UNIQUE-constraint crash; returns whether a row was added."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the catalog runs on SQLite or PostgreSQL
        raise NotImplementedError(f"catalog on {conn.dialect.name}: SQLite or PostgreSQL only")
    return conn.execute(insert(table).values(**values).on_conflict_do_nothing()).rowcount == 1


class Catalog:
    def __init__(self, url: str):
        self.url = url
        # SQLite: writers from several processes (two runs, eight log writers) wait for each other's lock
        # rather than failing after the driver's default 5 s.
        connect_args = {"timeout": 60} if url.startswith("sqlite") else {}
        self.engine = sa.create_engine(url, future=True, connect_args=connect_args)
        metadata.create_all(self.engine)

    def document(self, sha256: str) -> DocumentRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(documents).where(documents.c.sha256 == sha256)).mappings().first()
        return DocumentRecord(**row) if row else None

    def add_document(self, record: DocumentRecord) -> bool:
        """Insert unless the hash is known (a no-op then, even racing another process); whether a row was added."""
        with self.engine.begin() as conn:
            return _insert_new(conn, documents, asdict(record))

    def find_documents(self, **criteria: Any) -> list[DocumentRecord]:
        """Documents matching every given column (borrower_id, contract_id, doc_class, period, status, sha256)."""
        query = sa.select(documents)
        for column, value in criteria.items():
            if value is None:
                continue
            if column == "sha256" and len(value) < 64:
                query = query.where(documents.c.sha256.startswith(value))
            else:
                query = query.where(documents.c[column] == value)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(documents.c.period, documents.c.original_name, documents.c.sha256)).mappings()
            return [DocumentRecord(**row) for row in rows]

    def add_receipt(self, period: str, record: DocumentRecord, name: str) -> bool:
        """Record that `record`'s bytes were delivered in `period` as `name`; idempotent."""
        key = {"period": period, "sha256": record.sha256, "original_name": name}
        with self.engine.begin() as conn:
            return _insert_new(conn, receipts, {**key, "doc_class": record.doc_class, "status": record.status})

    def receipts(self, period: str) -> list[dict]:
        """Every document delivered in `period` (first delivery or again), by class, name and hash."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(receipts).where(receipts.c.period == period).order_by(
                receipts.c.doc_class, receipts.c.original_name, receipts.c.sha256)).mappings()
            return [dict(r) for r in rows]

    def add_publication(self, record: PublicationRecord) -> bool:
        """Insert unless (kind, period, file, sha256) is catalogued (a no-op then); whether a row was added."""
        with self.engine.begin() as conn:
            return _insert_new(conn, publications, asdict(record))

    def find_publications(self, report_kind: str | None = None, period: str | None = None) -> list[PublicationRecord]:
        query = sa.select(*[publications.c[f.name] for f in fields(PublicationRecord)])
        if report_kind:
            query = query.where(publications.c.report_kind == report_kind)
        if period:
            query = query.where(publications.c.period == period)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(publications.c.id)).mappings()
            return [PublicationRecord(**row) for row in rows]

    def publications_by_hash(self, sha256: str) -> list[PublicationRecord]:
        """Published report files whose SHA-256 is `sha256`, or starts with it when shorter (a report's
        object key, the URL the pipeline prints, names the first 12 digits). Reports are catalogued here,
        apart from documents, so a lookup by hash asks both."""
        query = sa.select(*[publications.c[f.name] for f in fields(PublicationRecord)])
        column = publications.c.sha256
        query = query.where(column.startswith(sha256.lower()) if len(sha256) < 64 else column == sha256.lower())
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(publications.c.id)).mappings()
            return [PublicationRecord(**row) for row in rows]

    def set_retain_until(self, sha256: str, retain_until: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(documents.update().where(documents.c.sha256 == sha256).values(retain_until=retain_until))

    # --- legal holds -------------------------------------------------------------------------------

    def add_hold(self, hold: HoldRecord) -> None:
        with self.engine.begin() as conn:
            conn.execute(legal_holds.insert().values(**asdict(hold)))

    def release_hold(self, hold_id: str, released_by: str, released_role: str, release_reason: str,
                     released_at: str, released_key: str, released_sha256: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(legal_holds.update().where(legal_holds.c.hold_id == hold_id).values(
                released_by=released_by, released_role=released_role, release_reason=release_reason,
                released_at=released_at, released_key=released_key, released_sha256=released_sha256))

    def hold(self, hold_id: str) -> HoldRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(legal_holds).where(legal_holds.c.hold_id == hold_id)).mappings().first()
        return HoldRecord(**row) if row else None

    def holds(self, active_only: bool = False) -> list[HoldRecord]:
        query = sa.select(legal_holds).order_by(legal_holds.c.placed_at, legal_holds.c.hold_id)
        if active_only:
            query = query.where(legal_holds.c.released_at.is_(None))
        with self.engine.connect() as conn:
            return [HoldRecord(**row) for row in conn.execute(query).mappings()]

    def holds_covering(self, record: DocumentRecord) -> list[HoldRecord]:
        """Unreleased holds whose scope matches the document."""
        targets = [("document", record.sha256), ("contract", record.contract_id), ("borrower", record.borrower_id)]
        clauses = [sa.and_(legal_holds.c.scope == scope, legal_holds.c.target == target)
                   for scope, target in targets if target]
        query = sa.select(legal_holds).where(legal_holds.c.released_at.is_(None), sa.or_(*clauses))
        with self.engine.connect() as conn:
            return [HoldRecord(**row) for row in conn.execute(query).mappings()]

    def held_documents(self) -> dict[str, list[str]]:
        """{sha256: [hold ids]} of every document an unreleased hold covers: what the server must show held."""
        held: dict[str, list[str]] = {}
        for hold in self.holds(active_only=True):
            for record in self.documents_in_scope(hold.scope, hold.target):
                held.setdefault(record.sha256, []).append(hold.hold_id)
        return held

    def documents_in_scope(self, scope: str, target: str) -> list[DocumentRecord]:
        column = {"document": "sha256", "contract": "contract_id", "borrower": "borrower_id"}[scope]
        return self.find_documents(**{column: target})

    # --- access log (append-only) --------------------------------------------------------------------

    def append_access(self, actor: str, role: str, action: str, target: str, reason: str, detail: dict,
                      at: str | None = None) -> AccessEntry:
        """Append one entry chained to the last. One writer at a time, whatever the backend: the last entry is
        read and the new one inserted under a lock (SQLite: BEGIN IMMEDIATE takes the database's write lock
        before the read; PostgreSQL: a transaction-scoped advisory lock), so concurrent writers never link
        two entries to the same predecessor."""
        detail_text = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
        with self.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ACCESS_LOG_LOCK})
            at = at or datetime.now(timezone.utc).isoformat(timespec="microseconds")  # under the lock: in order
            last = conn.execute(sa.select(access_log.c.entry_hash).order_by(access_log.c.id.desc()).limit(1)).first()
            prev = last[0] if last else GENESIS_HASH
            entry_hash = access_entry_hash(prev, at, actor, role, action, target, reason, detail_text)
            new_id = conn.execute(access_log.insert().values(
                at=at, actor=actor, role=role, action=action, target=target, reason=reason, detail=detail_text,
                prev_hash=prev, entry_hash=entry_hash)).inserted_primary_key[0]
            conn.commit()
        return AccessEntry(new_id, at, actor, role, action, target, reason, detail_text, prev, entry_hash)

    def insert_access_entries(self, entries: list[AccessEntry]) -> None:
        """Restore exported entries as they were (rebuild only); the triggers still refuse edits."""
        if entries:
            with self.engine.begin() as conn:
                conn.execute(access_log.insert(), [asdict(e) for e in entries])
                if conn.dialect.name == "postgresql":  # explicit ids do not advance the serial sequence
                    conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('access_log', 'id'), "
                                         "(SELECT MAX(id) FROM access_log))")

    def access_entries(self, after_id: int = 0, actor: str | None = None, target: str | None = None) -> list[AccessEntry]:
        query = sa.select(access_log).where(access_log.c.id > after_id).order_by(access_log.c.id)
        if actor:
            query = query.where(access_log.c.actor == actor)
        if target:
            query = query.where(access_log.c.target.contains(target))
        with self.engine.connect() as conn:
            return [AccessEntry(**row) for row in conn.execute(query).mappings()]

    def add_export(self, object_key: str, first_id: int, last_id: int, entries: int, sha256: str,
                   version_id: str | None, exported_at: str) -> None:
        with self.engine.begin() as conn:
            _insert_new(conn, access_log_exports, dict(
                object_key=object_key, first_id=first_id, last_id=last_id, entries=entries, sha256=sha256,
                version_id=version_id, exported_at=exported_at))

    def exports(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(
                sa.select(access_log_exports).order_by(access_log_exports.c.first_id)).mappings()]

    # --- what the store should hold ------------------------------------------------------------------

    def expected_objects(self) -> Iterator[tuple[str, str | None, str]]:
        """(object key, recorded version, SHA-256) of every object the catalog indexes, by key."""
        with self.engine.connect() as conn:
            rows = list(conn.execute(sa.select(documents.c.object_key, documents.c.version_id, documents.c.sha256)))
            rows += list(conn.execute(sa.select(publications.c.object_key, publications.c.version_id,
                                                publications.c.sha256).distinct()))
            manifests = {r[0] for r in conn.execute(sa.select(publications.c.manifest_key).distinct())}
            holds = list(conn.execute(sa.select(legal_holds.c.placed_key, legal_holds.c.placed_sha256,
                                                legal_holds.c.released_key, legal_holds.c.released_sha256)))
            rows += list(conn.execute(sa.select(access_log_exports.c.object_key, access_log_exports.c.version_id,
                                                access_log_exports.c.sha256)))
        # A manifest's key names its own SHA-256 (manifests/<kind>/<period>/<sha256>.json).
        rows += [(key, None, key.rsplit("/", 1)[1].removesuffix(".json")) for key in manifests]
        for placed_key, placed_sha, released_key, released_sha in holds:
            rows.append((placed_key, None, placed_sha))
            if released_key:
                rows.append((released_key, None, released_sha))
        # Every distinct claim is checked: two rows naming one key with different hashes cannot both be right.
        return iter(sorted({(key, version, digest) for key, version, digest in rows},
                           key=lambda row: (row[0], row[1] or "", row[2])))

    # --- audits --------------------------------------------------------------------------------------

    def start_audit(self, audit_id: str, mode: str, confidence: float | None, corruption_rate: float | None,
                    seed: int, planned: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(audit_runs.insert().values(
                audit_id=audit_id, mode=mode, confidence=confidence, corruption_rate=corruption_rate, seed=seed,
                planned=planned, checked=0, cursor="", started_at=utc_now()))

    def audit_run(self, audit_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(audit_runs).where(audit_runs.c.audit_id == audit_id)).mappings().first()
        return dict(row) if row else None

    def unfinished_audit(self) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(audit_runs).where(audit_runs.c.finished_at.is_(None))
                               .order_by(audit_runs.c.started_at.desc())).mappings().first()
        return dict(row) if row else None

    def advance_audit(self, audit_id: str, cursor: str, checked: int, findings: list[dict],
                      finished: bool = False) -> None:
        """Record a batch's findings and the cursor in one transaction, so a resumed audit repeats nothing."""
        with self.engine.begin() as conn:
            if findings:
                conn.execute(audit_findings.insert(), [{"audit_id": audit_id, **f} for f in findings])
            values = {"cursor": cursor, "checked": checked}
            if finished:
                values["finished_at"] = utc_now()
            conn.execute(audit_runs.update().where(audit_runs.c.audit_id == audit_id).values(**values))

    def audit_findings(self, audit_id: str) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(audit_findings).where(
                audit_findings.c.audit_id == audit_id).order_by(audit_findings.c.id)).mappings()]

    # --- comparison ------------------------------------------------------------------------------------

    def dump(self) -> dict[str, list[dict]]:
        """Every rebuilt table's rows, ordered by their identifying columns, for comparing two catalogs."""
        out = {}
        with self.engine.connect() as conn:
            for name, order in REBUILT_TABLES.items():
                table = metadata.tables[name]
                columns = [c for c in table.columns if not (name == "publications" and c.name == "id")]
                rows = conn.execute(sa.select(*columns).order_by(*[table.c[o] for o in order])).mappings()
                out[name] = [dict(r) for r in rows]
        return out

    def dispose(self) -> None:
        self.engine.dispose()


# --- PostgreSQL: one database user per role, with grants to match ------------------------------------------

# What each archive action writes in the catalog (everyone reads it, and appends to the access log). A hold,
# release or extension is only requested by its role (a WORM object under hold-requests/ and a log entry):
# the pipeline applies it and writes the legal_holds and retain_until rows (plugins/archive/holds.py).
_ACTION_WRITES: dict[str, list[tuple[str, str]]] = {
    "hold": [], "release": [], "extend": [], "export_log": [("INSERT", "access_log_exports")],
    "audit": [("INSERT, UPDATE", "audit_runs"), ("INSERT", "audit_findings")],
}
# The pipeline archives and publishes: it inserts every indexed row (never deletes one).
_PIPELINE_WRITES = [("INSERT", "documents"), ("UPDATE (retain_until)", "documents"), ("INSERT", "receipts"),
                    ("INSERT", "publications"), ("INSERT, UPDATE", "legal_holds"), ("INSERT", "access_log_exports")]


def catalog_grants(roles: dict[str, list[str]], prefix: str = "postloan_", database: str = "postloan") -> list[str]:
    """SQL for the database owner: one role per archive role (`prefix` + name, created elsewhere with LOGIN and
    a password), granted what its actions need. The access log is append-only for all: every role may read it
    and INSERT into it (each access logs itself), none may UPDATE, DELETE or TRUNCATE it (the triggers refuse
    the first two anyway); no role may DELETE or TRUNCATE any table."""
    tables = sorted(metadata.tables)
    statements = [f"REVOKE ALL ON {', '.join(tables)} FROM PUBLIC",
                  "REVOKE ALL ON SEQUENCE access_log_id_seq, publications_id_seq, audit_findings_id_seq FROM PUBLIC"]
    for name, actions in sorted(roles.items()):
        user = f"{prefix}{name}"
        writes = list(_PIPELINE_WRITES) if name == "pipeline" else []
        for action in actions:
            writes += _ACTION_WRITES.get(action, [])
        if name == "pipeline" or "audit" in actions:
            writes += _ACTION_WRITES["audit"]
        statements += [f"GRANT CONNECT ON DATABASE {database} TO {user}", f"GRANT USAGE ON SCHEMA public TO {user}",
                       f"GRANT SELECT ON {', '.join(tables)} TO {user}", f"GRANT INSERT ON access_log TO {user}",
                       f"GRANT USAGE ON SEQUENCE access_log_id_seq TO {user}"]
        for privilege, table in dict.fromkeys(writes):
            statements.append(f"GRANT {privilege} ON {table} TO {user}")
            if table in ("publications", "audit_findings") and privilege.startswith("INSERT"):
                statements.append(f"GRANT USAGE ON SEQUENCE {table}_id_seq TO {user}")
    return list(dict.fromkeys(statements))
