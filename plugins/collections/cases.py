"""Collection cases (催收案件): one per overdue episode, opened and closed by the month-end contract state,
run by the dunning ladder of config/collections.yaml, kept month to month.

A **case** is a contract's overdue spell (plugins/portfolio/contract_state.py `overdue_since`): it opens on
the spell's first day (case id `<contract>-<yyyymmdd>`) and closes when the spell ends — the contract is
current again (outcome 逾期已结清, on its last payment day) or left the book (合同结清 / 核销 / 转让, on its exit
day). A new spell of the same contract is a new case. Last month's cases (the previous partition) carry the
collector assigned and say which cases closed this month; without them (a first month) the open cases are
rebuilt from the state and the log, and no case is known to have closed. An episode that begins and ends
between two month ends is never seen by a month-end state and has no case (its actions are still in the
collection results of plugins/monitoring/collections.py).

**Stage** (the ladder, `stages`): the last stage whose `from_dpd` the case's days past due reached; a case
reaches a stage on `opened_on + from_dpd - 1`. Each stage reached is a **task**: its action is due
`action_within_days` after the case reached it, and is done by the first logged action of one of its
channels, or of a later stage's, on or after that day. The **next action** is the current stage's when
not done yet, otherwise the next stage's (due when the case will reach it plus its days); a case is
**past its next action** when that action is undone and its due date is before the month end.

**Collector**: who holds the stage: the case's collector in the collection system's assignments
(`collection_assignments.csv`, optional), else last month's collector while the case stays in the same stage,
else a stable hash of the case id over the stage's `collectors`; a `collector` column in the log, when
delivered, names who actually did an action, and wins for that task.

**Promise to pay** (outcome 承诺还款): *kept* when the log shows money recovered within
`promise_kept_within_days` after it, *broken* when that window closed without money, *made* while it is
open. **Hardship** (困难原因): the assignment's, else the latest non-empty `hardship` cell of the case's log rows.
**Legal step**: an action of `legal_steps`; a case past `legal_after_dpd` without one is reported.

Pure: no Dagster, no environment; the log may be text (as delivered) or typed.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

import pandas as pd

from plugins.calendar import as_date
from plugins.config import Collections, DunningStage
from plugins.money import to_cents

CASE_COLUMNS = ["case_id", "contract_id", "borrower_id", "opened_on", "status", "closed_on", "outcome", "dpd",
                "overdue_principal_cents", "overdue_interest_cents", "stage_code", "stage", "stage_since",
                "collector", "next_action", "next_action_due", "past_next_action", "days_past_next_action",
                "last_action", "last_action_date", "actions", "recovered_cents", "promise_status",
                "promise_date", "promises_made", "promises_kept", "promises_broken", "broken_this_month",
                "hardship", "legal_step_on", "needs_legal_step"]
TASK_COLUMNS = ["case_id", "contract_id", "stage_code", "stage", "action", "collector", "due", "done_on",
                "done_action"]
OPEN, CLOSED = "open", "closed"
PROMISE = "承诺还款"


class DunningRules(Protocol):
    """What the case builder asks of a dunning policy (config/collections.yaml makes the default one)."""

    def stages_reached(self, dpd: int) -> Sequence[DunningStage]: ...

    def later_stages(self, stage: DunningStage) -> Sequence[DunningStage]: ...

    def collector_for(self, case_id: str, stage: DunningStage) -> str: ...


@dataclass(frozen=True)
class DunningLadder:
    """The ladder of config/collections.yaml: stages by days past due, collectors by a stable hash."""
    stages: tuple[DunningStage, ...]

    @classmethod
    def from_config(cls, policy: Collections) -> "DunningLadder":
        if not policy.stages:
            raise ValueError("config/collections.yaml: key 'stages' is empty; the dunning ladder needs one stage")
        return cls(tuple(policy.stages))

    def stages_reached(self, dpd: int) -> Sequence[DunningStage]:
        return [s for s in self.stages if dpd >= s.from_dpd]

    def later_stages(self, stage: DunningStage) -> Sequence[DunningStage]:
        return self.stages[self.stages.index(stage) + 1:]

    def collector_for(self, case_id: str, stage: DunningStage) -> str:
        digest = int(hashlib.sha256(f"{case_id}/{stage.code}".encode()).hexdigest()[:8], 16)
        return stage.collectors[digest % len(stage.collectors)]


_day = as_date  # plugins/calendar.py


def _text(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


@dataclass(frozen=True)
class _Action:
    day: date
    action: str
    outcome: str
    cents: int
    collector: str
    hardship: str


def log_by_contract(log: pd.DataFrame | None, as_of: date) -> dict[str, list[_Action]]:
    """The log's rows dated by `as_of`, per contract, in date order (the delivered order within a day)."""
    out: dict[str, list[_Action]] = {}
    if log is None or not len(log):
        return out
    collectors = log["collector"] if "collector" in log else [""] * len(log)
    hardship = log["hardship"] if "hardship" in log else [""] * len(log)
    for cid, day, action, outcome, amount, who, why in zip(log["contract_id"], log["action_date"], log["action"],
                                                          log["outcome"], log["amount_recovered"], collectors,
                                                          hardship):
        when = _day(day)
        if when is None or when > as_of:
            continue
        money = _text(amount)
        cents = amount if isinstance(amount, int) else (to_cents(money) if money else 0)
        out.setdefault(str(cid), []).append(_Action(when, _text(action), _text(outcome), int(cents), _text(who),
                                                    _text(why)))
    for actions in out.values():
        actions.sort(key=lambda a: a.day)
    return out


