"""Specs of the PDFs the lender receives: signed contracts, quarterly statements and bad files."""

from __future__ import annotations

import random
from datetime import date, timedelta

from plugins.sample.parties import Borrower, Guarantee, Valuation
from plugins.sample.reference import LEASE_LENDER, LOAN_LENDER
from plugins.sample.schedule import add_months
from plugins.sample.simulate import Contract
from plugins.sample.statements import quarter_end, simulate_statements

DEFECTS = ["corrupt", "encrypted", "image_only", "not_pdf", "mislabelled"]
MAX_STATEMENT_BORROWERS = 60


def money(cents: int) -> str:
    """Cents -> yuan string with exactly two decimals."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def rate_str(rate_e4: int) -> str:
    return f"{rate_e4 // 10000}.{rate_e4 % 10000:04d}"


def _month(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def _month_end(d: date) -> date:
    return add_months(d.replace(day=1), 1) - timedelta(days=1)


def contract_kind(c: Contract) -> str:
    return "lease_contract" if c.product == "finance_lease" else "loan_contract"


def contract_title(c: Contract) -> str:
    return "融资租赁合同" if c.product == "finance_lease" else "借款合同"


def signing_date(c: Contract) -> date:
    # Signed a few days before disbursement, in the same month so the document lands in that month.
    return max(c.start.replace(day=1), c.start - timedelta(days=c.idx % 4))


def collateral_text(items: list[list[Valuation]]) -> str | None:
    if not items:
        return None
    return "；".join(f"{h[0].collateral_type}（评估价值 {money(h[0].value)} 元，评估日 {h[0].valuation_date.isoformat()}）"
                    for h in items)


def contract_terms(c: Contract, b: Borrower, guarantees: list[Guarantee], items: list[list[Valuation]]) -> dict:
    """The terms as printed in the signed contract (original schedule, before any 展期/重组)."""
    return {
        "contract_id": c.contract_id, "lender": LEASE_LENDER if c.product == "finance_lease" else LOAN_LENDER,
        "borrower_name": b.name, "borrower_id_number": b.id_number, "guarantors": [g.guarantor_name for g in guarantees],
        "principal": money(c.principal), "currency": "CNY", "annual_rate": rate_str(c.rate_e4),
        "rate_type": c.rate_type, "lpr_spread_bp": c.spread_bp, "term_months": c.term,
        "start_date": c.start.isoformat(), "maturity_date": c.original_maturity.isoformat(),
        "repayment_method": c.method, "collateral": collateral_text(items),
        "leased_asset": c.leased_asset or None, "purpose": c.purpose, "signing_date": signing_date(c).isoformat(),
    }


def contract_spec(c: Contract, b: Borrower, terms: dict, end: date) -> dict:
    signed = signing_date(c)
    received = min(signed + timedelta(days=c.idx % 3), _month_end(signed), end)
    kind = contract_kind(c)
    return {"kind": kind, "declared_class": kind, "file_name": f"{c.contract_id}_{contract_title(c)}.pdf",
            "borrower_id": b.borrower_id, "contract_id": c.contract_id, "period": _month(signed),
            "received_date": received.isoformat(), "terms": terms}


def _distress_quarter(d: date | None) -> tuple[int, int] | None:
    if d is None:
        return None
    early = d - timedelta(days=180)  # statements deteriorate about two quarters before the first miss
    return early.year, (early.month - 1) // 3 + 1


def statement_specs(rng: random.Random, borrowers: list[Borrower], contracts: list[Contract],
                    distress: dict[int, date], start: date, end: date) -> list[dict]:
    """Quarterly statements of up to MAX_STATEMENT_BORROWERS companies, for quarters with an active contract."""
    quarters = []
    y, q = start.year, (start.month - 1) // 3 + 1
    while add_months(quarter_end(y, q).replace(day=1), 1) <= end:
        if quarter_end(y, q) >= start:
            quarters.append((y, q))
        y, q = (y + 1, 1) if q == 4 else (y, q + 1)
    if not quarters:
        return []
    corp = [b for b in borrowers if b.kind == "corporate" and b.contracts]
    sick = [b for b in corp if b.idx in distress][: MAX_STATEMENT_BORROWERS // 2]
    healthy = [b for b in corp if b.idx not in distress]
    chosen = sorted(sick + rng.sample(healthy, min(len(healthy), MAX_STATEMENT_BORROWERS - len(sick))),
                    key=lambda b: b.idx)
    specs = []
    for pos, b in enumerate(chosen):
        credit = sum(contracts[i].principal for i in b.contracts)
        figures = simulate_statements(rng, credit, quarters[0][0], quarters[-1], _distress_quarter(distress.get(b.idx)))
        for n, (y, q) in enumerate(quarters):
            if _submits(b, contracts, distress.get(b.idx), y, q):
                specs.append(_statement_spec(rng, b, pos, n, y, q, figures[(y, q)], end))
    _ensure_late_in_last_month(specs, quarters[-1], end)
    return specs


def _submits(b: Borrower, contracts: list[Contract], distressed_on: date | None, y: int, q: int) -> bool:
    q_end = quarter_end(y, q)
    q_start = add_months(q_end.replace(day=1), -2)
    if distressed_on and q_end > distressed_on + timedelta(days=270):
        return False  # defaulted borrowers stop sending statements after a while
    return any(contracts[i].start <= q_end and contracts[i].active_until >= q_start for i in b.contracts)


def _statement_spec(rng: random.Random, b: Borrower, pos: int, n: int, y: int, q: int,
                    items: dict[str, tuple[int, int]], end: date) -> dict:
    q_end = quarter_end(y, q)
    delay = rng.choices([1, 2, 3], weights=[82, 12, 6])[0]
    month = add_months(q_end.replace(day=1), delay)
    if month > end:
        month = end.replace(day=1)
    received = min(month.replace(day=rng.randint(3, 25)), end)
    return {
        "kind": "financial_statement", "declared_class": "financial_statement",
        "file_name": f"{b.borrower_id}_{y}Q{q}_财务报表.pdf", "borrower_id": b.borrower_id, "contract_id": None,
        "period": _month(received), "received_date": received.isoformat(),
        "statement": {"borrower_name": b.name, "period_end": q_end.isoformat(), "layout": "AB"[(pos + n) % 2],
                      "unit": "万元" if pos % 3 == 2 else "元",
                      "items": {k: [money(v[0]), money(v[1])] for k, v in items.items()}},
    }


def _ensure_late_in_last_month(specs: list[dict], last_q: tuple[int, int], end: date) -> None:
    # The latest month must carry some late statements of the last quarter (if it can).
    last_month = _month(end)
    q_end = quarter_end(*last_q)
    if add_months(q_end.replace(day=1), 3) < end.replace(day=1):
        return
    latest = [s for s in specs if s["statement"]["period_end"] == q_end.isoformat()]
    if sum(s["period"] == last_month for s in latest) >= 3:
        return
    for s in latest[:: max(1, len(latest) // 4)][:4]:
        received = end.replace(day=min(end.day, 3 + int(s["borrower_id"][1:]) % 20))
        s["period"], s["received_date"] = last_month, received.isoformat()


def bad_specs(rng: random.Random, borrowers: list[Borrower], contracts: list[Contract],
              terms: dict[int, dict], start: date, end: date) -> list[dict]:
    """Two of each defect spread over the history, and one of each in the last month."""
    months = []
    d = start.replace(day=1)
    while d < end.replace(day=1):
        months.append(d)
        d = add_months(d, 1)
    out = []
    for defect in DEFECTS:
        picks = sorted(rng.sample(months, min(2, len(months)))) + [end.replace(day=1)]
        for m in picks:
            month_end = min(_month_end(m), end)
            pool = [c for c in contracts if c.start <= month_end]
            if not pool:
                continue
            c = rng.choice(pool)
            received = m.replace(day=rng.randint(1, month_end.day))
            out.append(_bad_spec(defect, c, borrowers[c.borrower], terms[c.idx], received, len(out)))
    return out


def _bad_spec(defect: str, c: Contract, b: Borrower, terms: dict, received: date, n: int) -> dict:
    declared = "financial_statement" if defect in ("encrypted", "not_pdf", "mislabelled") or n % 2 else contract_kind(c)
    is_contract = declared != "financial_statement"
    name = f"{c.contract_id}_{contract_title(c)}_补充件{n + 1:02d}.pdf" if is_contract else \
        f"{b.borrower_id}_{received.year}{received.month:02d}_财务资料{n + 1:02d}.pdf"
    spec = {"kind": "bad", "defect": defect, "declared_class": declared, "file_name": name,
            "borrower_id": b.borrower_id, "contract_id": c.contract_id if is_contract or defect == "mislabelled" else None,
            "period": _month(received), "received_date": received.isoformat()}
    if defect == "mislabelled":
        spec["terms"] = terms  # a contract filed as a financial statement
    return spec
