"""Leased assets and vehicles (租赁物 / 车辆, issue 14 item 7): alerts from the optional asset register.

asset_register.csv: asset_id, contract_id, collateral_id (when the asset is collateral), asset_type,
vin_serial, plate, insurance_expiry, inspection_expiry (年检), last_gps_contact, mileage_km, lease_end,
returned_on. Alerts for the contracts on the book (and leases just ended): annual inspection expired, GPS
silent beyond `gps_silent_days`, lease ended more than `return_grace_days` ago without return or buy-out.
(Insurance is judged for every insured asset by plugins/monitoring/collateral.insurance_status.)
"""
from __future__ import annotations

from datetime import date

import pandas as pd

from plugins.config import EarlyWarning, VehicleSettings
from plugins.early_warning.signals import Signal
from plugins.monitoring.collateral import _date

ALERT_COLUMNS = ["asset_id", "contract_id", "borrower_id", "asset_type", "plate", "alert", "since", "days"]
INSPECTION_EXPIRED, GPS_SILENT, NOT_RETURNED = "vehicle_inspection_expired", "gps_silent", "lease_end_not_returned"


def asset_alerts(register: pd.DataFrame | None, loans: pd.DataFrame, book: pd.DataFrame, as_of: date,
                 settings: VehicleSettings) -> pd.DataFrame:
    """One row per alert: which asset, what (`alert`), since when and for how many days."""
    if register is None or register.empty:
        return pd.DataFrame(columns=ALERT_COLUMNS)
    owners = dict(zip(loans["contract_id"], loans["borrower_id"]))
    on_book = set(book["contract_id"])
    rows = []
    for r in register.itertuples(index=False):
        owner = owners.get(r.contract_id, "")
        lease_end, returned = _date(r.lease_end), _date(r.returned_on)
        if lease_end is not None and returned is None and (as_of - lease_end).days > settings.return_grace_days:
            rows.append([r.asset_id, r.contract_id, owner, r.asset_type, r.plate or "", NOT_RETURNED, lease_end,
                         (as_of - lease_end).days])
        if r.contract_id not in on_book or returned is not None:
            continue
        inspection = _date(r.inspection_expiry)
        if inspection is not None and inspection < as_of:
            rows.append([r.asset_id, r.contract_id, owner, r.asset_type, r.plate or "", INSPECTION_EXPIRED,
                         inspection, (as_of - inspection).days])
        gps = _date(r.last_gps_contact)
        if gps is not None and (as_of - gps).days > settings.gps_silent_days:
            rows.append([r.asset_id, r.contract_id, owner, r.asset_type, r.plate or "", GPS_SILENT, gps,
                         (as_of - gps).days])
    return pd.DataFrame(rows, columns=ALERT_COLUMNS).sort_values(["alert", "asset_id"], ignore_index=True)


def vehicle_signals(alerts: pd.DataFrame, config: EarlyWarning) -> list[Signal]:
    return [Signal(r.contract_id, r.borrower_id, r.alert, config.signals[r.alert].severity,
                   {"asset_id": r.asset_id, "asset_type": r.asset_type, "plate": r.plate,
                    "since": r.since.isoformat(), "days": int(r.days)})
            for r in alerts.itertuples(index=False) if r.alert in config.signals]
