"""`postloan archive ...`: find, get, verify, inputs; holds, retention, audit, catalog rebuild, audit bundles
and the access log.

Every command that reads or changes the archive runs as a person (--user, default $POSTLOAN_USER or the
login name) in a role for a reason (--reason), and is written to the append-only access log. The role is the
one whose S3 identity the credentials in use are (config/access.yaml, plugins/archive/identities.py), which the
object store enforces; --as states it and is refused when it disagrees. `verify-bundle` needs nothing but the
file. A hash is a document's or a published report's SHA-256, a unique prefix of it (the demo prints 12
digits), or the s3:// URL printed for it.
`hold`, `release` and `extend` record a request (plugins/archive/holds.py HoldRequests) that only the
pipeline's identity applies (`holds --apply`, or the apply_hold_requests job): the risk officer's credentials
set no legal-hold or retention flag.
Errors are pipelines/cli_errors.py's: one line, exit code 2.
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from dataclasses import asdict
from datetime import datetime, time, timezone
from pathlib import Path

from pipelines import cli_errors as types
from pipelines.cli_errors import UserError, cli_config, require_object_store

# The role is the S3 identity's whose credentials are in use (POSTLOAN_S3_ACCESS_KEY/SECRET_KEY; unset, the
# local server's pipeline identity): --as (or $POSTLOAN_ROLE) only states it, and is refused when it disagrees.
# The commands that predate access control (find, get, verify, inputs) need neither --as nor --reason.
DEFAULT_ROLE = os.environ.get("POSTLOAN_ROLE") or None
DEFAULT_REASON = "command line lookup (no reason given)"
REPORT_KINDS = ("management_report", "regulatory_return")


def open_archive():
    """The archive of config/storage.yaml (and its environment overrides), once its object store answers."""
    from pipelines import settings
    from plugins.archive import Archive, Catalog, ObjectStore, s3_settings

    cfg = cli_config()
    s3 = s3_settings(cfg.storage)
    require_object_store(s3.endpoint)
    return Archive(ObjectStore(s3), Catalog(settings.catalog_url(cfg.storage.catalog_url)), cfg.retention)


def _identity(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--as", dest="role", required=required, default=None if required else DEFAULT_ROLE,
                        type=types.role, help="role from config/access.yaml: the role of the S3 credentials in use "
                                              "(refused when it is another)")
    parser.add_argument("--reason", required=required, default=None if required else DEFAULT_REASON,
                        help="why (recorded in the access log)")
    parser.add_argument("--user", default=os.environ.get("POSTLOAN_USER") or getpass.getuser(),
                        help="who (default: $POSTLOAN_USER or the login name)")


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="for scripts: JSON on stdout (one object a line), no summary line on stderr")


def _scope(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--hash", type=types.sha256_prefix, help="one document (SHA-256 or a unique prefix)")
    group.add_argument("--contract", help="every document of a contract")
    group.add_argument("--borrower", help="every document of a borrower")


def register_archive_commands(sub: argparse._SubParsersAction) -> None:
    """Add `postloan archive` and its subcommands to the top-level command line (pipelines/cli.py)."""
    archive = sub.add_parser("archive", help="search, fetch and verify the archive; holds, audits, bundles, log")
    actions = archive.add_subparsers(dest="action", required=True)
    find = actions.add_parser("find", help="documents by borrower, contract, class, period, hash or status "
                                           "(JSON lines)")
    find.add_argument("--borrower")
    find.add_argument("--contract")
    find.add_argument("--class", dest="doc_class")
    find.add_argument("--period", type=types.month, help="YYYY-MM")
    find.add_argument("--hash", type=types.hex_prefix, help="SHA-256 or a prefix of it")
    find.add_argument("--status", choices=["archived", "quarantined"])
    get = actions.add_parser("get", help="fetch one document or published report by hash (verified)")
    get.add_argument("hash", type=types.sha256_prefix,
                     help="SHA-256, a unique prefix (the demo prints 12 digits), or the s3:// URL printed for it")
    get.add_argument("-o", "--output", type=types.output_file, help="write here (default: stdout)")
    verify = actions.add_parser("verify", help="re-hash a stored document or report against its catalogued hash")
    verify.add_argument("hash", type=types.sha256_prefix)
    inputs = actions.add_parser("inputs", help="what a published report was built from (its manifest)")
    inputs.add_argument("report_kind", choices=REPORT_KINDS)
    inputs.add_argument("period", type=types.month_or_quarter, help="YYYY-MM, or YYYYQn for a regulatory return")
    for parser in (find, get, verify, inputs):
        _identity(parser, required=False)
        _json_flag(parser)
        parser.set_defaults(func=cmd_logged_lookup)

    hold = actions.add_parser("hold", help="request a legal hold (litigation 诉讼, disposal 处置); the pipeline "
                                           "applies it (archive holds --apply)")
    hold.add_argument("--kind", required=True, help="litigation | disposal (retention.yaml hold_kinds)")
    _scope(hold)
    release = actions.add_parser("release", help="request the release of a legal hold (applied by the pipeline)")
    release.add_argument("hold_id")
    holds = actions.add_parser("holds", help="list legal holds; --pending / --apply the requests not yet applied")
    holds.add_argument("--active", action="store_true")
    holds.add_argument("--pending", action="store_true", help="list the hold and retention requests not yet applied")
    holds.add_argument("--apply", action="store_true",
                       help="apply the pending requests (only with the pipeline's credentials)")
    _json_flag(holds)
    extend = actions.add_parser("extend", help="request a retention extension (shortening is refused; applied by "
                                               "the pipeline)")
    _scope(extend)
    extend.add_argument("--until", required=True, type=types.day,
                        help="new retain-until date, YYYY-MM-DD (UTC midnight)")
    audit = actions.add_parser("audit", help="integrity audit: re-hash objects, report mismatch/missing/orphan")
    audit.add_argument("--sample", action="store_true", help="a random sample instead of every object")
    audit.add_argument("--confidence", type=types.fraction, help="sample: default from retention.yaml")
    audit.add_argument("--rate", type=types.fraction,
                       help="sample: corruption rate to detect; default from retention.yaml")
    audit.add_argument("--max-objects", type=types.positive_int, help="stop after this many (resume with a later run)")
    audit.add_argument("--restart", action="store_true", help="start afresh instead of resuming an unfinished audit")
    rebuild = actions.add_parser("rebuild-catalog", help="rebuild a catalog from the object store alone")
    rebuild.add_argument("--into", required=True, type=types.catalog_url, help="SQLAlchemy URL of an empty catalog to fill")
    rebuild.add_argument("--compare", action="store_true", help="then compare it with the live catalog")
    bundle = actions.add_parser("bundle", help="export an audit bundle (zip with a manifest)")
    group = bundle.add_mutually_exclusive_group(required=True)
    group.add_argument("--loan", metavar="CONTRACT")
    group.add_argument("--borrower")
    group.add_argument("--return", dest="report", nargs=2, metavar=("KIND", "PERIOD"),
                       help="e.g. regulatory_return 2026Q3")
    bundle.add_argument("-o", "--output", required=True, type=types.output_file)
    verify_bundle = actions.add_parser("verify-bundle", help="verify an audit bundle offline (no server)")
    verify_bundle.add_argument("file", type=types.existing_file)
    verify_bundle.set_defaults(func=cmd_verify_bundle)
    grants = actions.add_parser("catalog-grants", help="print the SQL that gives each role its own PostgreSQL user "
                                                       "with grants to match (for the database owner)")
    grants.add_argument("--prefix", default="postloan_", help="database user name prefix (default postloan_)")
    grants.add_argument("--database", default="postloan", help="the catalog's database (default postloan)")
    grants.set_defaults(func=cmd_catalog_grants)
    restore = actions.add_parser("restore-config",
                                 help="restore the config/ folder a report was made with (its manifest's "
                                      "configuration input) into a new folder")
    restore.add_argument("hash", type=types.sha256_prefix,
                         help="SHA-256 (or unique prefix) of the archived config_snapshot.json")
    restore.add_argument("--into", required=True, type=types.new_folder, help="a new or empty folder")
    redeliver = actions.add_parser("redeliver", help="put a month's delivery back into the inbox from the "
                                                     "archive alone (to re-run the month)")
    redeliver.add_argument("period", metavar="MONTH", type=types.month, help="YYYY-MM")
    log = actions.add_parser("log", help="read, verify or export the access log")
    log.add_argument("--actor")
    log.add_argument("--target")
    log.add_argument("--export", action="store_true", help="archive the entries not yet exported")
    _json_flag(log)
    for parser, func in ((hold, cmd_hold), (release, cmd_release), (holds, cmd_holds), (extend, cmd_extend),
                         (audit, cmd_audit), (rebuild, cmd_rebuild), (bundle, cmd_bundle), (log, cmd_log),
                         (restore, cmd_restore_config), (redeliver, cmd_redeliver)):
        _identity(parser)
        parser.set_defaults(func=func)


def _session(args: argparse.Namespace):
    """The archive in the role of the S3 credentials in use (plugins/archive/access.py authenticated_role)."""
    from plugins.archive.access import AccessPolicy, ArchiveSession

    archive = open_archive()
    session = ArchiveSession.authenticated(archive, AccessPolicy(cli_config().access), args.user, args.reason)
    if args.role is not None and args.role != session.role:
        raise UserError(f"--as {args.role} disagrees with the S3 credentials in use, which are the {session.role} "
                        f"identity's: act as {args.role} with its credentials (for the local server: eval \"$("
                        f"postloan s3 credentials {args.role})\"), or give --as {session.role}")
    args.role = session.role
    return session


def resolve(archive, text: str):
    """The one catalogued file `text` names: (sha256, DocumentRecord or None, PublicationRecord or None).

    `text` is a full SHA-256, a unique prefix (documents and published reports are looked up alike: reports
    are catalogued apart from documents), or an s3:// URL the pipeline printed."""
    if text.startswith("s3://"):
        return _resolve_url(archive, text)
    documents = archive.catalog.find_documents(sha256=text)
    reports = archive.catalog.publications_by_hash(text)
    digests = sorted({d.sha256 for d in documents} | {r.sha256 for r in reports})
    if not digests:
        raise UserError(f"no archived document or published report has a hash starting {text}: look documents up "
                        f"with `postloan archive find --hash {text[:12]}`, reports with `postloan archive inputs "
                        "KIND PERIOD`")
    if len(digests) > 1:
        shown = ", ".join(d[:len(text) + 4] + "…" for d in digests[:3])
        raise UserError(f"hash prefix {text} is ambiguous: {len(digests)} archived files start with it ({shown}"
                        f"{', …' if len(digests) > 3 else ''}); give more digits")
    digest = digests[0]
    document = next((d for d in documents if d.sha256 == digest), None)
    return digest, document, None if document else next(r for r in reports if r.sha256 == digest)


