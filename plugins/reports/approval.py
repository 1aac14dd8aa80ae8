"""Review and approval before release (maker-checker, 审批) of published reports.

A report the pipeline publishes is a **draft**: its files and manifest are archived (WORM) under
`reports/` and `manifests/` exactly as before, byte-identical on a re-run. A person in a role that may
`approve` (config/access.yaml), acting as that role's own S3 identity, then records a decision on the draft —
approved or rejected, with a reason — as a WORM object of its own:

    approvals/<kind>/<period>/<draft manifest sha256>/<decision sha256>.json

Only an approved draft is **final**: the pipeline delivers it (`deliver_approved`) into

    delivered/<kind>/<period>/<draft manifest sha256[:12]>/<file>      (the management PDF with its 审批页)
    delivered/<kind>/<period>/<draft manifest sha256[:12]>/release.json

`release.json` is the final manifest: the draft's manifest (every input's hash, config hash, code version),
the maker (the pipeline run that published the draft), the checker (who approved, in which role, with which
access key), the reason and the hash of every delivered file. A rejected draft is never delivered; a later
decision on the same draft supersedes an earlier one (the latest `decided_at` wins, both stay archived).

No Dagster import and no environment reads: the archive (and so the S3 identity it acts as) is an argument.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from plugins.archive.archive import Archive, retain_until, sha256_hex
from plugins.archive.catalog import PublicationRecord

# The report kinds a person signs off before they leave the institution (the loan-level classification and
# the data-quality evidence are records, not reports to management or the regulator).
APPROVAL_KINDS = ("management_report", "regulatory_return")
DECISIONS = {"approved": "批准", "rejected": "退回"}
APPROVALS_PREFIX = "approvals"
DELIVERED_PREFIX = "delivered"
RELEASE_MANIFEST = "release.json"


class ApprovalError(ValueError):
    """A decision that cannot be recorded (nothing to decide on, a maker deciding on their own draft …)."""


@dataclass(frozen=True)
class Draft:
    """One published manifest and its files: the unit a checker approves."""
    report_kind: str
    period: str
    manifest_key: str  # bucket-relative
    files: tuple[PublicationRecord, ...] = field(default_factory=tuple)

    @property
    def manifest_sha256(self) -> str:
        return self.manifest_key.rsplit("/", 1)[1].removesuffix(".json")

    @property
    def run_id(self) -> str | None:
        return self.files[0].run_id if self.files else None

    @property
    def file_names(self) -> tuple[str, ...]:
        return tuple(sorted(f.file_name for f in self.files))

    def describe(self) -> str:
        return f"{self.report_kind} {self.period} ({', '.join(self.file_names)}; manifest {self.manifest_sha256[:12]})"


def current_drafts(archive: Archive, report_kind: str | None = None, period: str | None = None) -> list[Draft]:
    """The latest publication of each pack of a kind and period (G11 and EAST are two packs of one quarter):
    a re-run with other inputs publishes a new manifest, which supersedes the earlier draft of the same files."""
    by_manifest: dict[str, list[PublicationRecord]] = {}
    order: dict[str, int] = {}
    for i, record in enumerate(archive.catalog.find_publications(report_kind, period)):
        if record.report_kind not in APPROVAL_KINDS:
            continue
        key = record.manifest_key.removeprefix(f"s3://{archive.bucket}/")
        by_manifest.setdefault(key, []).append(record)
        order[key] = i
    latest: dict[tuple, Draft] = {}
    for key in sorted(by_manifest, key=order.__getitem__):
        files = tuple(sorted(by_manifest[key], key=lambda r: r.file_name))
        draft = Draft(files[0].report_kind, files[0].period, key, files)
        latest[(draft.report_kind, draft.period, draft.file_names)] = draft
    return sorted(latest.values(), key=lambda d: (d.report_kind, d.period, d.file_names))


def _decisions_prefix(archive: Archive, draft: Draft) -> str:
    return f"{archive.root}{APPROVALS_PREFIX}/{draft.report_kind}/{draft.period}/{draft.manifest_sha256}/"


def _delivery_prefix(archive: Archive, draft: Draft) -> str:
    return f"{archive.root}{DELIVERED_PREFIX}/{draft.report_kind}/{draft.period}/{draft.manifest_sha256[:12]}/"


def decisions(archive: Archive, draft: Draft) -> list[dict]:
    """Every decision recorded on the draft, oldest first, each with its object key and hash."""
    out = []
    for key in archive.store.list_keys(archive.bucket, _decisions_prefix(archive, draft)):
        data = archive.store.get(archive.bucket, key)
        out.append({**json.loads(data), "key": key, "sha256": sha256_hex(data)})
    return sorted(out, key=lambda d: (d["decided_at"], d["key"]))


def latest_decision(archive: Archive, draft: Draft) -> dict | None:
    found = decisions(archive, draft)
    return found[-1] if found else None


def release_of(archive: Archive, draft: Draft) -> dict | None:
    """The delivered pack's final manifest, or None while the draft is not delivered."""
    key = _delivery_prefix(archive, draft) + RELEASE_MANIFEST
    if not archive.store.exists(archive.bucket, key):
        return None
    return {**json.loads(archive.store.get(archive.bucket, key)), "key": key}


