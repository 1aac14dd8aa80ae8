"""Each borrower's statement state month over month, one rule per case with config/early_warning.yaml's numbers.

statements_overdue threshold 6 months (two quarters: 基金公司贷后管理制度 第七条(二) 及时提供财务报表, quarterly
statements); debt_to_asset_covenant 0.70.
"""
from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from plugins.config import DEFAULT_CONFIG_DIR, ConfigError, load_config
from plugins.documents.ratios import financial_ratios
from plugins.early_warning import book_signals, signals_frame, watch_list
from plugins.extraction import FIGURE_COLUMNS
from plugins.monitoring.covenants import covenant_headroom
from plugins.monitoring.statement_state import build_state, latest_filing_figures

CFG = load_config().early_warning
MONTH, AS_OF = "2026-09", date(2026, 9, 30)


def statement(borrower: str, period_end: str, sha: str, rows: list[tuple[str, int, int | None]],
              kind: str = "balance_sheet") -> pd.DataFrame:
    """Rows as statement_figures_extracted carries them: (canonical, current cents, prior cents), page 2."""
    return pd.DataFrame([{"sha256": sha, "borrower_id": borrower, "period_end": period_end, "statement": kind,
                          "scope": "entity", "canonical": c, "label": c, "unit": "元", "multiplier": "1",
                          "currency": "CNY", "current": str(cur / 100), "prior": None if pri is None else str(pri / 100),
                          "current_cents": cur, "prior_cents": pri, "page": 2, "bbox": "[1, 2, 3, 4]"}
                         for c, cur, pri in rows], columns=FIGURE_COLUMNS)


def nothing() -> pd.DataFrame:
    return pd.DataFrame(columns=FIGURE_COLUMNS)


def months(*deliveries: tuple[str, pd.DataFrame]) -> dict:
    """The state after each (month, that month's statement figures) in turn, each built from the one before."""
    state = None
    for month, figures in deliveries:
        state = build_state(month, figures, state)
    return state


BOOK_ROW = {"contract_id": "HT1", "borrower_id": "B1", "borrower_name": "江苏恒达机械制造有限公司",
            "borrower_kind": "corporate", "tier": 1, "tier_name": "正常", "balance_cents": 100_000_00, "dpd": 0,
            "maturity_date": "2028-01-01", "extended": False, "issuance_type": "新增", "rules_fired": ""}