def _resolve_url(archive, url: str):
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if bucket != archive.bucket:
        raise UserError(f"{url} is not in the archive bucket {archive.bucket}; give a URL under "
                        f"s3://{archive.bucket}/ or the file's hash")
    parts = key.removeprefix(archive.root).split("/")
    if parts[0] == "reports" and len(parts) >= 5:
        matches = [r for r in archive.catalog.publications_by_hash(parts[3].lower()) if r.object_key == key]
        if matches:
            return matches[0].sha256, None, matches[0]
    elif parts[0] in ("documents", "quarantine"):
        digest = parts[-1].split(".")[0].lower()
        document = archive.catalog.document(digest)
        if document is not None and document.object_key == key:
            return digest, document, None
    elif parts[0] == "manifests":
        raise UserError(f"{url} is a report's manifest: print it with `postloan archive inputs KIND PERIOD`")
    raise UserError(f"the catalog has no archived file at {url}; look it up by hash instead")


def _document(archive, text: str):
    """A catalogued document (holds, retention and restores apply to documents, not to published reports)."""
    digest, document, report = resolve(archive, text)
    if document is None:
        raise UserError(f"{text} is the published report {report.report_kind}/{report.period}/{report.file_name}; "
                        "this command takes a document's hash (`postloan archive find`)")
    return document


