"""Inbox → archive: the month's core-system extracts and documents."""

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
from plugins.ingest import (
    contract_maturities, extract_value, ingest_documents, known_columns, month_end, read_delivered_tables,
    read_table, readable_tables, split_extract,
)
from plugins.portfolio.loanbook import EXTRACT_TABLES
from plugins.portfolio.typed import TypingError, type_tables, typing_errors


@asset(partitions_def=monthly_partitions, group_name="ingest", io_manager_key="work_io_manager",
       description="The core system's month-end extracts (loans, schedules, payments, borrowers, collateral, "
                   "guarantors), archived by hash and kept as delivered (all columns as text). Each file is read "
                   "by config/schema.yaml `reading` (encoding, delimiter, limits); a file that cannot be read, "
                   "or a table not delivered, is carried as a problem for the data-quality gate, which blocks.")
def core_system_extract(context: AssetExecutionContext, archive: ArchiveResource,
                        config: PostloanConfigResource) -> MaterializeResult:
    from plugins.validation import load_validation_config

    month = context.partition_key
    cfg = config.get()
    store = archive.get().store
    tables = read_core_tables(store, month)
    # Every table the pipeline reads is archived as delivered, readable or not: nothing is lost.
    readable = readable_tables()
    delivered = [t for t in readable if t in tables]
    hashes = {}
    for name in delivered:
        record, _ = archive.get().archive_document(tables[name], DocumentMeta(
            doc_class="core_extract", original_name=f"{name}.csv", period=month, period_end=month_end(month)))
        hashes[name] = record.sha256
    rules = load_validation_config(cfg.config_dir / "validation.yaml")
    read = read_delivered_tables(tables, cfg.extract_schema.reading, required=EXTRACT_TABLES,
                                 known_columns=known_columns(cfg.extract_schema, rules), known_tables=readable)
    frames = read.frames
    for problem in read.problems:
        context.log.warning(f"{month}: core/{month}/{problem.detail}" + ("" if problem.severity == "blocking"
                                                                          else " (warning)"))
    context.log.info(f"{month}: core extract archived: " + ", ".join(f"{n} {len(f)} rows" for n, f in frames.items()))
    metadata = {**{f"rows_{n}": len(f) for n, f in frames.items()}, "sha256": MetadataValue.json(hashes)}
    if "loans" in frames:
        metadata["loans_preview"] = MetadataValue.md(markdown_table(frames["loans"].head(10)))
    if set(read.encodings.values()) - {"utf-8"}:
        metadata["encodings"] = MetadataValue.json(read.encodings)
    if read.problems:
        metadata["delivery_problems"] = MetadataValue.md("\n".join(
            f"- {p.detail}" + ("" if p.severity == "blocking" else " (warning)") for p in read.problems))
    return MaterializeResult(value=extract_value(read), metadata=metadata)


@asset_check(asset=core_system_extract, blocking=True, partitions_def=monthly_partitions,
             description="Every delivered file readable as config/schema.yaml `reading` declares, the Great "
                         "Expectations suites of config/validation.yaml, and every value of its declared type; "
                         "a blocking failure stops classification and publication.")
def core_extract_quality(context: AssetCheckExecutionContext, core_system_extract: dict,
                         config: PostloanConfigResource) -> AssetCheckResult:
    from plugins.validation import load_validation_config, validate_extract

    rules = load_validation_config(config.get().config_dir / "validation.yaml")
    frames, problems = split_extract(core_system_extract)
    as_of = month_end(context.partition_key) if context.has_partition_key else None
    outcome = validate_extract(frames, rules, month_end=as_of, file_problems=problems)
    # A value that does not have its declared type (config/schema.yaml) blocks as any expectation does.
    mistyped = typing_errors(frames, config.get().extract_schema)
    blocked = [p for p in outcome.file_problems if p.severity == "blocking"]
    noted = [p for p in outcome.file_problems if p.severity != "blocking"]
    lines = ([p.detail for p in blocked] + [str(e) for e in mistyped]
             + [_by_file(f) for f in outcome.blocking_failures]
             + [f"warning: {p.detail}" for p in noted] + [f"warning: {_by_file(f)}" for f in outcome.warnings])
    for line in lines:
        context.log.warning(line)
    failing = {f"{p.file}:{p.problem}": list(p.items[:50]) or [p.detail] for p in blocked}
    failing.update({f"{f.frame}.csv:{f.expectation}:{f.column}": f.row_ids[:50] for f in outcome.blocking_failures})
    failing.update({f"{e.file}:declared_type:{e.column}": [f"row {r}" for r in e.rows[:50]] for e in mistyped})
    return AssetCheckResult(
        passed=outcome.success and not mistyped,
        severity=AssetCheckSeverity.ERROR,
        description="; ".join(lines[:5]) if lines else "all expectations met",
        metadata={"expectations_evaluated": outcome.evaluated,
                  "blocking_failures": len(blocked) + len(outcome.blocking_failures) + len(mistyped),
                  "warnings": len(noted) + len(outcome.warnings),
                  "failing_rows": MetadataValue.json(failing),
                  "summary": MetadataValue.md("\n".join(f"- {l}" for l in lines) or "all expectations met")},
    )


