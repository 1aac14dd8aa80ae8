"""Deterministic sample portfolio of a lender (loans and finance leases) and its core-system extracts.

Types in the DataFrames: dates are `datetime.date` (None when empty), money is a yuan string
with exactly two decimals (e.g. "1234567.00"), rates are decimal-fraction strings ("0.0435"),
booleans are bool, `lpr_spread_bp` is a nullable Int64. `csv_bytes` renders dates ISO,
booleans true/false and empty values as empty fields.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from plugins.sample.docspecs import bad_specs, contract_spec, contract_terms, money, rate_str, statement_specs
from plugins.sample.parties import Borrower, Guarantee, Valuation, make_borrowers, make_collateral, make_guarantees
from plugins.sample.simulate import (SCENARIO_QUOTAS, SCENARIO_RESTRUCTURINGS_KEPT, SCENARIO_SEGMENT_MINIMUM,
                                     SCENARIO_SMALL_DEFAULTS,
                                     Contract, assign_segments,
                                     fewer_restructurings, make_contracts)
from plugins.sample.collections import monitoring_tables
from plugins.sample.impairment import impairment_tables
from plugins.sample.monitoring import extra_monitoring_tables

BORROWER_COLUMNS = ["borrower_id", "name", "kind", "industry_code", "industry_name", "region", "id_number",
                    "group_id", "related_party"]
LOAN_COLUMNS = ["contract_id", "borrower_id", "product", "issuance_type", "principal", "currency", "annual_rate",
                "rate_type", "lpr_spread_bp", "start_date", "original_maturity_date", "maturity_date", "term_months",
                "repayment_method", "industry_code", "region", "purpose", "leased_asset", "restructured_on",
                "extended_on", "written_off_on", "status", "outstanding_principal"]
SCHEDULE_COLUMNS = ["contract_id", "schedule_version", "instalment_no", "due_date", "principal_due", "interest_due"]
PAYMENT_COLUMNS = ["contract_id", "schedule_version", "instalment_no", "paid_date", "principal_paid", "interest_paid"]
COLLATERAL_COLUMNS = ["collateral_id", "contract_id", "collateral_type", "appraised_value", "valuation_date"]
GUARANTOR_COLUMNS = ["contract_id", "guarantor_id", "guarantor_name", "guarantee_type", "guaranteed_amount"]
TABLES = ["borrowers", "loans", "schedules", "payments", "collateral", "guarantors"]


@dataclass(frozen=True)
class SamplePortfolio:
    """Full history; `loans.status` / `outstanding_principal` are as of the simulation end date."""

    borrowers: pd.DataFrame
    loans: pd.DataFrame
    schedules: pd.DataFrame
    payments: pd.DataFrame
    collateral: pd.DataFrame
    guarantors: pd.DataFrame
    document_specs: list[dict]


def generate_portfolio(seed: int = 20260930, start: date = date(2023, 10, 1), end: date = date(2026, 9, 30),
                       n_borrowers: int = 320, n_contracts: int = 520, scenario: str = "stressed") -> SamplePortfolio:
    """Simulate the lender from `start` to `end`; the same arguments give byte-identical output.

    `scenario`: "stressed" (the default here: the book the tests' hand numbers are written on, NPL ratio about
    20%) or "realistic" (few defaults, every tier populated: config/sample.yaml's default for the demo). The
    borrowers and contracts are drawn as in the stressed book; a scenario sets the behaviour segments' quotas and their minimum,
    whether distress falls on the smaller exposures only and how many contracts stay issued as restructurings
    (plugins/sample/simulate.py SCENARIO_*), drawn from a stream of its own. The stressed book is
    byte-identical to the one before scenarios."""
    if scenario not in SCENARIO_QUOTAS:
        raise ValueError(f"unknown sample scenario {scenario!r}: one of {', '.join(SCENARIO_QUOTAS)}")
    rng = random.Random(seed)
    borrowers = make_borrowers(rng, n_borrowers)
    contracts = make_contracts(rng, borrowers, n_contracts, start, end)
    # The stressed book keeps the one stream it always had; another scenario's behaviour comes from a stream of
    # its own, so its borrowers and contracts are the stressed book's and who pays how differs.
    behaviour = rng if scenario == "stressed" else random.Random(f"{scenario}-{seed}")
    if SCENARIO_RESTRUCTURINGS_KEPT[scenario] is not None:
        fewer_restructurings(contracts, SCENARIO_RESTRUCTURINGS_KEPT[scenario])
    assign_segments(behaviour, contracts, end, SCENARIO_QUOTAS[scenario], SCENARIO_SEGMENT_MINIMUM[scenario],
                    SCENARIO_SMALL_DEFAULTS[scenario])
    distress = _distress_dates(contracts)
    guarantees, collateral, terms, specs = {}, {}, {}, []
    person_ids: dict[str, str] = {}
    for c in sorted(contracts, key=lambda c: c.contract_id):
        b = borrowers[c.borrower]
        members = [m for m in borrowers if b.group_id and m.group_id == b.group_id]
        guarantees[c.idx] = make_guarantees(rng, b, members, c.principal, person_ids)
        collateral[c.idx] = make_collateral(rng, b.kind, c.product, c.principal, c.start,
                                            min(end, c.active_until), distress.get(c.borrower))
        terms[c.idx] = contract_terms(c, b, guarantees[c.idx], collateral[c.idx])
        specs.append(contract_spec(c, b, terms[c.idx], end))
    specs += statement_specs(rng, borrowers, contracts, distress, start, end)
    specs += bad_specs(rng, borrowers, contracts, terms, start, end)
    specs.sort(key=lambda s: (s["period"], s["received_date"], s["file_name"]))
    loans = _loans_frame(contracts, borrowers)
    schedules = _schedules_frame(contracts)
    payments = _payments_frame(contracts, end)
    return SamplePortfolio(
        borrowers=_borrowers_frame(borrowers), loans=_snapshot_loans(loans, schedules, payments, end),
        schedules=schedules, payments=payments, collateral=_collateral_frame(contracts, collateral),
        guarantors=_guarantors_frame(contracts, guarantees), document_specs=specs)


def _distress_dates(contracts: list[Contract]) -> dict[int, date]:
    """Borrower index -> when its trouble shows (first missed instalment, or 90 days before a restructure)."""
    out: dict[int, date] = {}
    for c in contracts:
        marks = [d for d in (c.first_missed, c.restructured_on and c.restructured_on - timedelta(days=90)) if d]
        if marks:
            out[c.borrower] = min([out.get(c.borrower, date.max), *marks])
    return out


# ---------------------------------------------------------------- frames

def _borrowers_frame(borrowers: list[Borrower]) -> pd.DataFrame:
    rows = [[b.borrower_id, b.name, b.kind, b.industry_code, b.industry_name, b.region, b.id_number,
             b.group_id, b.related_party] for b in borrowers]
    return pd.DataFrame(rows, columns=BORROWER_COLUMNS)


def _loans_frame(contracts: list[Contract], borrowers: list[Borrower]) -> pd.DataFrame:
    rows = []
    for c in sorted(contracts, key=lambda c: c.contract_id):
        b = borrowers[c.borrower]
        rows.append([c.contract_id, b.borrower_id, c.product, c.issuance_type, money(c.principal), "CNY",
                     rate_str(c.rate_e4), c.rate_type, c.spread_bp, c.start, c.original_maturity, c.maturity,
                     c.term, c.method, b.industry_code, b.region, c.purpose, c.leased_asset, c.restructured_on,
                     c.extended_on, c.written_off_on, "", ""])
    df = pd.DataFrame(rows, columns=LOAN_COLUMNS)
    df["lpr_spread_bp"] = pd.array([c.spread_bp for c in sorted(contracts, key=lambda c: c.contract_id)], dtype="Int64")
    for col in ("restructured_on", "extended_on", "written_off_on"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df


def _schedules_frame(contracts: list[Contract]) -> pd.DataFrame:
    rows = [[c.contract_id, v, x.no, x.due, money(x.principal), money(x.interest)]
            for c in contracts for v, insts in ((1, c.v1), (2, c.v2)) for x in insts]
    df = pd.DataFrame(rows, columns=SCHEDULE_COLUMNS)
    return df.sort_values(["contract_id", "schedule_version", "instalment_no"], ignore_index=True)


def _payments_frame(contracts: list[Contract], end: date) -> pd.DataFrame:
    merged: dict[tuple[str, int, int, date], list[int]] = {}
    for c in contracts:
        for v, no, when, p, i in c.payments:
            if when <= end:  # the future has not happened yet
                acc = merged.setdefault((c.contract_id, v, no, when), [0, 0])
                acc[0] += p
                acc[1] += i
    rows = [[cid, v, no, when, money(p), money(i)] for (cid, v, no, when), (p, i) in sorted(merged.items())]
    return pd.DataFrame(rows, columns=PAYMENT_COLUMNS)


def _collateral_frame(contracts: list[Contract], collateral: dict[int, list[list[Valuation]]]) -> pd.DataFrame:
    rows, n = [], 0
    for c in sorted(contracts, key=lambda c: c.contract_id):
        for history in collateral[c.idx]:
            n += 1
            rows += [[f"CL{n:05d}", c.contract_id, v.collateral_type, money(v.value), v.valuation_date] for v in history]
    return pd.DataFrame(rows, columns=COLLATERAL_COLUMNS)


def _guarantors_frame(contracts: list[Contract], guarantees: dict[int, list[Guarantee]]) -> pd.DataFrame:
    rows = [[c.contract_id, g.guarantor_id, g.guarantor_name, g.guarantee_type, money(g.amount)]
            for c in contracts for g in guarantees[c.idx]]
    df = pd.DataFrame(rows, columns=GUARANTOR_COLUMNS)
    return df.sort_values(["contract_id", "guarantor_id"], ignore_index=True)


# ---------------------------------------------------------------- as-of views

def _rows(df: pd.DataFrame, mask: list[bool]) -> pd.DataFrame:
    # A plain list would select columns when empty; make it an explicit boolean row mask.
    return df.loc[np.asarray(mask, dtype=bool)]


def _cents(s: pd.Series) -> pd.Series:
    """Two-decimal money strings -> integer cents (exact, no float)."""
    return s.astype(str).str.replace(".", "", regex=False).astype("int64")


def _version2_from(loans: pd.DataFrame) -> dict[str, date | None]:
    return {cid: r if r is not None else e
            for cid, r, e in zip(loans["contract_id"], loans["restructured_on"], loans["extended_on"])}


def days_past_due(loans: pd.DataFrame, schedules: pd.DataFrame, payments: pd.DataFrame, as_of: date) -> pd.Series:
    """DPD per contract_id from schedules and payments alone (oldest unpaid instalment of the in-force version)."""
    v2 = _version2_from(loans)
    version = {cid: 2 if d is not None and d <= as_of else 1 for cid, d in v2.items()}
    keep = [version.get(cid) == v and due <= as_of for cid, v, due in
            zip(schedules["contract_id"], schedules["schedule_version"], schedules["due_date"])]
    sched = _rows(schedules, keep)
    paid = _rows(payments, [d <= as_of for d in payments["paid_date"]])
    keys = ["contract_id", "schedule_version", "instalment_no"]
    sums = paid.assign(pp=_cents(paid["principal_paid"]), ip=_cents(paid["interest_paid"])).groupby(keys)[["pp", "ip"]].sum()
    m = sched.assign(pd_=_cents(sched["principal_due"]), id_=_cents(sched["interest_due"])).merge(
        sums.reset_index(), on=keys, how="left")
    m[["pp", "ip"]] = m[["pp", "ip"]].fillna(0)
    oldest = m[(m["pp"] < m["pd_"]) | (m["ip"] < m["id_"])].groupby("contract_id")["due_date"].min()
    dpd = {cid: (as_of - d).days for cid, d in oldest.items()}
    return pd.Series([dpd.get(cid, 0) for cid in loans["contract_id"]], index=loans["contract_id"].tolist(),
                     dtype="int64", name="dpd")


def _snapshot_loans(loans: pd.DataFrame, schedules: pd.DataFrame, payments: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Loans as the core system shows them at `as_of`: later events hidden, status and balance computed."""
    df = loans.copy()
    for col in ("restructured_on", "extended_on", "written_off_on"):
        df[col] = [d if d is not None and d <= as_of else None for d in df[col]]
    changed = [r is not None or e is not None for r, e in zip(df["restructured_on"], df["extended_on"])]
    df["maturity_date"] = [m if ch else o for m, o, ch in zip(df["maturity_date"], df["original_maturity_date"], changed)]
    paid = _rows(payments, [d <= as_of for d in payments["paid_date"]])
    paid_p = _cents(paid["principal_paid"]).groupby(paid["contract_id"]).sum()
    dpd = days_past_due(df, schedules, payments, as_of)
    status, outstanding = [], []
    for cid, principal, wo in zip(df["contract_id"], df["principal"], df["written_off_on"]):
        left = int(Decimal(principal) * 100) - int(paid_p.get(cid, 0))
        if wo is not None:
            status.append("核销")
            left = 0
        elif dpd[cid] > 0:
            status.append("逾期")
        else:
            status.append("结清" if left == 0 else "正常")
        outstanding.append(money(left))
    df["status"], df["outstanding_principal"] = status, outstanding
    return df


def core_extract(portfolio: SamplePortfolio, month_end: date) -> dict[str, pd.DataFrame]:
    """What the core system exports at `month_end`: contracts started by then, payments made by then."""
    loans = _rows(portfolio.loans, [d <= month_end for d in portfolio.loans["start_date"]]).reset_index(drop=True)
    ids = set(loans["contract_id"])
    v2 = {cid: d for cid, d in _version2_from(loans).items() if d is not None and d <= month_end}
    sched = portfolio.schedules
    sched = _rows(sched, [cid in ids and (v == 1 or cid in v2) for cid, v in
                          zip(sched["contract_id"], sched["schedule_version"])]).reset_index(drop=True)
    pay = portfolio.payments
    pay = _rows(pay, [cid in ids and d <= month_end for cid, d in zip(pay["contract_id"], pay["paid_date"])])
    pay = pay.reset_index(drop=True)
    loans = _snapshot_loans(loans, sched, pay, month_end)
    bids = set(loans["borrower_id"])
    col = portfolio.collateral
    col = _rows(col, [cid in ids and d <= month_end for cid, d in zip(col["contract_id"], col["valuation_date"])])
    return {
        "borrowers": portfolio.borrowers[portfolio.borrowers["borrower_id"].isin(bids)].reset_index(drop=True),
        "loans": loans, "schedules": sched, "payments": pay, "collateral": col.reset_index(drop=True),
        "guarantors": portfolio.guarantors[portfolio.guarantors["contract_id"].isin(ids)].reset_index(drop=True),
        **monitoring_tables(portfolio, month_end),  # inspections and collections: separate random streams
        **impairment_tables(portfolio, month_end),  # individually assessed impairment: its own random stream
        **extra_monitoring_tables(portfolio, month_end),  # disposal, events, fund flows, assets: own streams
    }


def documents_for_month(portfolio: SamplePortfolio, month: str) -> list[dict]:
    """Document specs received in `month` ("YYYY-MM"), in receiving order."""
    return [s for s in portfolio.document_specs if s["period"] == month]


# ---------------------------------------------------------------- output

def _cell(v: object) -> str:
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == datetime.min.time() else v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, (Decimal, float, np.floating)):
        return f"{Decimal(str(v)):.2f}"  # money only; never produced by the generator itself
    return str(v)


def csv_bytes(df: pd.DataFrame) -> bytes:
    """Deterministic UTF-8 CSV: header + rows in frame order, LF line ends, no index."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([str(c) for c in df.columns])
    for row in df.itertuples(index=False, name=None):
        w.writerow([_cell(v) for v in row])
    return buf.getvalue().encode("utf-8")


def specs_json(portfolio: SamplePortfolio) -> bytes:
    return json.dumps(portfolio.document_specs, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8") + b"\n"


def write_sample(out_dir: Path, portfolio: SamplePortfolio) -> None:
    """Write the full dataset (all history) as CSVs plus document_specs.json."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        (out_dir / f"{name}.csv").write_bytes(csv_bytes(getattr(portfolio, name)))
    (out_dir / "document_specs.json").write_bytes(specs_json(portfolio))
