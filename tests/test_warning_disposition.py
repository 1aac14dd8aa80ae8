"""Warning disposition (issue 14 item 9): each warning's lifecycle month to month — open, acknowledged, action
taken, cleared — with who and when, its age, and escalation past the deadline of its severity (high: 30 days).
Hand numbers over two month ends."""
from datetime import date

import pandas as pd

from plugins.config import load_config
from plugins.early_warning import watch_list
from plugins.monitoring.dispositions import NO_LONGER_FIRING, OPEN, warning_lifecycle

CFG = load_config()
SETTINGS = CFG.monitoring.dispositions
AUG, SEP = date(2026, 8, 31), date(2026, 9, 30)


def _signals(*rows):
    return pd.DataFrame(rows, columns=["contract_id", "borrower_id", "signal", "severity"])


def _dispositions(*rows):
    return pd.DataFrame(rows, columns=["contract_id", "signal", "status", "updated_by", "updated_on", "note"])


def test_a_warning_opens_is_acted_on_and_escalates_when_left_open_past_its_deadline():
    august = warning_lifecycle(_signals(("C1", "B1", "gps_silent", "high"), ("C2", "B2", "major_event", "high"),
                                        ("C3", "B3", "appraisal_overdue", "low")), None, None, AUG, SETTINGS)
    assert set(august["status"]) == {OPEN} and set(august["opened_on"]) == {AUG}
    acted = _dispositions(("C2", "major_event", "已确认", "风险经理张明", "2026-09-03", "已核实"),
                          ("C2", "major_event", "已采取措施", "风险经理张明", "2026-09-20", "专项检查"),
                          ("C3", "appraisal_overdue", "已解除", "客户经理李华", "2026-09-25", "已重估"))
    september = warning_lifecycle(_signals(("C1", "B1", "gps_silent", "high"), ("C2", "B2", "major_event", "high"),
                                           ("C3", "B3", "appraisal_overdue", "low")), august, acted, SEP, SETTINGS)
    rows = september.set_index("contract_id")
    # Opened 2026-08-31: 30 days old on 2026-09-30, not past the 30-day deadline yet.
    assert (rows.at["C1", "status"], rows.at["C1", "age_days"], bool(rows.at["C1", "escalated"])) == (OPEN, 30, False)
    assert (rows.at["C2", "status"], rows.at["C2", "updated_by"], rows.at["C2", "updated_on"]) == \
        ("已采取措施", "风险经理张明", date(2026, 9, 20))
    assert rows.at["C3", "cleared_on"] == date(2026, 9, 25)
    october = warning_lifecycle(_signals(("C1", "B1", "gps_silent", "high")), september, acted, date(2026, 10, 31),
                                SETTINGS).set_index("contract_id")
    assert (october.at["C1", "age_days"], bool(october.at["C1", "escalated"])) == (61, True)
    # C2's signal stopped before it was cleared: closed by the system that month; C3 was cleared and leaves.
    assert (october.at["C2", "status"], bool(october.at["C2", "firing"])) == (NO_LONGER_FIRING, False)
    assert (october.at["C3", "status"], bool(october.at["C3", "firing"])) == ("已解除", False)


def test_the_watch_list_shows_each_warnings_age_and_escalates():
    lifecycle = pd.DataFrame({"contract_id": ["C1", "C1"], "borrower_id": ["B1", "B1"],
                              "signal": ["gps_silent", "appraisal_overdue"], "severity": ["high", "low"],
                              "opened_on": [date(2026, 7, 31)] * 2, "status": [OPEN, "已确认"], "updated_by": ["", "李华"],
                              "updated_on": [None, date(2026, 8, 5)], "note": ["", ""], "cleared_on": [None, None],
                              "age_days": [61, 61], "escalated": [True, False], "firing": [True, True]})
    classified = pd.DataFrame({"contract_id": ["C1"], "borrower_id": ["B1"], "borrower_name": ["甲公司"], "tier": [1],
                               "tier_name": ["正常"], "balance_cents": [100], "dpd": [0], "rules_fired": [""]})
    signals = pd.DataFrame(columns=["contract_id", "signal", "severity"])
    listed = watch_list(classified, signals, CFG.early_warning, lifecycle=lifecycle, escalation=SETTINGS).iloc[0]
    assert (listed["reasons"], listed["warnings"], listed["oldest_warning_days"], bool(listed["escalated"]),
            listed["escalate_to"]) == ("escalated_warning", "appraisal_overdue:61,gps_silent:61", 61, True, "风险管理委员会")
