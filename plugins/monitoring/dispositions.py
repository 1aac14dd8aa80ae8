"""Warning disposition (预警处置, issue 14 item 9): every early-warning signal has a lifecycle kept month to
month — open, acknowledged (已确认), action taken (已采取措施), cleared (已解除) — with who and when, from the
delivered disposition table (warning_dispositions.csv: contract_id, signal, status, updated_by, updated_on,
note), and an age; a warning open longer than config/monitoring.yaml `dispositions.escalate_after_days` (by
severity) is escalated.

A warning is one (contract_id, signal). It opens at the first month end its signal fires and stays in the
state while the signal keeps firing; the latest disposition dated by the month end sets its status (a
disposition dated before the warning opened counts too: it was acted on before the pipeline saw it). A
cleared warning stays cleared while the same signal keeps firing, and leaves the state when the signal stops;
a warning whose signal stops before it was cleared is closed as 不再触发 that month, by the system.
"""
from __future__ import annotations

from datetime import date

import pandas as pd

from plugins.config import DispositionSettings
from plugins.early_warning.signals import SEVERITY_RANK

OPEN, NO_LONGER_FIRING, SYSTEM = "未处置", "不再触发", "系统"
LIFECYCLE_COLUMNS = ["contract_id", "borrower_id", "signal", "severity", "opened_on", "status", "updated_by",
                     "updated_on", "note", "cleared_on", "age_days", "escalated", "firing"]


def _date(value: object) -> date | None:
    if value in (None, "") or (not isinstance(value, date) and pd.isna(value)):
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _worst(signals: pd.DataFrame) -> pd.DataFrame:
    """One row per (contract_id, signal): the worst severity among its rows."""
    ranked = signals.assign(_rank=signals["severity"].map(SEVERITY_RANK))
    ranked = ranked.sort_values(["contract_id", "signal", "_rank"], ascending=[True, True, False])
    return ranked.drop_duplicates(["contract_id", "signal"])[["contract_id", "borrower_id", "signal", "severity"]]


def latest_dispositions(dispositions: pd.DataFrame | None, as_of: date, settings: DispositionSettings
                        ) -> dict[tuple[str, str], tuple[str, str, date, str]]:
    """(contract_id, signal) → (status, by, on, note) of the latest disposition dated by `as_of` (on one day,
    the later status in the lifecycle wins)."""
    if dispositions is None or dispositions.empty:
        return {}
    order = {s: i for i, s in enumerate(settings.statuses)}
    found: dict[tuple[str, str], tuple[str, str, date, str]] = {}
    for r in dispositions.itertuples(index=False):
        on = _date(r.updated_on)
        if on is None or on > as_of or r.status not in order:
            continue
        key = (r.contract_id, r.signal)
        best = found.get(key)
        if best is None or (on, order[r.status]) > (best[2], order[best[0]]):
            found[key] = (r.status, r.updated_by, on, r.note or "")
    return found


def warning_lifecycle(signals: pd.DataFrame, previous: pd.DataFrame | None, dispositions: pd.DataFrame | None,
                      as_of: date, settings: DispositionSettings) -> pd.DataFrame:
    """The month's warnings (LIFECYCLE_COLUMNS): those firing now, and those closed this month."""
    cleared_status = settings.statuses[-1]
    before = {} if previous is None or previous.empty else {
        (r.contract_id, r.signal): r for r in previous.itertuples(index=False) if bool(r.firing)}
    acted = latest_dispositions(dispositions, as_of, settings)
    rows = []
    now = _worst(signals) if len(signals) else pd.DataFrame(columns=["contract_id", "borrower_id", "signal", "severity"])
    for r in now.itertuples(index=False):
        key = (r.contract_id, r.signal)
        earlier = before.get(key)
        opened = _date(earlier.opened_on) if earlier is not None else as_of
        status, by, on, note = acted.get(key, (OPEN, "", None, ""))
        cleared = on if status == cleared_status else None
        age = (as_of - opened).days
        escalated = cleared is None and age > settings.escalate_after_days.get(r.severity, 10**6)
        rows.append([r.contract_id, r.borrower_id, r.signal, r.severity, opened, status, by, on, note, cleared, age,
                     escalated, True])
    firing = set(zip(now["contract_id"], now["signal"]))
    for key, earlier in sorted(before.items()):
        if key in firing:
            continue
        was_cleared = earlier.status == cleared_status
        rows.append([earlier.contract_id, earlier.borrower_id, earlier.signal, earlier.severity,
                     _date(earlier.opened_on), earlier.status if was_cleared else NO_LONGER_FIRING,
                     earlier.updated_by if was_cleared else SYSTEM,
                     _date(earlier.updated_on) if was_cleared else as_of, earlier.note if was_cleared else "",
                     _date(earlier.cleared_on) if was_cleared else as_of,
                     (as_of - _date(earlier.opened_on)).days, False, False])
    frame = pd.DataFrame(rows, columns=LIFECYCLE_COLUMNS)
    return frame.sort_values(["contract_id", "signal"], ignore_index=True).astype(
        {"age_days": "int64", "escalated": bool, "firing": bool})


def lifecycle_summary(lifecycle: pd.DataFrame, settings: DispositionSettings) -> pd.DataFrame:
    """Warnings firing by status (未处置 first, then the lifecycle's order), with how many are escalated."""
    firing = lifecycle[lifecycle["firing"]]
    order = [OPEN, *settings.statuses]
    rows = [[status, int((firing["status"] == status).sum()),
             int((firing["escalated"] & (firing["status"] == status)).sum())] for status in order]
    rows.append([NO_LONGER_FIRING, int((lifecycle["status"] == NO_LONGER_FIRING).sum()), 0])
    return pd.DataFrame(rows, columns=["状态", "预警数", "已升级"])
