"""The production configuration against the real PostgreSQL server on loopback.

CI must run these (CI=true makes an unreachable server a failure); elsewhere they
are skipped with the reason when no server answers.
"""
from __future__ import annotations

import os
import shutil
import uuid
from datetime import date

import pytest

pytestmark = pytest.mark.postgres

ADMIN_URL = os.environ.get("POSTLOAN_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _connect(url: str):
    import psycopg2

    return psycopg2.connect(url, connect_timeout=3)


@pytest.fixture(scope="module")
def pg_database():
    """A fresh database for this module, dropped afterwards."""
    try:
        admin = _connect(ADMIN_URL)
    except Exception as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL server answers at {ADMIN_URL}: {exc}")
    admin.autocommit = True
    name = f"postloan_test_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.cursor() as cur:
        cur.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
    admin.close()


def test_the_catalog_works_on_postgresql(pg_database):
    from plugins.archive import Catalog, DocumentRecord

    catalog = Catalog(pg_database.replace("postgresql://", "postgresql+psycopg2://"))
    record = DocumentRecord(sha256="ab" * 32, status="archived", doc_class="loan_contract", borrower_id="B0001",
                            contract_id="HT2026-0001", period="2026-09", original_name="合同.pdf", size=10,
                            page_count=2, reason_code=None, reason=None, object_key="documents/ab/x.pdf",
                            version_id="v1", retain_until="2031-09-30T00:00:00+00:00",
                            received_date=date(2026, 9, 3).isoformat(), ingested_at="2026-09-30T00:00:00+00:00")
    assert catalog.add_document(record) and not catalog.add_document(record)
    assert catalog.find_documents(borrower_id="B0001") == [record]
    assert catalog.find_documents(sha256="abab") == [record]
    catalog.dispose()


def test_a_real_dagster_run_is_stored_in_postgresql(pg_database, s3_env, tmp_path):
    from dagster import DagsterInstance

    from pipelines import cli
    from pipelines.settings import REPO_ROOT
    from plugins.config import load_config

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "config" / "dagster" / "dagster-postgres.yaml", home / "dagster.yaml")
    os.environ["POSTLOAN_PG_URL"] = pg_database
    try:
        cfg = load_config()
        cli.deliver_sample(cfg, ["2026-09"])
        with DagsterInstance.from_config(str(home)) as instance:
            result = cli.run_job("monthly_post_loan", "2026-09", instance)
            assert result.success
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert instance.get_run_by_id(result.run_id).is_success
    finally:
        os.environ.pop("POSTLOAN_PG_URL", None)
    with _connect(pg_database) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM runs WHERE run_id = %s", (result.run_id,))
        assert cur.fetchone()[0] == 1
        cur.execute("SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
                    (result.run_id,))
        assert cur.fetchone()[0] >= 8