def book(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame([{**BOOK_ROW, **r} for r in rows])


def _extract() -> dict[str, pd.DataFrame]:
    return {"schedules": pd.DataFrame(columns=["contract_id", "schedule_version", "instalment_no", "due_date",
                                               "principal_due", "interest_due"]),
            "payments": pd.DataFrame(columns=["contract_id", "schedule_version", "instalment_no", "paid_date",
                                              "principal_paid", "interest_paid"]),
            "collateral": pd.DataFrame(columns=["collateral_id", "contract_id", "collateral_type", "appraised_value",
                                                "valuation_date"])}


def signals(classified: pd.DataFrame, state: dict) -> pd.DataFrame:
    return signals_frame(book_signals(classified, _extract(), AS_OF, CFG, statements=state))


# --- the state, month over month ---------------------------------------------------------------------

def test_a_later_statement_replaces_the_earlier_period():
    state = months(("2026-04", statement("B1", "2026-03-31", "q1", [("total_assets", 1_000_00, None)])),
                   ("2026-05", nothing()),
                   ("2026-07", statement("B1", "2026-06-30", "q2", [("total_assets", 1_200_00, None)])))
    held = state["figures"]
    assert held[["period_end", "sha256", "delivered_month", "page"]].drop_duplicates().values.tolist() == \
        [["2026-06-30", "q2", "2026-07", 2]]
    assert state["log"][["action", "replaced_period_end", "replaced_sha256"]].values.tolist() == \
        [["newer_period", "2026-03-31", "q1"]]


def test_an_older_period_delivered_late_does_not_replace_the_newer_one():
    state = months(("2026-07", statement("B1", "2026-06-30", "q2", [("total_assets", 1_200_00, None)])),
                   ("2026-08", statement("B1", "2026-03-31", "q1", [("total_assets", 1_000_00, None)])))
    assert state["filings"][["period_end", "sha256"]].values.tolist() == [["2026-06-30", "q2"]]
    assert state["log"]["action"].tolist() == ["older_period_ignored"]


def test_the_same_period_delivered_again_replaces_it_and_says_so():
    state = months(("2026-07", statement("B1", "2026-06-30", "q2", [("total_assets", 1_200_00, None)])),
                   ("2026-08", statement("B1", "2026-06-30", "q2-corrected", [("total_assets", 1_250_00, None)])))
    assert state["figures"][["sha256", "current_cents", "replaces_sha256"]].values.tolist() == \
        [["q2-corrected", 1_250_00, "q2"]]
    assert state["log"][["action", "replaced_sha256"]].values.tolist() == [["redelivered", "q2"]]
    assert bool(state["filings"]["redelivered"].iloc[0]) is True


def test_a_borrower_who_delivered_months_ago_is_still_judged_by_that_filing_six_months_old():
    # The 2026-03-31 statement, delivered in April; nothing since. At 2026-09-30 it is six months old.
    state = months(("2026-04", statement("B1", "2026-03-31", "q1", [("total_assets", 100_00, None),
                                                                   ("total_liabilities", 75_00, None),
                                                                   ("equity", -1, None)])),
                   *((m, nothing()) for m in ("2026-05", "2026-06", "2026-07", "2026-08", "2026-09")))
    filing = state["filings"].iloc[0]
    assert (filing["period_end"], filing["sha256"], filing["delivered_month"], filing["age_months"],
            filing["delivered_months_ago"]) == ("2026-03-31", "q1", "2026-04", 6, 5)
    frame = signals(book({}), state)
    judged = frame[frame["signal"].isin(["debt_to_asset_covenant", "negative_equity"])]
    assert judged[["signal", "filing_period_end", "filing_sha256", "filing_age_months"]].values.tolist() == \
        [["debt_to_asset_covenant", "2026-03-31", "q1", 6], ["negative_equity", "2026-03-31", "q1", 6]]
    assert "statements_overdue" not in set(frame["signal"])  # 6 months: within the policy
    headroom = covenant_headroom(latest_filing_figures(state["figures"]), book({}), CFG, as_of=AS_OF).iloc[0]
    assert (headroom["period_end"], headroom["filing_sha256"], headroom["age_months"], headroom["debt_to_asset"],
            headroom["breach"]) == ("2026-03-31", "q1", 6, Decimal("0.7500"), True)


# --- statements overdue -----------------------------------------------------------------------------

def test_the_policy_allows_six_months():
    assert CFG.signals["statements_overdue"].threshold == 6


@pytest.mark.parametrize("period_end, overdue", [
    ("2026-03-31", False),  # 6 months at 2026-09-30: within the policy
    ("2026-02-28", True),   # 7 months: past it
])
def test_a_corporate_borrower_past_the_policys_months_is_flagged_statements_overdue(period_end, overdue):
    state = build_state(MONTH, statement("B1", period_end, "s1", [("total_assets", 100_00, None)]), None)
    frame = signals(book({}), state)
    flagged = frame[frame["signal"] == "statements_overdue"]
    assert (len(flagged) == 1) is overdue
    if overdue:
        row = flagged.iloc[0]
        assert (row["contract_id"], row["severity"], row["filing_period_end"], row["filing_sha256"],
                row["filing_age_months"]) == ("HT1", CFG.signals["statements_overdue"].severity, period_end, "s1", 7)
        assert "age_months=7" in row["evidence"] and "max_age_months=6" in row["evidence"]


def test_a_corporate_borrower_who_never_delivered_is_flagged_and_an_individual_is_not():
    state = build_state(MONTH, nothing(), None)
    classified = book({"contract_id": "HT1", "borrower_id": "B1"},
                      {"contract_id": "HT2", "borrower_id": "B2", "borrower_kind": "individual", "borrower_name": "张三"})
    flagged = signals(classified, state).query("signal == 'statements_overdue'")
    assert flagged["contract_id"].tolist() == ["HT1"]
    assert "never_delivered=True" in flagged["evidence"].iloc[0]
    assert "on_record_since=2026-09" in flagged["evidence"].iloc[0]


def test_statements_overdue_is_not_raised_by_overdue_and_is_watched_only_when_configured_high():
    state = build_state(MONTH, nothing(), None)
    classified = book({"dpd": 10, "tier": 1})
    frame = signals(classified, state)
    assert frame.loc[frame["signal"] == "statements_overdue", "severity"].tolist() == \
        [CFG.signals["statements_overdue"].severity]  # medium: not on the watch list by itself
    assert watch_list(classified, frame, CFG).empty


def test_the_months_must_be_whole(tmp_path: Path):
    target = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, target)
    path = target / "early_warning.yaml"
    text = path.read_text()
    assert "    threshold: 6 " in text
    path.write_text(text.replace("    threshold: 6 ", "    threshold: 6.5 ", 1))
    with pytest.raises(ConfigError, match="statements_overdue"):
        load_config(target)


