"""The archive catalog: one row per stored object, on SQLite by default or PostgreSQL.

The object store is the source of truth; the catalog is an index over it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from typing import Any

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


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Catalog:
    def __init__(self, url: str):
        self.url = url
        self.engine = sa.create_engine(url, future=True)
        metadata.create_all(self.engine)

    def document(self, sha256: str) -> DocumentRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(documents).where(documents.c.sha256 == sha256)).mappings().first()
        return DocumentRecord(**row) if row else None

    def add_document(self, record: DocumentRecord) -> bool:
        """Insert unless the hash is known; returns whether a row was added."""
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(documents.c.sha256).where(documents.c.sha256 == record.sha256)).first()
            if exists:
                return False
            conn.execute(documents.insert().values(**asdict(record)))
        return True

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

    def add_publication(self, record: PublicationRecord) -> bool:
        key = (record.report_kind, record.period, record.file_name, record.sha256)
        with self.engine.begin() as conn:
            exists = conn.execute(
                sa.select(publications.c.id).where(
                    sa.tuple_(publications.c.report_kind, publications.c.period, publications.c.file_name, publications.c.sha256)
                    == key
                )
            ).first()
            if exists:
                return False
            conn.execute(publications.insert().values(**asdict(record)))
        return True

    def find_publications(self, report_kind: str | None = None, period: str | None = None) -> list[PublicationRecord]:
        query = sa.select(*[publications.c[f.name] for f in fields(PublicationRecord)])
        if report_kind:
            query = query.where(publications.c.report_kind == report_kind)
        if period:
            query = query.where(publications.c.period == period)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(publications.c.id)).mappings()
            return [PublicationRecord(**row) for row in rows]

    def dispose(self) -> None:
        self.engine.dispose()
