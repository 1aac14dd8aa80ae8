"""Specification: a user's mistake on the command line is one line on stderr naming what was wrong and
the fix, exit code 2, never a traceback (pipelines/cli_errors.py). The CLI runs as a subprocess, as a user
runs it; and a published report is fetched by the short hash the demo prints."""
from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def postloan(*args: str, env: dict | None = None, cwd: Path = REPO, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=cwd, env=env or dict(os.environ),
                          capture_output=True, timeout=timeout)


def assert_user_error(done: subprocess.CompletedProcess, *naming: str) -> str:
    err = done.stderr.decode()
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert done.returncode == 2 and len(lines) == 1, err
    assert lines[0].startswith("postloan: error: "), err
    for text in naming:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("args, naming", [
    (["run", "month", "2026-13"], ["'2026-13'", "no month 13", "YYYY-MM"]),
    (["run", "month", "2026-9"], ["'2026-9'", "2026-09"]),
    (["run", "quarter", "2026Q5"], ["'2026Q5'", "Q1–Q4", "YYYYQn"]),
    # refused, not silently read as 2026Q3: the fix names the quarter form and the month command
    (["run", "quarter", "2026-3"], ["'2026-3'", "YYYYQn", "2026Q1", "postloan run month 2026-03"]),
    (["backfill", "2026-09", "2026-01"], ["reversed", "postloan backfill 2026-01 2026-09"]),
    (["extract", "missing.pdf"], ["'missing.pdf'", "existing file"]),
    (["deliver", "2026-10"], ["2026-10", "outside the sample", "2023-10 to 2026-09"]),
    (["run", "month", "2020-01"], ["2020-01", "first period 2023-10"]),
    (["archive", "extend", "--hash", "abcdef12", "--until", "2030-02-30", "--as", "auditor", "--reason", "x"],
     ["'2030-02-30'", "YYYY-MM-DD"]),
    (["archive", "find", "--as", "nobody"], ["unknown role 'nobody'", "data_engineer"]),
    (["archive", "hold", "--kind", "litigation", "--borrower", "B1"], ["--as, --reason", "archive hold --help"]),
])
def test_a_mistyped_argument_is_one_line_naming_the_form_to_use(args, naming, tmp_path):
    assert_user_error(postloan(*args, cwd=tmp_path if args[0] == "extract" else REPO), *naming)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_archive_command_with_the_object_store_stopped_is_one_line_at_once(tmp_path):
    env = {**os.environ, "POSTLOAN_S3_ENDPOINT": f"127.0.0.1:{_closed_port()}", "POSTLOAN_STATE_DIR": str(tmp_path)}
    env.pop("POSTLOAN_CATALOG_URL", None)
    done = postloan("archive", "get", "3fa9c2e81b0d", "-o", str(tmp_path / "x"), env=env, timeout=30)
    line = assert_user_error(done, "not reachable", "connection refused", "postloan s3 start")
    assert env["POSTLOAN_S3_ENDPOINT"] in line
    assert_user_error(postloan("archive", "find", "--period", "2026-09", env=env, timeout=30), "not reachable")


def test_a_failed_check_prints_what_it_checks_when_it_reports_no_description():
    from dagster import AssetCheckResult, asset, asset_check, materialize

    from pipelines.cli import _check_failures

    @asset
    def book():  # no annotations: they are strings here (from __future__), which Dagster cannot resolve locally
        return 1

    @asset_check(asset=book, description="Every loan outside 正常 names its rules.")
    def book_is_explained(book):
        return AssetCheckResult(passed=False, metadata={"unexplained": 3})

    result = materialize([book, book_is_explained], raise_on_error=False)
    [line] = _check_failures(result)
    assert line == "check book_is_explained on book failed: Every loan outside 正常 names its rules. (unexplained: 3)"


# --- against the real S3 server -------------------------------------------------------------------------------

def test_a_month_never_delivered_is_one_line_that_says_how_to_deliver_it(s3_env):
    done = postloan("run", "month", "2024-02", timeout=120)
    assert_user_error(done, "2024-02 was never delivered", "postloan deliver 2024-02")


def _same_prefix_pair(length: int = 6) -> tuple[bytes, bytes]:
    """Two byte strings whose SHA-256 share their first `length` hex digits (a birthday search, ~5k hashes)."""
    seen: dict[str, bytes] = {}
    i = 0
    while True:
        data = f"%PDF-1.4 cli ambiguous {os.getpid()} {i}".encode()
        prefix = hashlib.sha256(data).hexdigest()[:length]
        if prefix in seen:
            return seen[prefix], data
        seen[prefix] = data
        i += 1


def test_archive_get_fetches_a_report_by_the_short_hash_the_demo_prints(s3_env, tmp_path):
    from pipelines import cli

    archive = cli._archive()
    archive.store.ensure_buckets()
    pdf = f"%PDF-1.4 management report {os.getpid()} {tmp_path.name}".encode()
    # Its own kind and period, so the suites that read 2026-09's management report do not see it.
    published = archive.publish("cli_test_report", "2099-01", date(2099, 1, 31), {"管理报告_2099-01.pdf": pdf},
                                inputs={}, run_id=None)
    [printed] = published["files"]  # what the demo prints: s3://<archive>/reports/<kind>/<period>/<12 digits>/<name>
    short = printed["key"].split("/")[-2]
    assert len(short) == 12 and printed["sha256"].startswith(short)

    target = tmp_path / "report.pdf"
    done = postloan("archive", "get", short, "-o", str(target), "--json")
    assert done.returncode == 0, done.stderr.decode()
    assert target.read_bytes() == pdf
    assert json.loads(done.stdout) == {"sha256": printed["sha256"], "kind": "report", "name": "管理报告_2099-01.pdf",
                                       "bytes": len(pdf), "output": str(target), "hash_ok": True}
    by_url = postloan("archive", "get", printed["key"])  # the URL itself, and the full hash, work too
    assert by_url.returncode == 0 and by_url.stdout == pdf, by_url.stderr.decode()
    verified = postloan("archive", "verify", printed["sha256"])
    assert verified.returncode == 0 and verified.stdout.decode().startswith("OK "), verified.stderr.decode()

    first, second = _same_prefix_pair()
    archive.publish("cli_test_report", "2099-02", date(2099, 2, 28), {"a.pdf": first, "b.pdf": second},
                    inputs={}, run_id=None)
    prefix = hashlib.sha256(first).hexdigest()[:6]
    assert_user_error(postloan("archive", "get", prefix, "-o", str(tmp_path / "x.pdf")),
                      f"hash prefix {prefix} is ambiguous", "give more digits")
    assert_user_error(postloan("archive", "get", "0123456789abcdef" * 4, "-o", str(tmp_path / "y.pdf")),
                      "no archived document or published report")
