"""Each month builds on the last one as it was reported: previous tiers and the migration opening are last
month's published classification, read through a declared previous-month dependency (real Dagster runs on
the real S3 server, twelve consecutive sample months). After the twelve months, the last month's tier and
delinquency histories read those stored classifications (through a declared window) instead of rebuilding them."""
from __future__ import annotations

import pandas as pd
import pytest
from dagster import AssetKey

MONTHS = [f"2025-{m:02d}" for m in range(9, 13)] + [f"2026-{m:02d}" for m in range(1, 9)]  # 12 months
CLASSIFIED = [AssetKey("core_system_extract"), AssetKey("core_tables"), AssetKey("loan_classification"),
              AssetKey("tier_migration")]
# Run once, for the last month: the histories read the twelve stored classifications.
HISTORIES = [AssetKey("tier_history"), AssetKey("delinquency_history"), AssetKey("portfolio_performance")]


@pytest.fixture(scope="module")
def twelve_months(s3_env):
    """The sample's core extracts delivered for twelve months, each month classified in order."""
    from pipelines import cli
    from pipelines.definitions import defs
    from plugins.archive import ObjectStore, s3_settings
    from plugins.config import load_config
    from plugins.inbox import deliver
    from plugins.ingest import month_end
    from plugins.sample import core_extract, csv_bytes, generate_portfolio

    cfg = load_config()
    s = cfg.sample
    portfolio = generate_portfolio(seed=s.seed, start=s.start, end=s.end, n_borrowers=s.borrowers,
                                   n_contracts=s.contracts)
    store = ObjectStore(s3_settings(cfg.storage))
    store.ensure_buckets()
    instance = cli._instance()
    job = defs.resolve_implicit_global_asset_job_def()
    months = {}
    for month in MONTHS:
        tables = {name: csv_bytes(frame) for name, frame in core_extract(portfolio, month_end(month)).items()}
        deliver(store, month, tables, [])
        result = job.execute_in_process(partition_key=month, instance=instance, asset_selection=CLASSIFIED,
                                        raise_on_error=False)
        assert result.success, month
        months[month] = {"classification": result.asset_value(AssetKey("loan_classification")),
                         "migration": result.asset_value(AssetKey("tier_migration")),
                         "events": result.asset_materializations_for_node("loan_classification")}
    result = job.execute_in_process(partition_key=MONTHS[-1], instance=instance, asset_selection=HISTORIES,
                                    raise_on_error=False)
    assert result.success, "histories"
    months["histories"] = {key.path[-1]: (result.asset_value(key) if key != HISTORIES[-1] else None,
                                          result.asset_materializations_for_node(key.path[-1])[0].metadata)
                           for key in HISTORIES}
    return months


def _tiers(frame: pd.DataFrame, column: str) -> dict[str, int]:
    known = frame[frame[column].notna()]
    return dict(zip(known["contract_id"], known[column].astype(int)))


def test_each_months_previous_tier_is_the_tier_published_the_month_before(twelve_months):
    for before, month in zip(MONTHS, MONTHS[1:]):
        published = _tiers(twelve_months[before]["classification"], "tier")
        previous = _tiers(twelve_months[month]["classification"], "previous_tier")
        assert previous == {c: published[c] for c in previous}, month
        assert set(previous) == set(published) & set(twelve_months[month]["classification"]["contract_id"]), month


def test_the_migration_opens_with_last_months_published_book(twelve_months):
    for before, month in zip(MONTHS, MONTHS[1:]):
        published = twelve_months[before]["classification"]
        transitions = twelve_months[month]["migration"]["transitions"]
        opened = transitions[transitions["from_tier"].notna()]
        assert int(opened["loans"].sum()) == len(published), month
        assert int(opened["opening_balance_cents"].sum()) == int(published["balance_cents"].sum()), month


def test_the_first_month_bootstraps_and_says_so_and_later_months_read_the_reported_one(twelve_months):
    def source(month: str) -> str:
        return twelve_months[month]["events"][0].metadata["previous_tier_source"].value

    assert source(MONTHS[0]).startswith("bootstrapped: 2025-08 not run")
    assert all(source(m) == f"reported: loan_classification {b}" for b, m in zip(MONTHS, MONTHS[1:]))


def _meta(twelve_months, asset: str) -> dict:
    return {k: v.value for k, v in twelve_months["histories"][asset][1].items()}


@pytest.mark.parametrize("asset", ["tier_history", "delinquency_history"])
def test_the_last_months_histories_read_every_month_that_was_run_and_rebuild_only_the_others(twelve_months, asset):
    meta = _meta(twelve_months, asset)
    # 14 month ends (2025-07 … 2026-08): the twelve months run are read, 2025-07 and 2025-08 were never run.
    assert (meta["month_ends_read"], meta["month_ends_rebuilt"]) == (12, 2)
    assert meta["rebuilt_month_ends"] == ["2025-07-31", "2025-08-31"]


def test_the_vintage_takes_the_flow_rate_window_from_delinquency_history_and_rebuilds_only_months_never_run(
        twelve_months):
    meta = _meta(twelve_months, "portfolio_performance")
    # 24 month ends: the 14 of delinquency_history, then 2024-09 … 2025-06, none of which was run.
    assert (meta["month_ends_from_delinquency_history"], meta["month_ends_read"], meta["month_ends_rebuilt"]) == \
        (14, 0, 10)


def test_the_tier_history_is_the_tiers_each_month_published(twelve_months):
    from plugins.ingest import month_end

    history = twelve_months["histories"]["tier_history"][0]
    for month in MONTHS:
        published = _tiers(twelve_months[month]["classification"], "tier")
        at = history[history["month_end"] == month_end(month).isoformat()]
        tiers = dict(zip(at["contract_id"], at["tier"].astype(int)))
        assert {c: tiers[c] for c in published} == published, month
        # Beyond the published book only the loans written off since last month end: 损失 once.
        assert {tiers[c] for c in set(tiers) - set(published)} <= {5}, month


def test_the_delinquency_history_is_the_dpd_and_balance_each_month_published(twelve_months):
    from plugins.ingest import month_end

    history = twelve_months["histories"]["delinquency_history"][0]
    for month in MONTHS:
        published = twelve_months[month]["classification"].set_index("contract_id").sort_index()
        at = history[[pd.Timestamp(e).date() == month_end(month) for e in history["month_end"]]]
        at = at.set_index("contract_id").sort_index()
        assert list(at.index) == list(published.index), month
        assert at["dpd"].astype(int).tolist() == published["dpd"].astype(int).tolist(), month
        assert at["balance_cents"].astype(int).tolist() == published["balance_cents"].astype(int).tolist(), month
