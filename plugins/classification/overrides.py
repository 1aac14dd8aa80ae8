"""Manual overrides of the five-tier classification by a risk officer, audited.

A person may always move a loan to a worse tier. A better tier is allowed only
where no hard floor forbids it: every rule whose floor is above the requested
tier must be listed in `classification.overrides.soft_rules` (floors of
institution policy, not of the regulation); otherwise the override is refused
with a message naming the floors. Each applied override stays in the verdict
as the finding `manual_override` with who, when and why.

The inbox file `core/YYYY-MM/overrides.csv` has the columns of OVERRIDE_COLUMNS;
to_tier is 1–5 or the tier's Chinese name.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Iterable, Sequence

import pandas as pd

from plugins.classification.engine import Verdict
from plugins.classification.rules import TIER_NAMES, Finding
from plugins.config import Classification

OVERRIDE_COLUMNS = ("contract_id", "period", "to_tier", "who", "when", "why")
OVERRIDE_RULE = "manual_override"
OVERRIDE_ARTICLE = "2023 Measures: classification adjusted by an authorised person, with reasons"
_TIER_BY_NAME = {name: tier for tier, name in TIER_NAMES.items()}


class OverrideRefused(ValueError):
    """An override that a floor forbids, or that cannot be applied; the message says why."""


@dataclass(frozen=True)
class Override:
    contract_id: str
    period: str  # YYYY-MM, the classification month it applies to
    to_tier: int
    who: str
    when: datetime
    why: str


@dataclass(frozen=True)
class RefusedOverride:
    override: Override | None
    row: int | None  # 1-based data row of the inbox file, when it came from one
    reason: str
    floors: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        o = self.override
        return {"row": self.row, "contract_id": o.contract_id if o else None, "period": o.period if o else None,
                "to_tier": o.to_tier if o else None, "who": o.who if o else None, "reason": self.reason,
                "floors": ",".join(self.floors)}


def check_override(verdict: Verdict, override: Override, config: Classification) -> None:
    """Raise OverrideRefused when a floor that is not soft lies above the requested tier."""
    if override.to_tier >= verdict.tier:
        return  # the same or a worse tier is always allowed
    soft = set(config.overrides.soft_rules)
    blocking = [f for f in verdict.findings if f.floor > override.to_tier and f.rule not in soft]
    if blocking:
        names = ", ".join(f"{f.rule} (floor {TIER_NAMES[f.floor]})" for f in blocking)
        raise OverrideRefused(f"{override.contract_id} {override.period}: override to {TIER_NAMES[override.to_tier]} "
                              f"refused by hard floor(s): {names}")


def apply_override(verdict: Verdict, override: Override, config: Classification) -> Verdict:
    """The verdict with the override applied and recorded, or OverrideRefused."""
    if verdict.contract_id != override.contract_id:
        raise OverrideRefused(f"override for {override.contract_id} applied to {verdict.contract_id}")
    check_override(verdict, override, config)
    finding = Finding(OVERRIDE_RULE, OVERRIDE_ARTICLE, override.to_tier, {
        "who": override.who, "when": override.when.isoformat(), "why": override.why,
        "from_tier": verdict.tier})
    return replace(verdict, tier=override.to_tier, findings=verdict.findings + (finding,))


def apply_overrides(verdicts: Sequence[Verdict], overrides: Iterable[Override], period: str,
                    config: Classification) -> tuple[list[Verdict], list[RefusedOverride]]:
    """Apply the period's overrides; the latest (by `when`) per contract wins, earlier ones are superseded."""
    index = {v.contract_id: i for i, v in enumerate(verdicts)}
    result = list(verdicts)
    refused: list[RefusedOverride] = []
    latest: dict[str, Override] = {}
    for o in sorted(overrides, key=lambda o: (o.contract_id, o.when)):
        if o.period != period:
            refused.append(RefusedOverride(o, None, f"override is for period {o.period}, not {period}"))
        elif o.contract_id not in index:
            refused.append(RefusedOverride(o, None, f"{o.contract_id} is not in the {period} loan book"))
        else:
            if o.contract_id in latest:
                refused.append(RefusedOverride(latest[o.contract_id], None, f"superseded by the override of {o.when.isoformat()}"))
            latest[o.contract_id] = o
    for contract_id, o in sorted(latest.items()):
        i = index[contract_id]
        try:
            result[i] = apply_override(result[i], o, config)
        except OverrideRefused as exc:
            floors = tuple(f.rule for f in result[i].findings if f.floor > o.to_tier
                           and f.rule not in config.overrides.soft_rules)
            refused.append(RefusedOverride(o, None, str(exc), floors))
    return result, refused


def apply_overrides_to_frame(verdicts: pd.DataFrame, overrides: Sequence[Override], period: str,
                             config: Classification) -> tuple[pd.DataFrame, list[RefusedOverride]]:
    """apply_overrides on a verdict frame (engine.classify_facts): only the overridden rows become Verdicts."""
    wanted = {o.contract_id for o in overrides}
    rows = verdicts[verdicts["contract_id"].isin(wanted)]
    applied, refused = apply_overrides([Verdict.from_row(r) for r in rows.to_dict("records")], overrides, period,
                                       config)
    result = verdicts.copy()
    for index, verdict in zip(rows.index, applied):
        for column, value in verdict.row().items():
            result.at[index, column] = value
    return result, refused


def _tier(text: str) -> int:
    text = text.strip()
    if text in _TIER_BY_NAME:
        return _TIER_BY_NAME[text]
    if text.isdigit() and int(text) in TIER_NAMES:
        return int(text)
    raise ValueError(f"to_tier {text!r} is not 1–5 or one of {'/'.join(TIER_NAMES.values())}")


def read_overrides(frame: pd.DataFrame) -> tuple[list[Override], list[RefusedOverride]]:
    """Parse the inbox overrides table (all text); a row that is incomplete or malformed is refused, not fatal."""
    missing = [c for c in OVERRIDE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"overrides.csv lacks columns: {', '.join(missing)}")
    overrides, refused = [], []
    for row_no, row in enumerate(frame.to_dict("records"), start=1):
        values = {c: str(row[c]).strip() for c in OVERRIDE_COLUMNS}
        empty = [c for c in OVERRIDE_COLUMNS if not values[c]]
        try:
            if empty:
                raise ValueError(f"empty {', '.join(empty)} (who, when and why are mandatory)")
            overrides.append(Override(values["contract_id"], values["period"], _tier(values["to_tier"]),
                                      values["who"], datetime.fromisoformat(values["when"]), values["why"]))
        except ValueError as exc:
            refused.append(RefusedOverride(None, row_no, f"overrides.csv row {row_no}: {exc}"))
    return overrides, refused


def refused_frame(refused: Sequence[RefusedOverride]) -> pd.DataFrame:
    return pd.DataFrame([r.as_dict() for r in refused],
                        columns=["row", "contract_id", "period", "to_tier", "who", "reason", "floors"])
