"""Helpers for the archive suites: an archive in a bucket of its own, and a fresh PostgreSQL database."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from datetime import date
from typing import Iterator

import pytest

from plugins.archive import Archive, Catalog, DocumentMeta, ObjectStore

PG_ADMIN_URL = os.environ.get("POSTLOAN_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def isolated_archive(s3_server, catalog_url: str, retention) -> Archive:
    """An archive of its own under a fresh key prefix of the session's bucket: it sees nothing another
    test wrote. (Not a bucket per test: each new bucket takes the server 7 volumes, and it has 64.)"""
    store = ObjectStore(s3_server.settings)
    store.ensure_buckets()
    return Archive(store, Catalog(catalog_url), retention, root=f"t-{uuid.uuid4().hex[:12]}")


def meta(name: str, borrower: str | None = "B0001", contract: str | None = "HT2026-0001", **kw) -> DocumentMeta:
    values = dict(doc_class="loan_contract", original_name=name, borrower_id=borrower, contract_id=contract,
                  period="2026-09", received_date=date(2026, 9, 3), maturity=date(2029, 9, 2))
    values.update(kw)
    return DocumentMeta(**values)


@contextmanager
def postgres_databases(count: int) -> Iterator[list[str]]:
    """`count` fresh databases (SQLAlchemy URLs), dropped afterwards. CI=true makes an unreachable server a
    failure; elsewhere the test is skipped with the reason."""
    import psycopg2

    try:
        admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=3)
    except Exception as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL server answers at {PG_ADMIN_URL}: {exc}")
    admin.autocommit = True
    names = [f"postloan_test_{uuid.uuid4().hex[:10]}" for _ in range(count)]
    with admin.cursor() as cur:
        for name in names:
            cur.execute(f"CREATE DATABASE {name}")
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://")
    try:
        yield [f"{base}/{name}" for name in names]
    finally:
        with admin.cursor() as cur:
            for name in names:
                cur.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
                cur.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()
