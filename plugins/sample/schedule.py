"""Amortisation schedules in integer cents (no floats in stored amounts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

EQUAL_INSTALMENT = "等额本息"
EQUAL_PRINCIPAL = "等额本金"
INTEREST_ONLY = "按月付息到期还本"


@dataclass(frozen=True)
class Instalment:
    no: int
    due: date
    principal: int  # cents
    interest: int  # cents


def add_months(d: date, months: int) -> date:
    """Same day `months` later; days above 28 are clipped to the month's end."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    day = d.day
    while True:
        try:
            return date(year, month, day)
        except ValueError:
            day -= 1


def month_interest(balance: int, rate_e4: int) -> int:
    """One month's interest in cents at annual rate rate_e4/10000, rounded half up."""
    return (balance * rate_e4 * 2 + 120000) // 240000


def _principal_parts(method: str, balance: int, rate_e4: int, n: int) -> list[int] | None:
    # Fixed principal parts for 等额本金 / bullet; None means annuity (depends on interest path).
    if method == EQUAL_PRINCIPAL:
        base = balance // n
        return [base] * (n - 1) + [balance - base * (n - 1)]
    if method == INTEREST_ONLY:
        return [0] * (n - 1) + [balance]
    return None


def amortise(balance: int, rate_e4: int, method: str, first_due: date, n: int,
             extra_interest: int = 0) -> list[Instalment]:
    """Monthly schedule of n instalments starting at first_due.

    extra_interest (cents) is spread evenly over the instalments' interest: it carries
    overdue interest capitalised by a restructure without changing the principal identity.
    """
    parts = _principal_parts(method, balance, rate_e4, n)
    r = rate_e4 / 120000
    annuity = round(balance * r / (1 - (1 + r) ** -n)) if r > 0 else -(-balance // n)
    extra = [extra_interest // n] * n
    extra[0] += extra_interest - sum(extra)
    out: list[Instalment] = []
    remaining = balance
    for k in range(n):
        interest = month_interest(remaining, rate_e4)
        if k == n - 1:
            principal = remaining
        elif parts is not None:
            principal = parts[k]
        else:
            principal = min(max(annuity - interest, 0), remaining)
        remaining -= principal
        out.append(Instalment(k + 1, add_months(first_due, k), principal, interest + extra[k]))
    return out
