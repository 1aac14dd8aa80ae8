"""PD term structures from monthly tier migration (transition) matrices.

Cohort method: for each pair of consecutive month ends, every loan present at the
first one is counted once, from its tier then to its tier a month later (a loan
written off in between counts as moving to 损失; a loan repaid in between has
left the cohort and is not counted). A row with fewer observations than
`min_observations` is taken from the configured fallback matrix instead, and the
matrix records which rows are estimated and which fall back.

Default is reaching any of the default tiers (NPL), made absorbing, so the
cumulative PD over n months from tier i is the probability mass on the default
tiers in row i of the n-th matrix power. Arithmetic is exact Decimal (28
significant digits) so the same inputs give the same PDs on every platform.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from plugins.config import EclMigration

TIERS = (1, 2, 3, 4, 5)
Matrix = tuple[tuple[Decimal, ...], ...]


@dataclass(frozen=True)
class MigrationMatrix:
    """One-month transition probabilities (rows: from tier 1..5, columns: to tier 1..5)."""
    rows: Matrix
    observations: tuple[int, ...]   # loans observed leaving each tier
    source: tuple[str, ...]         # "cohort" or "fallback" per row

    def as_dict(self) -> dict:
        return {f"from_{t}": {"to": [str(p) for p in row], "observations": n, "source": s}
                for t, row, n, s in zip(TIERS, self.rows, self.observations, self.source)}


def transition_counts(snapshots: list[Mapping[str, int]]) -> list[list[int]]:
    """Counts of (from tier, to tier) over consecutive snapshots (contract_id → tier, oldest first).

    A contract present in one snapshot and absent from the next has left the book
    (repaid) and is not counted; write-offs must appear as tier 5 in the later snapshot.
    """
    counts = [[0] * 5 for _ in TIERS]
    for before, after in zip(snapshots, snapshots[1:]):
        for contract_id, tier in before.items():
            if contract_id in after:
                counts[tier - 1][after[contract_id] - 1] += 1
    return counts


def estimate_matrix(counts: list[list[int]], config: EclMigration) -> MigrationMatrix:
    """Cohort estimate per row; rows observed fewer than `min_observations` times use the fallback."""
    rows, observations, source = [], [], []
    for tier, row in zip(TIERS, counts):
        n = sum(row)
        observations.append(n)
        if n >= config.min_observations:
            rows.append(tuple(Decimal(c) / Decimal(n) for c in row))
            source.append("cohort")
        else:
            rows.append(tuple(config.fallback_matrix[tier]))
            source.append("fallback")
    return MigrationMatrix(tuple(rows), tuple(observations), tuple(source))


def _absorbing(rows: Matrix, default_tiers: Iterable[int]) -> Matrix:
    defaults = set(default_tiers)
    return tuple(tuple(Decimal(int(i == j)) for j in TIERS) if i in defaults else row
                 for i, row in zip(TIERS, rows))


def _multiply(a: Matrix, b: Matrix) -> Matrix:
    return tuple(tuple(sum((a[i][k] * b[k][j] for k in range(5)), Decimal(0)) for j in range(5)) for i in range(5))


def cumulative_pd(matrix: MigrationMatrix, default_tiers: Iterable[int], months: int) -> dict[int, list[Decimal]]:
    """Tier → [cumulative PD after 0, 1, …, `months` months] from the matrix powers (PD after 0 months is 0)."""
    defaults = sorted(set(default_tiers))
    step = _absorbing(matrix.rows, defaults)
    power = tuple(tuple(Decimal(int(i == j)) for j in range(5)) for i in range(5))
    curves: dict[int, list[Decimal]] = {t: [Decimal(0)] for t in TIERS}
    for _ in range(months):
        power = _multiply(power, step)
        for t in TIERS:
            curves[t].append(Decimal(1) if t in defaults else sum((power[t - 1][d - 1] for d in defaults), Decimal(0)))
    return curves
