"""Events and inspection findings (issue 14 item 8): an event of the events table is a major_event signal on
the loans it concerns, with its type's severity; an inspection finding of the vocabulary (经营停滞, 拒绝配合 …)
done within the lookback is an inspection_finding signal. Hand numbers; on the sample, the 20 loans with
经营停滞 found in the last three months are all signalled high and so on the watch list."""
from datetime import date

import pandas as pd

from plugins.config import load_config
from plugins.monitoring.events import event_signals, finding_of, finding_signals

CFG = load_config()
SETTINGS = CFG.monitoring.events
AS_OF = date(2026, 9, 30)
BOOK = pd.DataFrame({"contract_id": ["C1", "C2", "C3"], "borrower_id": ["B1", "B1", "B2"]})


def test_an_event_signals_every_loan_of_its_borrower_with_the_types_severity():
    events = pd.DataFrame({"borrower_id": ["B1", "B2", "B2"], "contract_id": ["", "C3", "C3"],
                           "event_date": ["2026-09-03", "2026-08-01", "2025-08-01"],
                           "event_type": ["停产", "负面舆情", "诉讼"], "severity": ["", "high", ""],
                           "source": ["客户经理", "企查查", "裁判文书网"], "description": ["停产", "报道", "被诉"]})
    signals = event_signals(events, BOOK, AS_OF, SETTINGS)
    # 停产 → high on both of B1's loans; 负面舆情 is low by type but delivered high; the 2025-08 suit is older
    # than the 12-month lookback.
    assert sorted((s.contract_id, s.severity, s.evidence["event_type"]) for s in signals) == [
        ("C1", "high", "停产"), ("C2", "high", "停产"), ("C3", "high", "负面舆情")]


def test_refusal_to_cooperate_is_a_finding_and_only_recent_inspections_count():
    assert finding_of("借款人拒绝配合现场检查", SETTINGS) == "拒绝配合"
    inspections = pd.DataFrame({
        "contract_id": ["C1", "C2", "C3"], "borrower_id": ["B1", "B1", "B2"],
        "inspection_type": ["定期检查"] * 3, "due_date": ["2026-09-01"] * 3,
        "done_date": ["2026-09-10", "2026-06-20", "2026-08-15"], "inspector": ["张明", "李华", "王芳"],
        "finding": ["借款人拒绝配合现场检查", "经营停滞，建议列入重点监控", "经营正常，还款来源稳定"]})
    signals = finding_signals(inspections, BOOK, AS_OF, SETTINGS)
    # C2's inspection of 2026-06-20 is more than 3 months before 2026-09-30; C3's finding is not in the vocabulary.
    assert [(s.contract_id, s.severity, s.evidence["finding"], s.evidence["inspector"]) for s in signals] == [
        ("C1", "high", "拒绝配合", "张明")]


def test_on_the_sample_every_loan_with_business_halted_lately_is_on_the_watch_list():
    from plugins import registry
    from plugins.classification import with_previous_and_overrides
    from plugins.classification.period import classify_period
    from plugins.early_warning import signals_frame, watch_list
    from plugins.portfolio.loanbook import read_csv_bytes
    from plugins.portfolio.typed import type_tables
    from plugins.sample import core_extract, csv_bytes, generate_portfolio

    extract = {n: read_csv_bytes(csv_bytes(f)) for n, f in core_extract(generate_portfolio(), AS_OF).items()}
    typed = type_tables({k: extract[k] for k in ("borrowers", "loans", "schedules", "payments", "collateral",
                                                 "guarantors")}, CFG.extract_schema)
    book, verdicts, _ = classify_period(typed, AS_OF, CFG.classification, registry.classification_rules())
    classified = book.merge(with_previous_and_overrides(verdicts, {}), on="contract_id")
    halted = [s for s in finding_signals(extract["inspections"], classified, AS_OF, SETTINGS) if s.evidence["finding"] == "经营停滞"]
    assert len({s.contract_id for s in halted}) == 20
    watched = set(watch_list(classified, signals_frame(halted), CFG.early_warning)["contract_id"])
    assert {s.contract_id for s in halted} <= watched


def test_a_bad_setting_in_monitoring_yaml_names_the_file_and_the_key(tmp_path):
    import shutil

    import pytest

    from plugins.config import ConfigError

    folder = tmp_path / "config"
    shutil.copytree(CFG.config_dir, folder)
    path = folder / "monitoring.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("findings_lookback_months: 3", "findings_lookback_months: 0"),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"monitoring\.yaml: key 'events\.findings_lookback_months'"):
        load_config(folder)
