"""Early-warning signals, each a small function returning Signals with their severity and evidence.

Delinquency signals read the repayment history (schedules and payments, per instalment of the schedule in
force); collateral signals read the appraisal history; financial signals read extracted statement figures
(columns borrower_id, period_end, canonical, current_cents, prior_cents; with sha256 the signal names the
filing's documents): each borrower's latest filing, from the borrower_statements state
(plugins.monitoring.statement_state) carried month over month, so a borrower who delivered months ago is
still judged by that filing, and the signal says which filing (period end, documents) and its age in months
at the month end. statements_overdue flags corporate borrowers on the book whose latest statement is older
than the policy allows, or who never delivered one. Thresholds and severities come from
config/early_warning.yaml; a signal absent from its `signals` section is switched off.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Iterable

import pandas as pd

from plugins.config import EarlyWarning
from plugins.money import to_cents
from plugins.portfolio.loanbook import instalment_status

SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3}
SIGNAL_COLUMNS = ["contract_id", "borrower_id", "signal", "severity", "evidence", "evidence_json",
                  "filing_period_end", "filing_sha256", "filing_age_months"]
DELINQUENCY_SIGNALS = ("dpd_over_90", "repeated_overdue", "cured_then_relapsed")
FINANCIAL_SIGNALS = ("net_loss", "revenue_down", "debt_to_asset_covenant", "negative_equity")
STATEMENT_SIGNALS = ("statements_overdue",)


@dataclass(frozen=True)
class Signal:
    contract_id: str
    borrower_id: str
    signal: str
    severity: str
    evidence: dict = field(default_factory=dict)
    filing: dict = field(default_factory=dict)  # the statement judged: period_end, sha256, age_months


def _enabled(config: EarlyWarning, name: str) -> bool:
    return name in config.signals


def _signal(config: EarlyWarning, name: str, contract_id: str, borrower_id: str, **evidence) -> Signal:
    return Signal(contract_id, borrower_id, name, config.signals[name].severity, evidence)


def _threshold(config: EarlyWarning, name: str) -> Decimal:
    return config.signals[name].threshold  # presence checked when the configuration loads


def _months_back(as_of: date, months: int) -> date:
    year, month = divmod(as_of.year * 12 + as_of.month - 1 - months, 12)
    month += 1
    last_day = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(as_of.day, last_day))


# ------------------------------------------------------------------ delinquency

def overdue_events(schedules: pd.DataFrame, payments: pd.DataFrame, as_of: date, config: EarlyWarning) -> pd.DataFrame:
    """Instalments due in the lookback window that were settled late or are still unsettled.

    Columns: contract_id, instalment_no, due_date, settled_on (None while unsettled), days_late (to the
    settlement, or to `as_of` when unsettled).
    """
    start = _months_back(as_of, config.lookback_months)
    status = instalment_status(schedules, payments, as_of)
    status = status[status["due_date"] > start]
    pay = payments.copy()
    pay["paid_date"] = pd.to_datetime(pay["paid_date"], format="ISO8601").dt.date
    pay = pay[pay["paid_date"] <= as_of]
    pay["schedule_version"] = pay["schedule_version"].astype(int)
    pay["instalment_no"] = pay["instalment_no"].astype(str)
    pay["paid_cents"] = [to_cents(p or "0") + to_cents(i or "0") for p, i in zip(pay["principal_paid"], pay["interest_paid"])]
    pay = pay.sort_values(["contract_id", "schedule_version", "instalment_no", "paid_date"])
    pay["cumulative_cents"] = pay.groupby(["contract_id", "schedule_version", "instalment_no"])["paid_cents"].cumsum()
    rows = []
    by_instalment = {key: group for key, group in pay.groupby(["contract_id", "schedule_version", "instalment_no"])}
    for row in status.itertuples(index=False):
        due_cents = int(row.principal_due_cents) + int(row.interest_due_cents)
        paid = by_instalment.get((row.contract_id, int(row.schedule_version), str(row.instalment_no)))
        settled_on = None
        if paid is not None:
            reached = paid[paid["cumulative_cents"] >= due_cents]
            settled_on = reached["paid_date"].iloc[0] if len(reached) else None
        days_late = ((settled_on or as_of) - row.due_date).days
        if days_late > config.overdue_event_grace_days:
            rows.append({"contract_id": row.contract_id, "instalment_no": str(row.instalment_no),
                         "due_date": row.due_date, "settled_on": settled_on, "days_late": days_late})
    return pd.DataFrame(rows, columns=["contract_id", "instalment_no", "due_date", "settled_on", "days_late"])


def dpd_over_90(book: pd.DataFrame, config: EarlyWarning) -> list[Signal]:
    limit = int(_threshold(config, "dpd_over_90"))
    return [_signal(config, "dpd_over_90", r.contract_id, r.borrower_id, dpd=int(r.dpd), threshold_days=limit)
            for r in book.itertuples(index=False) if int(r.dpd) > limit]


def repeated_overdue(events: pd.DataFrame, borrowers: dict[str, str], config: EarlyWarning) -> list[Signal]:
    minimum = int(_threshold(config, "repeated_overdue"))
    counts = events.groupby("contract_id").size()
    return [_signal(config, "repeated_overdue", cid, borrowers[cid], overdue_events=int(n),
                    lookback_months=config.lookback_months, threshold=minimum)
            for cid, n in counts.items() if n >= minimum and cid in borrowers]


def cured_then_relapsed(book: pd.DataFrame, events: pd.DataFrame, as_of: date, config: EarlyWarning) -> list[Signal]:
    """Overdue now, after an earlier overdue event in the window was fully caught up before this one began."""
    signals = []
    for r in book[book["dpd"] > 0].itertuples(index=False):
        current_since = as_of - timedelta(days=int(r.dpd))  # due date of the oldest unpaid instalment
        earlier = events[(events["contract_id"] == r.contract_id) & events["settled_on"].notna()]
        cured = [s for s in earlier["settled_on"] if s < current_since]
        if cured:
            signals.append(_signal(config, "cured_then_relapsed", r.contract_id, r.borrower_id,
                                   cured_on=max(cured).isoformat(), overdue_again_since=current_since.isoformat(),
                                   dpd=int(r.dpd)))
    return signals


# ------------------------------------------------------------------ maturity, refinancing, contagion

def maturity_without_renewal(book: pd.DataFrame, as_of: date, config: EarlyWarning) -> list[Signal]:
    window = int(_threshold(config, "maturity_without_renewal"))
    signals = []
    for r in book.itertuples(index=False):
        maturity = date.fromisoformat(str(r.maturity_date)) if r.maturity_date else None
        if maturity is None or bool(r.extended) or not as_of < maturity <= as_of + timedelta(days=window):
            continue
        signals.append(_signal(config, "maturity_without_renewal", r.contract_id, r.borrower_id,
                               maturity_date=maturity.isoformat(), days_to_maturity=(maturity - as_of).days,
                               balance_cents=int(r.balance_cents), window_days=window))
    return signals


def refinance_new_to_repay_old(book: pd.DataFrame, config: EarlyWarning) -> list[Signal]:
    return [_signal(config, "refinance_new_to_repay_old", r.contract_id, r.borrower_id, issuance_type=r.issuance_type)
            for r in book.itertuples(index=False) if r.issuance_type == "借新还旧"]


def debtor_contagion(classified: pd.DataFrame, config: EarlyWarning) -> list[Signal]:
    """Performing claims of a debtor that has another claim here in 次级 or worse."""
    npl = classified[classified["tier"] >= 3]
    by_debtor = npl.groupby("borrower_id")["contract_id"].apply(lambda s: sorted(s)).to_dict()
    return [_signal(config, "debtor_contagion", r.contract_id, r.borrower_id,
                    non_performing_claims=",".join(by_debtor[r.borrower_id]), tier=int(r.tier))
            for r in classified.itertuples(index=False) if r.tier < 3 and r.borrower_id in by_debtor]


# ------------------------------------------------------------------ collateral

def collateral_positions(collateral: pd.DataFrame, book: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Per contract: collateral value at the latest and at the previous appraisal, and the loan-to-value at both.

    A collateral item appraised once counts the same value in both; values are in cents.
    """
    col = collateral.copy()
    col["valuation_date"] = pd.to_datetime(col["valuation_date"], format="ISO8601").dt.date
    col = col[col["valuation_date"] <= as_of].sort_values(["contract_id", "collateral_id", "valuation_date"])
    col["value_cents"] = col["appraised_value"].map(to_cents)
    rows = []
    for (cid, _), items in col.groupby(["contract_id", "collateral_id"]):
        latest = items.iloc[-1]
        previous = items.iloc[-2] if len(items) > 1 else latest
        rows.append({"contract_id": cid, "latest_cents": int(latest["value_cents"]),
                     "previous_cents": int(previous["value_cents"]), "latest_date": latest["valuation_date"],
                     "previous_date": previous["valuation_date"]})
    per_item = pd.DataFrame(rows, columns=["contract_id", "latest_cents", "previous_cents", "latest_date", "previous_date"])
    positions = per_item.groupby("contract_id").agg(
        collateral_cents=("latest_cents", "sum"), previous_collateral_cents=("previous_cents", "sum"),
        latest_valuation=("latest_date", "max"), previous_valuation=("previous_date", "max")).reset_index()
    positions = positions.merge(book[["contract_id", "borrower_id", "balance_cents"]], on="contract_id")
    positions["ltv"] = [Decimal(b) / Decimal(c) if c > 0 else None
                        for b, c in zip(positions["balance_cents"], positions["collateral_cents"])]
    positions["previous_ltv"] = [Decimal(b) / Decimal(c) if c > 0 else None
                                 for b, c in zip(positions["balance_cents"], positions["previous_collateral_cents"])]
    return positions


