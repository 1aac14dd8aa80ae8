"""The scheduled integrity audit of the archive, and the export of the access log into the archive."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.common import markdown_table
from pipelines import settings as pipeline_settings
from pipelines.resources import ArchiveResource
from plugins.archive.access import export_access_log
from plugins.archive.audit import IntegrityAudit


class IntegrityAuditConfig(Config):
    """Run-time overrides; the defaults come from retention.yaml (integrity_audit)."""
    mode: str = ""  # "full" | "sample"; empty: as configured
    max_objects: int = 0  # stop after this many objects (the next run resumes); 0: no limit


@asset(group_name="audit",
       check_specs=[AssetCheckSpec("archive_is_intact", asset="archive_integrity_audit", blocking=False,
                                   description="no mismatch, missing object, orphan or overwrite")],
       description="Re-hashes the archive's objects against the catalog (all, or a sample with a stated "
                   "confidence), reports mismatches, missing objects, orphans and overwrites; resumes an "
                   "unfinished audit; then archives the access log's new entries.")
def archive_integrity_audit(context: AssetExecutionContext, config: IntegrityAuditConfig,
                            archive: ArchiveResource) -> MaterializeResult:
    # `config` is Dagster's run config here (the name is reserved), so the YAML is read directly.
    from plugins.config import load_config

    settings = load_config(archive.config_dir or pipeline_settings.config_dir()).retention.integrity_audit
    the_archive = archive.get()
    step = max(1, settings.batch_size)

    def progress(i: int, n: int, key: str) -> None:
        if i == n or i % step == 0:
            context.log.info(f"audited {i}/{n} objects (last: {key})")

    report = IntegrityAudit(the_archive).run(
        mode=config.mode or settings.mode, confidence=settings.confidence, corruption_rate=settings.corruption_rate,
        batch_size=settings.batch_size, max_objects=config.max_objects or None, progress=progress)
    the_archive.catalog.append_access(f"dagster run {context.run.run_id}", "scheduler", "audit", report.audit_id,
                                      "scheduled integrity audit", {"checked": report.checked,
                                                                    "findings": report.counts()})
    exported = export_access_log(the_archive)
    counts = report.counts()
    context.log.info(report.statement + (f"; findings: {counts}" if counts else "; no findings"))
    findings = [{k: f[k] for k in ("kind", "object_key", "version_id", "detail")} for f in report.findings]
    import pandas as pd

    return MaterializeResult(
        metadata={"audit_id": report.audit_id, "mode": report.mode, "finished": report.finished,
                  "population": report.population, "planned": report.planned, "checked": report.checked,
                  "statement": report.statement, "findings_by_kind": MetadataValue.json(counts),
                  "findings": MetadataValue.md(markdown_table(pd.DataFrame(findings))),
                  "access_log_export": MetadataValue.json(exported or {})},
        check_results=[AssetCheckResult(
            check_name="archive_is_intact", passed=report.finished and not report.findings,
            severity=AssetCheckSeverity.ERROR,
            description=(f"{len(report.findings)} findings: {counts}" if report.findings
                         else ("no findings" if report.finished else f"audit unfinished ({report.checked}/"
                               f"{report.planned}); the next run resumes it")),
            metadata={"audit_id": report.audit_id})],
    )
