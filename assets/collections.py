"""Collections run month by month (issue 14): penalty interest, collection cases, notices to borrowers, and
what the management pack shows of them. Thin: the rules are in plugins/collections and plugins/notices."""
import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetKey, Failure, MaterializeResult, MetadataValue, asset

from assets.common import markdown_table
from pipelines.partitions import PREVIOUS_MONTH, monthly_partitions
from pipelines.resources import ArchiveResource, PostloanConfigResource
from plugins.ingest import month_end
from plugins.money import yuan

# Last month's cases as materialized; {} when that month was never run (the open cases are then rebuilt).
PREVIOUS_COLLECTION_CASES = AssetIn(key=AssetKey("collection_cases"), partition_mapping=PREVIOUS_MONTH,
                                    metadata={"materialized_only": True})


@asset(partitions_def=monthly_partitions, group_name="monitoring", io_manager_key="work_io_manager",
       description="Penalty interest (罚息) per contract on the book: accrued daily on overdue principal, and on "
                   "overdue interest when the contract compounds (复利), at the contract's penalty rate "
                   "(loans.penalty_rate / penalty_compounding, else the product's default in "
                   "config/collections.yaml); to date and this month, over the whole book in DuckDB.")
def penalty_interest(context: AssetExecutionContext, core_tables: dict, contract_state: dict,
                     config: PostloanConfigResource) -> MaterializeResult:
    from plugins.collections.penalty import PENALTY_COLUMNS, penalty_interest as accrue, penalty_summary

    policy = config.get().collections.penalty_interest
    contracts = contract_state["contracts"]
    if policy is None:
        context.log.warning("config/collections.yaml has no penalty_interest section: no penalty accrued")
        return MaterializeResult(value=pd.DataFrame(columns=PENALTY_COLUMNS), metadata={"configured": False})
    try:
        table = accrue(core_tables, contracts.loc[contracts["on_book"], "contract_id"],
                       month_end(context.partition_key), policy)
    except ValueError as exc:  # a product with no default rate and contracts without their own: say which
        raise Failure(description=str(exc)) from None
    totals = penalty_summary(table)
    accruing = table[table["penalty_interest_cents"] > 0].sort_values("penalty_interest_cents", ascending=False)
    return MaterializeResult(value=table, metadata={
        "configured": True, **{k: v for k, v in totals.items() if not k.endswith("_cents")},
        **{k.replace("_cents", "_yuan"): float(yuan(v)) for k, v in totals.items() if k.endswith("_cents")},
        "largest": MetadataValue.md(markdown_table(accruing[[
            "contract_id", "penalty_rate", "compounding", "overdue_principal_cents", "penalty_interest_cents",
            "accrued_this_month_cents"]].astype(str)))})


@asset(partitions_def=monthly_partitions, group_name="monitoring", io_manager_key="work_io_manager",
       ins={"previous_cases": PREVIOUS_COLLECTION_CASES},
       description="Collection cases (催收案件): one per overdue episode, opened and closed by contract_state, staged "
                   "by the dunning ladder of config/collections.yaml, with the next action and its due date, the "
                   "collector, promises to pay (made / kept / broken), hardship and outcome; kept month to month "
                   "from last month's cases (metadata cases_source). Tables: cases, tasks (each stage's action, "
                   "due and done), workload (by collector).")
def collection_cases(context: AssetExecutionContext, contract_state: dict, core_tables: dict, previous_cases: dict,
                     config: PostloanConfigResource) -> MaterializeResult:
    from plugins.collections.cases import build_cases, case_summary, collector_workload

    as_of = month_end(context.partition_key)
    previous = next(iter(previous_cases.values()), None)
    log = core_tables.get("collections")
    built = build_cases(contract_state["contracts"], log, previous["cases"] if previous else None, as_of,
                        config.get().collections, assignments=core_tables.get("collection_assignments"))
    built["workload"] = collector_workload(built, log, as_of)
    cases = built["cases"]
    past = cases[cases["past_next_action"]].sort_values(["days_past_next_action", "case_id"], ascending=[False, True])
    return MaterializeResult(value=built, metadata={
        "cases_source": "rolled_forward" if previous else "bootstrapped", **case_summary(cases, as_of),
        "workload": MetadataValue.md(markdown_table(built["workload"].astype(str))),
        "past_next_action_preview": MetadataValue.md(markdown_table(past[[
            "case_id", "stage", "collector", "next_action", "next_action_due", "days_past_next_action"]].astype(str)))})


