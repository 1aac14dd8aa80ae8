"""The early-warning signals of issue 14 items 5–8 together, for the early_warning_signals asset: guarantors,
collateral revaluation and insurance, use of funds, leased assets and vehicles, events and inspection findings.
Each part reads its optional table when delivered and gives nothing when not."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import pandas as pd

from plugins.config import EarlyWarning, Monitoring
from plugins.early_warning.signals import Signal, financial_signals
from plugins.monitoring.collateral import collateral_signals, insurance_status, revaluation_schedule
from plugins.monitoring.events import event_signals, finding_signals
from plugins.monitoring.guarantors import guarantee_coverage, guarantor_signals
from plugins.monitoring.use_of_funds import fund_flow_findings, misuse_signals
from plugins.monitoring.vehicles import asset_alerts, vehicle_signals


@dataclass(frozen=True)
class MonitoringFindings:
    signals: list[Signal]
    tables: dict[str, pd.DataFrame]  # coverage, revaluation, insurance, fund_flows, asset_alerts


def monitoring_findings(classified: pd.DataFrame, extract: Mapping[str, pd.DataFrame], as_of: date,
                        config: EarlyWarning, settings: Monitoring, figures: pd.DataFrame | None = None
                        ) -> MonitoringFindings:
    """Signals and their tables for the classified book at `as_of`; `figures`: every borrower's latest filing
    (for guarantors who are borrowers here)."""
    guarantors = extract.get("guarantors", pd.DataFrame(columns=["contract_id", "guarantor_id", "guarantor_name",
                                                                 "guarantee_type", "guaranteed_amount"]))
    own_filings = financial_signals(figures, config, as_of) if figures is not None and not figures.empty else []
    schedule = revaluation_schedule(extract["collateral"], classified, as_of, settings.collateral)
    register = extract.get("asset_register")
    insurance = insurance_status(register, classified, as_of, settings.collateral)
    flows = fund_flow_findings(extract.get("fund_flows"), extract["loans"], extract["borrowers"], as_of,
                               settings.use_of_funds)
    alerts = asset_alerts(register, extract["loans"], classified, as_of, settings.vehicles)
    signals = (guarantor_signals(guarantors, classified, own_filings, settings.guarantors, config)
               + collateral_signals(schedule, insurance, config) + misuse_signals(flows, classified, config)
               + vehicle_signals(alerts, config)
               + (event_signals(extract.get("events"), classified, as_of, settings.events)
                  if "major_event" in config.signals else [])
               + (finding_signals(extract.get("inspections"), classified, as_of, settings.events)
                  if "inspection_finding" in config.signals else []))
    return MonitoringFindings(signals=sorted(signals, key=lambda s: (s.contract_id, s.signal)), tables={
        "coverage": guarantee_coverage(guarantors, classified), "revaluation": schedule, "insurance": insurance,
        "fund_flows": flows, "asset_alerts": alerts})
