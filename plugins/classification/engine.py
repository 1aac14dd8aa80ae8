"""Apply the rules to a loan book and explain every verdict."""
from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Sequence

import pandas as pd

from plugins.classification.rules import TIER_NAMES, ClassificationRule, Finding, LoanFacts
from plugins.config import Classification

NON_PERFORMING = (3, 4, 5)


@dataclass(frozen=True)
class Verdict:
    contract_id: str
    tier_before_floors: int
    tier: int
    findings: tuple[Finding, ...]

    @property
    def reasons_json(self) -> str:
        return json.dumps([f.__dict__ for f in self.findings], ensure_ascii=False, sort_keys=True, default=str)

    @property
    def reason_text(self) -> str:
        return "; ".join(f.describe() for f in self.findings)


def classify_loan(loan: LoanFacts, config: Classification, rules: Sequence[ClassificationRule]) -> Verdict:
    """The worst floor any rule sets, from a base assessment of 正常."""
    base = 1
    findings = tuple(f for f in (rule.evaluate(loan, config) for rule in rules) if f is not None)
    tier = max([base, *(f.floor for f in findings)])
    return Verdict(loan.contract_id, base, tier, findings)


def apply_debtor_rule(loans: Sequence[LoanFacts], verdicts: list[Verdict], config: Classification) -> list[Verdict]:
    """Non-retail debtors: above the configured share of claims non-performing, all claims are.

    Share is measured by balance; the rule raises performing claims of such a
    debtor to 次级 and records the share that triggered it.
    """
    by_debtor: dict[str, list[int]] = {}
    for i, loan in enumerate(loans):
        if loan.borrower_kind == "corporate":
            by_debtor.setdefault(loan.borrower_id, []).append(i)
    result = list(verdicts)
    for debtor, indexes in by_debtor.items():
        total = sum(loans[i].balance_cents for i in indexes)
        npl = sum(loans[i].balance_cents for i in indexes if verdicts[i].tier in NON_PERFORMING)
        if total <= 0 or npl == 0:
            continue
        share = Decimal(npl) / Decimal(total)
        if share <= config.debtor_npl_share:
            continue
        for i in indexes:
            v = result[i]
            if v.tier in NON_PERFORMING:
                continue
            finding = Finding("debtor_npl_share", "2023 Measures art. 8: non-performing share of a debtor's claims",
                              3, {"borrower_id": debtor, "npl_share": f"{share:.4f}",
                                  "threshold": str(config.debtor_npl_share)})
            result[i] = Verdict(v.contract_id, v.tier_before_floors, 3, v.findings + (finding,))
    return result


def classify_book(loans: Sequence[LoanFacts], config: Classification, rules: Sequence[ClassificationRule]) -> list[Verdict]:
    verdicts = [classify_loan(loan, config, rules) for loan in loans]
    return apply_debtor_rule(loans, verdicts, config)


def verdicts_frame(verdicts: Iterable[Verdict], previous: dict[str, int] | None = None) -> pd.DataFrame:
    previous = previous or {}
    rows = [{
        "contract_id": v.contract_id,
        "tier": v.tier,
        "tier_name": TIER_NAMES[v.tier],
        "tier_before_floors": v.tier_before_floors,
        "previous_tier": previous.get(v.contract_id),
        "rules_fired": ",".join(f.rule for f in v.findings),
        "reasons": v.reason_text,
        "reasons_json": v.reasons_json,
    } for v in verdicts]
    frame = pd.DataFrame(rows, columns=["contract_id", "tier", "tier_name", "tier_before_floors", "previous_tier",
                                        "rules_fired", "reasons", "reasons_json"])
    frame["previous_tier"] = frame["previous_tier"].astype("Int64")
    return frame.sort_values("contract_id", ignore_index=True)
