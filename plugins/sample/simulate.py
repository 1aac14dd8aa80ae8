"""Contracts, behaviour segments, schedules and payment histories (all amounts in integer cents)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from plugins.sample.parties import Borrower
from plugins.sample.reference import INDIVIDUAL_LEASE_ASSETS, INDIVIDUAL_PURPOSES, INDUSTRIES, lpr_1y_bp
from plugins.sample.schedule import EQUAL_INSTALMENT, EQUAL_PRINCIPAL, INTEREST_ONLY, Instalment, add_months, amortise

# (version, instalment_no, paid_date, principal cents, interest cents)
Payment = tuple[int, int, date, int, int]


@dataclass
class Contract:
    idx: int
    borrower: int
    product: str
    issuance_type: str
    principal: int
    rate_e4: int
    rate_type: str
    spread_bp: int | None
    start: date
    term: int
    method: str
    purpose: str
    leased_asset: str
    v1: list[Instalment]
    contract_id: str = ""
    segment: str = "on_time"
    v2: list[Instalment] = field(default_factory=list)
    restructured_on: date | None = None
    extended_on: date | None = None
    written_off_on: date | None = None
    closed_on: date | None = None  # early settlement or write-off
    first_missed: date | None = None  # due date of the first instalment never paid (distress marker)
    payments: list[Payment] = field(default_factory=list)

    @property
    def original_maturity(self) -> date:
        return self.v1[-1].due

    @property
    def maturity(self) -> date:
        return self.v2[-1].due if self.v2 else self.original_maturity

    @property
    def active_until(self) -> date:
        """Last date the contract is on the books (open-ended while a default is unresolved)."""
        if self.closed_on:
            return self.closed_on
        return date.max if self.first_missed else self.maturity


def _month_starts(rng: random.Random, start: date, end: date, n: int) -> list[date]:
    # Stratified over months so every month (the last one included) originates contracts.
    months = []
    d = start.replace(day=1)
    while d <= end:
        months.append(d)
        d = add_months(d, 1)
    picks = [months[i % len(months)] for i in range(n)]
    out = []
    for m in picks:
        last = min(28, (end - m).days + 1) if m.year == end.year and m.month == end.month else 28
        first = start.day if (m.year, m.month) == (start.year, start.month) else 1
        out.append(m.replace(day=rng.randint(first, max(first, last))))
    return sorted(out)


def _terms(rng: random.Random, kind: str, product: str) -> tuple[int, str]:
    if product == "finance_lease":
        term = rng.choice([24, 36, 36, 48, 60]) if kind == "corporate" else rng.choice([24, 36, 36])
        return term, EQUAL_INSTALMENT if rng.random() < 0.75 else EQUAL_PRINCIPAL
    term = rng.choice([12, 12, 24, 24, 36, 36, 48, 60]) if kind == "corporate" else rng.choice([12, 24, 36])
    if term <= 24 and rng.random() < 0.5:
        return term, INTEREST_ONLY
    return term, EQUAL_INSTALMENT if rng.random() < 0.6 else EQUAL_PRINCIPAL


def _rate(rng: random.Random, product: str, on: date) -> tuple[int, str, int | None]:
    """(annual rate in 1e-4, rate_type, spread bp). LPR-linked rates are fixed at signing (no repricing)."""
    lo, hi = (550, 950) if product == "finance_lease" else (600, 1500)
    if rng.random() < 0.5:
        return rng.randint(lo // 5, hi // 5) * 5, "fixed", None
    lpr = lpr_1y_bp(on)
    spread = rng.randint(max(lo - lpr, 50) // 5, (hi - lpr) // 5) * 5
    return lpr + spread, "lpr_spread", spread


def make_contracts(rng: random.Random, borrowers: list[Borrower], n: int, start: date, end: date) -> list[Contract]:
    """n contracts; every borrower gets one, the rest go mostly to companies."""
    corp = [b.idx for b in borrowers if b.kind == "corporate"]
    owners = [b.idx for b in borrowers] + [rng.choice(corp) if rng.random() < 0.8 else rng.randrange(len(borrowers))
                                           for _ in range(max(0, n - len(borrowers)))]
    rng.shuffle(owners)
    out: list[Contract] = []
    seen: set[int] = set()
    for i, (day, bi) in enumerate(zip(_month_starts(rng, start, end, n), owners)):
        b = borrowers[bi]
        lease_share = 0.5 if b.kind == "corporate" else 0.3
        product = "finance_lease" if rng.random() < lease_share else "loan"
        term, method = _terms(rng, b.kind, product)
        rate, rtype, spread = _rate(rng, product, day)
        if b.kind == "corporate":
            principal = int(round(300_000 * (60 ** rng.random()), -4)) * 100
            asset = rng.choice(INDUSTRIES[b.industry_code][4])
            purpose = rng.choice(INDUSTRIES[b.industry_code][3])
        else:
            principal = int(round(50_000 * (16 ** rng.random()), -3)) * 100
            asset = rng.choice(INDIVIDUAL_LEASE_ASSETS)
            purpose = rng.choice(INDIVIDUAL_PURPOSES)
        if product == "finance_lease":
            purpose = "售后回租，补充流动资金" if rng.random() < 0.4 else f"直租购置{asset}"
        else:
            asset = ""
        issuance = _issuance(rng, b, bi in seen)
        seen.add(bi)
        v1 = amortise(principal, rate, method, add_months(day, 1), term)
        out.append(Contract(i, bi, product, issuance, principal, rate, rtype, spread, day, term, method,
                            purpose, asset, v1))
        b.contracts.append(i)
    _assign_ids(out)
    return out


def _issuance(rng: random.Random, b: Borrower, repeat: bool) -> str:
    # Only a repeat borrower can refinance (借新还旧 / 续贷) or restructure into a new contract.
    if not repeat:
        return "新增"
    x = rng.random()
    if x < 0.10:
        return "借新还旧"
    if x < 0.17 and b.kind == "corporate":
        return "无还本续贷"
    if x < 0.22:
        return "重组"
    return "新增"


def fewer_restructurings(contracts: list[Contract], keep: int) -> None:
    """A calmer lender restructures less: all but the first `keep` contracts issued as 重组 are new money
    (新增). A restructured contract is at least 次级 through its observation period (2023 Measures art. 12–14)."""
    restructured = [c for c in contracts if c.issuance_type == "重组"]
    for c in restructured[keep:]:
        c.issuance_type = "新增"


def _assign_ids(contracts: list[Contract]) -> None:
    counters: dict[str, int] = {}
    for c in sorted(contracts, key=lambda c: (c.start, c.idx)):
        prefix = f"{'ZL' if c.product == 'finance_lease' else 'HT'}{c.start.year}"
        counters[prefix] = counters.get(prefix, 0) + 1
        c.contract_id = f"{prefix}-{counters[prefix]:04d}"


# ---------------------------------------------------------------- behaviour

def _on_time(rng: random.Random, inst: Instalment, version: int, out: list[Payment]) -> None:
    out.append((version, inst.no, inst.due - timedelta(days=rng.choice([0, 0, 0, 1, 2, 3])), inst.principal, inst.interest))


def _late(rng: random.Random, inst: Instalment, version: int, when: date, out: list[Payment]) -> None:
    # A late payer sometimes pays the interest first and the principal at cure (partial payments).
    first = inst.due + timedelta(days=rng.randint(1, 5))
    if inst.principal and inst.interest and first < when and rng.random() < 0.35:
        out.append((version, inst.no, first, 0, inst.interest))
        out.append((version, inst.no, when, inst.principal, 0))
    else:
        out.append((version, inst.no, when, inst.principal, inst.interest))


def pay(rng: random.Random, insts: list[Instalment], version: int, *, miss_from: int | None = None,
        late: dict[int, int] | None = None, stop_before: int | None = None) -> list[Payment]:
    """Pay instalments in order: on time, late (index -> days late, catching up everything due by then),
    never from `miss_from` on (with a possible partial payment of the first missed one),
    and nothing from `stop_before` on (superseded or settled otherwise)."""
    late = late or {}
    out: list[Payment] = []
    limit = min(x for x in (len(insts), miss_from, stop_before) if x is not None)
    i = 0
    while i < limit:
        if i in late:
            cure = insts[i].due + timedelta(days=late[i])
            j = i
            while j < limit and insts[j].due <= cure:
                _late(rng, insts[j], version, cure, out)
                j += 1
            i = j
        else:
            _on_time(rng, insts[i], version, out)
            i += 1
    if miss_from is not None and miss_from < len(insts) and rng.random() < 0.4:
        inst = insts[miss_from]
        part = inst.principal * rng.randint(10, 50) // 100
        out.append((version, inst.no, inst.due + timedelta(days=rng.randint(2, 20)), part, inst.interest))
    return out


def simulate(rng: random.Random, c: Contract, segment: str, end: date, target: tuple[int, int] | None) -> None:
    """Fill in payments (and any version-2 schedule) for the contract's behaviour segment."""
    c.segment = segment
    if segment == "on_time":
        c.payments = pay(rng, c.v1, 1)
    elif segment == "late_cure":
        due_idx = [i for i, x in enumerate(c.v1) if x.due <= end] or [0]
        starts = sorted(rng.sample(due_idx, min(len(due_idx), rng.randint(1, 3))))
        c.payments = pay(rng, c.v1, 1, late={i: rng.randint(5, 75) for i in starts})
    elif segment == "default":
        k = _pick(rng, c.v1, end, target)
        _default(rng, c, c.v1, 1, k)
    elif segment == "written_off":
        k = _pick(rng, c.v1, end, target)
        _default(rng, c, c.v1, 1, k)
        due = c.v1[k].due
        c.written_off_on = due + timedelta(days=rng.randint(365, min(460, (end - due).days)))
        c.closed_on = c.written_off_on
        c.payments = [p for p in c.payments if p[2] <= c.written_off_on]
    elif segment == "settled_early":
        j = rng.choice(_settle_points(c, end))
        when = min(end, c.v1[j].due + timedelta(days=rng.randint(3, 20)))
        c.payments = pay(rng, c.v1, 1, stop_before=j + 1)
        # Early settlement pays every remaining instalment in full on one day (提前结清).
        c.payments += [(1, x.no, when, x.principal, x.interest) for x in c.v1[j + 1:]]
        c.closed_on = when
    elif segment == "restructured":
        _restructure(rng, c, end, target)
    elif segment == "extended":
        _extend(rng, c, end, target)
    else:
        raise ValueError(segment)


