"""`postloan reports ...`: maker-checker review of published reports, their delivery, and fetching a pack.

    postloan reports status [KIND [PERIOD]] [--json]     every current draft: draft | approved | rejected | delivered
    postloan reports approve KIND PERIOD --reason WHY    the checker's approval (a role that may `approve`)
    postloan reports reject KIND PERIOD --reason WHY     the checker's rejection; a rejected draft is never delivered
    postloan reports deliver [KIND PERIOD]               deliver approved drafts (the pipeline's identity; what the
                                                         sensor report_approval_sensor starts)
    postloan reports get KIND PERIOD -o DIR [--draft]    download the delivered pack and its release manifest,
                                                         hash-checked (--draft: the drafts and their manifests)

The checker acts as the S3 identity of its credentials (`eval "$(postloan s3 credentials risk_officer)"`);
the decision is a WORM object under approvals/ and an access-log entry (plugins/reports/approval.py).
Errors are pipelines/cli_errors.py's: one line, exit code 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from pipelines import cli_errors as types
from pipelines.cli_archive import _identity, _json_flag, _session
from pipelines.cli_errors import UserError, cli_config

KINDS = ("management_report", "regulatory_return")


def _check_period(kind: str, period: str) -> None:
    quarterly = "Q" in period
    if (kind == "regulatory_return") != quarterly:
        form = "a quarter, YYYYQn (e.g. 2026Q3)" if kind == "regulatory_return" else "a month, YYYY-MM (e.g. 2026-09)"
        raise UserError(f"{kind} is filed for {form}, not {period}")


def _kind_period(parser: argparse.ArgumentParser, required: bool = True) -> None:
    nargs = None if required else "?"
    parser.add_argument("report_kind", choices=KINDS, nargs=nargs, metavar="KIND", help=" | ".join(KINDS))
    parser.add_argument("period", type=types.month_or_quarter, nargs=nargs, metavar="PERIOD",
                        help="YYYY-MM (management_report) or YYYYQn (regulatory_return)")


def register_reports_commands(sub: argparse._SubParsersAction) -> None:
    """Add `postloan reports` and its subcommands to the top-level command line (pipelines/cli.py)."""
    reports = sub.add_parser("reports", help="maker-checker approval of published reports, delivery, download")
    actions = reports.add_subparsers(dest="action", required=True)
    status = actions.add_parser("status", help="each current draft and its state (draft, approved, rejected, "
                                               "delivered)")
    _kind_period(status, required=False)
    status.add_argument("--pending", action="store_true", help="only drafts awaiting a decision")
    _json_flag(status)
    status.set_defaults(func=cmd_status)
    for name, decision in (("approve", "approved"), ("reject", "rejected")):
        one = actions.add_parser(name, help=f"{name} the period's current drafts, with a reason (a role that may "
                                            "`approve`, by its own S3 identity)")
        _kind_period(one)
        one.add_argument("--manifest", type=types.hex_prefix,
                         help="only the draft with this manifest SHA-256 (prefix); default: every current draft "
                              "of the period")
        _identity(one)
        _json_flag(one)
        one.set_defaults(func=cmd_decide, decision=decision)
    deliver = actions.add_parser("deliver", help="deliver the approved drafts not yet delivered (the pipeline's "
                                                 "identity; the sensor report_approval_sensor does it too)")
    _kind_period(deliver, required=False)
    _json_flag(deliver)
    deliver.set_defaults(func=cmd_deliver)
    get = actions.add_parser("get", help="download a period's delivered pack with its release manifest, "
                                         "checking every hash")
    _kind_period(get)
    get.add_argument("-o", "--output", required=True, type=Path, metavar="DIR", help="folder to write into")
    get.add_argument("--draft", action="store_true", help="the current drafts and their manifests instead "
                                                          "(marked as drafts: not for release)")
    _identity(get, required=False)
    _json_flag(get)
    get.set_defaults(func=cmd_get)


def _pipeline_archive():
    from pipelines.cli_archive import open_archive

    return open_archive()


def cmd_status(args: argparse.Namespace) -> int:
    from plugins.reports import approval

    if args.report_kind and args.period:
        _check_period(args.report_kind, args.period)
    archive = _pipeline_archive()
    rows = []
    for draft in approval.current_drafts(archive, args.report_kind, args.period):
        state = approval.status(archive, draft)
        if args.pending and state != "draft":
            continue
        decision = approval.latest_decision(archive, draft)
        rows.append({"report_kind": draft.report_kind, "period": draft.period, "files": list(draft.file_names),
                     "manifest_sha256": draft.manifest_sha256, "status": state,
                     "checker": decision["checker"] if decision else None,
                     "reason": decision["reason"] if decision else None})
    for row in rows:
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            who = f" by {row['checker']['user']} ({row['checker']['role']}): {row['reason']}" if row["checker"] else ""
            print(f"{row['status']:<9} {row['report_kind']} {row['period']} {', '.join(row['files'])} "
                  f"(manifest {row['manifest_sha256'][:12]}){who}")
    if not args.json:
        print(f"{len(rows)} draft(s)", file=sys.stderr)
    return 0


def _drafts_to_decide(archive, args: argparse.Namespace):
    from plugins.reports import approval

    drafts = approval.current_drafts(archive, args.report_kind, args.period)
    if args.manifest:
        drafts = [d for d in drafts if d.manifest_sha256.startswith(args.manifest.lower())]
    if not drafts:
        run = f"quarter {args.period}" if "Q" in args.period else f"month {args.period}"
        raise UserError(f"no published draft of {args.report_kind} for {args.period}"
                        f"{' with manifest ' + args.manifest if args.manifest else ''}: run it first "
                        f"(`postloan run {run}`), see `postloan reports status`")
    return drafts


def cmd_decide(args: argparse.Namespace) -> int:
    """approve / reject: the checker's decision, written with the checker's own S3 identity and logged."""
    from plugins.reports import approval
    from plugins.reports.approval import period_end

    _check_period(args.report_kind, args.period)
    session = _session(args)  # the role of the credentials in use; --as must agree
    target = f"{args.report_kind}/{args.period}"
    session.require("approve", target)  # a role without `approve` is refused here, and the refusal logged
    archive, cfg = session.archive, cli_config()
    now = datetime.now(timezone.utc)
    results = []
    for draft in _drafts_to_decide(archive, args):
        if approval.status(archive, draft) == "delivered":
            raise UserError(f"{draft.describe()} was approved and delivered already; a delivered report is final")
        checker = {"user": args.user, "role": session.role, "access_key": session.access_key}
        try:
            record = approval.record_decision(archive, draft, args.decision, args.reason, checker,
                                              approval.maker_of(archive, draft, cfg.institution.preparer),
                                              now, period_end(args.period))
        except approval.ApprovalError as exc:
            raise UserError(str(exc)) from None
        session.log("approve" if args.decision == "approved" else "reject", target,
                    {"manifest": draft.manifest_key, "decision_key": record["key"],
                     "decision_sha256": record["sha256"]})
        results.append({"draft": draft.describe(), "decision": args.decision, "key": record["key"],
                        "sha256": record["sha256"]})
    for row in results:
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            print(f"{row['decision']} {row['draft']} — recorded s3://{archive.bucket}/{row['key']}")
    if not args.json and args.decision == "approved":
        print("the pipeline delivers approved reports (sensor report_approval_sensor, or `postloan reports "
              "deliver` with the pipeline's credentials)", file=sys.stderr)
    return 0


def cmd_deliver(args: argparse.Namespace) -> int:
    if args.report_kind and args.period:
        _check_period(args.report_kind, args.period)
    from plugins.reports.approval import ApprovalError, deliver_pending

    archive = _pipeline_archive()
    try:
        delivered = deliver_pending(archive, cli_config().institution.name, args.report_kind, args.period)
    except ApprovalError as exc:
        raise UserError(str(exc)) from None
    for row in delivered:
        print(json.dumps(row, ensure_ascii=False) if args.json else
              f"delivered {row['draft']} → s3://{archive.bucket}/{row['release']}")
    from assets.publications import publish_releases

    # the publisher plugins (config/plugins.yaml) get what is delivered, each file once
    handed = [r for r in publish_releases(archive, cli_config().plugins) if r["status"] == "delivered"]
    if not args.json:
        print(f"{len(delivered)} report pack(s) delivered; {len(handed)} file(s) handed to publishers",
              file=sys.stderr)
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    """Download the period's delivered packs (or drafts), each file checked against its manifest's hash."""
    from plugins.archive import sha256_hex
    from plugins.reports import approval

    _check_period(args.report_kind, args.period)
    session = _session(args)  # in the role of the credentials in use, logged
    target = f"{args.report_kind}/{args.period}"
    session.require("get", target)
    archive = session.archive
    drafts = approval.current_drafts(archive, args.report_kind, args.period)
    session.log("get", target, {"pack": "draft" if args.draft else "delivered", "drafts": len(drafts)})
    if not drafts:
        raise UserError(f"nothing of {args.report_kind} {args.period} is published: run it first, see "
                        "`postloan reports status`")
    args.output.mkdir(parents=True, exist_ok=True)
    written = []
    for draft in drafts:
        if args.draft:
            files = {f.file_name: (f.object_key, f.sha256) for f in draft.files}
            manifest_name, manifest_bytes = f"manifest_{draft.manifest_sha256[:12]}.json", \
                archive.store.get(archive.bucket, draft.manifest_key)
        else:
            release = approval.release_of(archive, draft)
            if release is None:
                state = approval.status(archive, draft)
                raise UserError(f"{draft.describe()} is {state}, not delivered: only an approved report is "
                                f"final; approve it (`postloan reports approve {args.report_kind} {args.period} "
                                "--reason WHY` as a role that may approve), or fetch the draft with --draft")
            files = {name: (f["key"], f["sha256"]) for name, f in release["files"].items()}
            manifest_name = f"release_{draft.manifest_sha256[:12]}.json"
            manifest_bytes = archive.store.get(archive.bucket, release["key"])
        from pipelines.progress import progress as bar

        for name, (key, digest) in bar(sorted(files.items()), total=len(files), desc="download", unit="file",
                                       json_output=args.json):
            data = archive.store.get(archive.bucket, key)
            if sha256_hex(data) != digest:
                raise UserError(f"s3://{archive.bucket}/{key} does not match its manifest's hash {digest[:12]}…; "
                                "nothing more was written: run `postloan archive audit --as ROLE --reason WHY`")
            (args.output / name).write_bytes(data)
            written.append({"file": str(args.output / name), "sha256": digest, "bytes": len(data)})
        (args.output / manifest_name).write_bytes(manifest_bytes)
        written.append({"file": str(args.output / manifest_name), "sha256": sha256_hex(manifest_bytes),
                        "bytes": len(manifest_bytes)})
    for row in written:
        print(json.dumps(row, ensure_ascii=False) if args.json else f"{row['file']}  sha256 {row['sha256'][:12]}…  ok")
    return 0