def _read(session, text: str, action: str) -> tuple[str, str, str, bytes, str]:
    """(sha256, kind, name, stored bytes, their SHA-256) of the document or report `text` names; the role is
    checked and the read logged (`get` or `verify`), as the session does for documents."""
    from plugins.archive import sha256_hex

    archive = session.archive
    digest, document, report = resolve(archive, text)
    if document is not None:
        if action == "get":
            data = session.get(digest)
            return digest, "document", document.original_name or "", data, sha256_hex(data)
        ok, actual = session.verify(digest)
        return digest, "document", document.original_name or "", b"", actual
    session.require(action, digest)
    data = archive.store.get(archive.bucket, report.object_key, report.version_id)
    actual = sha256_hex(data)
    session.log(action, digest, {"object_key": report.object_key, "version_id": report.version_id,
                                 "report": f"{report.report_kind}/{report.period}/{report.file_name}",
                                 "bytes": len(data), "hash_ok": actual == digest})
    return digest, "report", report.file_name, data, actual


def cmd_logged_lookup(args: argparse.Namespace) -> int:
    if args.action == "get" and args.json and not args.output:
        raise UserError("archive get --json needs -o FILE: without it the file's bytes are what goes to stdout")
    if args.action == "get" and not args.output and sys.stdout.isatty():
        raise UserError("refusing to write the file's bytes to the terminal: add -o FILE, or redirect stdout")
    session = _session(args)
    if args.action == "find":
        rows = session.find(borrower_id=args.borrower, contract_id=args.contract, doc_class=args.doc_class,
                            period=args.period, sha256=args.hash, status=args.status)
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        if not args.json:
            print(f"{len(rows)} document(s)", file=sys.stderr)
        return 0
    if args.action == "get":
        digest, kind, name, data, actual = _read(session, args.hash, "get")
        ok = actual == digest
        Path(args.output).write_bytes(data) if args.output else sys.stdout.buffer.write(data)
        if args.json:
            print(json.dumps({"sha256": digest, "kind": kind, "name": name, "bytes": len(data),
                              "output": str(args.output), "hash_ok": ok}, ensure_ascii=False))
        if not ok:
            print(f"warning: the stored bytes of {digest[:12]}… do not match their hash; "
                  "run `postloan archive audit --as ROLE --reason WHY`", file=sys.stderr)
            return 2
        return 0
    if args.action == "verify":
        digest, kind, name, _, actual = _read(session, args.hash, "verify")
        ok = actual == digest
        if args.json:
            print(json.dumps({"sha256": digest, "kind": kind, "name": name, "ok": ok, "actual": actual},
                             ensure_ascii=False))
        else:
            print(("OK " if ok else "MISMATCH ") + actual)
        return 0 if ok else 2
    return _inputs(session, args)


