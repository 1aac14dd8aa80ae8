"""Use of funds (贷款用途 / 资金流向, issue 14 item 6): the delivered fund-flow records compared with each
contract's declared purpose by the rules of config/monitoring.yaml `use_of_funds`.

A flow (fund_flows.csv: contract_id, flow_date, payee, payee_account_type, payee_category, amount,
entrusted_payment) is misuse when its category is one no loan may fund (securities, real estate …), when it
is not among those the contract's purpose allows, when it goes back to the borrower itself or to a related
party, or when a large payment (a share of the principal) was not paid by 受托支付 (entrusted payment) on a
purpose that needs it. Each misuse is a `fund_misuse` signal naming the flow as evidence.
"""
from __future__ import annotations

from datetime import date

import pandas as pd

from plugins.config import EarlyWarning, UseOfFundsSettings
from plugins.early_warning.signals import Signal
from plugins.money import to_cents

FINDING_COLUMNS = ["contract_id", "borrower_id", "flow_date", "payee", "payee_category", "amount_cents",
                   "purpose", "finding"]
FORBIDDEN, NOT_FOR_PURPOSE, BACK_TO_BORROWER, NOT_ENTRUSTED = (
    "禁止用途", "与合同用途不符", "回流借款人或关联方", "大额未受托支付")


def allowed_categories(purpose: str, settings: UseOfFundsSettings) -> list[str] | None:
    """The categories the first purpose keyword found in `purpose` allows; None when no keyword matches."""
    for keyword, categories in settings.allowed_by_purpose.items():
        if keyword in (purpose or ""):
            return categories
    return None


def judge_flow(flow, purpose: str, principal_cents: int, borrower_name: str, related_names: set[str],
               settings: UseOfFundsSettings) -> str | None:
    """The first rule a flow breaks (FORBIDDEN, BACK_TO_BORROWER, NOT_FOR_PURPOSE, NOT_ENTRUSTED) or None."""
    category = flow.payee_category or ""
    if category in settings.forbidden_categories:
        return FORBIDDEN
    if settings.back_to_borrower and (flow.payee == borrower_name or flow.payee in related_names):
        return BACK_TO_BORROWER
    allowed = allowed_categories(purpose, settings)
    if allowed is not None and category not in allowed:
        return NOT_FOR_PURPOSE
    amount = to_cents(str(flow.amount)) if flow.amount else 0
    if allowed is not None and str(flow.entrusted_payment).lower() != "true" and principal_cents and \
            amount >= principal_cents * settings.entrusted_payment_min_share:
        return NOT_ENTRUSTED
    return None


def fund_flow_findings(flows: pd.DataFrame | None, loans: pd.DataFrame, borrowers: pd.DataFrame, as_of: date,
                       settings: UseOfFundsSettings) -> pd.DataFrame:
    """Every flow dated by `as_of` that breaks a rule, with the rule (`finding`) and the contract's purpose.
    Related parties: borrowers of the same group (borrowers.group_id) and those marked related_party."""
    if flows is None or flows.empty:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    loan = loans.set_index("contract_id")
    names = dict(zip(borrowers["borrower_id"], borrowers["name"]))
    groups = dict(zip(borrowers["borrower_id"], borrowers["group_id"]))
    related_party = set(borrowers.loc[borrowers["related_party"].astype(str).str.lower() == "true", "name"])
    rows = []
    for f in flows.itertuples(index=False):
        when = f.flow_date if isinstance(f.flow_date, date) else date.fromisoformat(str(f.flow_date))
        if when > as_of or f.contract_id not in loan.index:
            continue
        borrower = loan.at[f.contract_id, "borrower_id"]
        group = groups.get(borrower) or None
        related = {names[b] for b, g in groups.items() if group and g == group and b != borrower} | related_party
        purpose = str(loan.at[f.contract_id, "purpose"] or "")
        principal = to_cents(str(loan.at[f.contract_id, "principal"]))
        finding = judge_flow(f, purpose, principal, names.get(borrower, ""), related, settings)
        if finding:
            rows.append([f.contract_id, borrower, when, f.payee, f.payee_category,
                         to_cents(str(f.amount)) if f.amount else 0, purpose, finding])
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def misuse_signals(findings: pd.DataFrame, book: pd.DataFrame, config: EarlyWarning) -> list[Signal]:
    """One fund_misuse signal per loan on the book with a finding, the flows as evidence."""
    if "fund_misuse" not in config.signals:
        return []
    on_book = findings[findings["contract_id"].isin(set(book["contract_id"]))]
    return [Signal(cid, group["borrower_id"].iloc[0], "fund_misuse", config.signals["fund_misuse"].severity,
                   {"flows": len(group), "amount_cents": int(group["amount_cents"].sum()),
                    "findings": ",".join(sorted(set(group["finding"]))),
                    "payees": ",".join(sorted(set(group["payee"]))), "purpose": group["purpose"].iloc[0]})
            for cid, group in on_book.groupby("contract_id", sort=True)]