def collateral_value_down(positions: pd.DataFrame, config: EarlyWarning) -> list[Signal]:
    drop_min = _threshold(config, "collateral_value_down")
    signals = []
    for r in positions.itertuples(index=False):
        if r.previous_collateral_cents <= 0:
            continue
        drop = 1 - Decimal(int(r.collateral_cents)) / Decimal(int(r.previous_collateral_cents))
        if drop >= drop_min:
            signals.append(_signal(config, "collateral_value_down", r.contract_id, r.borrower_id,
                                   previous_value_cents=int(r.previous_collateral_cents),
                                   latest_value_cents=int(r.collateral_cents), value_drop=f"{drop:.4f}",
                                   previous_ltv=f"{r.previous_ltv:.4f}", ltv=f"{r.ltv:.4f}",
                                   latest_valuation=r.latest_valuation.isoformat(), threshold=str(drop_min)))
    return signals


def loan_to_value_high(positions: pd.DataFrame, config: EarlyWarning) -> list[Signal]:
    limit = _threshold(config, "loan_to_value_high")
    return [_signal(config, "loan_to_value_high", r.contract_id, r.borrower_id, ltv=f"{r.ltv:.4f}",
                    balance_cents=int(r.balance_cents), collateral_cents=int(r.collateral_cents), threshold=str(limit))
            for r in positions.itertuples(index=False) if r.ltv is not None and r.ltv > limit]