def _inputs(session, args: argparse.Namespace) -> int:
    quarterly = "Q" in args.period
    if (args.report_kind == "regulatory_return") != quarterly:
        form = "a quarter, YYYYQn (e.g. 2026Q3)" if args.report_kind == "regulatory_return" else \
            "a month, YYYY-MM (e.g. 2026-09)"
        raise UserError(f"{args.report_kind} is filed for {form}, not {args.period}")
    target = f"{args.report_kind}/{args.period}"
    session.require("inputs", target)
    session.log("inputs", target, {})
    publications = session.archive.catalog.find_publications(args.report_kind, args.period)
    if not publications:
        run = f"quarter {args.period}" if quarterly else f"month {args.period}"
        raise UserError(f"no publication of {args.report_kind} for {args.period} in the archive: run it first "
                        f"(`postloan run {run}`)")
    from plugins.archive.archive import ForgedManifestError

    for manifest_key in sorted({p.manifest_key for p in publications}):
        try:  # a manifest whose bytes do not hash to the SHA-256 in its name is refused, not printed
            manifest = session.archive.manifest(manifest_key)
        except ForgedManifestError as exc:
            session.log("denied:inputs", target, {"manifest": manifest_key, "problem": "hash does not match name"})
            raise UserError(str(exc)) from None
        print(json.dumps({"manifest": manifest_key, **manifest}, ensure_ascii=False,
                         indent=None if args.json else 2))
    return 0


