"""Each borrower's statement state, carried month over month: the latest figures by period, and their ratios.

A month's deliveries (the rows of `statement_figures_extracted`: plugins.extraction.FIGURE_COLUMNS) are
applied to last month's state per borrower and statement type (资产负债表, 利润表, 现金流量表):

- a statement type the borrower never delivered before is taken (`first`);
- a newer period replaces the older one (`newer_period`);
- the same period delivered again replaces it too (`redelivered`, naming the replaced document);
- an older period than the one held is not applied (`older_period_ignored`): the state keeps the latest.

When one month brings the same statement type and period in more than one document, the last one in the
month's frame (the inbox's order) is held and the others are logged as replaced. Rows without a borrower or
a period end cannot be attributed and are left out.

A borrower's latest filing is the statement period it delivered last in time order of periods: the figures
of its latest period end (every statement type held for that period), their documents, the month each was
delivered, and the filing's age at the month end in calendar months from the period end's month
(`age_months`: a 2026-03-31 statement is 6 months old at 2026-09-30) and from the delivery month
(`delivered_months_ago`). Ratios are plugins.documents.ratios on those figures.

Pure pandas; no Dagster. The state is a dict of frames (stored by the work IO manager as tables).
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from plugins.documents.ratios import RATIO_COLUMNS, financial_ratios
from plugins.extraction import FIGURE_COLUMNS

KEY = ["borrower_id", "statement"]
STATE_COLUMNS = [*FIGURE_COLUMNS, "delivered_month", "replaces_sha256"]  # the same period's document it replaced
LOG_COLUMNS = ["borrower_id", "statement", "period_end", "sha256", "delivered_month", "action", "replaced_period_end",
               "replaced_sha256"]
FILING_COLUMNS = ["borrower_id", "period_end", "sha256", "statements", "delivered_month", "redelivered",
                  "age_months", "delivered_months_ago"]
PROVENANCE_COLUMNS = ["month", "source", "covers_from", "months_applied"]


def empty_state() -> pd.DataFrame:
    return pd.DataFrame(columns=STATE_COLUMNS)


def _month_index(text: str) -> int:
    return int(text[:4]) * 12 + int(text[5:7]) - 1


def months_between(earlier: str, later: str) -> int:
    """Calendar months from the month of `earlier` (a date or YYYY-MM) to the month of `later`."""
    return _month_index(str(later)) - _month_index(str(earlier))


def _clean(frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None or frame.empty:
        return empty_state()
    frame = frame.dropna(subset=["borrower_id", "period_end"])
    frame = frame.assign(period_end=frame["period_end"].astype(str),
                         statement=frame["statement"].fillna("").astype(str))
    return frame.reindex(columns=FIGURE_COLUMNS)


def _chosen_deliveries(delivered: pd.DataFrame, month: str) -> tuple[pd.DataFrame, list[dict]]:
    """This month's rows to apply: per borrower and statement type, the latest period's last document."""
    rows, log = [], []
    for (borrower, statement), group in delivered.groupby(KEY, sort=True):
        latest = group[group["period_end"] == group["period_end"].max()]
        documents = list(dict.fromkeys(latest["sha256"]))
        held = documents[-1]
        for replaced in documents[:-1]:
            log.append({"borrower_id": borrower, "statement": statement, "period_end": latest["period_end"].iloc[0],
                        "sha256": held, "delivered_month": month, "action": "redelivered",
                        "replaced_period_end": latest["period_end"].iloc[0], "replaced_sha256": replaced})
        rows.append(latest[latest["sha256"] == held].assign(
            replaces_sha256=documents[-2] if len(documents) > 1 else None))
    chosen = pd.concat(rows, ignore_index=True) if rows else empty_state()
    return chosen.assign(delivered_month=month), log


def apply_deliveries(state: pd.DataFrame, delivered: pd.DataFrame | None,
                     month: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The state after `month`'s deliveries, and the log of what each delivery did (LOG_COLUMNS)."""
    state = state if state is not None and not state.empty else empty_state()
    delivered = _clean(delivered)
    if delivered.empty:
        return state.reset_index(drop=True), pd.DataFrame(columns=LOG_COLUMNS)
    chosen, log = _chosen_deliveries(delivered, month)
    held = {key: group for key, group in state.groupby(KEY, sort=False)} if not state.empty else {}
    keep_new, drop_old = [], set()
    for key, group in chosen.groupby(KEY, sort=True):
        period, sha = group["period_end"].iloc[0], group["sha256"].iloc[0]
        entry = {"borrower_id": key[0], "statement": key[1], "period_end": period, "sha256": sha,
                 "delivered_month": month, "replaced_period_end": None, "replaced_sha256": None}
        before = held.get(key)
        if before is None:
            action = "first"
        else:
            before_period, before_sha = str(before["period_end"].iloc[0]), str(before["sha256"].iloc[0])
            if period < before_period:
                log.append({**entry, "action": "older_period_ignored", "replaced_period_end": before_period,
                            "replaced_sha256": before_sha})
                continue
            action = "newer_period" if period > before_period else "redelivered"
            entry.update(replaced_period_end=before_period, replaced_sha256=before_sha)
            drop_old.add(key)
            if action == "redelivered" and before_sha != sha:
                group = group.assign(replaces_sha256=before_sha)
        log.append({**entry, "action": action})
        keep_new.append(group)
    keep = np.array([k not in drop_old for k in zip(state["borrower_id"], state["statement"])], dtype=bool)
    kept = state[keep] if drop_old else state
    frames = [f for f in (kept, *keep_new) if not f.empty]
    result = pd.concat(frames, ignore_index=True) if frames else empty_state()
    result = result.reindex(columns=STATE_COLUMNS).sort_values(
        ["borrower_id", "period_end", "statement"], kind="stable").reset_index(drop=True)
    return result, pd.DataFrame(log, columns=LOG_COLUMNS)


