"""Apply the rules to a loan book and explain every verdict."""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

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
    notes: tuple[str, ...] = ()  # what the verdict could not consider (e.g. an absent external input)

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
            result[i] = replace(v, tier=3, findings=v.findings + (finding,))
    return result


CROSS_INSTITUTION_ABSENT = "cross_institution_20pct: external input absent, rule not evaluated"


def apply_cross_institution_rule(loans: Sequence[LoanFacts], verdicts: list[Verdict], config: Classification,
                                 overdue_share: Mapping[str, Decimal] | None) -> list[Verdict]:
    """Non-retail debtors with more than the configured share of their debts at all institutions > 90 days
    overdue: every claim here is at least the configured tier.

    `overdue_share` maps borrower_id → that share (external data, e.g. the credit bureau). When the input
    is absent the rule stays silent and each non-retail verdict says so, so nobody mistakes "not evaluated"
    for "passed".
    """
    result = list(verdicts)
    threshold = config.cross_institution_overdue_share
    for i, loan in enumerate(loans):
        if loan.borrower_kind != "corporate":
            continue
        v = result[i]
        if overdue_share is None:
            result[i] = replace(v, notes=v.notes + (CROSS_INSTITUTION_ABSENT,))
            continue
        share = overdue_share.get(loan.borrower_id)
        if share is None or share <= threshold:
            continue
        floor = config.cross_institution_floor_tier
        finding = Finding("cross_institution_overdue_share",
                          "2023 Measures art. 8: > 20% of a debtor's debts at all institutions > 90 days overdue",
                          floor, {"borrower_id": loan.borrower_id, "overdue_share": f"{share:.4f}",
                                  "threshold": str(threshold)})
        result[i] = replace(v, tier=max(v.tier, floor), findings=v.findings + (finding,))
    return result


def classify_book(loans: Sequence[LoanFacts], config: Classification, rules: Sequence[ClassificationRule],
                  external_overdue_share: Mapping[str, Decimal] | None = None) -> list[Verdict]:
    """Per-loan rules, then the cross-institution and the in-house debtor-level rules.

    The cross-institution rule runs first because the claims it makes non-performing count towards the
    debtor's non-performing share here.
    """
    verdicts = [classify_loan(loan, config, rules) for loan in loans]
    verdicts = apply_cross_institution_rule(loans, verdicts, config, external_overdue_share)
    return apply_debtor_rule(loans, verdicts, config)


FRAME_COLUMNS = ["contract_id", "tier", "tier_name", "tier_before_floors", "previous_tier", "rules_fired", "reasons",
                 "reasons_json", "notes", "override_by", "override_at", "override_reason"]


def _override_facts(verdict: Verdict) -> dict:
    # The engine does not import overrides.py; the finding's name is the contract between them.
    found = [f.facts for f in verdict.findings if f.rule == "manual_override"]
    return found[-1] if found else {}


def verdicts_frame(verdicts: Iterable[Verdict], previous: dict[str, int] | None = None) -> pd.DataFrame:
    previous = previous or {}
    rows = []
    for v in verdicts:
        override = _override_facts(v)
        rows.append({
            "contract_id": v.contract_id,
            "tier": v.tier,
            "tier_name": TIER_NAMES[v.tier],
            "tier_before_floors": v.tier_before_floors,
            "previous_tier": previous.get(v.contract_id),
            "rules_fired": ",".join(f.rule for f in v.findings),
            "reasons": v.reason_text,
            "reasons_json": v.reasons_json,
            "notes": "; ".join(v.notes),
            "override_by": override.get("who", ""),
            "override_at": override.get("when", ""),
            "override_reason": override.get("why", ""),
        })
    frame = pd.DataFrame(rows, columns=FRAME_COLUMNS)
    frame["previous_tier"] = frame["previous_tier"].astype("Int64")
    return frame.sort_values("contract_id", ignore_index=True)