# ------------------------------------------------------------------ financial statements

SCOPE_PREFERENCE = ("consolidated", "entity", "parent")  # as StatementExtraction.figure prefers them


def latest_figures(figures: pd.DataFrame) -> pd.DataFrame:
    """borrower_id × canonical of each borrower's latest statement period: current_cents and prior_cents
    (and the figure's document, sha256, when the frame carries it).

    A report printing consolidated (合并) and parent-company (母公司) statements gives the consolidated
    figure (column `scope`; a frame without it is one company's); within the scope, the first line printed
    with an amount, so a blank repeat of a label does not hide it. A line the preferred scope prints blank
    stays nil: the parent company's figure does not stand in for the group's.
    """
    columns = ["borrower_id", "period_end", "canonical", "current_cents", "prior_cents",
               *(["sha256"] if "sha256" in figures.columns else [])]
    usable = figures.dropna(subset=["borrower_id", "period_end", "canonical"])
    if usable.empty:
        return pd.DataFrame(columns=columns)
    latest = usable.groupby("borrower_id")["period_end"].transform("max")
    usable = usable[usable["period_end"] == latest].copy()
    scope = usable["scope"] if "scope" in usable else pd.Series("entity", index=usable.index)
    usable["_scope_rank"] = scope.map({s: i for i, s in enumerate(SCOPE_PREFERENCE)}).fillna(len(SCOPE_PREFERENCE))
    usable["_order"] = range(len(usable))
    # the preferred scope printing the line at all, then within it the first line with an amount
    usable["_blank"] = usable["current_cents"].isna() & usable["prior_cents"].isna()
    best_scope = usable.groupby(["borrower_id", "canonical"])["_scope_rank"].transform("min")
    usable = usable[usable["_scope_rank"] == best_scope]
    return (usable.sort_values(["_blank", "_order"], kind="stable")
            .drop_duplicates(["borrower_id", "canonical"], keep="first")
            .sort_values("_order")
            [columns])


def _pivot(figures: pd.DataFrame, column: str) -> dict[str, dict[str, int]]:
    values: dict[str, dict[str, int]] = {}
    for r in figures.itertuples(index=False):
        value = getattr(r, column)
        if not pd.isna(value):
            values.setdefault(r.borrower_id, {})[r.canonical] = int(value)
    return values


def months_old(period_end: str, as_of: date) -> int:
    """A statement's age at `as_of` in calendar months from its period end's month (2026-03-31 at 2026-09-30: 6)."""
    end = date.fromisoformat(str(period_end)[:10])
    return (as_of.year - end.year) * 12 + as_of.month - end.month


