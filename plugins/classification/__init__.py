"""Five-tier risk classification: rules behind a small protocol, and the engine."""
from plugins.classification.engine import Verdict, classify_book, classify_loan, verdicts_frame
from plugins.classification.rules import DEFAULT_RULES, TIER_NAMES, ClassificationRule, Finding, LoanFacts

__all__ = ["DEFAULT_RULES", "TIER_NAMES", "ClassificationRule", "Finding", "LoanFacts", "Verdict",
           "classify_book", "classify_loan", "verdicts_frame"]