def cmd_restore_config(args: argparse.Namespace) -> int:
    from plugins.config_snapshot import restore_config_snapshot

    session = _session(args)
    snapshot = session.get(_document(session.archive, args.hash).sha256)  # access-checked and logged
    digest = restore_config_snapshot(snapshot, args.into)
    print(f"restored configuration {digest} into {args.into}; run with POSTLOAN_CONFIG_DIR={args.into}")
    return 0


def cmd_redeliver(args: argparse.Namespace) -> int:
    from plugins.archive.redeliver import delivery_from_archive
    from plugins.inbox import deliver

    session = _session(args)
    target = f"delivery/{args.period}"
    session.require("get", target)
    if not session.archive.catalog.receipts(args.period):
        raise UserError(f"the archive has no delivery recorded for {args.period}: only a month that was delivered "
                        f"and run can be redelivered (see `postloan archive find --period {args.period}`)")
    tables, documents = delivery_from_archive(session.archive, args.period)
    written = deliver(session.archive.store, args.period, tables, documents)
    session.log("get", target, {"tables": sorted(tables), "documents": len(documents)})
    print(f"redelivered {args.period} from the archive: {len(tables)} core tables, {len(documents)} documents "
          f"({written} inbox objects); run it with `postloan run month {args.period}`")
    return 0


def _targets(session, args: argparse.Namespace) -> tuple[str, str]:
    if args.hash:
        return "document", _document(session.archive, args.hash).sha256
    return ("contract", args.contract) if args.contract else ("borrower", args.borrower)


def cmd_hold(args: argparse.Namespace) -> int:
    """Record the request (WORM under hold-requests/, and in the access log); the pipeline applies it."""
    from plugins.archive.holds import HoldRequests

    session = _session(args)
    scope, target = _targets(session, args)
    session.require("hold", f"{scope}:{target}")
    request = HoldRequests(session.archive).request_place(args.kind, scope, target, args.reason, args.user, args.role)
    covered = len(session.archive.catalog.documents_in_scope(scope, target))
    session.log("hold", f"{scope}:{target}", {"hold_id": request.body["hold_id"], "kind": args.kind,
                                              "documents": covered, **_requested(request)})
    print(json.dumps({"hold_id": request.body["hold_id"], "status": "requested", "documents_in_scope": covered,
                      **_requested(request)}))
    if covered == 0:
        print(f"warning: no archived document matches {scope} {target} yet; documents archived later will be held",
              file=sys.stderr)
    return 0


def _requested(request) -> dict:
    return {"request": request.key, "request_sha256": request.sha256}


def cmd_release(args: argparse.Namespace) -> int:
    from plugins.archive.holds import HoldRequests

    session = _session(args)
    session.require("release", args.hold_id)
    request = HoldRequests(session.archive).request_release(args.hold_id, args.reason, args.user, args.role)
    session.log("release", args.hold_id, _requested(request))
    print(json.dumps({"hold_id": args.hold_id, "status": "requested", **_requested(request)}))
    return 0


def cmd_holds(args: argparse.Namespace) -> int:
    session = _session(args)
    if args.apply or args.pending:
        return _hold_requests(session, args.apply)
    session.require("find", "holds")
    holds = session.archive.catalog.holds(active_only=args.active)
    session.log("find", "holds", {"results": len(holds)})
    archive = session.archive
    for hold in holds:
        row = asdict(hold)
        if hold.active:  # what the server says: a hold removed through the S3 API behind postloan's back shows
            covered = archive.catalog.documents_in_scope(hold.scope, hold.target)
            row["documents_not_held_by_server"] = sorted(
                d.sha256 for d in covered if not archive.store.legal_hold_of(archive.bucket, d.object_key, d.version_id))
        if session.masked and hold.scope == "borrower":
            row["target"] = session.policy.mask_row({"borrower_id": hold.target})["borrower_id"]
        print(json.dumps(row, ensure_ascii=False))
    return 0