def _pick(rng: random.Random, insts: list[Instalment], end: date, window: tuple[int, int] | None) -> int:
    """Index of an instalment due between end-window[1] and end-window[0] days."""
    lo, hi = window or (1, 10_000)
    idx = [i for i, x in enumerate(insts) if lo <= (end - x.due).days <= hi]
    return rng.choice(idx)


def candidates(insts: list[Instalment], end: date, window: tuple[int, int]) -> bool:
    lo, hi = window
    return any(lo <= (end - x.due).days <= hi for x in insts)


def _default(rng: random.Random, c: Contract, insts: list[Instalment], version: int, k: int) -> None:
    # Roll into default: often a warning late payment a few months before the first miss.
    late = {k - 3: rng.randint(8, 25)} if k >= 3 and rng.random() < 0.5 else {}
    c.payments += pay(rng, insts, version, miss_from=k, late=late)
    c.first_missed = insts[k].due


def _restructure(rng: random.Random, c: Contract, end: date, target: tuple[int, int] | None) -> None:
    """Miss 2–4 instalments, then a new schedule from the restructure date carries the arrears."""
    k = _pick(rng, c.v1, end, (150, 10_000))
    last = min(k + rng.randint(1, 3), len(c.v1) - 1)
    c.restructured_on = min(end - timedelta(days=60), c.v1[last].due + timedelta(days=rng.randint(10, 25)))
    c.payments = pay(rng, c.v1, 1, miss_from=k)
    c.payments = [p for p in c.payments if p[2] <= c.restructured_on]
    c.first_missed = c.v1[k].due
    paid_p = sum(p[3] for p in c.payments)
    due_i = sum(x.interest for x in c.v1 if x.due <= c.restructured_on)
    overdue_interest = due_i - sum(p[4] for p in c.payments)
    # Restructuring stretches the remaining term (never shortens it) to make instalments affordable.
    remaining = sum(x.due > c.restructured_on for x in c.v1)
    months = min(60, max(12, remaining + rng.choice([6, 12, 24])))
    c.v2 = amortise(c.principal - paid_p, c.rate_e4, EQUAL_INSTALMENT if rng.random() < 0.7 else EQUAL_PRINCIPAL,
                    add_months(c.restructured_on, 1), months, extra_interest=overdue_interest)
    if target and candidates(c.v2, end, target):
        _default(rng, c, c.v2, 2, _pick(rng, c.v2, end, target))
    else:
        c.payments += pay(rng, c.v2, 2)
        c.first_missed = None  # cured by the restructure


