"""Early-warning signals and the watch list, one signal per case with config/early_warning.yaml's numbers."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from plugins.config import load_config
from plugins.early_warning import book_signals, collateral_positions, financial_signals, overdue_events, watch_list
from plugins.early_warning.signals import (
    collateral_value_down,
    cured_then_relapsed,
    debtor_contagion,
    loan_to_value_high,
    maturity_without_renewal,
    repeated_overdue,
    signals_frame,
)

CFG = load_config().early_warning
AS_OF = date(2026, 9, 30)


def book(**overrides) -> pd.DataFrame:
    row = {"contract_id": "HT1", "borrower_id": "B1", "borrower_name": "某某有限公司", "tier": 1, "tier_name": "正常",
           "balance_cents": 100_000_00, "dpd": 0, "maturity_date": "2028-01-01", "extended": False,
           "issuance_type": "新增", "rules_fired": ""}
    return pd.DataFrame([{**row, **overrides}])


def history(paid: dict[str, str | None]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Monthly instalments of 1,000.00 due on the 15th; `paid` maps due date → paid date (None: unpaid)."""
    schedules = pd.DataFrame([{"contract_id": "HT1", "schedule_version": "1", "instalment_no": str(i + 1),
                               "due_date": due, "principal_due": "1000.00", "interest_due": "0.00"}
                              for i, due in enumerate(paid)])
    payments = pd.DataFrame([{"contract_id": "HT1", "schedule_version": "1", "instalment_no": str(i + 1),
                              "paid_date": on, "principal_paid": "1000.00", "interest_paid": "0.00"}
                             for i, on in enumerate(paid.values()) if on],
                            columns=["contract_id", "schedule_version", "instalment_no", "paid_date",
                                     "principal_paid", "interest_paid"])
    return schedules, payments


def names(signals) -> list[str]:
    return sorted(s.signal for s in signals)


# --- delinquency patterns ---------------------------------------------------------------------------

def test_three_overdue_events_in_twelve_months_is_a_signal_and_two_is_not():
    two_late = {"2026-03-15": "2026-03-20", "2026-04-15": "2026-04-15", "2026-05-15": "2026-05-25"}
    three_late = {**two_late, "2026-06-15": "2026-06-18"}
    for paid, expected in ((two_late, []), (three_late, ["repeated_overdue"])):
        events = overdue_events(*history(paid), AS_OF, CFG)
        assert names(repeated_overdue(events, {"HT1": "B1"}, CFG)) == expected


def test_an_overdue_event_older_than_twelve_months_does_not_count():
    paid = {"2025-09-15": "2025-09-20", "2026-05-15": "2026-05-25", "2026-06-15": "2026-06-18"}
    assert len(overdue_events(*history(paid), AS_OF, CFG)) == 2


def test_cured_then_relapsed():
    # Late in May, caught up on 25 May, current in June, unpaid again since 15 August.
    paid = {"2026-05-15": "2026-05-25", "2026-06-15": "2026-06-15", "2026-07-15": "2026-07-15", "2026-08-15": None}
    events = overdue_events(*history(paid), AS_OF, CFG)
    signals = cured_then_relapsed(book(dpd=46), events, AS_OF, CFG)
    assert names(signals) == ["cured_then_relapsed"]
    assert signals[0].evidence["cured_on"] == "2026-05-25"


def test_continuously_overdue_is_not_a_relapse():
    paid = {"2026-07-15": None, "2026-08-15": None}
    events = overdue_events(*history(paid), AS_OF, CFG)
    assert cured_then_relapsed(book(dpd=77), events, AS_OF, CFG) == []


def test_more_than_ninety_days_past_due_is_high_severity():
    frame = signals_frame(book_signals(book(dpd=91, tier=3), _empty_extract(), AS_OF, CFG))
    assert frame.loc[frame["signal"] == "dpd_over_90", "severity"].tolist() == ["high"]
    assert "dpd_over_90" not in set(signals_frame(book_signals(book(dpd=90), _empty_extract(), AS_OF, CFG))["signal"])


