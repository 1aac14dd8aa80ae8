"""Five-tier classification rules (商业银行金融资产风险分类办法, 2023).

Each rule is a small unit, one per article: over the whole book at once it
names the loans it fires on, the floor it sets for each (the loan is at least
this bad) and the facts that made it fire. A rule is a SQL query over the
relation `book`, one row per loan with the columns of LoanFacts (FACT_COLUMNS);
it returns `contract_id, floor, facts` (facts a JSON object, in the order a
reader should see them). The engine (engine.py) runs every rule in DuckDB.
Thresholds come from config/classification.yaml, never from here.

A third party may also write a per-loan rule, `evaluate(loan: LoanFacts, config)
-> Finding | None` (see LoanRule): simpler to write, evaluated loan by loan, so
meant for small books or rare cases.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol, runtime_checkable

from plugins.config import Classification, OverdueFloor as FloorBand

TIER_NAMES = {1: "正常", 2: "关注", 3: "次级", 4: "可疑", 5: "损失"}


@dataclass(frozen=True)
class LoanFacts:
    """What the rules may look at for one loan at one period end (a row of the facts frame)."""
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
    # From the repayment history: the observation period was met at some time (None: not known, judged on
    # the months and periods above alone). A met observation does not restart on a later late payment.
    observation_met: bool | None = None
    previous_tier: int | None = None  # the tier reported at the previous month end


def fact_text(value) -> str:
    """How a fact reads in a reason: strings as they are, other values as JSON (true, null, 91)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class Finding:
    rule: str
    article: str
    floor: int
    facts: dict = field(default_factory=dict)

    def describe(self) -> str:
        # The same text the engine writes in SQL (engine._DESCRIBE): keep the two in step.
        details = ", ".join(f"{k}={fact_text(v)}" for k, v in self.facts.items())
        return f"{self.rule} → {TIER_NAMES[self.floor]} ({details})"

    def as_json(self) -> str:
        # The engine's JSON of a finding (DuckDB json_object): compact, keys in this order.
        return json.dumps({"article": self.article, "facts": self.facts, "floor": self.floor, "rule": self.rule},
                          ensure_ascii=False, separators=(",", ":"))


@runtime_checkable
class ClassificationRule(Protocol):
    """A whole-book rule: SQL over `book` returning contract_id, floor, facts for each loan it fires on."""
    name: str
    article: str

    def sql(self, config: Classification) -> str: ...


@runtime_checkable
class LoanRule(Protocol):
    """A per-loan rule (third parties): the finding for one loan, or None."""
    name: str
    article: str

    def evaluate(self, loan: LoanFacts, config: Classification) -> Finding | None: ...


# ------------------------------------------------------------------ SQL helpers

def _literal(value: str | Decimal | int) -> str:
    """A SQL literal of a configuration value: numbers as they are, text quoted."""
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _band(value: str, bands: list[FloorBand], attribute: str) -> str:
    """CASE choosing, of the bands whose day count `value` exceeds ("overdue more than N days"), the highest."""
    whens = " ".join(f"WHEN {value} > {band.days} THEN {getattr(band, attribute)}" for band in reversed(bands))
    return f"(CASE {whens} END)"


def _counted_dpd(config: Classification) -> str:
    # Short technical delays (≤ grace days) do not count as overdue at all.
    return f"(CASE WHEN dpd > {config.technical_grace_days} THEN dpd ELSE 0 END)"


def _in_list(column: str, values: list[str]) -> str:
    return f"{column} IN ({', '.join(_literal(v) for v in values)})" if values else "FALSE"


def in_observation(config: Classification) -> str:
    """A restructured asset stays under observation until both the months and the repayment periods are met."""
    rules = config.restructured
    months = "months_since_first_repayment_after_restructure"
    return (f"(restructured_on IS NOT NULL AND NOT coalesce(observation_met, FALSE) AND ({months} IS NULL"
            f" OR {months} < {rules.observation_min_months}"
            f" OR repayment_periods_since_restructure < {rules.observation_min_periods}))")


