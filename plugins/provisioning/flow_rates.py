"""The simplified approach's provision matrix from the book's own roll (flow) rates.

Standard flow-rate provision matrix, on the products of the simplified approach
(lease receivables) only:

- for each pair of consecutive month ends in the window (the `window_months` pairs
  ending at the measurement date) and each delinquency bucket k before the loss
  bucket, the monthly roll rate r_k(m) = weight of the loans in bucket k at the
  first month end that are in a worse bucket, or written off, at the second ÷
  weight of all the loans in bucket k at the first month end (weight: balance at
  the first month end, or 1 per loan; a loan repaid in between stays in the
  denominator: it did not roll);
- the roll rate of bucket k is the plain average of r_k(m) over the month pairs in
  which bucket k held anything;
- the loss rate of the loss bucket (and of any bucket after it) is
  `loss_bucket_rate`; the loss rate of bucket k before it is
  r_k × loss rate of bucket k + 1, i.e. the product of the roll rates from k
  through the loss bucket, times the loss bucket's rate.

Fallback: when flow rates are not configured or switched off, when the history
does not cover every month pair of the window, or when any bucket before the loss
bucket was left by fewer than `min_observations` loans over the window, every
loan takes the configured `ageing_buckets` matrix instead. The result names the
source used and why.

Arithmetic is exact Decimal (28 significant digits); rates are not rounded, the
ECL of each loan is rounded half up to the cent once (ecl.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pandas as pd

from plugins.config import Provisioning
from plugins.portfolio.performance import WRITTEN_OFF, bucket_of, transitions
from plugins.provisioning.history import month_end_before

FLOW, CONFIG = "flow_rates", "config"


@dataclass(frozen=True)
class SimplifiedMatrix:
    """Loss rates of the simplified approach and where they came from."""
    source: str                                   # "flow_rates" or "config"
    reason: str
    loss_rates: dict[str, Decimal] = field(default_factory=dict)   # delinquency bucket → loss rate (flow_rates)
    roll_rates: dict[str, Decimal] = field(default_factory=dict)   # bucket → average monthly roll rate
    observations: dict[str, int] = field(default_factory=dict)     # bucket → loans observed leaving it
    month_pairs: int = 0

    def as_dict(self) -> dict:
        return {"source": self.source, "reason": self.reason, "month_pairs": self.month_pairs,
                "loss_rates": {b: str(r) for b, r in self.loss_rates.items()},
                "roll_rates": {b: str(r) for b, r in self.roll_rates.items()},
                "observations": dict(self.observations)}


CONFIGURED = SimplifiedMatrix(CONFIG, "flow rates not measured: the configured ageing matrix")


def _window(history: pd.DataFrame, as_of: date, months: int) -> tuple[pd.DataFrame, list[date]]:
    ends = [month_end_before(as_of, k) for k in range(months, -1, -1)]
    month_end = history["month_end"].map(lambda v: v if isinstance(v, date) else date.fromisoformat(str(v)[:10]))
    return history[month_end.isin(set(ends))].assign(month_end=month_end), ends


def flow_rate_matrix(history: pd.DataFrame, as_of: date, config: Provisioning) -> SimplifiedMatrix:
    """The simplified approach's loss rates at `as_of` from an ageing history (performance.ageing_history)."""
    simplified = config.ecl.simplified_approach
    flow = simplified.flow_rates
    if flow is None or not flow.enabled:
        return SimplifiedMatrix(CONFIG, "flow rates switched off: the configured ageing matrix")
    labels = [b.label for b in config.ageing_buckets]
    chain = labels[:labels.index(flow.loss_bucket)]
    leases = history[history["product"].isin(simplified.products)] if "product" in history else history
    window, ends = _window(leases, as_of, flow.window_months)
    present = {v for v in window["month_end"]}
    moves = transitions(window)
    observations = {b: int((moves["from_bucket"] == b).sum()) for b in chain}
    missing = [e for e in ends if e not in present]
    if missing:
        return SimplifiedMatrix(CONFIG, f"history short: no loans of {', '.join(simplified.products)} at "
                                        f"{', '.join(e.isoformat() for e in missing[:3])}"
                                        f"{' …' if len(missing) > 3 else ''}; the configured ageing matrix",
                                observations=observations, month_pairs=flow.window_months - len(missing))
    short = [b for b in chain if observations[b] < flow.min_observations]
    if short:
        return SimplifiedMatrix(CONFIG, "history short: " + ", ".join(f"{b} left by {observations[b]} loans"
                                                                       for b in short)
                                + f" < {flow.min_observations}; the configured ageing matrix",
                                observations=observations, month_pairs=flow.window_months)
    order = {label: i for i, label in enumerate(labels)}
    weight = moves["balance_cents"] if flow.weight == "balance" else pd.Series(1, index=moves.index)
    rolled = [to == WRITTEN_OFF or (to in order and order[to] > order[frm])
              for frm, to in zip(moves["from_bucket"], moves["to_bucket"])]
    rolls: dict[str, Decimal] = {}
    for bucket in chain:
        monthly = []
        for first in ends[:-1]:
            mine = (moves["from_bucket"] == bucket) & (moves["month_end"] == first)
            total = int(weight[mine].sum())
            if total > 0:
                monthly.append(Decimal(int(weight[mine & pd.Series(rolled, index=moves.index)].sum())) / Decimal(total))
        rolls[bucket] = sum(monthly, Decimal(0)) / len(monthly)
    losses = {b: flow.loss_bucket_rate for b in labels[len(chain):]}
    for bucket in reversed(chain):
        losses[bucket] = rolls[bucket] * losses[labels[order[bucket] + 1]]
    return SimplifiedMatrix(FLOW, f"book's own roll rates over {flow.window_months} month pairs to "
                                  f"{as_of.isoformat()}, by {flow.weight}",
                            loss_rates={b: losses[b] for b in labels}, roll_rates=rolls,
                            observations=observations, month_pairs=flow.window_months)


def simplified_loss_rate(dpd: int, matrix: SimplifiedMatrix | None, config: Provisioning) -> tuple[Decimal, str]:
    """Loss rate of a loan `dpd` days past due, and its bucket label, from the matrix's source."""
    if matrix is not None and matrix.source == FLOW:
        bucket = bucket_of(dpd, config.ageing_buckets)
        return matrix.loss_rates[bucket], bucket
    for bucket in config.ecl.simplified_approach.ageing_buckets:
        if bucket.max_dpd is None or dpd <= bucket.max_dpd:
            return bucket.rate, f"dpd ≤ {bucket.max_dpd}" if bucket.max_dpd is not None else "dpd above the rest"
    raise AssertionError("the last ageing bucket is open")  # guaranteed by config validation
