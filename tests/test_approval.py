"""Review and approval before release (maker-checker, issue 15 item 3), against the real S3 server.

The pipeline publishes a report as a draft; a person in a role that may `approve` (config/access.yaml), acting
as that role's own S3 identity, approves or rejects it with a reason; only an approved report is delivered,
and the delivery's manifest names maker and checker (plugins/reports/approval.py, pipelines/cli_reports.py).
"""
from __future__ import annotations

import io
import json

import pytest
from minio.error import S3Error
from pypdf import PdfReader

from plugins.archive.local_s3 import LocalS3

PDF_NAME, XLSX_NAME = "贷后管理月度报告_{period}.pdf", "贷后管理月度报告_{period}.xlsx"


def _archive():
    """The archive the command line opens (the session's catalog and server, the pipeline's identity)."""
    from pipelines.cli_archive import open_archive

    return open_archive()


def _publish_draft(period: str) -> dict:
    """What published_management_report does: the rendered PDF and a workbook under one manifest."""
    from plugins.ingest import month_end
    from plugins.reports.management import render_management_pdf
    from tests.test_reports_management import make_pack

    pack = make_pack()
    pack["period"] = period
    files = {PDF_NAME.format(period=period): render_management_pdf(pack),
             XLSX_NAME.format(period=period): f"workbook of {period}".encode()}
    inputs = {"period": period, "documents": [], "config_sha256": "0" * 64, "code_version": "test"}
    return _archive().publish("management_report", period, month_end(period), files, inputs, f"run-{period}")


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    from pipelines.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _delivered_keys(period: str) -> list[str]:
    archive = _archive()
    return sorted(archive.store.list_keys(archive.bucket, f"delivered/management_report/{period}/"))


@pytest.fixture(scope="module")
def drafts(s3_env):
    """Three drafts of three months: one left alone, one to approve, one to reject."""
    _archive().store.ensure_buckets()
    return {period: _publish_draft(period) for period in ("2031-04", "2031-05", "2031-06")}


def test_a_published_report_is_a_draft_awaiting_approval_and_a_rerun_publishes_nothing_new(drafts, capsys):
    assert _publish_draft("2031-04")["objects_written"] == 0  # drafts are deterministic: same bytes, same keys
    code, out, _ = _cli(capsys, "reports", "status", "management_report", "2031-04", "--json")
    assert code == 0
    assert [json.loads(line)["status"] for line in out.splitlines()] == ["draft"]


def test_an_unapproved_report_is_not_delivered(drafts, capsys):
    from dagster import SkipReason, build_sensor_context

    from pipelines.jobs import report_approval_sensor

    [tick] = list(report_approval_sensor(build_sensor_context()))  # the sensor shows what awaits approval
    assert isinstance(tick, SkipReason) and "await approval" in tick.skip_message
    assert "management_report 2031-04" in tick.skip_message and "nothing approved to deliver" in tick.skip_message
    code, out, err = _cli(capsys, "reports", "deliver", "management_report", "2031-04")
    assert code == 0 and "0 report pack(s) delivered" in err
    assert _delivered_keys("2031-04") == []
    code, _, err = _cli(capsys, "reports", "get", "management_report", "2031-04", "-o", "/tmp/never-written")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "is draft, not delivered: only an approved report is final" in err


@pytest.mark.parametrize("role", ["data_engineer", "auditor"])
def test_a_role_that_may_not_approve_is_refused_and_the_refusal_logged(drafts, capsys, as_role, role):
    with as_role(role):
        code, _, err = _cli(capsys, "reports", "approve", "management_report", "2031-04", "--as", role,
                            "--reason", "looks fine to me", "--user", "mallory")
    assert code == 2 and f"role {role} may not approve" in err and len(err.strip().splitlines()) == 1
    entry = _archive().catalog.access_entries(target="management_report/2031-04")[-1]
    assert (entry.actor, entry.role, entry.action) == ("mallory", role, "denied:approve")


@pytest.mark.parametrize("role", ["data_engineer", "auditor"])
def test_the_object_store_itself_refuses_a_decision_written_by_a_role_that_may_not_approve(
        drafts, s3_server: LocalS3, role):
    from minio import Minio

    creds = s3_server.credentials[role]
    client = Minio(s3_server.settings.endpoint, access_key=creds.access_key, secret_key=creds.secret_key,
                   secure=False, region="us-east-1")
    with pytest.raises(S3Error) as refused:
        client.put_object(s3_server.settings.archive_bucket, "approvals/management_report/2031-04/x/forged.json",
                          io.BytesIO(b"{}"), 2)
    assert refused.value.code == "AccessDenied"


