"""History is read, not rebuilt: the month ends a month's loan_classification was stored for are taken as
reported; only those never materialized are rebuilt from this month's extract. One rule per case.

The extract is tests/test_performance.py's four contracts at 2026-08-31 (D written off on 2026-08-20).
"""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from plugins.config import DEFAULT_CONFIG_DIR, HISTORY_MONTHS_BACK, ConfigError, load_config
from plugins.portfolio.performance import ageing_history, month_end_sources, states_by_month_end
from plugins.provisioning.history import book_at, tier_snapshots
from tests.test_performance import AUGUST, BUCKETS, JULY, JUNE, extract

SEPTEMBER = date(2026, 9, 30)


def state(*rows: tuple[str, int, int, int]) -> pd.DataFrame:
    """A stored loan_classification, as the work store gives it back: (contract_id, tier, dpd, balance_cents)."""
    starts = {"A": date(2026, 5, 15), "B": date(2026, 5, 10), "C": date(2026, 5, 20), "D": date(2026, 1, 5)}
    return pd.DataFrame([{"contract_id": c, "tier": t, "dpd": d, "balance_cents": b, "product": "loan",
                          "start_date": pd.Timestamp(starts[c])} for c, t, d, b in rows])


class Classifier:
    """Tier 1 for every loan of a rebuilt book; remembers which month ends it was asked for."""

    def __init__(self):
        self.asked: list[date] = []

    def __call__(self, book: pd.DataFrame, when: date) -> dict[str, int]:
        self.asked.append(when)
        return {cid: 1 for cid in book["contract_id"]}


def test_a_stored_tier_is_kept_where_a_rebuild_from_the_later_extract_would_differ():
    classify = Classifier()
    rebuilt = tier_snapshots(extract(), [JULY], classify)[0]
    stored = tier_snapshots(extract(), [JULY], Classifier(), {JULY: state(("A", 3, 16, 110_000))})[0]
    assert rebuilt["A"] == 1 and stored == {"A": 3}


def test_a_missing_month_end_is_rebuilt_and_counted():
    classify = Classifier()
    states = {JUNE: state(("A", 1, 0, 110_000)), AUGUST: state(("A", 2, 47, 110_000))}
    snapshots = tier_snapshots(extract(), [JUNE, JULY, AUGUST], classify, states)
    assert classify.asked == [JULY]  # only the month end never materialized
    assert set(snapshots[1]) == set(book_at(extract(), JULY)["contract_id"])
    sources = month_end_sources([JUNE, JULY, AUGUST], states)
    assert (sources.read, sources.rebuilt) == ((JUNE, AUGUST), (JULY,))
    assert sources.metadata() == {"month_ends_read": 2, "month_ends_rebuilt": 1, "rebuilt_month_ends": ["2026-07-31"]}


def test_a_loan_written_off_between_stored_states_is_loss_once_then_drops_out():
    # D was 可疑 in July as reported; written off on 08-20 it is no longer in August's book.
    states = {JULY: state(("A", 2, 16, 110_000), ("D", 4, 60, 50_000)),
              AUGUST: state(("A", 2, 47, 110_000)), SEPTEMBER: state(("A", 3, 77, 110_000))}
    snapshots = tier_snapshots(extract(), [JULY, AUGUST, SEPTEMBER], Classifier(), states)
    assert [snap.get("D") for snap in snapshots] == [4, 5, None]


def test_delinquency_read_from_a_stored_state_keeps_its_dpd_and_balance_with_the_extracts_principal():
    rebuilt = ageing_history(extract(), [JULY], BUCKETS).set_index("contract_id")
    stored = ageing_history(extract(), [JULY], BUCKETS, {JULY: state(("A", 2, 95, 123_400))}).set_index("contract_id")
    assert rebuilt.loc["A", "dpd"] != 95
    row = stored.loc["A"]
    assert (row["dpd"], row["bucket"], row["balance_cents"], row["principal_cents"], row["start_date"]) == \
        (95, "M4", 123_400, 120_000, date(2026, 5, 15))
    assert list(stored.index) == ["A"]  # the stored book, not the rebuilt one


def test_a_loan_written_off_on_or_before_a_month_end_is_not_open_at_it_even_if_stored():
    history = ageing_history(extract(), [AUGUST], BUCKETS, {AUGUST: state(("A", 2, 47, 110_000), ("D", 4, 91, 50_000))})
    assert list(history["contract_id"]) == ["A"]