def filing_of(latest: pd.DataFrame, as_of: date | None = None) -> dict[str, dict]:
    """borrower_id → the filing its latest figures come from: period_end, sha256 (documents, comma-joined), age."""
    filings: dict[str, dict] = {}
    for borrower, group in latest.groupby("borrower_id", sort=True):
        period = str(group["period_end"].iloc[0])
        filing = {"period_end": period}
        if "sha256" in group:
            filing["sha256"] = ",".join(sorted(group["sha256"].dropna().astype(str).unique()))
        if as_of is not None:
            filing["age_months"] = months_old(period, as_of)
        filings[borrower] = filing
    return filings


def financial_signals(figures: pd.DataFrame, config: EarlyWarning, as_of: date | None = None) -> list[Signal]:
    """Borrower-level signals (contract_id empty) from each borrower's latest statement.

    Each signal names the filing it judged (period end, documents and, given `as_of`, its age in months).
    """
    latest = latest_figures(figures)
    current, prior = _pivot(latest, "current_cents"), _pivot(latest, "prior_cents")
    period = dict(zip(latest["borrower_id"], latest["period_end"]))
    filings = filing_of(latest, as_of)
    signals = []
    for borrower in sorted(current):
        now, before, at = current[borrower], prior.get(borrower, {}), str(period[borrower])
        if _enabled(config, "net_loss") and now.get("net_profit", 0) < 0:
            signals.append(_signal(config, "net_loss", "", borrower, period_end=at, net_profit_cents=now["net_profit"]))
        if _enabled(config, "revenue_down") and before.get("revenue", 0) > 0 and "revenue" in now:
            change = Decimal(now["revenue"]) / Decimal(before["revenue"]) - 1
            if -change > _threshold(config, "revenue_down"):
                signals.append(_signal(config, "revenue_down", "", borrower, period_end=at,
                                       revenue_cents=now["revenue"], prior_revenue_cents=before["revenue"],
                                       change=f"{change:.4f}", threshold=str(_threshold(config, "revenue_down"))))
        if _enabled(config, "debt_to_asset_covenant") and now.get("total_assets", 0) > 0 and "total_liabilities" in now:
            leverage = Decimal(now["total_liabilities"]) / Decimal(now["total_assets"])
            if leverage > _threshold(config, "debt_to_asset_covenant"):
                signals.append(_signal(config, "debt_to_asset_covenant", "", borrower, period_end=at,
                                       debt_to_asset=f"{leverage:.4f}",
                                       covenant=str(_threshold(config, "debt_to_asset_covenant"))))
        if _enabled(config, "negative_equity") and now.get("equity", 0) < 0:
            signals.append(_signal(config, "negative_equity", "", borrower, period_end=at, equity_cents=now["equity"]))
    return [replace(s, filing=filings.get(s.borrower_id, {})) for s in signals]


# Borrowers expected to deliver financial statements (individuals do not file statements).
STATEMENT_BORROWER_KINDS = ("corporate",)


def statements_overdue(book: pd.DataFrame, filings: pd.DataFrame, as_of: date, config: EarlyWarning,
                       on_record_since: str | None = None) -> list[Signal]:
    """Borrower-level: a corporate borrower with loans on the book whose latest statement's period end is
    more than `threshold` months before `as_of` (months_old), or who delivered none on record.

    `filings`: one row per borrower with period_end, sha256, delivered_month (statement_state.latest_filings);
    `on_record_since`: the first month the statement state covers (a "never delivered" is since then).
    """
    limit = int(_threshold(config, "statements_overdue"))
    if "borrower_kind" not in book.columns:
        return []
    corporate = sorted(set(book.loc[book["borrower_kind"].isin(STATEMENT_BORROWER_KINDS), "borrower_id"]))
    latest = {str(r.borrower_id): r for r in filings.itertuples(index=False)}
    signals = []
    for borrower in corporate:
        filing = latest.get(borrower)
        if filing is None:
            signals.append(_signal(config, "statements_overdue", "", borrower, never_delivered=True,
                                   **({"on_record_since": on_record_since} if on_record_since else {}),
                                   max_age_months=limit))
            continue
        age = months_old(filing.period_end, as_of)
        if age > limit:
            signals.append(replace(
                _signal(config, "statements_overdue", "", borrower, period_end=str(filing.period_end),
                        age_months=age, max_age_months=limit, delivered_month=str(filing.delivered_month)),
                filing={"period_end": str(filing.period_end), "sha256": str(filing.sha256), "age_months": age}))
    return signals


