"""Inbox → archive: the month's core-system extracts and documents."""

from datetime import date

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    Failure,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from assets.common import markdown_table
from pipelines.partitions import monthly_partitions
from pipelines.resources import ArchiveResource, PostloanConfigResource
from plugins.archive import DocumentMeta
from plugins.inbox import read_core_tables, read_document_bytes, read_documents
from plugins.ingest import ingest_documents, month_end
from plugins.classification.period import OPTIONAL_TABLES
from plugins.monitoring import MONITORING_TABLES
from plugins.portfolio.loanbook import EXTRACT_TABLES, read_csv_bytes
from plugins.portfolio.typed import TypingError, type_tables, typing_errors


@asset(partitions_def=monthly_partitions, group_name="ingest", io_manager_key="work_io_manager",
       description="The core system's month-end extracts (loans, schedules, payments, borrowers, collateral, "
                   "guarantors), archived by hash and kept as delivered (all columns as text).")
def core_system_extract(context: AssetExecutionContext, archive: ArchiveResource) -> MaterializeResult:
    month = context.partition_key
    store = archive.get().store
    tables = read_core_tables(store, month)
    missing = [t for t in EXTRACT_TABLES if t not in tables]
    if missing:
        raise FileNotFoundError(f"inbox delivery {month} lacks core tables: {', '.join(missing)} "
                                f"(expected core/{month}/<table>.csv in bucket {store.settings.inbox_bucket})")
    # Optional tables (manual overrides, external data) are archived and passed on when delivered.
    delivered = [*EXTRACT_TABLES, *(t for t in (*OPTIONAL_TABLES, *MONITORING_TABLES) if t in tables)]
    hashes = {}
    for name in delivered:
        record, _ = archive.get().archive_document(tables[name], DocumentMeta(
            doc_class="core_extract", original_name=f"{name}.csv", period=month, period_end=month_end(month)))
        hashes[name] = record.sha256
    frames = {name: read_csv_bytes(tables[name]) for name in delivered}
    context.log.info(f"{month}: core extract archived: " + ", ".join(f"{n} {len(f)} rows" for n, f in frames.items()))
    return MaterializeResult(
        value=frames,
        metadata={**{f"rows_{n}": len(f) for n, f in frames.items()},
                  "sha256": MetadataValue.json(hashes),
                  "loans_preview": MetadataValue.md(markdown_table(frames["loans"].head(10)))},
    )


@asset_check(asset=core_system_extract, blocking=True, partitions_def=monthly_partitions,
             description="Great Expectations suites of config/validation.yaml on the core extract; "
                         "a blocking failure stops classification and publication.")
def core_extract_quality(context: AssetCheckExecutionContext, core_system_extract: dict,
                         config: PostloanConfigResource) -> AssetCheckResult:
    from plugins.validation import load_validation_config, validate_extract

    rules = load_validation_config(config.get().config_dir / "validation.yaml")
    outcome = validate_extract(core_system_extract, rules)
    # A value that does not have its declared type (config/schema.yaml) blocks as any expectation does.
    mistyped = typing_errors(core_system_extract, config.get().extract_schema)
    lines = [str(e) for e in mistyped] + outcome.summary_lines()
    for line in lines:
        context.log.warning(line)
    failing = {f"{f.frame}:{f.expectation}:{f.column}": f.row_ids[:50] for f in outcome.blocking_failures}
    failing.update({f"{e.file}:declared_type:{e.column}": [f"row {r}" for r in e.rows[:50]] for e in mistyped})
    return AssetCheckResult(
        passed=outcome.success and not mistyped,
        severity=AssetCheckSeverity.ERROR,
        description="; ".join(lines[:5]) if lines else "all expectations met",
        metadata={"expectations_evaluated": outcome.evaluated,
                  "blocking_failures": len(outcome.blocking_failures) + len(mistyped),
                  "warnings": len(outcome.warnings),
                  "failing_rows": MetadataValue.json(failing),
                  "summary": MetadataValue.md("\n".join(f"- {l}" for l in lines) or "all expectations met")},
    )


@asset(partitions_def=monthly_partitions, group_name="ingest", io_manager_key="work_io_manager",
       description="The month's core tables typed once, by their declared schema (config/schema.yaml): dates, "
                   "int64 cents, whole numbers, rates; stored as Parquet. What the loan book, the classification "
                   "and the provisions read; runs only after the data-quality gate passed.")
def core_tables(context: AssetExecutionContext, core_system_extract: dict,
                config: PostloanConfigResource) -> MaterializeResult:
    schema = config.get().extract_schema
    try:
        typed = type_tables(core_system_extract, schema)
    except TypingError as exc:  # the gate refuses such a delivery first; this guards a run without it
        raise Failure(description=f"{exc}. Correct core/{context.partition_key}/{exc.file} and deliver it again.",
                      metadata={"file": exc.file, "column": exc.column}) from None
    declared = sorted(set(typed) & set(schema.tables))
    return MaterializeResult(value=typed, metadata={
        "typed_tables": ", ".join(declared),
        "as_delivered": ", ".join(sorted(set(typed) - set(schema.tables))) or "none",
        **{f"rows_{name}": len(frame) for name, frame in typed.items()}})


@asset(partitions_def=monthly_partitions, group_name="ingest", io_manager_key="work_io_manager",
       description="The month's documents: each triaged, archived once under its SHA-256 with retention by "
                   "class, or quarantined with its reason. The run goes on past bad files.")
def inbox_documents(context: AssetExecutionContext, archive: ArchiveResource,
                    config: PostloanConfigResource) -> MaterializeResult:
    # Independent of the extract's data-quality gate: documents are archived even in a month whose
    # core extract fails validation. Maturities (for contract retention) come from the delivered loans table.
    month = context.partition_key
    store = archive.get().store
    listed = read_documents(store, month)
    delivered = read_core_tables(store, month)
    loans = read_csv_bytes(delivered["loans"]) if "loans" in delivered else pd.DataFrame(columns=["contract_id", "maturity_date"])
    maturities = {c: date.fromisoformat(m) for c, m in zip(loans["contract_id"], loans["maturity_date"]) if m}
    documents = [(doc, read_document_bytes(store, month, doc.file_name)) for doc in listed]

    def progress(i: int, n: int, message: str) -> None:
        if i == n or i % 10 == 0 or "quarantined" in message or "OCR" in message:
            context.log.info(f"documents {i}/{n}: {message}")

    frame = ingest_documents(documents, archive.get(), config.get().documents, maturities, progress)
    quarantined = frame[frame["status"] != "archived"]
    return MaterializeResult(
        value=frame,
        metadata={
            "documents": len(frame),
            "archived": int((frame["status"] == "archived").sum()),
            "quarantined": len(quarantined),
            "new_objects": int(frame["new_object"].sum()),
            "read_by_ocr": int((frame["read_by"] == "ocr").sum()),  # image-only, archived by OCR (ocr.enabled)
            "quarantine": MetadataValue.md(markdown_table(quarantined[["file_name", "reason_code", "reason"]])),
        },
    )
