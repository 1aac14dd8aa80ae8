"""`postloan archive ...`: holds, retention, audit, catalog rebuild, audit bundles and the access log.

Every command that reads or changes the archive runs as a person (--user, default $POSTLOAN_USER or the
login name) in a role (--as, config/access.yaml) for a reason (--reason), and is written to the
append-only access log. `verify-bundle` needs nothing but the file.
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

# Defaults for the commands that predate access control (find, get, verify, inputs), so scripts keep
# working: they run as $POSTLOAN_ROLE (else data_engineer, who sees identifiers masked) and are logged.
DEFAULT_ROLE = os.environ.get("POSTLOAN_ROLE", "data_engineer")
DEFAULT_REASON = "command line lookup (no reason given)"


def _identity(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--as", dest="role", required=required, default=None if required else DEFAULT_ROLE,
                        help="role from config/access.yaml")
    parser.add_argument("--reason", required=required, default=None if required else DEFAULT_REASON,
                        help="why (recorded in the access log)")
    parser.add_argument("--user", default=os.environ.get("POSTLOAN_USER") or getpass.getuser(),
                        help="who (default: $POSTLOAN_USER or the login name)")


def _scope(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--hash", help="one document (SHA-256 or a unique prefix)")
    group.add_argument("--contract", help="every document of a contract")
    group.add_argument("--borrower", help="every document of a borrower")


def register_archive_commands(actions: argparse._SubParsersAction) -> None:
    """Add the audit-archive subcommands to `postloan archive`, and logging to the older ones."""
    for name in ("find", "get", "verify", "inputs"):
        _identity(actions.choices[name], required=False)
        actions.choices[name].set_defaults(func=cmd_logged_lookup)

    hold = actions.add_parser("hold", help="place a legal hold (litigation 诉讼, disposal 处置)")
    hold.add_argument("--kind", required=True, help="litigation | disposal (retention.yaml hold_kinds)")
    _scope(hold)
    release = actions.add_parser("release", help="release a legal hold")
    release.add_argument("hold_id")
    holds = actions.add_parser("holds", help="list legal holds")
    holds.add_argument("--active", action="store_true")
    extend = actions.add_parser("extend", help="extend retention (shortening is refused)")
    _scope(extend)
    extend.add_argument("--until", required=True, help="new retain-until date, YYYY-MM-DD (UTC midnight)")
    audit = actions.add_parser("audit", help="integrity audit: re-hash objects, report mismatch/missing/orphan")
    audit.add_argument("--sample", action="store_true", help="a random sample instead of every object")
    audit.add_argument("--confidence", type=float, help="sample: default from retention.yaml")
    audit.add_argument("--rate", type=float, help="sample: corruption rate to detect; default from retention.yaml")
    audit.add_argument("--max-objects", type=int, help="stop after this many (resume with a later run)")
    audit.add_argument("--restart", action="store_true", help="start afresh instead of resuming an unfinished audit")
    rebuild = actions.add_parser("rebuild-catalog", help="rebuild a catalog from the object store alone")
    rebuild.add_argument("--into", required=True, help="SQLAlchemy URL of an empty catalog to fill")
    rebuild.add_argument("--compare", action="store_true", help="then compare it with the live catalog")
    bundle = actions.add_parser("bundle", help="export an audit bundle (zip with a manifest)")
    group = bundle.add_mutually_exclusive_group(required=True)
    group.add_argument("--loan", metavar="CONTRACT")
    group.add_argument("--borrower")
    group.add_argument("--return", dest="report", nargs=2, metavar=("KIND", "PERIOD"),
                       help="e.g. regulatory_return 2026Q3")
    bundle.add_argument("-o", "--output", required=True)
    verify_bundle = actions.add_parser("verify-bundle", help="verify an audit bundle offline (no server)")
    verify_bundle.add_argument("file")
    verify_bundle.set_defaults(func=cmd_verify_bundle)
    restore = actions.add_parser("restore-config",
                                 help="restore the config/ folder a report was made with (its manifest's "
                                      "configuration input) into a new folder")
    restore.add_argument("hash", help="SHA-256 (or unique prefix) of the archived config_snapshot.json")
    restore.add_argument("--into", required=True, help="a new or empty folder")
    redeliver = actions.add_parser("redeliver", help="put a month's delivery back into the inbox from the "
                                                     "archive alone (to re-run the month)")
    redeliver.add_argument("period", metavar="YYYY-MM")
    log = actions.add_parser("log", help="read, verify or export the access log")
    log.add_argument("--actor")
    log.add_argument("--target")
    log.add_argument("--export", action="store_true", help="archive the entries not yet exported")
    for parser, func in ((hold, cmd_hold), (release, cmd_release), (holds, cmd_holds), (extend, cmd_extend),
                         (audit, cmd_audit), (rebuild, cmd_rebuild), (bundle, cmd_bundle), (log, cmd_log),
                         (restore, cmd_restore_config), (redeliver, cmd_redeliver)):
        _identity(parser)
        parser.set_defaults(func=func)


def _session(args: argparse.Namespace):
    from pipelines.cli import _archive, _config
    from plugins.archive.access import AccessPolicy, ArchiveSession

    return ArchiveSession(_archive(), AccessPolicy(_config().access), args.user, args.role, args.reason)


def _guarded(run):
    """Run a command body; access refusals and domain errors become a message and exit code 2."""
    from plugins.archive.access import AccessDenied
    from plugins.archive.archive import RetentionShorteningError
    from plugins.archive.holds import HoldError

    try:
        return run()
    except (AccessDenied, RetentionShorteningError, HoldError, LookupError) as exc:
        print(f"refused: {exc}" if not str(exc).startswith("refused") else str(exc), file=sys.stderr)
        return 2


def cmd_logged_lookup(args: argparse.Namespace) -> int:
    def run() -> int:
        session = _session(args)
        if args.action == "find":
            rows = session.find(borrower_id=args.borrower, contract_id=args.contract, doc_class=args.doc_class,
                                period=args.period, sha256=args.hash, status=args.status)
            for row in rows:
                print(json.dumps(row, ensure_ascii=False))
            print(f"{len(rows)} document(s)", file=sys.stderr)
            return 0
        if args.action == "get":
            data = session.get(args.hash)
            from plugins.archive import sha256_hex

            ok = sha256_hex(data) == session.archive._record(args.hash).sha256
            Path(args.output).write_bytes(data) if args.output else sys.stdout.buffer.write(data)
            if not ok:
                print("warning: stored bytes do not match the hash", file=sys.stderr)
                return 2
            return 0
        if args.action == "verify":
            ok, actual = session.verify(args.hash)
            print(("OK " if ok else "MISMATCH ") + actual)
            return 0 if ok else 2
        session.require("inputs", f"{args.report_kind}/{args.period}")
        session.log("inputs", f"{args.report_kind}/{args.period}", {})
        from pipelines.cli import cmd_archive

        return cmd_archive(args)
    return _guarded(run)


def cmd_restore_config(args: argparse.Namespace) -> int:
    def run() -> int:
        from plugins.config_snapshot import restore_config_snapshot

        snapshot = _session(args).get(args.hash)  # access-checked and logged like any archive read
        digest = restore_config_snapshot(snapshot, args.into)
        print(f"restored configuration {digest} into {args.into}; run with POSTLOAN_CONFIG_DIR={args.into}")
        return 0
    return _guarded(run)


def cmd_redeliver(args: argparse.Namespace) -> int:
    def run() -> int:
        from plugins.archive.redeliver import delivery_from_archive
        from plugins.inbox import deliver

        session = _session(args)
        target = f"delivery/{args.period}"
        session.require("get", target)
        tables, documents = delivery_from_archive(session.archive, args.period)
        written = deliver(session.archive.store, args.period, tables, documents)
        session.log("get", target, {"tables": sorted(tables), "documents": len(documents)})
        print(f"redelivered {args.period} from the archive: {len(tables)} core tables, {len(documents)} documents "
              f"({written} inbox objects); run it with `postloan run month {args.period}`")
        return 0
    return _guarded(run)


def _targets(session, args: argparse.Namespace) -> tuple[str, str]:
    if args.hash:
        return "document", session.archive._record(args.hash).sha256
    return ("contract", args.contract) if args.contract else ("borrower", args.borrower)


def cmd_hold(args: argparse.Namespace) -> int:
    def run() -> int:
        from plugins.archive.holds import LegalHolds

        session = _session(args)
        scope, target = _targets(session, args)
        session.require("hold", f"{scope}:{target}")
        hold, covered = LegalHolds(session.archive).place(args.kind, scope, target, args.reason, args.user, args.role)
        session.log("hold", f"{scope}:{target}", {"hold_id": hold.hold_id, "kind": args.kind, "documents": covered})
        print(json.dumps({"hold_id": hold.hold_id, "documents_held": covered, "record": hold.placed_key}))
        if covered == 0:
            print(f"warning: no archived document matches {scope} {target} yet; documents archived later will be held",
                  file=sys.stderr)
        return 0
    return _guarded(run)


def cmd_release(args: argparse.Namespace) -> int:
    def run() -> int:
        from plugins.archive.holds import LegalHolds

        session = _session(args)
        session.require("release", args.hold_id)
        hold, freed = LegalHolds(session.archive).release(args.hold_id, args.reason, args.user, args.role)
        session.log("release", args.hold_id, {"documents_released": freed})
        print(json.dumps({"hold_id": hold.hold_id, "released_at": hold.released_at, "documents_no_longer_held": freed}))
        return 0
    return _guarded(run)


def cmd_holds(args: argparse.Namespace) -> int:
    def run() -> int:
        session = _session(args)
        session.require("find", "holds")
        holds = session.archive.catalog.holds(active_only=args.active)
        session.log("find", "holds", {"results": len(holds)})
        for hold in holds:
            row = asdict(hold)
            if session.masked and hold.scope == "borrower":
                row["target"] = session.policy.mask_row({"borrower_id": hold.target})["borrower_id"]
            print(json.dumps(row, ensure_ascii=False))
        return 0
    return _guarded(run)


def cmd_extend(args: argparse.Namespace) -> int:
    def run() -> int:
        session = _session(args)
        scope, target = _targets(session, args)
        session.require("extend", f"{scope}:{target}")
        until = datetime.combine(datetime.strptime(args.until, "%Y-%m-%d").date(), time(0), tzinfo=timezone.utc)
        records = session.archive.catalog.documents_in_scope(scope, target)
        if not records:
            raise LookupError(f"no archived document for {scope} {target}")
        # Check every document first, so a refusal changes nothing.
        for record in records:
            current = datetime.fromisoformat(record.retain_until) if record.retain_until else None
            if current and until < current:
                from plugins.archive.archive import RetentionShorteningError

                raise RetentionShorteningError(
                    f"refused: document {record.sha256[:12]}… is retained until {current.isoformat()}; "
                    f"{until.isoformat()} would shorten it. Retention can only be extended.")
        for record in records:
            before, after = session.archive.extend_retention(record.sha256, until)
            print(json.dumps({"sha256": record.sha256, "before": before and before.isoformat(), "after": after.isoformat()}))
        session.log("extend", f"{scope}:{target}", {"until": until.isoformat(), "documents": len(records)})
        return 0
    return _guarded(run)


def cmd_audit(args: argparse.Namespace) -> int:
    def run() -> int:
        from pipelines.cli import _config
        from plugins.archive.audit import IntegrityAudit

        session = _session(args)
        session.require("audit", "archive")
        settings = _config().retention.integrity_audit

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
    return _guarded(run)


def cmd_rebuild(args: argparse.Namespace) -> int:
    def run() -> int:
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
    return _guarded(run)


def cmd_bundle(args: argparse.Namespace) -> int:
    def run() -> int:
        from plugins.archive.bundle import BundleSubject, build_bundle

        session = _session(args)
        if args.loan:
            subject = BundleSubject("loan", args.loan)
        elif args.borrower:
            subject = BundleSubject("borrower", args.borrower)
        else:
            subject = BundleSubject("return", "/".join(args.report))
        session.require("bundle", f"{subject.kind}:{subject.target}")
        data = build_bundle(session.archive, session.archive.store, subject, args.user, args.role,
                            mask_row=session.policy.mask_row if session.masked else None)
        Path(args.output).write_bytes(data)
        from plugins.archive.bundle import verify_bundle

        check = verify_bundle(data)
        session.log("bundle", f"{subject.kind}:{subject.target}", {"output": args.output, "bytes": len(data),
                                                                   "manifest_sha256": check.manifest_sha256})
        print(json.dumps({"bundle": args.output, "files": check.files_checked, "manifest_sha256": check.manifest_sha256}))
        return 0
    return _guarded(run)


def cmd_verify_bundle(args: argparse.Namespace) -> int:
    from plugins.archive.bundle import verify_bundle

    result = verify_bundle(Path(args.file).read_bytes())
    for problem in result.problems:
        print(problem, file=sys.stderr)
    print(f"{'OK' if result.ok else 'FAILED'}: {result.files_checked} files, manifest sha256 {result.manifest_sha256}")
    return 0 if result.ok else 1


def cmd_log(args: argparse.Namespace) -> int:
    def run() -> int:
        from plugins.archive.access import export_access_log, verify_access_chain

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
            problems = verify_access_chain(entries)
            print("chain intact" if not problems else "\n".join(problems), file=sys.stderr)
            return 0 if not problems else 1
        return 0
    return _guarded(run)
