"""Five-tier risk classification: rules over the whole book behind a small protocol, and the engine."""
from plugins.classification.engine import (
    Verdict,
    classify_book,
    classify_facts,
    classify_loan,
    verdicts_frame,
    with_previous_and_overrides,
)
from plugins.classification.facts import facts_frame, facts_from_loans
from plugins.classification.rules import DEFAULT_RULES, TIER_NAMES, ClassificationRule, Finding, LoanFacts, LoanRule

__all__ = ["DEFAULT_RULES", "TIER_NAMES", "ClassificationRule", "Finding", "LoanFacts", "LoanRule", "Verdict",
           "classify_book", "classify_facts", "classify_loan", "facts_frame", "facts_from_loans", "verdicts_frame",
           "with_previous_and_overrides"]
