"""Money as integer cents (fen); rounding ROUND_HALF_UP at the cent, applied once per computed amount."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def to_cents(value: str | Decimal | int | float) -> int:
    """'1234.5' → 123450. Strings and Decimals are exact; floats are refused upstream."""
    return int((Decimal(str(value)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def cents_times_rate(cents: int, rate: Decimal) -> int:
    return int((Decimal(cents) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def yuan(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def wan_yuan(cents: int) -> Decimal:
    """万元 with two decimals, rounded half up from the exact cent amount."""
    return (Decimal(cents) / 1_000_000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def ratio(numerator: int, denominator: int) -> Decimal | None:
    if denominator == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