def latest_filing_figures(state: pd.DataFrame) -> pd.DataFrame:
    """The figures of each borrower's latest period end (every statement type held for that period)."""
    if state is None or state.empty:
        return empty_state()
    latest = state.groupby("borrower_id")["period_end"].transform("max")
    return state[state["period_end"] == latest].reset_index(drop=True)


def latest_filings(state: pd.DataFrame, month: str) -> pd.DataFrame:
    """One row per borrower: its latest filing (period end, documents, delivery month) and its age at `month`."""
    figures = latest_filing_figures(state)
    rows = []
    for borrower, group in figures.groupby("borrower_id", sort=True):
        period = str(group["period_end"].iloc[0])
        delivered = str(group["delivered_month"].max())
        rows.append({"borrower_id": borrower, "period_end": period,
                     "sha256": ",".join(sorted(group["sha256"].dropna().astype(str).unique())),
                     "statements": ",".join(sorted(group["statement"].astype(str).unique())),
                     "delivered_month": delivered, "redelivered": bool(group["replaces_sha256"].notna().any()),
                     "age_months": months_between(period, month),
                     "delivered_months_ago": months_between(delivered, month)})
    return pd.DataFrame(rows, columns=FILING_COLUMNS)


def state_ratios(state: pd.DataFrame) -> pd.DataFrame:
    """plugins.documents.ratios on each borrower's latest figures: one row per borrower."""
    figures = latest_filing_figures(state)
    if figures.empty:
        return pd.DataFrame(columns=RATIO_COLUMNS)
    return financial_ratios(figures).reset_index(drop=True)


def build_state(month: str, delivered: pd.DataFrame | None, previous: dict[str, pd.DataFrame] | None,
                earlier: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The month's state: last month's state plus this month's deliveries, or bootstrapped when there is none.

    `previous` is last month's state (build_state's result) or None when that month was never run; then
    the state is rebuilt from `earlier` (statement figures of earlier months with their `filed_month`,
    as earlier_statement_figures holds them), month by month in order, and this month applied last.
    """
    if previous:
        state = previous["figures"]
        prior = previous.get("provenance")
        covers_from = (str(prior["covers_from"].iloc[0]) if prior is not None and len(prior) else month)
        source, applied = f"previous month's borrower_statements ({_month_before(month)})", [month]
    else:
        state = empty_state()
        months = sorted(earlier["filed_month"].dropna().unique()) if earlier is not None and len(earlier) else []
        months = [m for m in months if m < month]
        for m in months:
            state, _ = apply_deliveries(state, earlier[earlier["filed_month"] == m].drop(columns="filed_month"), m)
        covers_from = months[0] if months else month
        source = (f"bootstrap: statement figures of {len(months)} earlier month(s) materialized "
                  f"({months[0]}..{months[-1]}) and this month" if months
                  else "bootstrap: this month only (no earlier month's statement figures materialized)")
        applied = [*months, month]
    state, log = apply_deliveries(state, delivered, month)
    filings = latest_filings(state, month)
    provenance = pd.DataFrame([{"month": month, "source": source, "covers_from": covers_from,
                                "months_applied": ",".join(applied)}], columns=PROVENANCE_COLUMNS)
    return {"figures": state, "filings": filings, "ratios": state_ratios(state), "log": log,
            "provenance": provenance}


def _month_before(month: str) -> str:
    index = _month_index(month) - 1
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def as_of_month(as_of: date) -> str:
    return f"{as_of:%Y-%m}"
