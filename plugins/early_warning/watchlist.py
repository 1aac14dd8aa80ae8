"""The watch list of a period: every 关注 loan, every restructured loan in observation, every loan with a
high-severity signal, each with the recommended action and the responsible role (config/early_warning.yaml)."""
from __future__ import annotations

import pandas as pd

from plugins.config import EarlyWarning

WATCH_LIST_COLUMNS = ["contract_id", "borrower_id", "borrower_name", "tier", "tier_name", "balance_cents", "dpd",
                      "reasons", "high_signals", "recommended_action", "responsible_role"]


def _reasons(row, high_signals: list[str]) -> list[str]:
    reasons = []
    if row.tier == 2:
        reasons.append("special_mention")
    if "restructured_in_observation" in str(row.rules_fired).split(","):
        reasons.append("restructured_in_observation")
    if high_signals:
        reasons.append("high_severity_signal")
    return reasons


def watch_list(classified: pd.DataFrame, signals: pd.DataFrame, config: EarlyWarning) -> pd.DataFrame:
    """One row per watched loan, the worst tier and largest balance first."""
    high = signals[signals["severity"] == "high"].groupby("contract_id")["signal"].apply(lambda s: sorted(set(s)))
    rows = []
    for r in classified.itertuples(index=False):
        high_signals = high.get(r.contract_id, [])
        reasons = _reasons(r, high_signals)
        if not reasons:
            continue
        actions = [config.watch_list[reason] for reason in reasons]
        rows.append({"contract_id": r.contract_id, "borrower_id": r.borrower_id, "borrower_name": r.borrower_name,
                     "tier": int(r.tier), "tier_name": r.tier_name, "balance_cents": int(r.balance_cents),
                     "dpd": int(r.dpd), "reasons": ",".join(reasons), "high_signals": ",".join(high_signals),
                     "recommended_action": "；".join(a.action for a in actions),
                     "responsible_role": "、".join(dict.fromkeys(a.role for a in actions))})
    frame = pd.DataFrame(rows, columns=WATCH_LIST_COLUMNS)
    return frame.sort_values(["tier", "balance_cents", "contract_id"], ascending=[False, False, True],
                             ignore_index=True)
