"""`postloan archive ...` end to end against the real S3 server: every command logged with who and why."""
from __future__ import annotations

import json
import uuid

from tests.archive_support import meta


def test_hold_extend_bundle_and_log_from_the_command_line(s3_env, as_role, tmp_path, capsys):
    from pipelines import cli

    archive = cli._archive()
    archive.store.ensure_buckets()
    borrower, contract = f"B{uuid.uuid4().hex[:6]}", f"HT{uuid.uuid4().hex[:6]}"
    record, _ = archive.archive_document(f"%PDF-1.4 cli {borrower}".encode(), meta("c.pdf", borrower, contract))
    who = ["--as", "risk_officer", "--reason", "lawsuit 2026-117", "--user", "li.wei"]
    capsys.readouterr()

    with as_role("risk_officer"):  # each command acts as the role whose S3 credentials it is given
        assert cli.main(["archive", "hold", "--kind", "litigation", "--borrower", borrower, *who]) == 0
        hold_id = json.loads(capsys.readouterr().out)["hold_id"]
        assert cli.main(["archive", "extend", "--contract", contract, "--until", "2099-01-01", *who]) == 0
        assert cli.main(["archive", "extend", "--hash", record.sha256, "--until", "2030-01-01", *who]) == 2
        assert "would shorten it" in capsys.readouterr().err
        assert cli.main(["archive", "release", hold_id, *who]) == 0
    with as_role("auditor"):
        assert cli.main(["archive", "hold", "--kind", "litigation", "--borrower", borrower,
                         "--as", "auditor", "--reason", "curious", "--user", "zhao.min"]) == 2  # read-only
    bundle = tmp_path / "loan.zip"
    with as_role("risk_officer"):
        assert cli.main(["archive", "bundle", "--loan", contract, "-o", str(bundle), *who]) == 0
    assert cli.main(["archive", "verify-bundle", str(bundle)]) == 0
    capsys.readouterr()
    with as_role("auditor"):
        assert cli.main(["archive", "find", "--borrower", borrower, "--as", "auditor", "--reason", "audit 2026",
                         "--user", "zhao.min"]) == 0
        assert borrower not in capsys.readouterr().out
        assert cli.main(["archive", "log", "--target", borrower, "--as", "auditor", "--reason", "audit 2026",
                         "--user", "zhao.min"]) == 0
    actions = [json.loads(line)["action"] for line in capsys.readouterr().out.splitlines()]
    assert actions == ["hold", "denied:hold", "find"]  # entries naming the borrower (extend named the contract)