def status(archive: Archive, draft: Draft) -> str:
    """draft (awaiting approval) | rejected | approved (awaiting delivery) | delivered."""
    if release_of(archive, draft) is not None:
        return "delivered"
    decision = latest_decision(archive, draft)
    if decision is None:
        return "draft"
    return decision["decision"]


def maker_of(archive: Archive, draft: Draft, preparer: str | None = None) -> dict:
    """Who made the draft: the pipeline run that published it (its identity is the pipeline's; the
    manifest object carries the run id) and the preparing department of config/institution.yaml."""
    return {"identity": "pipeline", "run_id": draft.run_id, "preparer": preparer,
            "published_at": min(f.published_at for f in draft.files)}


def record_decision(archive: Archive, draft: Draft, decision: str, reason: str, checker: dict,
                    maker: dict, decided_at: datetime, period_end: date) -> dict:
    """Write one decision as a WORM object with the checker's identity; returns it with its key and hash.

    `checker` is {"user", "role", "access_key"} of the authenticated session; the maker's identity may not
    check its own draft."""
    if decision not in DECISIONS:
        raise ApprovalError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
    if not reason or not reason.strip():
        raise ApprovalError("a decision needs a reason (--reason)")
    if checker.get("role") == maker.get("identity"):
        raise ApprovalError(f"the {checker.get('role')} identity made the draft and may not also check it")
    record = {"decision": decision, "decision_label": DECISIONS[decision], "report_kind": draft.report_kind,
              "period": draft.period, "draft_manifest": draft.manifest_key,
              "draft_manifest_sha256": draft.manifest_sha256,
              "files": {f.file_name: f.sha256 for f in draft.files}, "maker": maker, "checker": checker,
              "reason": reason.strip(), "decided_at": decided_at.astimezone(timezone.utc).isoformat(timespec="seconds")}
    data = json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True).encode()
    key = _decisions_prefix(archive, draft) + f"{sha256_hex(data)}.json"
    until = retain_until(archive.retention, "manifest", None, period_end, None)
    archive.store.put(archive.bucket, key, data, "application/json", {"decision": decision},
                      retain_until=until, lock_mode=archive.retention.mode)
    return {**record, "key": key, "sha256": sha256_hex(data)}


def deliver_approved(archive: Archive, draft: Draft, period_end: date, institution_name: str) -> dict:
    """Deliver an approved draft (the pipeline's identity writes `delivered/`): its files, hash-checked
    against the catalog, the management PDF with the approval page appended, and the final manifest.
    Idempotent: a delivered draft is left as it is. Refuses a draft whose latest decision is not approval."""
    existing = release_of(archive, draft)
    if existing is not None:
        return {**existing, "objects_written": 0}
    decision = latest_decision(archive, draft)
    if decision is None or decision["decision"] != "approved":
        state = "awaits approval" if decision is None else "was rejected"
        raise ApprovalError(f"{draft.describe()} {state}; only an approved report is delivered")
    manifest_bytes = archive.store.get(archive.bucket, draft.manifest_key)
    if sha256_hex(manifest_bytes) != draft.manifest_sha256:
        raise ApprovalError(f"the draft manifest {draft.manifest_key} no longer hashes to its name")
    prefix = _delivery_prefix(archive, draft)
    until = retain_until(archive.retention, draft.report_kind, None, period_end, None)
    written, files = 0, {}
    for record in draft.files:
        data = archive.store.get(archive.bucket, record.object_key, record.version_id)
        if sha256_hex(data) != record.sha256:
            raise ApprovalError(f"the draft file {record.object_key} no longer matches its hash; run "
                                "`postloan archive audit` before delivering")
        final = data
        if record.file_name.lower().endswith(".pdf"):
            final = with_approval_page(data, decision, institution_name)
        key = prefix + record.file_name
        if not archive.store.exists(archive.bucket, key):
            archive.store.put(archive.bucket, key, final, _content_type(record.file_name), {},
                              retain_until=until, lock_mode=archive.retention.mode)
            written += 1
        files[record.file_name] = {"sha256": sha256_hex(final), "size": len(final), "draft_sha256": record.sha256,
                                   "key": key}
    release = {"report_kind": draft.report_kind, "period": draft.period, "status": "final",
               "draft_manifest": draft.manifest_key, "draft_manifest_sha256": draft.manifest_sha256,
               "draft": json.loads(manifest_bytes), "maker": decision["maker"], "checker": decision["checker"],
               "approval": {"key": decision["key"], "sha256": decision["sha256"], "reason": decision["reason"],
                            "decided_at": decision["decided_at"]},
               "files": files}
    data = json.dumps(release, ensure_ascii=False, indent=2, sort_keys=True).encode()
    manifest_until = retain_until(archive.retention, "manifest", None, period_end, None)
    archive.store.put(archive.bucket, prefix + RELEASE_MANIFEST, data, "application/json", {},
                      retain_until=manifest_until, lock_mode=archive.retention.mode)
    return {**release, "key": prefix + RELEASE_MANIFEST, "objects_written": written + 1}