def test_approving_with_an_approving_identity_delivers_it_with_maker_and_checker(drafts, capsys, as_role,
                                                                                 s3_server: LocalS3, tmp_path):
    from dagster import DagsterInstance, build_sensor_context

    from pipelines.definitions import defs
    from pipelines.jobs import report_approval_sensor
    from plugins.archive import sha256_hex

    period, draft = "2031-05", drafts["2031-05"]
    with as_role("risk_officer"):
        code, out, _ = _cli(capsys, "reports", "approve", "management_report", period, "--as", "risk_officer",
                            "--reason", "数据已核对，同意报送", "--user", "王审核")
    assert code == 0 and out.startswith("approved management_report 2031-05")

    # The decision is a WORM object in the archive, written by the checker's own identity …
    archive = _archive()
    manifest_sha = draft["manifest_key"].rsplit("/", 1)[1].removesuffix(".json")
    [key] = archive.store.list_keys(archive.bucket, f"approvals/management_report/{period}/{manifest_sha}/")
    decision = json.loads(archive.store.get(archive.bucket, key))
    assert decision["decision"] == "approved" and decision["reason"] == "数据已核对，同意报送"
    assert decision["checker"] == {"user": "王审核", "role": "risk_officer",
                                   "access_key": s3_server.credentials["risk_officer"].access_key}
    assert archive.store.retention_of(archive.bucket, key) is not None
    # … and in the access log.
    entry = archive.catalog.access_entries(target=f"management_report/{period}")[-1]
    assert (entry.actor, entry.role, entry.action) == ("王审核", "risk_officer", "approve")

    # The sensor sees it and starts the delivery, a real Dagster run.
    [request] = list(report_approval_sensor(build_sensor_context()))
    assert request.run_key == f"deliver-{manifest_sha[:12]}"
    result = defs.resolve_job_def("deliver_approved_reports").execute_in_process(
        instance=DagsterInstance.ephemeral())
    assert result.success
    names = [k.rsplit("/", 1)[1] for k in _delivered_keys(period)]
    assert sorted(names) == sorted([PDF_NAME.format(period=period), XLSX_NAME.format(period=period),
                                    "release.json"])

    # The release manifest names maker and checker and the draft it releases.
    release = json.loads(archive.store.get(archive.bucket, f"delivered/management_report/{period}/"
                                                           f"{manifest_sha[:12]}/release.json"))
    assert release["maker"]["identity"] == "pipeline" and release["maker"]["run_id"] == f"run-{period}"
    assert release["checker"]["user"] == "王审核" and release["checker"]["role"] == "risk_officer"
    assert release["draft_manifest_sha256"] == manifest_sha and release["approval"]["key"] == key

    # `reports get` downloads the final pack, hash-checked: the workbook as drafted, the PDF with its 审批页.
    with as_role("auditor"):
        code, out, _ = _cli(capsys, "reports", "get", "management_report", period, "-o", str(tmp_path))
    assert code == 0
    drafted = {f["file"]: f["sha256"] for f in draft["files"]}
    workbook = (tmp_path / XLSX_NAME.format(period=period)).read_bytes()
    assert sha256_hex(workbook) == drafted[XLSX_NAME.format(period=period)]
    final = PdfReader(tmp_path / PDF_NAME.format(period=period))
    draft_pages = len(PdfReader(io.BytesIO(archive.store.get(
        archive.bucket, draft["files"][0]["key"].removeprefix(f"s3://{archive.bucket}/")))).pages)
    assert len(final.pages) == draft_pages + 1
    last = final.pages[-1].extract_text()
    assert "审批页" in last and "王审核" in last and "批准" in last and "数据已核对，同意报送" in last
    assert "审批页" in [item.title for item in final.outline if hasattr(item, "title")]

    # Delivering again writes nothing; the status says delivered.
    code, _, err = _cli(capsys, "reports", "deliver")
    assert code == 0 and "0 report pack(s) delivered" in err
    code, out, _ = _cli(capsys, "reports", "status", "management_report", period, "--json")
    assert json.loads(out.splitlines()[0])["status"] == "delivered"


def test_a_rejected_report_is_never_delivered(drafts, capsys, as_role):
    period = "2031-06"
    with as_role("risk_officer"):
        code, _, _ = _cli(capsys, "reports", "reject", "management_report", period, "--as", "risk_officer",
                          "--reason", "集中度数据有误，退回重做")
    assert code == 0
    code, _, err = _cli(capsys, "reports", "deliver", "management_report", period)
    assert code == 0 and _delivered_keys(period) == []
    code, out, _ = _cli(capsys, "reports", "status", "management_report", period, "--json")
    row = json.loads(out.splitlines()[0])
    assert (row["status"], row["reason"]) == ("rejected", "集中度数据有误，退回重做")


def test_a_decision_needs_a_reason_and_a_draft(drafts, capsys, as_role):
    with as_role("risk_officer"):
        code, _, err = _cli(capsys, "reports", "approve", "management_report", "2031-07", "--as", "risk_officer",
                            "--reason", "ok")
    assert code == 2 and "no published draft of management_report for 2031-07" in err