def _extend(rng: random.Random, c: Contract, end: date, target: tuple[int, int] | None) -> None:
    """展期: applied shortly before maturity; the balance is rescheduled from the original maturity."""
    n = len(c.v1)
    c.extended_on = c.v1[-1].due - timedelta(days=rng.randint(5, 25))
    c.payments = pay(rng, c.v1, 1, stop_before=n - 1)
    balance = c.principal - sum(p[3] for p in c.payments)
    months = rng.choice([6, 6, 9, 12]) if c.term <= 12 else rng.choice([6, 12, 12, 18])
    method = INTEREST_ONLY if rng.random() < 0.6 else EQUAL_PRINCIPAL
    c.v2 = amortise(balance, c.rate_e4, method, c.v1[-1].due, months + 1)
    if target and candidates(c.v2, end, target):
        _default(rng, c, c.v2, 2, _pick(rng, c.v2, end, target))
    else:
        c.payments += pay(rng, c.v2, 2)


def _settle_points(c: Contract, end: date) -> list[int]:
    return [i for i in range(2, len(c.v1) - 2) if c.v1[i].due < end]


BUCKETS: dict[str, tuple[int, int]] = {"d1": (1, 90), "d91": (91, 270), "d271": (271, 360), "d361": (361, 800)}
# Segment -> share of contracts, in assignment order (most constrained first).
QUOTAS: list[tuple[str, float]] = [
    ("written_off", 0.015), ("d361", 0.02), ("d271", 0.016), ("d91", 0.03), ("restructured", 0.03),
    ("extended", 0.03), ("d1", 0.025), ("settled_early", 0.08), ("late_cure", 0.15),
]
# The quotas above are the stressed book (scenario "stressed": NPL ratio about 20%, the book the tests' hand
# numbers are written on). A lender a newcomer believes (scenario "realistic", the demo's default) has few
# defaults: every tier still populated (each segment keeps at least 3 contracts), the NPL ratio a few percent.
REALISTIC_QUOTAS: list[tuple[str, float]] = [
    ("written_off", 0.006), ("d361", 0.002), ("d271", 0.002), ("d91", 0.006), ("restructured", 0.004),
    ("extended", 0.02), ("d1", 0.03), ("settled_early", 0.08), ("late_cure", 0.12),
]
SCENARIO_QUOTAS: dict[str, list[tuple[str, float]]] = {"stressed": QUOTAS, "realistic": REALISTIC_QUOTAS}
# Contracts issued as restructurings (重组) kept in a scenario; None keeps every one drawn.
SCENARIO_RESTRUCTURINGS_KEPT: dict[str, int | None] = {"stressed": None, "realistic": 2}
# The fewest contracts a behaviour segment gets (one keeps each overdue band, and so each tier, populated).
SCENARIO_SEGMENT_MINIMUM: dict[str, int] = {"stressed": 3, "realistic": 1}
# Distress among the smaller exposures only (a lender watching its large exposures closely).
SCENARIO_SMALL_DEFAULTS: dict[str, bool] = {"stressed": False, "realistic": True}


