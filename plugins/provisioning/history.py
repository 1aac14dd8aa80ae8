"""The book at earlier month ends, for migration and movement: read from the month-end states stored then,
rebuilt from one extract only for the month ends never materialized.

`open_book` rewinds balances by adding back principal repaid since, but a loan
written off since has outstanding principal 0 in the extract and would vanish
from the earlier book. Here such a loan is put back with its principal less what
was repaid up to the earlier date, so the earlier allowance covers it and the
movement can show the write-off.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

import numpy as np
import pandas as pd

from plugins.config import EclMigration
from plugins.money import to_cents
from plugins.provisioning.migration import MigrationMatrix, estimate_matrix, transition_counts
from plugins.portfolio.loanbook import open_book

# classifies a book at a date: contract_id → tier
Classifier = Callable[[pd.DataFrame, date], Mapping[str, int]]


def month_end_before(as_of: date, months: int = 1) -> date:
    """The month end `months` months before the month end `as_of`."""
    first = as_of.replace(day=1)
    for _ in range(months):
        first = date.fromordinal(first.toordinal() - 1).replace(day=1)
    nxt = first.replace(year=first.year + (first.month == 12), month=first.month % 12 + 1)
    return date.fromordinal(nxt.toordinal() - 1)


def _written_off_on(loans: pd.DataFrame) -> pd.Series:
    return loans["written_off_on"].map(lambda d: date.fromisoformat(d) if d else None)


def written_off_between(extract: Mapping[str, pd.DataFrame], start: date, end: date) -> pd.DataFrame:
    """Loans written off after `start` up to `end`: contract_id, written_off_on, written_off_cents (principal)."""
    loans = extract["loans"]
    on = _written_off_on(loans)
    chosen = loans[np.array([d is not None and start < d <= end for d in on], dtype=bool)]
    pay = extract["payments"]
    pay = pay[pay["contract_id"].isin(set(chosen["contract_id"]))]
    rows = []
    for cid, principal, when in zip(chosen["contract_id"], chosen["principal"], on[chosen.index]):
        mine = pay[pay["contract_id"] == cid]
        repaid = sum(to_cents(v) for v, d in zip(mine["principal_paid"], mine["paid_date"])
                     if v and date.fromisoformat(d) <= when)
        rows.append({"contract_id": cid, "written_off_on": when, "written_off_cents": to_cents(principal) - repaid})
    return pd.DataFrame(rows, columns=["contract_id", "written_off_on", "written_off_cents"])


def recoveries_between(extract: Mapping[str, pd.DataFrame], start: date, end: date) -> int:
    """Cents received after `start` up to `end` on loans written off on or before `start`."""
    loans = extract["loans"]
    on = dict(zip(loans["contract_id"], _written_off_on(loans)))
    pay = extract["payments"]
    total = 0
    for cid, paid_date, p, i in zip(pay["contract_id"], pay["paid_date"], pay["principal_paid"], pay["interest_paid"]):
        when = on.get(cid)
        if when is not None and when <= start < date.fromisoformat(paid_date) <= end:
            total += to_cents(p or "0") + to_cents(i or "0")
    return total


def book_at(extract: Mapping[str, pd.DataFrame], as_of: date) -> pd.DataFrame:
    """`open_book` at `as_of`, with loans written off or transferred after `as_of` restored at their balance then."""
    later = list(written_off_between(extract, as_of, date.max)["contract_id"])
    loans = extract["loans"]
    if "transferred_on" in loans:  # a claim transferred (转让) after as_of was still on the book then
        later += [c for c, d in zip(loans["contract_id"], loans["transferred_on"])
                  if isinstance(d, str) and d > as_of.isoformat()]
    if not later:
        return open_book(extract, as_of)
    loans = loans.copy()
    pay = extract["payments"]
    repaid = pay["principal_paid"].map(lambda v: to_cents(v) if v else 0).groupby(pay["contract_id"]).sum()
    # open_book adds back principal paid after as_of to the outstanding, so state the outstanding
    # as principal less everything ever repaid: the balance at as_of comes out exactly.
    for cid in later:
        row = loans["contract_id"] == cid
        cents = to_cents(loans.loc[row, "principal"].iloc[0]) - int(repaid.get(cid, 0))
        loans.loc[row, "outstanding_principal"] = f"{cents // 100}.{cents % 100:02d}"
    return open_book({**extract, "loans": loans}, as_of)


def tier_snapshots(extract: Mapping[str, pd.DataFrame], month_ends: list[date], classify: Classifier,
                   states: Mapping[date, pd.DataFrame] | None = None) -> list[dict[str, int]]:
    """contract_id → tier at each month end (oldest first); a loan written off by then is tier 5 once.

    A month end in `states` (month end → that month's stored loan_classification: contract_id,
    tier) takes the tiers reported then; the others (never materialized) are rebuilt: the book at
    that month end from `extract`, classified by `classify` (performance.month_end_sources says
    which). A loan written off between two snapshots (written_off_on of this month's extract,
    which records every past write-off) appears in the later one as 损失 (it migrated to loss),
    then drops out.
    """
    loans = extract["loans"]
    written = dict(zip(loans["contract_id"], _written_off_on(loans)))
    states = states or {}
    snapshots, previous = [], None
    for when in month_ends:
        state = states.get(when)
        tiers = ({str(cid): int(tier) for cid, tier in zip(state["contract_id"], state["tier"])}
                 if state is not None else dict(classify(book_at(extract, when), when)))
        if previous is not None:
            for cid in previous:
                off = written.get(cid)
                if cid not in tiers and off is not None and off <= when:
                    tiers[cid] = 5
        snapshots.append(tiers)
        previous = {cid for cid, w in tiers.items() if not (written.get(cid) and written[cid] <= when)}
    return snapshots


def history_frame(snapshots: list[Mapping[str, int]], month_ends: list[date]) -> pd.DataFrame:
    """Long form of tier snapshots: month_end (ISO text), contract_id, tier."""
    rows = [{"month_end": when.isoformat(), "contract_id": cid, "tier": int(tier)}
            for when, snap in zip(month_ends, snapshots) for cid, tier in sorted(snap.items())]
    return pd.DataFrame(rows, columns=["month_end", "contract_id", "tier"]).astype({"tier": "int64"})


def snapshots_until(history: pd.DataFrame, as_of: date, months: int) -> list[dict[str, int]]:
    """The `months` + 1 snapshots of `history` ending at `as_of` (oldest first; absent month ends are empty)."""
    ends = [month_end_before(as_of, k).isoformat() for k in range(months, -1, -1)]
    by_end = {when: dict(zip(part["contract_id"], part["tier"].astype(int))) for when, part in history.groupby("month_end")}
    return [by_end.get(when, {}) for when in ends]


def migration_matrix_at(history: pd.DataFrame, as_of: date, config: EclMigration) -> MigrationMatrix:
    """Cohort migration matrix over the configured window ending at `as_of`."""
    return estimate_matrix(transition_counts(snapshots_until(history, as_of, config.history_months)), config)
