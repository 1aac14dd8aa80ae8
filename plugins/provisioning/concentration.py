"""Concentration limits of the institution's profile, as shares of its net assets (DOMAIN.md §3).

Exposure is the outstanding balance. A group is the borrowers sharing a
non-empty group_id; related parties are borrowers flagged related_party.
"Borrower with related parties" (small-loan rule) is a borrower together with
the members of its group. Every check is listed; `breach` marks those above
their limit. Shares are exact Decimals rounded half up to 6 decimals for
display, the comparison uses the exact cents.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from plugins.config import Concentration
from plugins.money import to_cents

COLUMNS = ["limit", "subject", "exposure_cents", "share", "limit_share", "breach"]


def _flag(value) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def exposures(book: pd.DataFrame, borrowers: pd.DataFrame) -> pd.DataFrame:
    """Balance per borrower with its group_id and related_party flag."""
    per = book.groupby("borrower_id", as_index=False)["balance_cents"].sum()
    attrs = borrowers[["borrower_id", "group_id", "related_party"]].copy()
    attrs["group_id"] = attrs["group_id"].fillna("").astype(str)
    attrs["related_party"] = attrs["related_party"].map(_flag)
    per = per.merge(attrs, on="borrower_id", how="left")
    return per.fillna({"group_id": ""}).assign(related_party=per["related_party"].fillna(False).astype(bool))


def concentration_checks(book: pd.DataFrame, borrowers: pd.DataFrame, kind: str,
                         config: Concentration) -> pd.DataFrame:
    """One row per (limit, subject) checked for the institution `kind`, breaches marked."""
    limits = config.profiles.get(kind)
    if limits is None:
        return pd.DataFrame(columns=COLUMNS)
    net_cents = to_cents(config.net_assets)
    per = exposures(book, borrowers)
    grouped = per[per["group_id"] != ""].groupby("group_id")["balance_cents"].sum()
    group_of = dict(zip(per["borrower_id"], per["group_id"]))
    subjects: list[tuple[str, Decimal | None, dict[str, int]]] = [
        ("single_borrower", limits.single_borrower, dict(zip(per["borrower_id"], per["balance_cents"]))),
        ("single_group", limits.single_group, grouped.to_dict()),
        ("single_related_party", limits.single_related_party,
         dict(zip(per.loc[per["related_party"], "borrower_id"], per.loc[per["related_party"], "balance_cents"]))),
        ("all_related_parties", limits.all_related_parties,
         {"all": int(per.loc[per["related_party"], "balance_cents"].sum())}),
        ("borrower_with_related", limits.borrower_with_related,
         {b: int(grouped[group_of[b]]) if group_of[b] else int(c) for b, c in zip(per["borrower_id"], per["balance_cents"])}),
    ]
    rows = []
    for name, limit, amounts in subjects:
        if limit is None:
            continue
        for subject, cents in sorted(amounts.items()):
            share = (Decimal(int(cents)) / net_cents).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
            rows.append({"limit": name, "subject": str(subject), "exposure_cents": int(cents), "share": float(share),
                         "limit_share": float(limit), "breach": Decimal(int(cents)) > limit * net_cents})
    return pd.DataFrame(rows, columns=COLUMNS)