def _eligible(c: Contract, seg: str, end: date) -> bool:
    if seg == "written_off":
        return candidates(c.v1, end, (400, 900))
    if seg in BUCKETS:
        return candidates(c.v1, end, BUCKETS[seg])
    if seg == "restructured":
        return len(c.v1) >= 12 and candidates(c.v1, end, (150, 700))
    if seg == "extended":
        return c.method == INTEREST_ONLY and (end - c.original_maturity).days >= 30
    if seg == "settled_early":
        return bool(_settle_points(c, end))
    return c.v1[0].due <= end


def assign_segments(rng: random.Random, contracts: list[Contract], end: date,
                    quotas: list[tuple[str, float]] | None = None, minimum: int = 3,
                    small_defaults: bool = False) -> None:
    """Give each contract a behaviour segment by quota (default: the stressed book's; at least `minimum`
    contracts a segment) and simulate its payments. `small_defaults`: the distressed segments (overdue bands,
    write-off, restructuring, extension) are drawn among contracts of at most the median principal only."""
    order = list(range(len(contracts)))
    rng.shuffle(order)
    median = sorted(c.principal for c in contracts)[len(contracts) // 2]
    distressed = set(BUCKETS) | {"written_off", "restructured", "extended"}  # an extension may fall overdue
    chosen: dict[int, str] = {}
    for seg, share in quotas or QUOTAS:
        quota = max(minimum, round(share * len(contracts)))
        for i in order:
            if quota == 0:
                break
            if small_defaults and seg in distressed and contracts[i].principal > median:
                continue
            if i not in chosen and _eligible(contracts[i], seg, end):
                chosen[i] = seg
                quota -= 1
    seen: dict[str, int] = {}
    for c in contracts:
        seg = chosen.get(c.idx, "on_time")
        nth = seen[seg] = seen.get(seg, -1) + 1  # fixed shares of re-defaults, not left to chance
        if seg in BUCKETS:
            simulate(rng, c, "default", end, BUCKETS[seg])
        elif seg == "written_off":
            simulate(rng, c, seg, end, (400, 900))
        elif seg == "restructured":
            simulate(rng, c, seg, end, {1: BUCKETS["d1"], 3: BUCKETS["d91"]}.get(nth % 5))
        elif seg == "extended":
            simulate(rng, c, seg, end, (1, 10_000) if nth % 4 == 1 else None)
        else:
            simulate(rng, c, seg, end, None)
        c.payments.sort(key=lambda p: (p[0], p[1], p[2]))