# --- ratios and provenance --------------------------------------------------------------------------

def test_the_ratios_are_those_of_ratios_py_on_the_latest_figures():
    q1 = [("total_assets", 1_000_00, 900_00), ("total_liabilities", 500_00, 400_00), ("current_assets", 400_00, None),
          ("current_liabilities", 200_00, None), ("net_profit", 10_00, None)]
    q2 = [("total_assets", 1_200_00, 900_00), ("total_liabilities", 900_00, 400_00), ("current_assets", 300_00, None),
          ("current_liabilities", 250_00, None), ("inventory", 50_00, None), ("net_profit", 12_00, None)]
    latest = statement("B1", "2026-06-30", "q2", q2)
    state = months(("2026-04", statement("B1", "2026-03-31", "q1", q1)), ("2026-07", latest))
    ratios = state["ratios"]
    expected = financial_ratios(latest)
    assert ratios.astype(object).to_dict("records") == expected.astype(object).to_dict("records")
    assert (ratios["period_end"].tolist(), ratios["debt_to_asset"].tolist(), ratios["quick_ratio"].tolist()) == \
        (["2026-06-30"], [Decimal("0.7500")], [Decimal("1.0000")])


def test_the_first_month_bootstraps_from_the_earlier_months_materialized_and_says_so():
    earlier = pd.concat([statement("B1", "2025-12-31", "q4", [("total_assets", 1_000_00, None)]).assign(
                             filed_month="2026-01"),
                         statement("B2", "2026-03-31", "b2q1", [("total_assets", 500_00, None)]).assign(
                             filed_month="2026-04")], ignore_index=True)
    state = build_state(MONTH, statement("B1", "2026-06-30", "q2", [("total_assets", 1_100_00, None)]), None,
                        earlier=earlier)
    assert state["filings"][["borrower_id", "period_end", "delivered_month"]].values.tolist() == \
        [["B1", "2026-06-30", "2026-09"], ["B2", "2026-03-31", "2026-04"]]
    provenance = state["provenance"].iloc[0]
    assert provenance["source"].startswith("bootstrap: statement figures of 2 earlier month(s)")
    assert provenance["covers_from"] == "2026-01"
    alone = build_state(MONTH, nothing(), None)
    assert alone["provenance"]["source"].iloc[0].startswith("bootstrap: this month only")
    carried = build_state("2026-10", nothing(), state)
    assert carried["provenance"][["source", "covers_from"]].values.tolist() == \
        [["previous month's borrower_statements (2026-09)", "2026-01"]]


def test_the_asset_builds_from_last_months_state_or_bootstraps():
    from dagster import build_asset_context

    from assets.extract import borrower_statements

    september = statement("B1", "2026-06-30", "q2", [("total_assets", 1_100_00, None)])
    first = borrower_statements(build_asset_context(partition_key=MONTH), statement_figures_extracted=september,
                                earlier_statement_figures={}, previous_statements={})
    assert first.metadata["source"].startswith("bootstrap: this month only")
    october = borrower_statements(build_asset_context(partition_key="2026-10"), statement_figures_extracted=nothing(),
                                  earlier_statement_figures={}, previous_statements={MONTH: first.value})
    assert october.metadata["source"] == "previous month's borrower_statements (2026-09)"
    assert october.value["filings"][["period_end", "age_months"]].values.tolist() == [["2026-06-30", 4]]
