"""Guarantors (保证人) watched as obligors (issue 14 item 5): a guarantor that is itself a borrower here and
non-performing, or whose own latest statements deteriorate, weakens every loan it guarantees; and each
loan's guarantee coverage (guaranteed amount against the balance).

Pure pandas over the guarantors table (contract_id, guarantor_id, guarantor_name, guarantee_type,
guaranteed_amount), the classified book and the early-warning signals of the guarantors' own filings;
settings from config/monitoring.yaml `guarantors`, severities from config/early_warning.yaml.
"""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from plugins.config import EarlyWarning, GuarantorSettings
from plugins.early_warning.signals import Signal
from plugins.money import to_cents

COVERAGE_COLUMNS = ["contract_id", "borrower_id", "balance_cents", "guarantors", "guaranteed_cents", "coverage"]


def _cents(value: object) -> int:
    return to_cents(str(value)) if value not in (None, "") and not pd.isna(value) else 0


def guarantee_coverage(guarantors: pd.DataFrame, book: pd.DataFrame) -> pd.DataFrame:
    """Per loan on the book with a guarantee: guarantors, guaranteed amount (the largest single guarantee:
    joint guarantees of one debt do not add up beyond it) and coverage = guaranteed / balance (None at 0)."""
    on_book = guarantors[guarantors["contract_id"].isin(set(book["contract_id"]))]
    rows = []
    balances = dict(zip(book["contract_id"], book["balance_cents"]))
    owners = dict(zip(book["contract_id"], book["borrower_id"]))
    for cid, group in on_book.groupby("contract_id", sort=True):
        guaranteed = max(_cents(v) for v in group["guaranteed_amount"])
        balance = int(balances[cid])
        rows.append([cid, owners[cid], balance, len(group), guaranteed,
                     round(guaranteed / balance, 4) if balance else None])
    return pd.DataFrame(rows, columns=COVERAGE_COLUMNS)


def guarantor_signals(guarantors: pd.DataFrame, book: pd.DataFrame, guarantor_financial: Iterable[Signal],
                      settings: GuarantorSettings, config: EarlyWarning) -> list[Signal]:
    """guarantor_non_performing: a loan on the book guaranteed by a borrower whose own loan here is at or below
    `non_performing_tier`; guarantor_deterioration: one guaranteed by a borrower whose latest filing fires one
    of `deterioration_signals` (`guarantor_financial`: the financial signals of every borrower's filing)."""
    signals: list[Signal] = []
    owners = dict(zip(book["contract_id"], book["borrower_id"]))
    on_book = guarantors[guarantors["contract_id"].isin(owners)]
    bad = book[book["tier"].astype(int) >= settings.non_performing_tier]
    worst = bad.groupby("borrower_id").apply(
        lambda g: g.sort_values(["tier", "contract_id"], ascending=[False, True]).iloc[0], include_groups=False)
    if "guarantor_non_performing" in config.signals:
        severity = config.signals["guarantor_non_performing"].severity
        for r in on_book.itertuples(index=False):
            if r.guarantor_id in worst.index and r.guarantor_id != owners[r.contract_id]:
                own = worst.loc[r.guarantor_id]
                signals.append(Signal(r.contract_id, owners[r.contract_id], "guarantor_non_performing", severity,
                                      {"guarantor_id": r.guarantor_id, "guarantor_name": r.guarantor_name,
                                       "guarantor_contract": own["contract_id"], "guarantor_tier": int(own["tier"]),
                                       "guarantor_dpd": int(own["dpd"])}))
    if "guarantor_deterioration" in config.signals:
        severity = config.signals["guarantor_deterioration"].severity
        found: dict[str, list[str]] = {}
        for s in guarantor_financial:
            if s.signal in settings.deterioration_signals:
                found.setdefault(s.borrower_id, []).append(s.signal)
        for r in on_book.itertuples(index=False):
            if r.guarantor_id in found and r.guarantor_id != owners[r.contract_id]:
                signals.append(Signal(r.contract_id, owners[r.contract_id], "guarantor_deterioration", severity,
                                      {"guarantor_id": r.guarantor_id, "guarantor_name": r.guarantor_name,
                                       "guarantor_signals": ",".join(sorted(set(found[r.guarantor_id])))}))
    return sorted(signals, key=lambda s: (s.contract_id, s.signal, s.evidence["guarantor_id"]))