def _tasks(case_id: str, contract_id: str, opened: date, dpd: int, actions: list[_Action], rules: DunningRules,
           held_by: Mapping[str, str], assigned: str = "") -> list[dict]:
    """Every stage the case reached: due date, done date and who holds it."""
    tasks = []
    for stage in rules.stages_reached(dpd):
        since = opened + timedelta(days=stage.from_dpd - 1)
        channels = {c for s in [stage, *rules.later_stages(stage)] for c in s.channels}
        done = next((a for a in actions if a.day >= since and a.action in channels), None)
        collector = (done.collector if done and done.collector else
                     assigned or held_by.get(stage.code) or rules.collector_for(case_id, stage))
        tasks.append({"case_id": case_id, "contract_id": contract_id, "stage_code": stage.code, "stage": stage.name,
                      "action": stage.action, "collector": collector,
                      "due": since + timedelta(days=stage.action_within_days),
                      "done_on": done.day if done else None, "done_action": done.action if done else ""})
    return tasks


def _promises(actions: list[_Action], window: int, as_of: date) -> dict:
    month_start = as_of.replace(day=1)
    made = kept = broken = broken_month = 0
    status, last = "", None
    for a in actions:
        if a.outcome != PROMISE:
            continue
        made += 1
        last = a.day
        if any(a.day < b.day <= a.day + timedelta(days=window) and b.cents > 0 for b in actions):
            kept, status = kept + 1, "kept"
        elif a.day + timedelta(days=window) < as_of:
            broken, status = broken + 1, "broken"
            broken_month += month_start <= a.day + timedelta(days=window + 1) <= as_of
        else:
            status = "made"
    return {"promise_status": status, "promise_date": last, "promises_made": made, "promises_kept": kept,
            "promises_broken": broken, "broken_this_month": broken_month}


def _case_row(case_id: str, contract: Mapping, opened: date, actions: list[_Action], tasks: list[dict],
              rules: DunningRules, policy: Collections, as_of: date) -> dict:
    dpd = int(contract["dpd"])
    reached = rules.stages_reached(dpd)
    stage = reached[-1] if reached else None
    pending = next((t for t in tasks if t["done_on"] is None), None)
    if pending is None:  # every stage reached is done: the next one, when the case reaches it
        later = rules.later_stages(stage) if stage else rules.stages_reached(10**9)[:1]
        pending = None if not later else {
            "action": later[0].action,
            "due": opened + timedelta(days=later[0].from_dpd - 1 + later[0].action_within_days)}
    legal = next((a.day for a in actions if a.action in policy.legal_steps), None)
    hardship = next((a.hardship for a in reversed(actions) if a.hardship), "")
    last = actions[-1] if actions else None
    due = pending["due"] if pending else None
    past = due is not None and due < as_of
    return {
        "case_id": case_id, "contract_id": str(contract["contract_id"]), "borrower_id": str(contract["borrower_id"]),
        "opened_on": opened, "status": OPEN, "closed_on": None, "outcome": "", "dpd": dpd,
        "overdue_principal_cents": int(contract["overdue_principal_cents"]),
        "overdue_interest_cents": int(contract["overdue_interest_cents"]),
        "stage_code": stage.code if stage else "", "stage": stage.name if stage else "",
        "stage_since": opened + timedelta(days=stage.from_dpd - 1) if stage else None,
        "collector": tasks[-1]["collector"] if tasks else "",
        "next_action": pending["action"] if pending else "", "next_action_due": due,
        "past_next_action": past, "days_past_next_action": (as_of - due).days if past else 0,
        "last_action": last.action if last else "", "last_action_date": last.day if last else None,
        "actions": len(actions), "recovered_cents": sum(a.cents for a in actions),
        **_promises(actions, policy.promise_kept_within_days, as_of),
        "hardship": hardship, "legal_step_on": legal,
        "needs_legal_step": dpd > policy.legal_after_dpd and legal is None,
    }