def _content_type(name: str) -> str:
    from plugins.archive.archive import CONTENT_TYPES

    return CONTENT_TYPES.get(name[name.rfind("."):].lower(), "application/octet-stream")


def approval_block_rows(decision: dict | None, preparer: str | None) -> list[tuple[str, str]]:
    """The approval block (审批栏) as label/value rows: filled from the decision, or awaiting it."""
    maker = f"{preparer or '编制部门'}（系统生成，运行 {(decision or {}).get('maker', {}).get('run_id') or '—'}）"
    if decision is None:
        return [("编制", preparer or "—"), ("审核", "待审批"), ("审批意见", "—"), ("审批时间", "—"),
                ("状态", "未附审批页的为草稿，不得对外报送；审批通过后正式报告附审批页")]
    from plugins.reports.reader_language import role_phrase

    checker = decision["checker"]
    return [("编制", maker), ("审核", f"{checker.get('user')}（{role_phrase(checker.get('role'))}）"),
            ("审批结论", DECISIONS[decision["decision"]]), ("审批意见", decision["reason"]),
            ("审批时间", decision["decided_at"].replace("T", " ").replace("+00:00", " UTC")),
            ("草稿文件", f"SHA-256 {next(iter(decision['files'].values()), '')[:16]}…"),
            ("审批记录", f"SHA-256 {decision['sha256'][:16]}…")]


def approval_page_pdf(decision: dict, institution_name: str) -> bytes:
    """One A4 page: the filled approval block (审批页) of a decision; the same decision, the same bytes."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    from plugins.reports.fonts import register_pdf_font

    font = register_pdf_font()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    stamp = "D:" + decision["decided_at"][:19].replace("-", "").replace(":", "").replace("T", "") + "+00'00'"
    canvas.setDateFormatter(lambda *_: stamp)
    width, height = A4
    canvas.setFont(font, 16)
    canvas.drawString(18 * mm, height - 30 * mm, "审批页")
    canvas.setFont(font, 9)
    canvas.drawString(18 * mm, height - 37 * mm, f"{institution_name} · {decision['period']}")
    y = height - 50 * mm
    for label, value in approval_block_rows(decision, decision["maker"].get("preparer")):
        canvas.setFillColor(colors.HexColor("#1F3B5C"))
        canvas.drawString(18 * mm, y, label)
        canvas.setFillColor(colors.black)
        canvas.drawString(45 * mm, y, str(value)[:70])
        canvas.setStrokeColor(colors.HexColor("#CCCCCC"))
        canvas.line(18 * mm, y - 2.5 * mm, width - 18 * mm, y - 2.5 * mm)
        y -= 9 * mm
    canvas.setFont(font, 8)
    canvas.drawString(18 * mm, y - 6 * mm, "本页由审批记录生成；审批记录与草稿均存于归档（不可改写），见 release.json。")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def with_approval_page(pdf: bytes, decision: dict, institution_name: str) -> bytes:
    """The draft PDF with the approval page appended and bookmarked (审批页); its ID derived from the inputs."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, ByteStringObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    page = PdfReader(io.BytesIO(approval_page_pdf(decision, institution_name))).pages[0]
    writer.add_page(page)
    writer.add_outline_item("审批页", len(writer.pages) - 1)
    digest = bytes.fromhex(sha256_hex(pdf + decision["sha256"].encode()))[:16]
    writer._ID = ArrayObject([ByteStringObject(digest), ByteStringObject(digest)])  # no clock, no randomness
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def period_end(period: str) -> date:
    """The last day of a month (YYYY-MM) or a quarter (YYYYQn): what retention counts from."""
    from plugins.ingest import month_end

    if "Q" in period:
        return month_end(f"{period[:4]}-{3 * int(period[-1]):02d}")
    return month_end(period)


def deliver_pending(archive: Archive, institution_name: str, report_kind: str | None = None,
                    period: str | None = None) -> list[dict]:
    """Deliver every approved, not yet delivered current draft (the archive acts as the pipeline's identity)."""
    delivered = []
    for draft in current_drafts(archive, report_kind, period):
        if status(archive, draft) != "approved":
            continue
        release = deliver_approved(archive, draft, period_end(draft.period), institution_name)
        delivered.append({"draft": draft.describe(), "release": release["key"],
                          "files": {name: f["key"] for name, f in release["files"].items()},
                          "objects_written": release["objects_written"]})
    return delivered


def pending_summary(archive: Archive) -> list[dict[str, Any]]:
    """Every current draft with its status, for the sensor and `postloan reports status`."""
    return [{"report_kind": d.report_kind, "period": d.period, "files": list(d.file_names),
             "manifest": d.manifest_key, "status": status(archive, d)} for d in current_drafts(archive)]