def _hold_requests(session, apply: bool) -> int:
    """List, or (as the pipeline) apply, the pending hold and retention requests; each applied one is logged."""
    from plugins.archive.holds import HoldRequests, apply_and_log
    from plugins.archive.identities import PIPELINE

    if not apply:
        session.require("find", "hold-requests")
        pending = HoldRequests(session.archive).pending()
        session.log("find", "hold-requests", {"results": len(pending)})
        for request in pending:
            print(json.dumps({**request.body, **_requested(request)}, ensure_ascii=False))
        return 0
    if session.role != PIPELINE:
        raise UserError(f"only the pipeline's identity applies hold requests; the credentials in use are the "
                        f"{session.role} identity's (the server would refuse the legal hold)")
    outcomes = apply_and_log(session.archive, session.actor, session.reason, session.access_key)
    for outcome in outcomes:
        print(json.dumps(outcome, ensure_ascii=False))
    failed = sum(not o["applied"] for o in outcomes)
    print(f"{len(outcomes) - failed} request(s) applied, {failed} refused", file=sys.stderr)
    return 1 if failed else 0


def cmd_extend(args: argparse.Namespace) -> int:
    from plugins.archive.holds import HoldRequests

    session = _session(args)
    scope, target = _targets(session, args)
    session.require("extend", f"{scope}:{target}")
    until = datetime.combine(args.until, time(0), tzinfo=timezone.utc)
    records = session.archive.catalog.documents_in_scope(scope, target)
    if not records:
        raise LookupError(f"no archived document for {scope} {target}")
    # Check every document first, so a refusal records no request.
    for record in records:
        current = datetime.fromisoformat(record.retain_until) if record.retain_until else None
        if current and until < current:
            from plugins.archive.archive import RetentionShorteningError

            raise RetentionShorteningError(
                f"refused: document {record.sha256[:12]}… is retained until {current.isoformat()}; "
                f"{until.isoformat()} would shorten it. Retention can only be extended.")
    request = HoldRequests(session.archive).request_extend(records, until, args.reason, scope, target, args.user,
                                                           args.role)
    session.log("extend", f"{scope}:{target}", {"until": until.isoformat(), "documents": len(records),
                                                **_requested(request)})
    print(json.dumps({"status": "requested", "until": until.isoformat(), "documents": len(records),
                      **_requested(request)}))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from plugins.archive.audit import IntegrityAudit

    session = _session(args)
    session.require("audit", "archive")
    settings = cli_config().retention.integrity_audit

    def progress(i: int, n: int, key: str) -> None:
        if i == n or i % settings.batch_size == 0:
            print(f"audited {i}/{n}", file=sys.stderr, flush=True)

    report = IntegrityAudit(session.archive).run(
        mode="sample" if args.sample else settings.mode, confidence=args.confidence or settings.confidence,
        corruption_rate=args.rate or settings.corruption_rate, batch_size=settings.batch_size,
        resume=not args.restart, max_objects=args.max_objects, progress=progress)
    session.log("audit", report.audit_id, {"checked": report.checked, "findings": report.counts()})
    for finding in report.findings:
        print(json.dumps(finding, ensure_ascii=False))
    print(report.statement + ("" if report.finished else f" — unfinished ({report.checked}/{report.planned}), "
                              "run again to resume"), file=sys.stderr)
    return 0 if report.finished and not report.findings else 1


