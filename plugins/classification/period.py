"""Classify one period end of a core-system extract: the loan book, its verdicts, its optional inputs."""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Mapping, Sequence

import pandas as pd

from plugins.classification.engine import apply_book_rules, classify_facts
from plugins.classification.facts import facts_frame, impairment_columns, with_impairment
from plugins.classification.impairment import Assessment
from plugins.classification.overrides import Override, RefusedOverride, apply_overrides_to_frame
from plugins.classification.rules import ClassificationRule
from plugins.config import Classification
from plugins.portfolio.loanbook import open_book

# Optional inbox tables (core/YYYY-MM/<name>.csv): read and archived when delivered, never required.
OPTIONAL_TABLES = ("overrides", "external_overdue_share", "impairment")
EXTERNAL_SHARE_COLUMNS = ("borrower_id", "overdue_90_share")


def external_overdue_share(frame: pd.DataFrame | None) -> dict[str, Decimal] | None:
    """borrower_id → share (0–1) of its debts at all institutions more than 90 days overdue; None when absent."""
    if frame is None:
        return None
    missing = [c for c in EXTERNAL_SHARE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"external_overdue_share.csv lacks columns: {', '.join(missing)}")
    shares = {}
    for row_no, (borrower, text) in enumerate(zip(frame["borrower_id"], frame["overdue_90_share"]), start=1):
        try:
            share = Decimal(str(text).strip())
        except InvalidOperation:
            raise ValueError(f"external_overdue_share.csv row {row_no}: overdue_90_share {text!r} is not a number") from None
        if not Decimal(0) <= share <= Decimal(1):
            raise ValueError(f"external_overdue_share.csv row {row_no}: overdue_90_share {share} is not within 0–1")
        shares[str(borrower)] = share
    return shares


def classify_period(extract: Mapping[str, pd.DataFrame], as_of: date, config: Classification,
                    rules: Sequence[ClassificationRule], overdue_share: Mapping[str, Decimal] | None = None,
                    overrides: Sequence[Override] = (), impairment: Mapping[str, Assessment] | None = None,
                    previous_tiers: Mapping[str, int] | None = None,
                    ) -> tuple[pd.DataFrame, pd.DataFrame, list[RefusedOverride]]:
    """The open book at `as_of`, its verdict frame (engine.VERDICT_COLUMNS, in the book's order) and the
    refused overrides.

    `previous_tiers` (contract_id → the tier reported at the previous month end) lets a restructured asset
    under observation keep its tier (no upgrade). `impairment` (impairment.read_impairment) sets the facts
    of the impairment floors; the book
    carries them (and the assessment's author and date) in the columns of facts.impairment_columns.

    Overrides come after every rule (a person judges the rules' result); the in-house debtor rule then
    runs again, because a claim a person moved to non-performing counts towards its debtor's share.
    """
    observation = (config.restructured.observation_min_periods, config.restructured.observation_min_months)
    book = open_book(dict(extract), as_of, observation)
    facts = with_impairment(facts_frame(book, as_of, previous_tiers), impairment)
    # the facts are the book's rows in its order: the columns line up without a join
    impairment_facts = impairment_columns(facts, impairment)
    book = book.assign(**{c: impairment_facts[c].to_numpy() for c in impairment_facts.columns if c != "contract_id"})
    verdicts = classify_facts(facts, config, rules, overdue_share)
    refused: list[RefusedOverride] = []
    if overrides:
        verdicts, refused = apply_overrides_to_frame(verdicts, overrides, as_of.strftime("%Y-%m"), config)
        verdicts = apply_book_rules(verdicts, facts, config, rules)
    return book, verdicts, refused


OPENING_COLUMNS = ["contract_id", "balance_cents", "tier"]


def opening_tiers(reported: pd.DataFrame | None, extract: Mapping[str, pd.DataFrame], as_of: date,
                  config: Classification, rules: Sequence[ClassificationRule]) -> tuple[pd.DataFrame, str]:
    """Last month end's book as it was reported (contract_id, balance_cents, tier), and where it came from.

    `reported` is last month's loan_classification as materialized. A month whose previous month was never
    run (the first month, or after a gap) bootstraps: last month end is reclassified from this month's
    extract, without last month's overrides or external data, and the source says so.
    """
    previous = previous_month_end(as_of)
    if reported is not None:
        return reported[OPENING_COLUMNS].reset_index(drop=True), f"reported: loan_classification {previous:%Y-%m}"
    book, verdicts, _ = classify_period(extract, previous, config, rules)
    opening = book[["contract_id", "balance_cents"]].assign(tier=verdicts["tier"].to_numpy())
    return opening, f"bootstrapped: {previous:%Y-%m} not run, reclassified from this month's extract"


def previous_month_end(as_of: date) -> date:
    return date.fromordinal(as_of.replace(day=1).toordinal() - 1)