# --- maturity, collateral, contagion ----------------------------------------------------------------

@pytest.mark.parametrize("maturity, extended, fires", [
    ("2026-10-30", False, True),    # 30 days ahead: inside the 30-day window
    ("2026-10-31", False, False),   # 31 days: outside
    ("2026-10-15", True, False),    # extended (展期): renewed
])
def test_maturity_within_thirty_days_without_renewal(maturity, extended, fires):
    signals = maturity_without_renewal(book(maturity_date=maturity, extended=extended), AS_OF, CFG)
    assert (names(signals) == ["maturity_without_renewal"]) is fires


def _collateral(values: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame([{"collateral_id": "CL1", "contract_id": "HT1", "collateral_type": "房产",
                          "appraised_value": v, "valuation_date": d} for d, v in values])


@pytest.mark.parametrize("latest, fires", [("160000.00", True), ("160000.01", False)])
def test_collateral_value_down_twenty_percent_raises_the_loan_to_value(latest, fires):
    positions = collateral_positions(_collateral([("2025-09-01", "200000.00"), ("2026-09-01", latest)]),
                                     book(), AS_OF)
    signals = collateral_value_down(positions, CFG)
    assert (names(signals) == ["collateral_value_down"]) is fires
    if fires:
        assert signals[0].evidence["previous_ltv"] == "0.5000" and signals[0].evidence["ltv"] == "0.6250"


def test_a_later_appraisal_than_the_period_end_is_not_yet_known():
    positions = collateral_positions(_collateral([("2025-09-01", "200000.00"), ("2026-10-01", "100000.00")]),
                                     book(), AS_OF)
    assert collateral_value_down(positions, CFG) == []


def test_loan_to_value_above_one_is_high_severity():
    positions = collateral_positions(_collateral([("2026-09-01", "99999.99")]), book(), AS_OF)
    signals = loan_to_value_high(positions, CFG)
    assert [(s.signal, s.severity) for s in signals] == [("loan_to_value_high", "high")]


def test_a_debtors_other_performing_claims_are_flagged_when_one_is_non_performing():
    frame = pd.concat([book(contract_id="HT1", tier=3), book(contract_id="HT2", tier=1)], ignore_index=True)
    signals = debtor_contagion(frame, CFG)
    assert [(s.contract_id, s.evidence["non_performing_claims"]) for s in signals] == [("HT2", "HT1")]


# --- financial deterioration from statement figures ------------------------------------------------

def figures(rows: list[tuple[str, int, int | None]], borrower: str = "B1") -> pd.DataFrame:
    return pd.DataFrame([{"borrower_id": borrower, "period_end": "2026-06-30", "canonical": c,
                          "current_cents": cur, "prior_cents": prior} for c, cur, prior in rows])


def test_a_net_loss_is_a_signal():
    assert names(financial_signals(figures([("net_profit", -1, 500)]), CFG)) == ["net_loss"]


@pytest.mark.parametrize("current, fires", [(69_00, True), (70_00, False)])
def test_revenue_down_more_than_thirty_percent_year_on_year(current, fires):
    signals = financial_signals(figures([("revenue", current, 100_00)]), CFG)
    assert (names(signals) == ["revenue_down"]) is fires


@pytest.mark.parametrize("liabilities, fires", [(71_00, True), (70_00, False)])
def test_debt_to_asset_above_the_seventy_percent_covenant(liabilities, fires):
    signals = financial_signals(figures([("total_assets", 100_00, None), ("total_liabilities", liabilities, None)]), CFG)
    assert (names(signals) == ["debt_to_asset_covenant"]) is fires


def test_negative_equity_is_high_severity():
    signals = financial_signals(figures([("equity", -1, None)]), CFG)
    assert [(s.signal, s.severity) for s in signals] == [("negative_equity", "high")]


def scoped(rows: list[tuple[str, str, int | None, int | None]], borrower: str = "B1") -> pd.DataFrame:
    """Rows as statement_figures_extracted holds them for a group's annual report: (scope, canonical, current, prior)."""
    return pd.DataFrame([{"borrower_id": borrower, "period_end": "2026-06-30", "scope": scope, "canonical": c,
                          "current_cents": cur, "prior_cents": prior} for scope, c, cur, prior in rows])


def test_a_group_report_is_judged_on_its_consolidated_figures_even_when_the_parents_come_first():
    # Ind AS reports print the standalone (parent) statements before the consolidated ones
    frame = scoped([("parent", "equity", -5_00, 10_00), ("parent", "net_profit", -7_00, 1_00),
                    ("consolidated", "equity", 100_00, 90_00), ("consolidated", "net_profit", 12_00, 8_00)])
    assert financial_signals(frame, CFG) == []
    # and the other way round: the group is loss-making and insolvent, the parent company is not
    frame = scoped([("consolidated", "equity", -5_00, 10_00), ("parent", "equity", 100_00, 90_00)])
    assert names(financial_signals(frame, CFG)) == ["negative_equity"]


def test_the_consolidated_line_with_amounts_is_used_and_a_blank_one_is_not_filled_from_the_parent():
    frame = scoped([("consolidated", "revenue", None, None),  # the label printed again without amounts
                    ("consolidated", "revenue", 60_00, 100_00), ("parent", "revenue", 100_00, 100_00),
                    ("consolidated", "net_profit", None, None), ("parent", "net_profit", -1_00, 5_00)])
    signals = financial_signals(frame, CFG)
    assert [(s.signal, s.evidence["revenue_cents"]) for s in signals] == [("revenue_down", 60_00)]


def test_overdue_together_with_a_net_loss_is_raised_to_high_severity():
    frame = signals_frame(book_signals(book(dpd=10, tier=2), _empty_extract(), AS_OF, CFG,
                                       figures([("net_profit", -1, 500)])))
    assert frame.loc[frame["signal"] == "net_loss", ["contract_id", "severity"]].values.tolist() == [["HT1", "high"]]


# --- watch list --------------------------------------------------------------------------------------

def test_the_watch_list_holds_special_mention_restructured_in_observation_and_high_signals():
    classified = pd.concat([
        book(contract_id="HT1", borrower_id="B1", tier=2, tier_name="关注", rules_fired="overdue_days"),
        book(contract_id="HT2", borrower_id="B2", tier=3, tier_name="次级", rules_fired="restructured_in_observation"),
        book(contract_id="HT3", borrower_id="B3", tier=3, tier_name="次级", rules_fired="overdue_days", dpd=95),
        book(contract_id="HT4", borrower_id="B4"),  # 正常, no signal: not watched
    ], ignore_index=True)
    signals = signals_frame(book_signals(classified, _empty_extract(), AS_OF, CFG))
    listed = watch_list(classified, signals, CFG).set_index("contract_id")
    assert sorted(listed.index) == ["HT1", "HT2", "HT3"]
    assert listed.loc["HT1", "reasons"] == "special_mention"
    assert listed.loc["HT1", "responsible_role"] == CFG.watch_list["special_mention"].role
    assert listed.loc["HT2", "reasons"] == "restructured_in_observation"
    assert listed.loc["HT3", "high_signals"] == "dpd_over_90"
    assert listed.loc["HT3", "recommended_action"] == CFG.watch_list["high_severity_signal"].action


def _empty_extract() -> dict[str, pd.DataFrame]:
    _, payments = history({})
    schedules = pd.DataFrame(columns=["contract_id", "schedule_version", "instalment_no", "due_date",
                                      "principal_due", "interest_due"])
    return {"schedules": schedules, "payments": payments,
            "collateral": pd.DataFrame(columns=["collateral_id", "contract_id", "collateral_type", "appraised_value",
                                                "valuation_date"])}
