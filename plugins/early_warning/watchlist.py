"""The watch list of a period: every 关注 loan, every restructured loan in observation, every loan with a
high-severity signal, each with the recommended action and the responsible role (config/early_warning.yaml)."""
from __future__ import annotations

import pandas as pd

from plugins.config import DispositionSettings, EarlyWarning

WATCH_LIST_COLUMNS = ["contract_id", "borrower_id", "borrower_name", "tier", "tier_name", "balance_cents", "dpd",
                      "reasons", "high_signals", "recommended_action", "responsible_role"]
# With the warnings' lifecycle (plugins/monitoring/dispositions.py): each open warning with its age in days, the
# oldest, and whether one is past its deadline (escalated, and to whom).
LIFECYCLE_WATCH_COLUMNS = ["warnings", "oldest_warning_days", "escalated", "escalate_to"]
ESCALATED = "escalated_warning"


def _reasons(row, high_signals: list[str]) -> list[str]:
    reasons = []
    if row.tier == 2:
        reasons.append("special_mention")
    if "restructured_in_observation" in str(row.rules_fired).split(","):
        reasons.append("restructured_in_observation")
    if high_signals:
        reasons.append("high_severity_signal")
    return reasons


def watch_list(classified: pd.DataFrame, signals: pd.DataFrame, config: EarlyWarning,
               lifecycle: pd.DataFrame | None = None, escalation: DispositionSettings | None = None) -> pd.DataFrame:
    """One row per watched loan, the worst tier and largest balance first.

    With `lifecycle` (the month's warning_lifecycle) and `escalation`, each row also lists the loan's warnings
    not cleared with their age in days (`warnings`: "signal:days,…"), the oldest, and `escalated` when one is
    past its deadline; a loan with an escalated warning is watched for that alone too (reason escalated_warning).
    """
    high = signals[signals["severity"] == "high"].groupby("contract_id")["signal"].apply(lambda s: sorted(set(s)))
    open_warnings, escalated = {}, set()
    if lifecycle is not None and escalation is not None:
        live = lifecycle[lifecycle["firing"] & lifecycle["cleared_on"].isna()].sort_values(
            ["contract_id", "age_days", "signal"], ascending=[True, False, True])
        open_warnings = live.groupby("contract_id")[["signal", "age_days"]].apply(
            lambda g: list(zip(g["signal"], g["age_days"]))).to_dict()
        escalated = set(live.loc[live["escalated"], "contract_id"])
    rows = []
    for r in classified.itertuples(index=False):
        high_signals = high.get(r.contract_id, [])
        reasons = _reasons(r, high_signals)
        if r.contract_id in escalated:
            reasons.append(ESCALATED)
        if not reasons:
            continue
        actions = [config.watch_list[reason] for reason in reasons if reason != ESCALATED]
        action_text = [a.action for a in actions] + ([f"预警超期未解除，升级至{escalation.escalate_to}"]
                                                    if ESCALATED in reasons else [])
        roles = [a.role for a in actions] + ([escalation.escalate_to] if ESCALATED in reasons else [])
        row = {"contract_id": r.contract_id, "borrower_id": r.borrower_id, "borrower_name": r.borrower_name,
               "tier": int(r.tier), "tier_name": r.tier_name, "balance_cents": int(r.balance_cents),
               "dpd": int(r.dpd), "reasons": ",".join(reasons), "high_signals": ",".join(high_signals),
               "recommended_action": "；".join(action_text), "responsible_role": "、".join(dict.fromkeys(roles))}
        if escalation is not None:
            mine = open_warnings.get(r.contract_id, [])
            row.update({"warnings": ",".join(f"{sig}:{int(age)}" for sig, age in mine),
                        "oldest_warning_days": int(mine[0][1]) if mine else 0,
                        "escalated": r.contract_id in escalated,
                        "escalate_to": escalation.escalate_to if r.contract_id in escalated else ""})
        rows.append(row)
    columns = WATCH_LIST_COLUMNS + (LIFECYCLE_WATCH_COLUMNS if escalation is not None else [])
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["tier", "balance_cents", "contract_id"], ascending=[False, False, True],
                             ignore_index=True)