def cmd_rebuild(args: argparse.Namespace) -> int:
    from plugins.archive import Catalog
    from plugins.archive.rebuild import catalog_differences, rebuild_catalog

    session = _session(args)
    session.require("rebuild", args.into)
    target = Catalog(args.into)
    if any(target.dump().values()):
        raise LookupError(f"refused: catalog {args.into} is not empty; rebuild into an empty one")
    report = rebuild_catalog(session.archive, target)
    session.log("rebuild", args.into, report.as_dict())
    print(json.dumps(report.as_dict(), ensure_ascii=False))
    if args.compare:
        differences = catalog_differences(session.archive.catalog, target)
        print(json.dumps({"equal": not differences, "differences": differences}, ensure_ascii=False, default=str))
        return 0 if not differences else 1
    return 0


def cmd_bundle(args: argparse.Namespace) -> int:
    from plugins.archive.bundle import BundleSubject, build_bundle

    session = _session(args)
    if args.loan:
        subject = BundleSubject("loan", args.loan)
    elif args.borrower:
        subject = BundleSubject("borrower", args.borrower)
    else:
        kind, period = args.report
        if kind not in REPORT_KINDS:
            raise UserError(f"unknown report kind {kind!r} for --return: choose {' or '.join(REPORT_KINDS)}")
        period = types.month_or_quarter(period)  # an ArgumentTypeError is one line too (cli_errors.guarded)
        subject = BundleSubject("return", f"{kind}/{period}")
    session.require("bundle", f"{subject.kind}:{subject.target}")
    data = build_bundle(session.archive, session.archive.store, subject, args.user, args.role,
                        mask_row=session.policy.mask_row if session.masked else None)
    Path(args.output).write_bytes(data)
    from plugins.archive.bundle import verify_bundle

    check = verify_bundle(data)
    session.log("bundle", f"{subject.kind}:{subject.target}", {"output": str(args.output), "bytes": len(data),
                                                               "manifest_sha256": check.manifest_sha256})
    print(json.dumps({"bundle": str(args.output), "files": check.files_checked, "manifest_sha256": check.manifest_sha256}))
    return 0


def cmd_catalog_grants(args: argparse.Namespace) -> int:
    """The grants of `plugins/archive/catalog.py` for the roles of access.yaml, one statement a line. Connects to
    nothing: the database owner runs them (after `CREATE ROLE <prefix><role> LOGIN PASSWORD ...` per role)."""
    from plugins.archive.catalog import catalog_grants

    if not args.prefix.replace("_", "").isalnum() or not args.database.replace("_", "").isalnum():
        raise UserError("--prefix and --database take letters, digits and underscores only")
    roles = {name: list(role.actions) for name, role in cli_config().access.roles.items()}
    for statement in catalog_grants(roles, args.prefix, args.database):
        print(statement + ";")
    return 0


def cmd_verify_bundle(args: argparse.Namespace) -> int:
    from plugins.archive.bundle import verify_bundle

    result = verify_bundle(Path(args.file).read_bytes())
    for problem in result.problems:
        print(problem, file=sys.stderr)
    print(f"{'OK' if result.ok else 'FAILED'}: {result.files_checked} files, manifest sha256 {result.manifest_sha256}")
    return 0 if result.ok else 1


def cmd_log(args: argparse.Namespace) -> int:
    from plugins.archive.access import export_access_log, verify_access_chain, verify_against_anchors

    session = _session(args)
    if args.export:
        session.require("export_log", "access_log")
        session.log("export_log", "access_log", {})
        exported = export_access_log(session.archive)
        print(json.dumps(exported or {"exported": 0}))
        return 0
    entries = session.log_entries(actor=args.actor, target=args.target)
    for entry in entries:
        print(json.dumps(asdict(entry), ensure_ascii=False))
    if not args.actor and not args.target:
        # The chain alone cannot tell a consistent rewrite (triggers dropped, every hash recomputed) from the
        # truth; the exports archived under object lock can.
        problems = verify_access_chain(entries)
        anchors = verify_against_anchors(session.archive, entries)
        problems += anchors.problems
        print("chain intact" if not problems else "\n".join(problems), file=sys.stderr)
        print(anchors.summary(), file=sys.stderr)
        return 0 if not problems else 1
    return 0
