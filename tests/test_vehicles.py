"""Leased assets and vehicles (issue 14 item 7): annual inspection expired, GPS silent beyond the configured
days, lease ended without return. Hand numbers (gps_silent_days 15, return_grace_days 30)."""
from datetime import date

import pandas as pd

from plugins.config import load_config
from plugins.monitoring.vehicles import asset_alerts, vehicle_signals

CFG = load_config()
AS_OF = date(2026, 9, 30)


def test_asset_register_alerts():
    register = pd.DataFrame({
        "asset_id": ["V1", "V2", "V3", "M1"], "contract_id": ["C1", "C1", "C2", "C3"], "collateral_id": [""] * 4,
        "asset_type": ["网约车", "乘用车", "冷藏车", "注塑机"], "vin_serial": ["LSV1", "LSV2", "LSV3", "SN1"],
        "plate": ["粤B10001", "粤B10002", "粤B10003", ""],
        "insurance_expiry": ["2027-01-01"] * 4,
        "inspection_expiry": ["2026-09-10", "2027-05-01", "2027-05-01", ""],
        "last_gps_contact": ["2026-09-29", "2026-09-14", "2026-09-15", ""],
        "mileage_km": ["1", "2", "3", ""], "lease_end": ["", "", "", "2026-08-15"], "returned_on": ["", "", "", ""]})
    loans = pd.DataFrame({"contract_id": ["C1", "C2", "C3"], "borrower_id": ["B1", "B2", "B3"]})
    book = pd.DataFrame({"contract_id": ["C1", "C2"], "borrower_id": ["B1", "B2"]})  # C3's lease has ended
    alerts = asset_alerts(register, loans, book, AS_OF, CFG.monitoring.vehicles)
    # V1 inspection expired 20 days ago; V2 silent 16 days (> 15); V3 silent 15 days (not beyond);
    # M1's lease ended 2026-08-15, 46 days ago (> 30), not returned.
    assert list(zip(alerts["asset_id"], alerts["alert"], alerts["days"])) == [
        ("V2", "gps_silent", 16), ("M1", "lease_end_not_returned", 46), ("V1", "vehicle_inspection_expired", 20)]
    assert {(s.contract_id, s.signal, s.severity) for s in vehicle_signals(alerts, CFG.early_warning)} == {
        ("C1", "gps_silent", "high"), ("C3", "lease_end_not_returned", "high"), ("C1", "vehicle_inspection_expired", "medium")}