def per_loan(borrower_signals: Iterable[Signal], book: pd.DataFrame, config: EarlyWarning,
             raise_when_overdue: bool = True) -> list[Signal]:
    """Borrower-level signals on each of the borrower's loans; overdue loans are raised to the configured severity
    (financial deterioration together with overdue, DOMAIN.md §5) unless `raise_when_overdue` is false."""
    loans = book.groupby("borrower_id")
    signals = []
    for s in borrower_signals:
        if s.borrower_id not in loans.groups:
            continue
        for r in loans.get_group(s.borrower_id).itertuples(index=False):
            severity = s.severity
            if raise_when_overdue and int(r.dpd) > 0 and \
                    SEVERITY_RANK[config.overdue_with_deterioration_severity] > SEVERITY_RANK[severity]:
                severity = config.overdue_with_deterioration_severity  # overdue together with deterioration
            signals.append(replace(s, contract_id=r.contract_id, severity=severity,
                                   evidence={**s.evidence, **({"dpd": int(r.dpd)} if int(r.dpd) > 0 else {})}))
    return signals


# ------------------------------------------------------------------ all together

def book_signals(classified: pd.DataFrame, extract: dict[str, pd.DataFrame], as_of: date, config: EarlyWarning,
                 figures: pd.DataFrame | None = None, statements: dict[str, pd.DataFrame] | None = None) -> list[Signal]:
    """Every enabled signal for the classified book (loan_classification's frame) at `as_of`.

    Financial signals read `statements` (the borrower_statements state: each borrower's latest filing,
    whenever delivered) when given, else `figures`; statements_overdue needs `statements`.
    """
    filings, on_record_since = None, None
    if statements is not None:
        from plugins.monitoring.statement_state import latest_filing_figures, latest_filings

        figures = latest_filing_figures(statements["figures"])
        filings = latest_filings(statements["figures"], f"{as_of:%Y-%m}")
        provenance = statements.get("provenance")
        on_record_since = str(provenance["covers_from"].iloc[0]) if provenance is not None and len(provenance) else None
    borrowers = dict(zip(classified["contract_id"], classified["borrower_id"]))
    in_book = set(borrowers)
    signals: list[Signal] = []
    if _enabled(config, "dpd_over_90"):
        signals += dpd_over_90(classified, config)
    if _enabled(config, "repeated_overdue") or _enabled(config, "cured_then_relapsed"):
        schedules = extract["schedules"][extract["schedules"]["contract_id"].isin(in_book)]
        events = overdue_events(schedules, extract["payments"], as_of, config)
        if _enabled(config, "repeated_overdue"):
            signals += repeated_overdue(events, borrowers, config)
        if _enabled(config, "cured_then_relapsed"):
            signals += cured_then_relapsed(classified, events, as_of, config)
    if _enabled(config, "maturity_without_renewal"):
        signals += maturity_without_renewal(classified, as_of, config)
    if _enabled(config, "collateral_value_down") or _enabled(config, "loan_to_value_high"):
        positions = collateral_positions(extract["collateral"], classified, as_of)
        if _enabled(config, "collateral_value_down"):
            signals += collateral_value_down(positions, config)
        if _enabled(config, "loan_to_value_high"):
            signals += loan_to_value_high(positions, config)
    if _enabled(config, "refinance_new_to_repay_old"):
        signals += refinance_new_to_repay_old(classified, config)
    if _enabled(config, "debtor_contagion"):
        signals += debtor_contagion(classified, config)
    if figures is not None and not figures.empty:
        signals += per_loan(financial_signals(figures, config, as_of), classified, config)
    if filings is not None and _enabled(config, "statements_overdue"):
        signals += per_loan(statements_overdue(classified, filings, as_of, config, on_record_since), classified,
                            config, raise_when_overdue=False)
    return sorted(signals, key=lambda s: (s.contract_id, s.signal))


def signals_frame(signals: Iterable[Signal]) -> pd.DataFrame:
    rows = [{"contract_id": s.contract_id, "borrower_id": s.borrower_id, "signal": s.signal, "severity": s.severity,
             "evidence": ", ".join(f"{k}={v}" for k, v in s.evidence.items()),
             "evidence_json": json.dumps(s.evidence, ensure_ascii=False, sort_keys=True, default=str),
             "filing_period_end": s.filing.get("period_end"), "filing_sha256": s.filing.get("sha256"),
             "filing_age_months": s.filing.get("age_months")}
            for s in signals]
    frame = pd.DataFrame(rows, columns=SIGNAL_COLUMNS)
    frame["filing_age_months"] = frame["filing_age_months"].astype("Int64")
    return frame