_OBSERVATION_FACTS = ("'restructured_on', strftime(restructured_on, '%Y-%m-%d'), "
                      "'months_since_first_repayment', months_since_first_repayment_after_restructure, "
                      "'repayment_periods', repayment_periods_since_restructure")


# ------------------------------------------------------------------ the rules

class OverdueFloor:
    name = "overdue_days"
    article = "2023 Measures art. 9–11: overdue > 0 / 90 / 270 / 360 days"

    def sql(self, config: Classification) -> str:
        dpd = _counted_dpd(config)
        return (f"SELECT contract_id, {_band(dpd, config.overdue_floors, 'tier')} AS floor, "
                f"json_object('dpd', dpd, 'threshold_days', {_band(dpd, config.overdue_floors, 'days')}) AS facts "
                f"FROM book WHERE NOT {_in_list('product', config.credit_card_products)} "
                f"AND {dpd} > {config.overdue_floors[0].days}")  # credit cards have their own bands


class CreditCardBands:
    name = "credit_card_dpd_band"
    article = "Credit cards: 关注 1–90, 次级 91–120, 可疑 121–180, 损失 > 180 days (to confirm)"

    def sql(self, config: Classification) -> str:
        dpd, bands = _counted_dpd(config), config.credit_card_floors
        return (f"SELECT contract_id, {_band(dpd, bands, 'tier')} AS floor, "
                f"json_object('product', product, 'dpd', dpd, 'threshold_days', {_band(dpd, bands, 'days')}) AS facts "
                f"FROM book WHERE {_in_list('product', config.credit_card_products)} AND {dpd} > {bands[0].days}")


class RefinanceFloor:
    name = "refinance_new_to_repay_old"
    article = "借新还旧 (2007 guideline art. 8; to confirm for 2023)"

    def sql(self, config: Classification) -> str:
        return (f"SELECT contract_id, {config.refinance_floor_tier} AS floor, "
                f"json_object('issuance_type', issuance_type) AS facts FROM book WHERE issuance_type = '借新还旧'")


class RestructuredObservation:
    name = "restructured_in_observation"
    article = "2023 Measures art. 12–14: restructured assets, observation period"

    def sql(self, config: Classification) -> str:
        return (f"SELECT contract_id, {config.restructured.floor_tier} AS floor, "
                f"json_object({_OBSERVATION_FACTS}) AS facts FROM book WHERE {in_observation(config)}")


class RestructuredAgainInObservation:
    name = "restructured_again_in_observation"
    article = "2023 Measures, restructured assets: restructured again inside the observation period → 次级 (to confirm)"

    def sql(self, config: Classification) -> str:
        rules = config.restructured
        # When the earlier observation had ended it is a fresh restructuring, not this rule.
        return (f"SELECT contract_id, {rules.restructured_again_floor_tier} AS floor, "
                f"json_object({_OBSERVATION_FACTS}, 'months_observed_at_restructure', months_observed_at_restructure, "
                f"'periods_observed_at_restructure', periods_observed_at_restructure) AS facts FROM book "
                f"WHERE months_observed_at_restructure IS NOT NULL AND periods_observed_at_restructure IS NOT NULL "
                f"AND {in_observation(config)} "
                f"AND NOT (months_observed_at_restructure >= {rules.observation_min_months} "
                f"AND periods_observed_at_restructure >= {rules.observation_min_periods})")


class PreviouslyNonPerformingRestructured:
    name = "restructured_previously_non_performing"
    article = "2023 Measures, restructured assets: non-performing before restructuring → at least 次级 (to confirm)"

    def sql(self, config: Classification) -> str:
        # "Non-performing before" is judged by the same overdue floors as any loan.
        before = _band("dpd_before_restructure", config.overdue_floors, "tier")
        return (f"SELECT contract_id, {config.restructured.previously_non_performing_floor_tier} AS floor, "
                f"json_object({_OBSERVATION_FACTS}, 'dpd_before_restructure', dpd_before_restructure, "
                f"'tier_before_restructure', {before}) AS facts FROM book "
                f"WHERE dpd_before_restructure IS NOT NULL AND {in_observation(config)} AND {before} >= 3")


