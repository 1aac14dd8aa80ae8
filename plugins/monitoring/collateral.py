"""Collateral (押品) kept current (issue 14 item 5): a revaluation schedule by collateral type, appraisals
overdue against it, and insurance of collateral and leased assets expiring or lapsed.

Appraisals come from the collateral table (one row per valuation: collateral_id, contract_id,
collateral_type, appraised_value, valuation_date); insurance from the optional asset register
(asset_register.csv: insurance_expiry per asset, collateral_id when the asset is collateral). Months
between appraisals per type from config/monitoring.yaml `collateral`; severities from early_warning.yaml.
"""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from plugins.monitoring.inspections import add_months
from plugins.config import CollateralSettings, EarlyWarning
from plugins.early_warning.signals import Signal

SCHEDULE_COLUMNS = ["collateral_id", "contract_id", "borrower_id", "collateral_type", "last_valued_on",
                    "every_months", "next_due", "days_overdue", "overdue"]
INSURANCE_COLUMNS = ["asset_id", "contract_id", "borrower_id", "collateral_id", "asset_type", "insurance_expiry",
                     "days_left", "lapsed"]


def _date(value: object) -> date | None:
    if value in (None, "") or (not isinstance(value, date) and pd.isna(value)):
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def revaluation_schedule(collateral: pd.DataFrame, book: pd.DataFrame, as_of: date,
                         settings: CollateralSettings) -> pd.DataFrame:
    """Per collateral item of a loan on the book: its latest appraisal by `as_of`, the months its type allows
    between appraisals, the next appraisal due and how many days it is overdue (0 when not)."""
    owners = dict(zip(book["contract_id"], book["borrower_id"]))
    rows = []
    dated = collateral.assign(_on=[_date(v) for v in collateral["valuation_date"]])
    keep = [d is not None and d <= as_of and c in owners for d, c in zip(dated["_on"], dated["contract_id"])]
    dated = dated[pd.Series(keep, index=dated.index, dtype=bool)]
    for clid, group in dated.groupby("collateral_id", sort=True):
        latest = group.sort_values("_on").iloc[-1]
        months = settings.revaluation_months.get(latest["collateral_type"], settings.default_months)
        due = add_months(latest["_on"], months)
        late = max(0, (as_of - due).days)
        rows.append([clid, latest["contract_id"], owners[latest["contract_id"]], latest["collateral_type"],
                     latest["_on"], months, due, late, late > 0])
    return pd.DataFrame(rows, columns=SCHEDULE_COLUMNS)


def insurance_status(register: pd.DataFrame | None, book: pd.DataFrame, as_of: date,
                     settings: CollateralSettings) -> pd.DataFrame:
    """Assets of loans on the book whose insurance has lapsed by `as_of` or expires within
    `insurance_warning_days`; an asset without an insurance date is not judged."""
    if register is None or register.empty:
        return pd.DataFrame(columns=INSURANCE_COLUMNS)
    owners = dict(zip(book["contract_id"], book["borrower_id"]))
    rows = []
    for r in register.itertuples(index=False):
        expiry = _date(r.insurance_expiry)
        if r.contract_id not in owners or expiry is None:
            continue
        left = (expiry - as_of).days
        if left <= settings.insurance_warning_days:
            rows.append([r.asset_id, r.contract_id, owners[r.contract_id], r.collateral_id or "", r.asset_type,
                         expiry, left, left < 0])
    return pd.DataFrame(rows, columns=INSURANCE_COLUMNS).sort_values(["days_left", "asset_id"], ignore_index=True)


def collateral_signals(schedule: pd.DataFrame, insurance: pd.DataFrame, config: EarlyWarning) -> list[Signal]:
    """appraisal_overdue per overdue item; insurance_lapsed / insurance_expiring per insured asset."""
    signals = []
    if "appraisal_overdue" in config.signals:
        severity = config.signals["appraisal_overdue"].severity
        signals += [Signal(r.contract_id, r.borrower_id, "appraisal_overdue", severity,
                           {"collateral_id": r.collateral_id, "collateral_type": r.collateral_type,
                            "last_valued_on": r.last_valued_on.isoformat(), "every_months": int(r.every_months),
                            "days_overdue": int(r.days_overdue)})
                    for r in schedule[schedule["overdue"]].itertuples(index=False)]
    for r in insurance.itertuples(index=False):
        name = "insurance_lapsed" if r.lapsed else "insurance_expiring"
        if name in config.signals:
            signals.append(Signal(r.contract_id, r.borrower_id, name, config.signals[name].severity,
                                  {"asset_id": r.asset_id, "asset_type": r.asset_type,
                                   "insurance_expiry": r.insurance_expiry.isoformat(), "days_left": int(r.days_left)}))
    return signals