@asset(partitions_def=monthly_partitions, group_name="monitoring", io_manager_key="work_io_manager",
       description="The month's notices to borrowers (还款提醒, 逾期通知书, 催收函, 到期及续贷提醒, 车辆回收通知): a PDF per "
                   "contract from the templates of config/notices.yaml, archived once as document class "
                   "collection_notice (`postloan archive find --class collection_notice --period YYYY-MM`), then "
                   "handed to every enabled publisher (config/plugins.yaml publishers; the object store's outbox by "
                   "default), each notice once. Tables: notices, deliveries.")
def collection_notices(context: AssetExecutionContext, contract_state: dict, collection_cases: dict,
                       penalty_interest: pd.DataFrame, core_tables: dict, archive: ArchiveResource,
                       config: PostloanConfigResource) -> MaterializeResult:
    from plugins import registry
    from plugins.archive import DocumentMeta
    from plugins.notices.select import issue_notices, notice_table
    from plugins.publishers import NOTICE_KIND, NoticePublication, StoreLedger, deliver_once

    month, cfg = context.partition_key, config.get()
    as_of = month_end(month)
    notices = issue_notices(month, as_of, contract_state["contracts"], collection_cases["cases"], penalty_interest,
                            core_tables, cfg.notices, cfg.institution.name)
    store = archive.get()
    publications, new = [], 0
    for n in notices:
        record, added = store.archive_issued(n.pdf, DocumentMeta(
            doc_class=NOTICE_KIND, original_name=n.file_name, borrower_id=n.borrower_id, contract_id=n.contract_id,
            period=month, period_end=as_of, page_count=1))
        new += added
        publications.append(NoticePublication(
            kind=NOTICE_KIND, period=month, file_name=n.file_name, data=n.pdf, sha256=n.sha256,
            archive_url=f"s3://{store.bucket}/{record.object_key}", contract_id=n.contract_id,
            borrower_name=n.borrower_name, notice_name=n.kind_name, recipient=n.email))
    publishers = registry.publishers(cfg.plugins)
    for p in publishers:
        if hasattr(p, "attach"):  # a publisher to the object store gets the pipeline's own store
            p.attach(store.store)
    deliveries = pd.DataFrame(deliver_once(publishers, publications, StoreLedger(store.store)),
                              columns=["publisher", "file", "sha256", "status", "receipt"])
    table = notice_table(notices)
    counts = table.groupby("kind_name").size().to_dict() if len(table) else {}
    context.log.info(f"{month}: {len(notices)} notices ({new} new in the archive), "
                     f"{int((deliveries['status'] == 'delivered').sum())} delivered")
    return MaterializeResult(value={"notices": table, "deliveries": deliveries}, metadata={
        "notices": len(notices), "archived_new": new, "by_kind": MetadataValue.json(counts),
        "publishers": MetadataValue.json([p.name for p in publishers]),
        "deliveries": MetadataValue.json(deliveries["status"].value_counts().sort_index().to_dict()),
        "failed": MetadataValue.md(markdown_table(deliveries[deliveries["status"] == "failed"].astype(str)))})


@asset(partitions_def=monthly_partitions, group_name="monitoring", io_manager_key="work_io_manager",
       description="What the management pack shows of collections run: the cases, the collectors' workload, "
                   "penalty interest and the notices issued, with borrower names for masking.")
def collection_pack(context: AssetExecutionContext, collection_cases: dict, penalty_interest: pd.DataFrame,
                    collection_notices: dict, core_tables: dict) -> MaterializeResult:
    borrowers = core_tables["borrowers"][["borrower_id", "name", "kind"]].rename(
        columns={"name": "borrower_name", "kind": "borrower_kind"})
    cases = collection_cases["cases"].merge(borrowers, on="borrower_id", how="left")
    penalty = penalty_interest.merge(borrowers, on="borrower_id", how="left") if len(penalty_interest) else \
        penalty_interest.assign(borrower_name=pd.Series(dtype=object), borrower_kind=pd.Series(dtype=object))
    notices = collection_notices["notices"].merge(borrowers[["borrower_id", "borrower_kind"]], on="borrower_id",
                                                  how="left")
    value = {"cases": cases, "workload": collection_cases["workload"], "penalty": penalty, "notices": notices}
    return MaterializeResult(value=value, metadata={k: len(v) for k, v in value.items()})