def _assignments(assignments: pd.DataFrame | None, as_of: date) -> dict[tuple[str, date], tuple[str, str]]:
    """(contract, first overdue day) → (collector, hardship) from the collection system's assignments."""
    if assignments is None or not len(assignments):
        return {}
    out = {}
    for cid, opened, who, on, why in zip(assignments["contract_id"], assignments["case_opened_on"],
                                         assignments["collector"], assignments["assigned_on"],
                                         assignments["hardship"] if "hardship" in assignments else [""] * len(assignments)):
        when, day = _day(on), _day(opened)
        if day is not None and (when is None or when <= as_of):
            out[(str(cid), day)] = (_text(who), _text(why))
    return out


def build_cases(contracts: pd.DataFrame, log: pd.DataFrame | None, previous: pd.DataFrame | None, as_of: date,
                policy: Collections, rules: DunningRules | None = None,
                assignments: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """This month's cases (CASE_COLUMNS: every open case and those closed this month) and their tasks.

    `contracts`: contract_state's contracts at `as_of`; `previous`: last month's cases, or None;
    `assignments`: the collection system's case assignments (contract_id, case_opened_on, collector,
    assigned_on, hardship), when delivered: the collector holds every stage of the case (a collector logged on
    an action still says who did it) and a hardship declared there is the case's."""
    rules = rules or DunningLadder.from_config(policy)
    by_contract = log_by_contract(log, as_of)
    assigned = _assignments(assignments, as_of)
    state = {str(r["contract_id"]): r for r in contracts.to_dict("records")}
    carried = {} if previous is None else {
        str(r["case_id"]): r for r in previous.to_dict("records") if r["status"] == OPEN}
    rows, tasks = [], []
    for cid, contract in sorted(state.items()):
        since = _day(contract["overdue_since"])
        if not contract["on_book"] or since is None or int(contract["dpd"]) <= 0:
            continue
        case_id = f"{cid}-{since:%Y%m%d}"
        actions = [a for a in by_contract.get(cid, []) if a.day >= since]
        held = carried.get(case_id)
        held_by = {held["stage_code"]: held["collector"]} if held and held["collector"] else {}
        collector, hardship = assigned.get((cid, since), ("", ""))
        mine = _tasks(case_id, cid, since, int(contract["dpd"]), actions, rules, held_by, collector)
        row = _case_row(case_id, contract, since, actions, mine, rules, policy, as_of)
        if hardship:
            row["hardship"] = hardship
        rows.append(row)
        tasks += mine
    open_now = {r["case_id"] for r in rows}
    for case_id, case in sorted(carried.items()):
        if case_id not in open_now:
            rows.append(_closed(case, state.get(str(case["contract_id"])), by_contract, policy, as_of))
    frame = conform(pd.DataFrame(rows, columns=CASE_COLUMNS)).sort_values(
        ["status", "case_id"], ascending=[False, True], ignore_index=True)
    return {"cases": frame, "tasks": conform(pd.DataFrame(tasks, columns=TASK_COLUMNS))}


_DATES = {"opened_on", "closed_on", "stage_since", "next_action_due", "last_action_date", "promise_date",
          "legal_step_on", "due", "done_on"}
_FLAGS = {"past_next_action", "needs_legal_step"}
_COUNTS = {"dpd", "overdue_principal_cents", "overdue_interest_cents", "days_past_next_action", "actions",
           "recovered_cents", "promises_made", "promises_kept", "promises_broken", "broken_this_month"}


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns of one kind each, as Parquet keeps them: dates (date32, empty = null), flags, int64, text."""
    import pyarrow as pa

    out = {}
    for column in frame.columns:
        values = frame[column]
        if column in _DATES:
            out[column] = pd.Series(pa.array([_day(v) for v in values], type=pa.date32()),
                                    dtype=pd.ArrowDtype(pa.date32()), index=frame.index)
        elif column in _FLAGS:
            out[column] = values.fillna(False).astype(bool)
        elif column in _COUNTS:
            out[column] = values.fillna(0).astype("int64")
        else:
            out[column] = values.map(_text).astype(object)
    return pd.DataFrame(out, index=frame.index)


def _closed(case: Mapping, contract: Mapping | None, by_contract: Mapping[str, list[_Action]], policy: Collections,
            as_of: date) -> dict:
    """Last month's open case whose episode ended this month: how and when."""
    row = dict(case)
    reason = _text(contract["exit_reason"]) if contract is not None else ""
    if reason:
        closed_on = _day(contract["exited_on"]) or as_of
        outcome = policy.outcomes.get(reason, reason)
    else:  # current again (or a new spell began): cured on the last payment day of the month
        paid = _day(contract["last_paid_on"]) if contract is not None else None
        closed_on = paid if paid is not None and paid >= as_of.replace(day=1) else as_of
        outcome = policy.outcomes.get("cured", "cured")
    opened = _day(case["opened_on"])
    actions = [a for a in by_contract.get(str(case["contract_id"]), []) if opened <= a.day <= closed_on]
    row.update({"status": CLOSED, "closed_on": closed_on, "outcome": outcome, "dpd": 0,
                "overdue_principal_cents": 0, "overdue_interest_cents": 0, "next_action": "",
                "next_action_due": None, "past_next_action": False, "days_past_next_action": 0,
                "needs_legal_step": False, "actions": len(actions), "recovered_cents": sum(a.cents for a in actions),
                "broken_this_month": 0})
    if actions:
        row.update({"last_action": actions[-1].action, "last_action_date": actions[-1].day})
    return row


def _in_month(day: date | None, as_of: date) -> bool:
    return day is not None and as_of.replace(day=1) <= day <= as_of


def collector_workload(cases: dict[str, pd.DataFrame], log: pd.DataFrame | None, as_of: date) -> pd.DataFrame:
    """Per collector: the stage actions due this month, done by their due date, done late, not done, and
    the actions the log shows on their cases this month."""
    tasks = cases["tasks"]
    counts: dict[str, list[int]] = {}
    for t in tasks.to_dict("records"):
        due, done = t["due"], t["done_on"]
        row = counts.setdefault(t["collector"], [0, 0, 0, 0, 0])
        if _in_month(due, as_of):
            row[0] += 1
            if done is not None and done <= due:
                row[1] += 1
            elif done is not None and done <= as_of:
                row[2] += 1
            else:
                row[3] += 1
    by_contract = log_by_contract(log, as_of)
    for case in cases["cases"].to_dict("records"):  # who acted: the log's collector, else who holds the case
        opened = _day(case["opened_on"])
        for a in by_contract.get(case["contract_id"], []):
            if a.day >= opened and _in_month(a.day, as_of):
                counts.setdefault(a.collector or case["collector"], [0, 0, 0, 0, 0])[4] += 1
    rows = [(who, *values) for who, values in sorted(counts.items())]
    frame = pd.DataFrame(rows, columns=["催收员", "本月应执行", "按期执行", "逾期执行", "未执行", "本月催收行动"])
    total = ["合计", *[int(frame[c].sum()) for c in frame.columns[1:]]]
    return pd.concat([frame, pd.DataFrame([total], columns=frame.columns)], ignore_index=True)


def case_summary(cases: pd.DataFrame, as_of: date) -> dict[str, int]:
    """The month's counts: open, opened, closed by outcome, past the next action, broken promises, no legal step."""
    open_ = cases[cases["status"] == OPEN]
    closed = cases[cases["status"] == CLOSED]
    return {"open": len(open_), "opened_this_month": int(sum(_in_month(_day(d), as_of) for d in open_["opened_on"])),
            "closed_this_month": len(closed), "past_next_action": int(open_["past_next_action"].sum()),
            "broken_promises_this_month": int(cases["broken_this_month"].sum()),
            "needs_legal_step": int(open_["needs_legal_step"].sum()),
            "with_hardship": int((open_["hardship"] != "").sum()),
            **{f"closed_{o}": int((closed["outcome"] == o).sum()) for o in sorted(set(closed["outcome"]))}}
