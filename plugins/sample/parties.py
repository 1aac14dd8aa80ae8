"""Borrowers, guarantors and collateral of the sample lender."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from plugins.sample.ids import make_id_number, make_uscc
from plugins.sample.reference import GIVEN_CHARS, GUARANTEE_COMPANIES, INDUSTRIES, REGION_WEIGHTS, REGIONS, SURNAMES, TRADE_NAMES
from plugins.sample.schedule import add_months

# Industries individuals borrow for (个体经营 mostly trade, farming, transport).
_INDIVIDUAL_INDUSTRIES = {"F": 5, "A": 3, "G": 3, "C": 1}


@dataclass
class Borrower:
    idx: int
    borrower_id: str
    name: str
    kind: str
    industry_code: str
    region: str
    city: str
    id_number: str
    group_id: str = ""
    related_party: bool = False
    legal_rep: str = ""  # person who typically guarantees a company's debts
    contracts: list[int] = field(default_factory=list)

    @property
    def industry_name(self) -> str:
        return INDUSTRIES[self.industry_code][0]


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    keys = sorted(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice([1, 2, 2])))


def _unique(rng: random.Random, make: Callable[[], str], used: set[str]) -> str:
    while True:
        name = make()
        if name not in used:
            used.add(name)
            return name


def make_borrowers(rng: random.Random, n: int) -> list[Borrower]:
    """n borrowers, ~60% companies; some companies grouped (shared 字号), a few related parties."""
    kinds = ["corporate"] * round(n * 0.6) + ["individual"] * (n - round(n * 0.6))
    rng.shuffle(kinds)
    corp_weights = {code: v[1] for code, v in INDUSTRIES.items()}
    used: set[str] = set()
    out: list[Borrower] = []
    for i, kind in enumerate(kinds):
        region = _weighted(rng, REGION_WEIGHTS)
        area, cities = REGIONS[region]
        city = rng.choice(cities)
        if kind == "corporate":
            code = _weighted(rng, corp_weights)
            word = rng.choice(INDUSTRIES[code][2])
            name = _unique(rng, lambda: f"{city}{rng.choice(TRADE_NAMES)}{word}有限公司", used)
            b = Borrower(i, f"B{i + 1:04d}", name, kind, code, region, city, make_uscc(rng, area),
                         legal_rep=person_name(rng))
        else:
            code = _weighted(rng, _INDIVIDUAL_INDUSTRIES)
            name = _unique(rng, lambda: person_name(rng), used)
            b = Borrower(i, f"B{i + 1:04d}", name, kind, code, region, city, make_id_number(rng, area))
        out.append(b)
    _make_groups(rng, out, used)
    for b in rng.sample(out, max(3, n // 40)):
        b.related_party = True
    return out


def _make_groups(rng: random.Random, borrowers: list[Borrower], used: set[str]) -> None:
    # Corporate groups: members renamed to share the group's 字号 so they look related.
    corps = [b for b in borrowers if b.kind == "corporate"]
    rng.shuffle(corps)
    pos, g = 0, 0
    while g < max(2, len(corps) // 16) and pos + 4 <= len(corps):
        size = rng.choice([2, 3, 3, 4])
        trade = TRADE_NAMES[g % len(TRADE_NAMES)] + rng.choice(["控股", "实业", "集团"])
        for b in corps[pos:pos + size]:
            used.discard(b.name)
            b.name = _group_name(rng, b, trade, used)
            b.group_id = f"G{g + 1:03d}"
        pos += size
        g += 1


def _group_name(rng: random.Random, b: Borrower, trade: str, used: set[str]) -> str:
    words = list(INDUSTRIES[b.industry_code][2])
    rng.shuffle(words)
    for city in [b.city, *REGIONS[b.region][1]]:
        for word in words:
            name = f"{city}{trade}{word}有限公司"
            if name not in used:
                used.add(name)
                return name
    name = f"{b.city}{trade}{words[0]}有限公司{b.borrower_id}"  # practically unreachable
    used.add(name)
    return name


@dataclass(frozen=True)
class Guarantee:
    guarantor_id: str
    guarantor_name: str
    guarantee_type: str
    amount: int  # cents


def make_guarantees(rng: random.Random, borrower: Borrower, group_members: list[Borrower], principal: int,
                    person_ids: dict[str, str]) -> list[Guarantee]:
    """0–2 guarantors: the legal representative, a group affiliate or a guarantee company."""
    def person(name: str) -> tuple[str, str]:
        pid = person_ids.setdefault(name, f"GP{len(person_ids) + 1:04d}")
        return pid, name

    options: list[tuple[str, str]] = []
    if borrower.kind == "corporate":
        if rng.random() < 0.6:
            options.append(person(borrower.legal_rep))
        others = [m for m in group_members if m.idx != borrower.idx]
        if others and rng.random() < 0.7:
            m = rng.choice(others)
            options.append((m.borrower_id, m.name))
        if rng.random() < 0.2:
            k = rng.randrange(len(GUARANTEE_COMPANIES))
            options.append((f"GC{k + 1:02d}", GUARANTEE_COMPANIES[k]))
    elif rng.random() < 0.4:
        options.append(person(person_name(rng)))
    out = []
    for gid, name in options[:2]:
        kind = "连带责任保证" if rng.random() < 0.85 else "一般保证"
        share = 100 if gid.startswith(("GP", "B")) else rng.choice([50, 60, 80, 100])
        out.append(Guarantee(gid, name, kind, principal * share // 100))
    return out


# Collateral type weights and appraised value / principal ranges (in percent).
_COLLATERAL_CORP = {"房产": 35, "土地使用权": 20, "机器设备": 25, "存单": 10, "车辆": 10}
_COLLATERAL_PERSON = {"房产": 60, "车辆": 30, "存单": 10}
_VALUE_RANGE = {"房产": (130, 250), "土地使用权": (140, 260), "机器设备": (80, 150), "车辆": (50, 120), "存单": (20, 100)}
_REVALUED = {"房产", "土地使用权"}


@dataclass(frozen=True)
class Valuation:
    collateral_type: str
    value: int  # cents
    valuation_date: date


def make_collateral(rng: random.Random, kind: str, product: str, principal: int, start: date,
                    active_until: date, distress_from: date | None) -> list[list[Valuation]]:
    """Pledged items, each as its valuation history (initial + annual revaluation of real estate)."""
    p = 0.55 if product == "loan" else 0.25
    if rng.random() >= p:
        return []
    weights = _COLLATERAL_CORP if kind == "corporate" else _COLLATERAL_PERSON
    items = []
    for _ in range(1 if rng.random() < 0.8 else 2):
        ctype = _weighted(rng, weights)
        lo, hi = _VALUE_RANGE[ctype]
        value = principal * rng.randint(lo, hi) // 100 // 10000 * 10000  # appraisals round to 100 yuan
        when = start - timedelta(days=rng.randint(3, 30))
        history = [Valuation(ctype, value, when)]
        k = 1
        while ctype in _REVALUED and add_months(when, 12 * k) <= active_until:
            on = add_months(when, 12 * k)
            pct = rng.randint(70, 85) if distress_from and on >= distress_from else rng.randint(93, 103)
            value = value * pct // 100 // 10000 * 10000
            history.append(Valuation(ctype, value, on))
            k += 1
        items.append(history)
    return items
