"""Which notices a month's run issues, per contract, and their fields (config/notices.yaml `kinds`).

* **还款提醒** (repayment_reminder): contracts on the book and not overdue with an instalment of the
  schedule in force due within `lead_days` after the month end (amount: what is still unpaid of it).
* **逾期通知书** (overdue_notice): each collection case opened this month (plugins/collections/cases.py).
* **催收函** (demand_letter): each open case that reached the ladder's `stage` this month.
* **到期及续贷提醒** (maturity_reminder): contracts of `products` maturing within `lead_days` after the month end.
* **车辆回收通知** (vehicle_recovery): finance leases of one of `vehicles` ending within `lead_days`, or whose rent
  went more than `recover_after_dpd` days overdue this month.

A window of `lead_days` after this month end that the previous month end's window already covered is not
notified again, so each instalment or maturity gets one notice. Amounts are the month end's: overdue
principal and interest from the contract state, penalty interest from plugins/collections/penalty.py. Each
notice is dated the month end; `reply_by` is that day plus `reply_within_working_days` working days.
Pure: no Dagster, no environment; the same inputs give the same notices in the same order.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from plugins.archive.archive import sha256_hex
from plugins.calendar import add_working_days, as_date
from plugins.config import Notices
from plugins.documents.render import amount_in_chinese, cn_date, format_money
from plugins.money import yuan
from plugins.notices.render import render_notice
from plugins.portfolio.loanbook import day_numbers

NOTICE_COLUMNS = ["kind", "kind_name", "contract_id", "borrower_id", "borrower_name", "file_name", "sha256",
                  "amount_cents", "reference_date", "reason"]


@dataclass(frozen=True)
class Notice:
    kind: str
    kind_name: str
    contract_id: str
    borrower_id: str
    borrower_name: str
    email: str
    period: str
    file_name: str
    pdf: bytes
    amount_cents: int
    reference_date: date | None
    reason: str

    @property
    def sha256(self) -> str:
        return sha256_hex(self.pdf)


_day = as_date  # plugins/calendar.py


def _money(cents: int) -> str:
    return format_money(yuan(int(cents)))


def _window(as_of: date, lead_days: int) -> tuple[date, date]:
    """(after, up to): this month end's lead window less what last month end's covered."""
    previous_end = as_of.replace(day=1) - timedelta(days=1)
    return max(as_of, previous_end + timedelta(days=lead_days)), as_of + timedelta(days=lead_days)


def _day_number(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _repayments_due(tables: Mapping[str, pd.DataFrame], after: date, until: date, as_of: date) -> dict[str, tuple[date, int]]:
    """contract → (first due date in the window, unpaid amount due in it) on the schedule in force."""
    schedules, payments = tables["schedules"], tables["payments"]
    version = schedules.groupby("contract_id")["schedule_version"].transform("max")
    in_force = schedules[schedules["schedule_version"] == version]
    # whole-column day numbers (a boolean mask, never a list: an empty list would select no columns)
    due, due_known = day_numbers(in_force["due_date"])
    window = in_force.loc[due_known & (due > _day_number(after)) & (due <= _day_number(until))]
    if window.empty:
        return {}
    paid_on, paid_known = day_numbers(payments["paid_date"])
    paid = payments.loc[paid_known & (paid_on <= _day_number(as_of))]
    paid = paid.assign(amount=paid["principal_paid"].fillna(0).astype("int64")
                       + paid["interest_paid"].fillna(0).astype("int64"))
    paid = paid.groupby(["contract_id", "schedule_version", "instalment_no"])["amount"].sum()
    out: dict[str, tuple[date, int]] = {}
    for r in window.itertuples(index=False):
        owed = int(r.principal_due if r.principal_due == r.principal_due else 0) + \
            int(r.interest_due if r.interest_due == r.interest_due else 0)
        owed -= int(paid.get((r.contract_id, r.schedule_version, r.instalment_no), 0))
        if owed <= 0:
            continue
        first, total = out.get(str(r.contract_id), (_day(r.due_date), 0))
        out[str(r.contract_id)] = (min(first, _day(r.due_date)), total + owed)
    return out


def issue_notices(period: str, as_of: date, contracts: pd.DataFrame, cases: pd.DataFrame, penalty: pd.DataFrame,
                  tables: Mapping[str, pd.DataFrame], policy: Notices, institution: str,
                  ladder_stage_names: Mapping[str, str] | None = None) -> list[Notice]:
    """The month's notices, rendered, by kind then contract. `contracts`: contract_state's contracts;
    `cases`: collection_cases' cases; `penalty`: penalty_interest's table; `tables`: the typed core tables."""
    loans = tables["loans"].set_index("contract_id")
    borrowers = tables["borrowers"].set_index("borrower_id")
    state = contracts[contracts["on_book"]].set_index("contract_id")
    penalties = penalty.set_index("contract_id")["penalty_interest_cents"] if len(penalty) else pd.Series(dtype="int64")
    reply_by = cn_date(add_working_days(as_of, policy.reply_within_working_days))
    month_start = as_of.replace(day=1)
    candidates: list[tuple[str, str, int, date | None, str]] = []  # kind, contract, amount, reference date, reason

    if (kind := policy.kinds.get("repayment_reminder")) is not None:
        after, until = _window(as_of, kind.lead_days or 5)
        for cid, (due, owed) in sorted(_repayments_due(tables, after, until, as_of).items()):
            if cid in state.index and int(state.at[cid, "dpd"]) == 0:
                candidates.append(("repayment_reminder", cid, owed, due, ""))
    open_cases = cases[cases["status"] == "open"] if len(cases) else cases
    if "overdue_notice" in policy.kinds:
        for case in open_cases.itertuples(index=False):
            if month_start <= _day(case.opened_on) <= as_of:
                candidates.append(("overdue_notice", case.contract_id, 0, _day(case.opened_on), ""))
    if (kind := policy.kinds.get("demand_letter")) is not None:
        for case in open_cases.itertuples(index=False):
            since = _day(case.stage_since)
            if case.stage_code == kind.stage and since is not None and month_start <= since <= as_of:
                candidates.append(("demand_letter", case.contract_id, 0, since, ""))
    for code in ("maturity_reminder", "vehicle_recovery"):
        kind = policy.kinds.get(code)
        if kind is None:
            continue
        after, until = _window(as_of, kind.lead_days or 30)
        for cid in sorted(state.index):
            loan = loans.loc[cid]
            if kind.products and str(loan["product"]) not in kind.products:
                continue
            if kind.vehicles is not None and str(loan.get("leased_asset", "")) not in kind.vehicles:
                continue
            maturity = _day(loan["maturity_date"])
            reason = ""
            if maturity is not None and after < maturity <= until:
                reason = f"租赁期将于{cn_date(maturity)}届满"
            elif code == "vehicle_recovery" and kind.recover_after_dpd:
                since = _day(state.at[cid, "overdue_since"])
                crossed = since + timedelta(days=kind.recover_after_dpd) if since else None
                if crossed is not None and month_start <= crossed <= as_of:
                    reason = f"租金已逾期{int(state.at[cid, 'dpd'])}天，超过{kind.recover_after_dpd}天"
            if reason:
                candidates.append((code, cid, int(state.at[cid, "balance_cents"]), maturity, reason))

    notices = []
    for code, cid, amount, reference, reason in sorted(candidates, key=lambda c: (c[0], c[1])):
        kind = policy.kinds[code]
        loan = loans.loc[cid]
        borrower_id = str(loan["borrower_id"])
        borrower = borrowers.loc[borrower_id] if borrower_id in borrowers.index else None
        name = str(borrower["name"]) if borrower is not None else borrower_id
        email = str(borrower.get("email", "") or "") if borrower is not None else ""
        row = state.loc[cid] if cid in state.index else None
        overdue_p = int(row["overdue_principal_cents"]) if row is not None else 0
        overdue_i = int(row["overdue_interest_cents"]) if row is not None else 0
        pen = int(penalties.get(cid, 0))
        balance = int(row["balance_cents"]) if row is not None else 0
        since = _day(row["overdue_since"]) if row is not None else None
        fields = {
            "institution": institution, "borrower_name": name, "contract_id": cid,
            "product_name": policy.product_names.get(str(loan["product"]), str(loan["product"])),
            "notice_id": f"{kind.name}-{cid}-{period}", "notice_date": cn_date(as_of), "reply_by": reply_by,
            "due_date": cn_date(reference) if reference and code == "repayment_reminder" else "",
            "amount_due": _money(amount), "amount_due_words": amount_in_chinese(yuan(amount)),
            "maturity_date": cn_date(_day(loan["maturity_date"])) if _day(loan["maturity_date"]) else "",
            "balance": _money(balance), "balance_words": amount_in_chinese(yuan(balance)),
            "dpd": str(int(row["dpd"])) if row is not None else "0",
            "overdue_since": cn_date(since) if since else "",
            "overdue_principal": _money(overdue_p), "overdue_interest": _money(overdue_i),
            "penalty_interest": _money(pen), "overdue_total": _money(overdue_p + overdue_i + pen),
            "overdue_total_words": amount_in_chinese(yuan(overdue_p + overdue_i + pen)),
            "leased_asset": str(loan.get("leased_asset", "") or ""), "reason": reason,
        }
        if code in ("overdue_notice", "demand_letter"):
            amount = overdue_p + overdue_i + pen
        notices.append(Notice(code, kind.name, cid, borrower_id, name, email, period,
                              f"{kind.name}_{cid}_{period}.pdf", render_notice(code, kind, fields), amount,
                              reference, reason))
    return notices


def notice_table(notices: list[Notice]) -> pd.DataFrame:
    """NOTICE_COLUMNS, one row per notice (no bytes): what the asset stores and the pack lists."""
    return pd.DataFrame([(n.kind, n.kind_name, n.contract_id, n.borrower_id, n.borrower_name, n.file_name, n.sha256,
                          n.amount_cents, n.reference_date.isoformat() if n.reference_date else "", n.reason)
                         for n in notices], columns=NOTICE_COLUMNS)
