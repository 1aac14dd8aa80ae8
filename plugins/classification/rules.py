"""Five-tier classification rules (商业银行金融资产风险分类办法, 2023).

Each rule is a small unit: given one loan's facts and the configuration, it
either sets a floor (the loan is at least this bad) with the facts that made
it fire, or stays silent. Thresholds come from config/classification.yaml.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol

from plugins.config import Classification, OverdueFloor as FloorBand

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
    product: str = "loan"  # loan | finance_lease | credit_card | ...
    # Restructured again: observation of the previous restructuring reached when the new one happened
    # (None when restructured at most once).
    months_observed_at_restructure: int | None = None
    periods_observed_at_restructure: int | None = None
    dpd_before_restructure: int | None = None  # days past due the day before the restructuring
    # Impairment (IFRS 9 / CAS 22) and legal status, from the provisioning stage or external data.
    ecl_ratio: Decimal | None = None  # expected credit loss / book balance
    credit_impaired: bool = False
    borrower_in_liquidation: bool = False


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


def _band_floor(dpd: int, bands: list[FloorBand]) -> FloorBand | None:
    """The highest band whose day count `dpd` exceeds ("overdue more than N days")."""
    fired = [band for band in bands if dpd > band.days]
    return fired[-1] if fired else None


def _counted_dpd(loan: LoanFacts, config: Classification) -> int:
    # Short technical delays (≤ grace days) do not count as overdue at all.
    return loan.dpd if loan.dpd > config.technical_grace_days else 0


class OverdueFloor:
    name = "overdue_days"
    article = "2023 Measures art. 9–11: overdue > 0 / 90 / 270 / 360 days"

    def evaluate(self, loan: LoanFacts, config: Classification) -> Finding | None:
        if loan.product in config.credit_card_products:
            return None  # credit cards have their own bands (CreditCardBands)
        floor = _band_floor(_counted_dpd(loan, config), config.overdue_floors)
        if floor is None:
            return None
        return Finding(self.name, self.article, floor.tier, {"dpd": loan.dpd, "threshold_days": floor.days})


class CreditCardBands:
    name = "credit_card_dpd_band"
    article = "Credit cards: 关注 1–90, 次级 91–120, 可疑 121–180, 损失 > 180 days (to confirm)"

    def evaluate(self, loan: LoanFacts, config: Classification) -> Finding | None:
        if loan.product not in config.credit_card_products:
            return None
        band = _band_floor(_counted_dpd(loan, config), config.credit_card_floors)
        if band is None:
            return None
        return Finding(self.name, self.article, band.tier,
                       {"product": loan.product, "dpd": loan.dpd, "threshold_days": band.days})


class RefinanceFloor:
    name = "refinance_new_to_repay_old"
    article = "借新还旧 (2007 guideline art. 8; to confirm for 2023)"

    def evaluate(self, loan: LoanFacts, config: Classification) -> Finding | None:
        if loan.issuance_type != "借新还旧":
            return None
        return Finding(self.name, self.article, config.refinance_floor_tier, {"issuance_type": loan.issuance_type})


def in_observation(loan: LoanFacts, config: Classification) -> bool:
    """A restructured asset stays under observation until both the months and the repayment periods are met."""
    if loan.restructured_on is None:
        return False
    rules = config.restructured
    months = loan.months_since_first_repayment_after_restructure
    return (months is None or months < rules.observation_min_months
            or loan.repayment_periods_since_restructure < rules.observation_min_periods)


def _observation_facts(loan: LoanFacts) -> dict:
    return {"restructured_on": loan.restructured_on.isoformat() if loan.restructured_on else None,
            "months_since_first_repayment": loan.months_since_first_repayment_after_restructure,
            "repayment_periods": loan.repayment_periods_since_restructure}


class RestructuredObservation:
    name = "restructured_in_observation"
    article = "2023 Measures art. 12–14: restructured assets, observation period"

    def evaluate(self, loan: LoanFacts, config: Classification) -> Finding | None:
        if not in_observation(loan, config):
            return None
        return Finding(self.name, self.article, config.restructured.floor_tier, _observation_facts(loan))


class RestructuredAgainInObservation:
    name = "restructured_again_in_observation"
    article = "2023 Measures, restructured assets: restructured again inside the observation period → 次级 (to confirm)"

    def evaluate(self, loan: LoanFacts, config: Classification) -> Finding | None:
        months, periods = loan.months_observed_at_restructure, loan.periods_observed_at_restructure
        if months is None or periods is None or not in_observation(loan, config):
            return None
        rules = config.restructured
        if months >= rules.observation_min_months and periods >= rules.observation_min_periods:
            return None  # the earlier observation had ended: this is a fresh restructuring
        return Finding(self.name, self.article, rules.restructured_again_floor_tier, {
            **_observation_facts(loan), "months_observed_at_restructure": months,
            "periods_observed_at_restructure": periods})


class PreviouslyNonPerformingRestructured:
    name = "restructured_previously_non_performing"
    article = "2023 Measures, restructured assets: non-performing before restructuring → at least 次级 (to confirm)"

    def evaluate(self, loan: LoanFacts, config: Classification) -> Finding | None:
        if loan.dpd_before_restructure is None or not in_observation(loan, config):
            return None
        # "Non-performing before" is judged by the same overdue floors as any loan.
        band = _band_floor(loan.dpd_before_restructure, config.overdue_floors)
        if band is None or band.tier < 3:
            return None
        return Finding(self.name, self.article, config.restructured.previously_non_performing_floor_tier, {
            **_observation_facts(loan), "dpd_before_restructure": loan.dpd_before_restructure,
            "tier_before_restructure": band.tier})


class ExtendedFloor:
    name = "extended"
    article = "展期 (extension of maturity): at least 关注 (institution policy)"

    def evaluate(self, loan: LoanFacts, config: Classification) -> Finding | None:
        if loan.extended_on is None or loan.extended_on > loan.as_of:
            return None
        return Finding(self.name, self.article, config.extended_floor_tier, {"extended_on": loan.extended_on.isoformat()})


class CreditImpaired:
    name = "credit_impaired"
    article = "2023 Measures art. 10: credit-impaired → at least 次级"

    def evaluate(self, loan: LoanFacts, config: Classification) -> Finding | None:
        if not loan.credit_impaired:
            return None
        return Finding(self.name, self.article, config.impairment.credit_impaired_tier, {"credit_impaired": True})


class ImpairedDoubtful:
    name = "impaired_ecl_doubtful"
    article = "2023 Measures art. 11: credit-impaired with ECL ≥ 50% of the book balance → 可疑 (to confirm)"

    def evaluate(self, loan: LoanFacts, config: Classification) -> Finding | None:
        rules = config.impairment
        if not loan.credit_impaired or loan.ecl_ratio is None or loan.ecl_ratio < rules.doubtful_ecl_ratio:
            return None
        return Finding(self.name, self.article, rules.doubtful_tier,
                       {"ecl_ratio": str(loan.ecl_ratio), "threshold": str(rules.doubtful_ecl_ratio)})


class ImpairedLoss:
    name = "impaired_ecl_loss"
    article = "2023 Measures art. 12: ECL ≥ 90% of the book balance → 损失 (to confirm)"

    def evaluate(self, loan: LoanFacts, config: Classification) -> Finding | None:
        rules = config.impairment
        if loan.ecl_ratio is None or loan.ecl_ratio < rules.loss_ecl_ratio:
            return None
        return Finding(self.name, self.article, rules.loss_tier,
                       {"ecl_ratio": str(loan.ecl_ratio), "threshold": str(rules.loss_ecl_ratio)})


class BankruptcyLiquidation:
    name = "borrower_in_liquidation"
    article = "2023 Measures art. 12: debtor in bankruptcy liquidation → 损失 (to confirm)"

    def evaluate(self, loan: LoanFacts, config: Classification) -> Finding | None:
        if not loan.borrower_in_liquidation:
            return None
        return Finding(self.name, self.article, config.impairment.liquidation_tier, {"borrower_in_liquidation": True})


DEFAULT_RULES: tuple[ClassificationRule, ...] = (
    OverdueFloor(), CreditCardBands(), RefinanceFloor(), RestructuredObservation(), RestructuredAgainInObservation(),
    PreviouslyNonPerformingRestructured(), ExtendedFloor(), CreditImpaired(), ImpairedDoubtful(), ImpairedLoss(),
    BankruptcyLiquidation(),
)
