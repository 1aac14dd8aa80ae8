"""Quarterly financial statement figures (integer cents) with exact accounting identities.

A borrower's business is simulated quarter by quarter; statements are then read off
year-to-date (income, cash flow) and at period end (balance sheet), as Chinese statements are.
"""

from __future__ import annotations

import random
from datetime import date

BALANCE_KEYS = [
    "cash", "receivables", "inventory", "other_current_assets", "current_assets", "fixed_assets",
    "other_non_current_assets", "non_current_assets", "total_assets", "short_term_borrowings",
    "accounts_payable", "other_current_liabilities", "current_liabilities", "long_term_borrowings",
    "other_non_current_liabilities", "non_current_liabilities", "total_liabilities", "paid_in_capital",
    "retained_earnings", "equity", "total_liabilities_and_equity",
]
FLOW_KEYS = [
    "revenue", "operating_cost", "selling_expenses", "admin_expenses", "financial_expenses", "interest_expense",
    "operating_profit", "total_profit", "income_tax", "net_profit",
    "net_operating_cash_flow", "net_investing_cash_flow", "net_financing_cash_flow", "net_increase_in_cash",
]
ALL_KEYS = BALANCE_KEYS + FLOW_KEYS
_SEASON = [0.85, 1.0, 1.0, 1.15]


def quarter_end(year: int, q: int) -> date:
    return date(year, 3 * q, 31 if q in (1, 4) else 30)


