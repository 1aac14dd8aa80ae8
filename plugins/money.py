"""Money as integer cents (fen); rounding ROUND_HALF_UP at the cent, applied once per computed amount."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np


def to_cents(value: str | Decimal | int | float) -> int:
    """'1234.5' → 123450. Strings and Decimals are exact; floats are refused upstream."""
    return int((Decimal(str(value)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def cents_times_rate(cents: int, rate: Decimal) -> int:
    return int((Decimal(cents) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def cents_times_rate_array(cents: np.ndarray, rate: Decimal) -> np.ndarray:
    """cents_times_rate of every amount of an int64 array, exactly and in integers.

    The rate is num / den exactly (Decimal.as_integer_ratio); half up (away from zero) at the cent is
    (|c| · |num| · 2 + den) // (2 · den) with the product's sign. Amounts too large for that in int64
    fall back to cents_times_rate one by one.
    """
    cents = np.asarray(cents, dtype=np.int64)
    num, den = rate.as_integer_ratio()
    magnitude = np.abs(cents)
    if int(magnitude.max(initial=0)) * abs(num) * 2 + den >= 2**63:
        return np.array([cents_times_rate(int(c), rate) for c in cents], dtype=np.int64)
    rounded = (magnitude * (abs(num) * 2) + den) // (2 * den)
    negative = (cents < 0) != (num < 0)
    return np.where(negative, -rounded, rounded).astype(np.int64)


def yuan(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def wan_yuan(cents: int) -> Decimal:
    """万元 with two decimals, rounded half up from the exact cent amount."""
    return (Decimal(cents) / 1_000_000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def ratio(numerator: int, denominator: int) -> Decimal | None:
    if denominator == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