class RestructuredNoUpgrade:
    name = "restructured_no_upgrade_in_observation"
    article = "2023 Measures, restructured assets: no upgrade during the observation period (to confirm)"

    def sql(self, config: Classification) -> str:
        if not config.restructured.no_upgrade_in_observation:
            return "SELECT contract_id, 1 AS floor, json_object() AS facts FROM book WHERE FALSE"
        return (f"SELECT contract_id, previous_tier AS floor, json_object({_OBSERVATION_FACTS}, "
                f"'previous_tier', previous_tier) AS facts FROM book "
                f"WHERE previous_tier IS NOT NULL AND previous_tier > 1 AND {in_observation(config)}")


class ExtendedFloor:
    name = "extended"
    article = "展期 (extension of maturity): at least 关注 (institution policy)"

    def sql(self, config: Classification) -> str:
        return (f"SELECT contract_id, {config.extended_floor_tier} AS floor, "
                f"json_object('extended_on', strftime(extended_on, '%Y-%m-%d')) AS facts FROM book "
                f"WHERE extended_on IS NOT NULL AND extended_on <= as_of")


class CreditImpaired:
    name = "credit_impaired"
    article = "2023 Measures art. 10: credit-impaired → at least 次级"

    def sql(self, config: Classification) -> str:
        return (f"SELECT contract_id, {config.impairment.credit_impaired_tier} AS floor, "
                f"json_object('credit_impaired', TRUE) AS facts FROM book WHERE credit_impaired")


def _ecl_ratio_at_least(threshold: Decimal) -> str:
    # ecl_ratio is the assessment's exact decimal text; compared as a decimal, shown as delivered.
    return f"(ecl_ratio IS NOT NULL AND CAST(ecl_ratio AS DECIMAL(38, 12)) >= {threshold})"


class ImpairedDoubtful:
    name = "impaired_ecl_doubtful"
    article = "2023 Measures art. 11: credit-impaired with ECL ≥ 50% of the book balance → 可疑 (to confirm)"

    def sql(self, config: Classification) -> str:
        rules = config.impairment
        return (f"SELECT contract_id, {rules.doubtful_tier} AS floor, json_object('ecl_ratio', ecl_ratio, "
                f"'threshold', {_literal(str(rules.doubtful_ecl_ratio))}) AS facts FROM book "
                f"WHERE credit_impaired AND {_ecl_ratio_at_least(rules.doubtful_ecl_ratio)}")


class ImpairedLoss:
    name = "impaired_ecl_loss"
    article = "2023 Measures art. 12: ECL ≥ 90% of the book balance → 损失 (to confirm)"

    def sql(self, config: Classification) -> str:
        rules = config.impairment
        return (f"SELECT contract_id, {rules.loss_tier} AS floor, json_object('ecl_ratio', ecl_ratio, "
                f"'threshold', {_literal(str(rules.loss_ecl_ratio))}) AS facts FROM book "
                f"WHERE {_ecl_ratio_at_least(rules.loss_ecl_ratio)}")


class BankruptcyLiquidation:
    name = "borrower_in_liquidation"
    article = "2023 Measures art. 12: debtor in bankruptcy liquidation → 损失 (to confirm)"

    def sql(self, config: Classification) -> str:
        return (f"SELECT contract_id, {config.impairment.liquidation_tier} AS floor, "
                f"json_object('borrower_in_liquidation', TRUE) AS facts FROM book WHERE borrower_in_liquidation")


DEFAULT_RULES: tuple[ClassificationRule, ...] = (
    OverdueFloor(), CreditCardBands(), RefinanceFloor(), RestructuredObservation(), RestructuredAgainInObservation(),
    PreviouslyNonPerformingRestructured(), RestructuredNoUpgrade(), ExtendedFloor(), CreditImpaired(), ImpairedDoubtful(), ImpairedLoss(),
    BankruptcyLiquidation(),
)
