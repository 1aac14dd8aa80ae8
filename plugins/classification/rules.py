"""Five-tier classification rules (商业银行金融资产风险分类办法, 2023).

Each rule is a small unit: given one loan's facts and the configuration, it
either sets a floor (the loan is at least this bad) with the facts that made
it fire, or stays silent. Thresholds come from config/classification.yaml.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from plugins.config import Classification

TIER_NAMES = {1: "正常", 2: "关注", 3: "次级", 4: "可疑", 5: "损失"}


@dataclass(frozen=True)
class LoanFacts:
    """What the rules may look at for one loan at one period end."""
    contract_id: str
    borrower_id: str
    borrower_kind: str  # corporate | individual
    as_of: date
    balance_cents: int
    dpd: int  # days past due of the oldest unpaid instalment
    issuance_type: str = "新增"  # 新增 | 借新还旧 | 重组 | 无还本续贷
    restructured_on: date | None = None
    restructure_count: int = 0
    months_since_first_repayment_after_restructure: int | None = None
    repayment_periods_since_restructure: int = 0
    extended_on: date | None = None


@dataclass(frozen=True)
class Finding:
    rule: str
    article: str
    floor: int
    facts: dict = field(default_factory=dict)

    def describe(self) -> str:
        details = ", ".join(f"{k}={v}" for k, v in self.facts.items())
        return f"{self.rule} → {TIER_NAMES[self.floor]} ({details})"


class ClassificationRule(Protocol):
    name: str
    article: str

    def evaluate(self, loan: LoanFacts, config: Classification) -> Finding | None: ...


class OverdueFloor:
    name = "overdue_days"
    article = "2023 Measures art. 9–11: overdue > 0 / 90 / 270 / 360 days"

    def evaluate(self, loan: LoanFacts, config: Classification) -> Finding | None:
        dpd = loan.dpd if loan.dpd > config.technical_grace_days else 0
        fired = [f for f in config.overdue_floors if dpd > f.days]
        if not fired:
            return None
        floor = fired[-1]
        return Finding(self.name, self.article, floor.tier, {"dpd": loan.dpd, "threshold_days": floor.days})


class RefinanceFloor:
    name = "refinance_new_to_repay_old"
    article = "借新还旧 (2007 guideline art. 8; to confirm for 2023)"

    def evaluate(self, loan: LoanFacts, config: Classification) -> Finding | None:
        if loan.issuance_type != "借新还旧":
            return None
        return Finding(self.name, self.article, config.refinance_floor_tier, {"issuance_type": loan.issuance_type})


class RestructuredObservation:
    name = "restructured_in_observation"
    article = "2023 Measures art. 12–14: restructured assets, observation period"

    def evaluate(self, loan: LoanFacts, config: Classification) -> Finding | None:
        if loan.restructured_on is None:
            return None
        rules = config.restructured
        months = loan.months_since_first_repayment_after_restructure
        in_observation = (
            months is None
            or months < rules.observation_min_months
            or loan.repayment_periods_since_restructure < rules.observation_min_periods
        )
        if not in_observation:
            return None
        return Finding(self.name, self.article, rules.floor_tier, {
            "restructured_on": loan.restructured_on.isoformat(),
            "months_since_first_repayment": months,
            "repayment_periods": loan.repayment_periods_since_restructure,
        })


class ExtendedFloor:
    name = "extended"
    article = "展期 (extension of maturity): at least 关注 (institution policy)"

    def evaluate(self, loan: LoanFacts, config: Classification) -> Finding | None:
        if loan.extended_on is None or loan.extended_on > loan.as_of:
            return None
        return Finding(self.name, self.article, config.extended_floor_tier, {"extended_on": loan.extended_on.isoformat()})


DEFAULT_RULES: tuple[ClassificationRule, ...] = (OverdueFloor(), RefinanceFloor(), RestructuredObservation(), ExtendedFloor())