def test_a_window_reaching_before_the_first_loan_builds_with_those_month_ends_empty():
    # The sample's early months (2025-03, 2025-06 …): month ends before any loan have an empty book.
    history = ageing_history(extract(), [date(2025, 1, 31), JUNE], BUCKETS)
    assert set(history["month_end"]) == {JUNE}


def test_vintage_month_ends_come_from_the_history_then_the_states_then_a_rebuild():
    from plugins.portfolio.vintage import performance_report_sourced

    recent = ageing_history(extract(), [AUGUST], BUCKETS)
    report, sources = performance_report_sourced(extract(), AUGUST, 4, BUCKETS, recent=recent,
                                                 states={JULY: state(("A", 2, 35, 110_000))})
    assert (sources.given, sources.read, sources.rebuilt) == ((AUGUST,), (JULY,), (date(2026, 5, 31), JUNE))
    q2 = report["vintage"][report["vintage"]["cohort"] == "2026Q2"].set_index("mob")
    # A (1 200.00 of the cohort's 2 000.00) was 35 days past due at July end as reported (MOB 2); rebuilt
    # from the August extract it would have been 16.
    assert q2.loc[2, "bad_30_cents"] == 120_000 and q2.loc[2, "principal_cents"] == 200_000


def test_stored_states_are_keyed_by_month_end():
    frame = state(("A", 1, 0, 1))
    assert states_by_month_end({"2026-02": frame, "2024-02": frame}).keys() == {date(2026, 2, 28), date(2024, 2, 29)}


def test_the_trend_leaves_months_never_run_out_and_names_them():
    from plugins.reports.trend import trend_books

    books, missing = trend_books({"2026-08": "aug", "2026-06": "jun", "2025-01": "too old"}, "2026-08", 3)
    assert books == {"2026-06": "jun", "2026-08": "aug"} and missing == ["2026-05", "2026-07"]
    with pytest.raises(ValueError, match="2026-09"):
        trend_books({"2026-08": "aug"}, "2026-09", 3)


@pytest.mark.parametrize(("setting", "key"), [
    ("history_months: 12", "ecl.migration.history_months"),
    ("window_months: 12", "ecl.simplified_approach.flow_rates.window_months"),
])
def test_a_window_beyond_the_declared_maximum_is_refused_naming_the_key(tmp_path: Path, setting: str, key: str):
    folder = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, folder)
    path = folder / "provisioning.yaml"
    name = setting.split(":")[0]
    path.write_text(path.read_text(encoding="utf-8").replace(setting, f"{name}: {HISTORY_MONTHS_BACK}"),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"provisioning\.yaml: key '{key}': .*at most {HISTORY_MONTHS_BACK - 1}"):
        load_config(folder)


def test_the_largest_window_that_fits_is_accepted(tmp_path: Path):
    folder = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, folder)
    path = folder / "provisioning.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("history_months: 12",
                                                            f"history_months: {HISTORY_MONTHS_BACK - 1}"),
                    encoding="utf-8")
    assert load_config(folder).provisioning.ecl.migration.history_months == HISTORY_MONTHS_BACK - 1


def test_the_history_assets_declare_their_windows_on_the_stored_states():
    from dagster import AssetKey, TimeWindowPartitionMapping

    from assets.monitoring import PERFORMANCE_MONTHS
    from assets.reports import TREND_MONTHS
    from pipelines.definitions import defs
    from pipelines.partitions import TREND_MONTHS_BACK

    graph = defs.resolve_asset_graph()
    windows = {}
    for name, upstream in (("tier_history", "loan_classification"), ("delinquency_history", "loan_classification"),
                           ("portfolio_performance", "loan_classification"), ("portfolio_trend", "loan_provisions")):
        mapping = graph.get_partition_mapping(AssetKey(name), AssetKey(upstream))
        assert isinstance(mapping, TimeWindowPartitionMapping) and mapping.allow_nonexistent_upstream_partitions
        assert mapping.end_offset == 0
        windows[name] = -mapping.start_offset
    assert windows == {"tier_history": HISTORY_MONTHS_BACK, "delinquency_history": HISTORY_MONTHS_BACK,
                       "portfolio_performance": HISTORY_MONTHS_BACK, "portfolio_trend": TREND_MONTHS_BACK}
    assert PERFORMANCE_MONTHS <= HISTORY_MONTHS_BACK + 1 and TREND_MONTHS == TREND_MONTHS_BACK