class _Business:
    """State of one company; step() advances a quarter and returns (flows, balance sheet)."""

    def __init__(self, rng: random.Random, credit: int):
        u = rng.uniform
        self.rng = rng
        self.base = credit * u(0.6, 1.5)
        self.growth = u(-0.01, 0.03)
        self.cost_ratio, self.sell_ratio, self.admin_ratio = u(0.68, 0.80), u(0.02, 0.05), u(0.03, 0.06)
        self.cash = int(self.base * u(0.3, 0.8))
        self.fixed = int(self.base * u(1.0, 4.0))
        self.other_nca = int(self.base * u(0.1, 0.5))
        self.st = int(credit * u(0.5, 1.2))
        self.lt = int(credit * u(0.3, 1.0))
        self.other_ncl = int(self.base * u(0.0, 0.2))
        self.paid_in = int(self.base * u(1.0, 3.0))
        self.retained = int(self.base * u(0.2, 1.5))

    def step(self, t: int, q: int, distress: int) -> tuple[dict[str, int], dict[str, int]]:
        """t: quarter index; distress: quarters since deterioration began (<0: healthy)."""
        u = self.rng.uniform
        shock = 0.45 * 0.8 ** (distress // 4) if distress >= 0 else 1.0
        rev = int(self.base * (1 + self.growth) ** t * _SEASON[q - 1] * u(0.93, 1.07) * shock)
        cost = int(rev * (u(0.93, 1.02) if distress >= 0 else self.cost_ratio))
        sell = int(rev * self.sell_ratio)
        admin = int(self.base * self.admin_ratio * u(0.95, 1.05))  # largely fixed: losses when sales fall
        interest = int((self.st + self.lt) * 0.05 / 4)
        fin = interest + int(rev * u(0.001, 0.003))
        op = rev - cost - sell - admin - fin
        total = op + int(rev * u(-0.005, 0.01))
        tax = max(0, int(total * 0.25))
        net = total - tax
        dep = int(self.fixed * 0.02)
        capex = 0 if distress >= 0 else int(self.fixed * u(0.0, 0.05))
        ocf = net + dep + int(rev * u(-0.1, 0.1)) - (int(rev * 0.1) if distress >= 0 else 0)
        icf = -capex
        d_lt = max(-self.lt, int(self.lt * u(-0.06, 0.03)))
        d_st = max(-self.st, int(self.st * u(-0.05, 0.05)))
        floor = int(rev * 0.05)
        if self.cash + ocf + icf + d_st + d_lt < floor:  # short of cash: draw more short-term debt
            d_st = floor - (self.cash + ocf + icf + d_lt)
        fcf = d_st + d_lt
        self.cash += ocf + icf + fcf
        self.st += d_st
        self.lt += d_lt
        self.fixed += capex - dep
        self.retained += net
        flows = {"revenue": rev, "operating_cost": cost, "selling_expenses": sell, "admin_expenses": admin,
                 "financial_expenses": fin, "interest_expense": interest, "operating_profit": op,
                 "total_profit": total, "income_tax": tax, "net_profit": net, "net_operating_cash_flow": ocf,
                 "net_investing_cash_flow": icf, "net_financing_cash_flow": fcf,
                 "net_increase_in_cash": ocf + icf + fcf}
        slow = u(1.5, 2.0) if distress >= 0 else u(0.7, 1.2)  # distressed companies collect slowly
        return flows, self._balance(rev, cost, slow)

    def _balance(self, rev: int, cost: int, slow: float) -> dict[str, int]:
        u = self.rng.uniform
        b = {"cash": self.cash, "receivables": int(rev * slow), "inventory": int(cost * u(0.4, 0.9)),
             "fixed_assets": self.fixed, "other_non_current_assets": self.other_nca,
             "short_term_borrowings": self.st, "accounts_payable": int(cost * u(0.3, 0.6)),
             "other_current_liabilities": int(rev * u(0.02, 0.08)), "long_term_borrowings": self.lt,
             "other_non_current_liabilities": self.other_ncl, "paid_in_capital": self.paid_in,
             "retained_earnings": self.retained}
        # Other current items absorb the balance so total assets = liabilities + equity exactly.
        gap = (b["short_term_borrowings"] + b["accounts_payable"] + b["other_current_liabilities"]
               + b["long_term_borrowings"] + b["other_non_current_liabilities"] + b["paid_in_capital"]
               + b["retained_earnings"]) - (b["cash"] + b["receivables"] + b["inventory"] + b["fixed_assets"]
                                             + b["other_non_current_assets"])
        small = int(rev * 0.01)
        if gap >= small:
            b["other_current_assets"] = gap
        else:
            b["other_current_assets"] = small
            b["other_current_liabilities"] += small - gap
        return totals(b)


def totals(b: dict[str, int]) -> dict[str, int]:
    """Add the subtotal lines of a balance sheet from its detail lines."""
    b["current_assets"] = b["cash"] + b["receivables"] + b["inventory"] + b["other_current_assets"]
    b["non_current_assets"] = b["fixed_assets"] + b["other_non_current_assets"]
    b["total_assets"] = b["current_assets"] + b["non_current_assets"]
    b["current_liabilities"] = b["short_term_borrowings"] + b["accounts_payable"] + b["other_current_liabilities"]
    b["non_current_liabilities"] = b["long_term_borrowings"] + b["other_non_current_liabilities"]
    b["total_liabilities"] = b["current_liabilities"] + b["non_current_liabilities"]
    b["equity"] = b["paid_in_capital"] + b["retained_earnings"]
    b["total_liabilities_and_equity"] = b["total_liabilities"] + b["equity"]
    return b


def simulate_statements(rng: random.Random, credit: int, first_year: int, last: tuple[int, int],
                        distress_from: tuple[int, int] | None) -> dict[tuple[int, int], dict[str, tuple[int, int]]]:
    """(year, quarter) -> {key: (current, prior)} in cents, for every quarter from first_year Q1 to `last`.

    The business is simulated from the year before first_year so that prior columns exist.
    """
    biz = _Business(rng, credit)
    flows: dict[tuple[int, int], dict[str, int]] = {}
    sheets: dict[tuple[int, int], dict[str, int]] = {}
    y, q, t = first_year - 1, 1, 0
    while (y, q) <= last:
        distress = -1 if distress_from is None else (y * 4 + q) - (distress_from[0] * 4 + distress_from[1])
        flows[(y, q)], sheets[(y, q)] = biz.step(t, q, distress)
        y, q, t = (y + 1, 1, t + 1) if q == 4 else (y, q + 1, t + 1)
    out = {}
    for (y, q) in sheets:
        if y < first_year:
            continue
        ytd = {k: sum(flows[(y, i)][k] for i in range(1, q + 1)) for k in FLOW_KEYS}
        prior_ytd = {k: sum(flows[(y - 1, i)][k] for i in range(1, q + 1)) for k in FLOW_KEYS}
        items = {k: (sheets[(y, q)][k], sheets[(y - 1, 4)][k]) for k in BALANCE_KEYS}
        items.update({k: (ytd[k], prior_ytd[k]) for k in FLOW_KEYS})
        out[(y, q)] = items
    return out