def _by_file(failure) -> str:
    """A GX failure's summary line, named by its file (loans.csv: ...) as the rest of the gate's lines are."""
    line = failure.summary_line()
    return f"{failure.frame}.csv{line[len(failure.frame):]}" if line.startswith(f"{failure.frame}:") else line


@asset(partitions_def=monthly_partitions, group_name="ingest", io_manager_key="work_io_manager",
       description="The month's core tables typed once, by their declared schema (config/schema.yaml): dates, "
                   "int64 cents, whole numbers, rates; stored as Parquet. What the loan book, the classification "
                   "and the provisions read; runs only after the data-quality gate passed.")
def core_tables(context: AssetExecutionContext, core_system_extract: dict,
                config: PostloanConfigResource) -> MaterializeResult:
    from plugins.monitoring.disposal import with_transfers

    schema = config.get().extract_schema
    # A claim the collection log transferred (转让) leaves the book on that date: the loan book, classification,
    # provisions, migration and contract state see it as status 转让 with no balance, and none of its payments
    # after the transfer (plugins/monitoring/disposal.py). core_system_extract stays as delivered.
    frames, moved = with_transfers(split_extract(core_system_extract)[0], month_end(context.partition_key),
                                   config.get().monitoring.disposal.transfer_action)
    try:
        typed = type_tables(frames, schema)
    except TypingError as exc:  # the gate refuses such a delivery first; this guards a run without it
        raise Failure(description=f"{exc}. Correct core/{context.partition_key}/{exc.file} and deliver it again.",
                      metadata={"file": exc.file, "column": exc.column}) from None
    declared = sorted(set(typed) & set(schema.tables))
    return MaterializeResult(value=typed, metadata={
        "typed_tables": ", ".join(declared),
        "as_delivered": ", ".join(sorted(set(typed) - set(schema.tables))) or "none",
        "transfers_applied": MetadataValue.json({c: d.isoformat() for c, d in sorted(moved.items())}),
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
    # A bad manifest row, or a loans table that cannot be read, stops no document (docs/bad-input.md).
    listed = read_documents(store, month)
    delivered = read_core_tables(store, month)
    reading = config.get().extract_schema.reading
    loans = read_table("loans", delivered["loans"], reading.for_table("loans"))[0] if "loans" in delivered else None
    maturities, unknown = contract_maturities(loans)
    if loans is None or unknown:
        context.log.warning(f"{month}: maturities unknown for {unknown if loans is not None else 'every'} contract(s) "
                            "(loans.csv missing, unreadable or without a valid maturity_date): their contracts are "
                            "retained from the received date")
    documents = [(doc, read_document_bytes(store, month, doc.file_name) if doc.read else None) for doc in listed]

    def progress(i: int, n: int, message: str) -> None:
        if i == n or i % 10 == 0 or any(w in message for w in ("quarantined", "refused", "OCR", "active_content")):
            context.log.info(f"documents {i}/{n}: {message}")

    frame = ingest_documents(documents, archive.get(), config.get().documents, maturities, progress)
    quarantined = frame[frame["status"] != "archived"]
    return MaterializeResult(
        value=frame,
        metadata={
            "documents": len(frame),
            "archived": int((frame["status"] == "archived").sum()),
            "quarantined": len(quarantined),
            "refused": int((frame["status"] == "refused").sum()),  # manifest entries not read (unsafe, unlisted)
            "new_objects": int(frame["new_object"].sum()),
            "read_by_ocr": int((frame["read_by"] == "ocr").sum()),  # image-only, archived by OCR (ocr.enabled)
            "quarantine": MetadataValue.md(markdown_table(quarantined[["file_name", "reason_code", "reason"]])),
        },
    )
