"""The month's approved reports handed to the enabled publisher plugins (entry-point group postloan.publishers).

The archive keeps the report as published (a draft); a publisher delivers a copy elsewhere (a folder, a portal,
mail) and answers with a receipt. Maker-checker (plugins/reports/approval.py): nothing leaves the institution
before a checker has approved it, so a publisher gets the delivered, final files (the management PDF with its
审批页), either here when the month runs after the approval, or from the deliver_approved_reports job the
approval starts. With no publisher installed and enabled the step records that and does nothing.
"""
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from pipelines.partitions import monthly_partitions
from pipelines.resources import ArchiveResource, PostloanConfigResource
from plugins import registry
from plugins.archive import Archive
from plugins.archive.archive import sha256_hex
from plugins.publishers import FAILED, StoreLedger, deliver_once
from plugins.reports import approval

REPORT_KIND = "management_report"
LEDGER_PREFIX = "publications/delivered"  # work bucket: which publisher already has which bytes
AWAITING_APPROVAL = "awaiting approval"


def release_publications(kind: str, period: str, release: dict, archive: Archive) -> list[registry.Publication]:
    """One Publication per file of a delivered release (approval.release_of), its final bytes read back from
    the archive and checked against the release manifest's hash."""
    items = []
    for name, f in sorted(release["files"].items()):
        data = archive.store.get(archive.bucket, f["key"])
        if sha256_hex(data) != f["sha256"]:
            raise RuntimeError(f"{f['key']} no longer hashes to {f['sha256']}; run `postloan archive audit`")
        items.append(registry.Publication(kind=kind, period=period, file_name=name, data=data, sha256=f["sha256"],
                                          archive_url=f"s3://{archive.bucket}/{f['key']}"))
    return items


def publish_releases(archive: Archive, plugins_config, kind: str = REPORT_KIND, period: str | None = None
                     ) -> list[dict]:
    """Hand every delivered (approved) release of `kind` (and `period`) to the enabled publishers, each file
    once (the ledger in the work bucket); a draft not yet approved is given to nobody."""
    publishers = registry.publishers(plugins_config)
    for publisher in publishers:
        if hasattr(publisher, "attach"):  # a publisher into the object store gets the run's own (no credentials)
            publisher.attach(archive.store)
    rows = []
    for draft in approval.current_drafts(archive, kind, period):
        release = approval.release_of(archive, draft)
        if release is None:
            rows += [{"publisher": p.name, "file": name, "sha256": "", "status": AWAITING_APPROVAL,
                      "receipt": f"{draft.describe()}: `postloan reports approve {kind} {draft.period}`"}
                     for p in publishers for name in draft.file_names]
            continue
        items = release_publications(kind, draft.period, release, archive)
        rows += deliver_once(publishers, items, StoreLedger(archive.store, LEDGER_PREFIX))
    return rows


@asset(partitions_def=monthly_partitions, group_name="publish", io_manager_key="work_io_manager",
       description="The month's management report, once a checker has approved it (maker-checker), handed to "
                   "every enabled publisher plugin that delivers its kind (config/plugins.yaml publishers) as "
                   "delivered: one row per publisher and file: delivered, already delivered (a re-run sends "
                   "nothing twice), skipped, or awaiting approval (the approval's delivery job hands it then).",
       deps=["published_management_report"])
def report_publications(context: AssetExecutionContext, archive: ArchiveResource,
                        config: PostloanConfigResource) -> MaterializeResult:
    rows = publish_releases(archive.get(), config.get().plugins, REPORT_KIND, context.partition_key)
    for row in rows:
        context.log.info(f"{row['publisher']}: {row['file']} {row['status']} {row['receipt']}")
    failed = [row for row in rows if row["status"] == FAILED]
    if failed:
        raise RuntimeError("publishing failed: " + "; ".join(f"{r['publisher']} {r['file']}: {r['receipt']}"
                                                              for r in failed))
    return MaterializeResult(value=rows, metadata={
        "publishers": MetadataValue.json(sorted({r["publisher"] for r in rows})),
        "awaiting_approval": MetadataValue.int(sum(r["status"] == AWAITING_APPROVAL for r in rows)),
        "deliveries": MetadataValue.json(rows)})
