"""A generated loan book of N contracts for the scale benchmarks, numpy-vectorized and written in chunks.

The tables and columns are the core system's extract (plugins/sample/portfolio.py: borrowers, loans,
schedules, payments, collateral, guarantors), as known at one month end (`AS_OF`, 2026-09-30), with the
sample's mix: companies and individuals, loans and finance leases, issuance types 新增 / 借新还旧 / 无还本续贷 /
重组, a second schedule version for restructured (restructured_on) and extended (extended_on) contracts,
write-offs (written_off_on), early settlements, late payers (some paying interest first), and defaults in
every overdue band (1–90, 91–270, 271–360, more than 360 days) so every tier appears. Terms are 24–48
monthly instalments (36 on average).

Two forms of the same data, one Parquet file per table in each:

- `typed/`: dates date32, money int64 cents, rates decimal(6,4), counts int; strings elsewhere.
- `text/`:  every column a string as the core system's CSV reads (dates ISO, money in yuan with two
            decimals '1234.56', empty cells ''), i.e. what `open_book` takes today.

Deterministic: the same N, seed and chunk size give the same files. Chunks of `chunk` contracts are
generated and written one at a time (pyarrow ParquetWriter), so 10M contracts never sit in memory.

    .venv/bin/python bench/portfolio.py --loans 100000 [--seed 20260930] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
AS_OF = date(2026, 9, 30)
SEED = 20260930
CHUNK = 250_000
TABLES = ("borrowers", "loans", "schedules", "payments", "collateral", "guarantors")
FORMAT_VERSION = 1  # bump when the generated data changes, so cached files are rebuilt

INDUSTRIES = {"C": "制造业", "F": "批发和零售业", "E": "建筑业", "G": "交通运输、仓储和邮政业",
              "I": "信息传输、软件和信息技术服务业", "K": "房地产业", "A": "农、林、牧、渔业", "L": "租赁和商务服务业",
              "Q": "卫生和社会工作"}
CORP_INDUSTRY_WEIGHTS = [24, 18, 12, 12, 9, 6, 8, 7, 4]
INDIVIDUAL_INDUSTRIES = ["F", "A", "G", "C"]
INDIVIDUAL_INDUSTRY_WEIGHTS = [5, 3, 3, 1]
REGIONS = ["江苏省", "浙江省", "广东省", "山东省", "上海市", "北京市", "河南省", "四川省", "湖北省", "福建省", "安徽省",
           "湖南省", "河北省", "天津市"]
REGION_WEIGHTS = [14, 13, 13, 10, 9, 6, 6, 6, 5, 5, 4, 4, 3, 2]
METHODS = ["等额本息", "等额本金", "按月付息到期还本"]
EQUAL_INSTALMENT, EQUAL_PRINCIPAL, INTEREST_ONLY = 0, 1, 2
ISSUANCE = ["新增", "借新还旧", "无还本续贷", "重组"]
COLLATERAL_CORP = (["房产", "土地使用权", "机器设备", "存单", "车辆"], [35, 20, 25, 10, 10])
COLLATERAL_PERSON = (["房产", "车辆", "存单"], [60, 30, 10])
GUARANTEE_TYPES = ["连带责任保证", "一般保证"]

# Behaviour segments: (name, share of contracts), assigned in this order among eligible contracts (the sample's QUOTAS).
SEGMENTS = [("written_off", 0.015), ("d361", 0.02), ("d271", 0.016), ("d91", 0.03), ("restructured", 0.03),
            ("extended", 0.03), ("d1", 0.025), ("settled_early", 0.08), ("late_cure", 0.15)]
WINDOWS = {"d1": (1, 90), "d91": (91, 270), "d271": (271, 360), "d361": (361, 800), "written_off": (400, 900),
           "restructured": (150, 700)}

MONEY = {"loans": ["principal", "outstanding_principal"], "schedules": ["principal_due", "interest_due"],
         "payments": ["principal_paid", "interest_paid"], "collateral": ["appraised_value"],
         "guarantors": ["guaranteed_amount"]}


# ---------------------------------------------------------------- helpers

def _weighted(rng: np.random.Generator, n: int, weights: list[int]) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(weights), size=n, p=p / p.sum())


def _hash01(values: np.ndarray, salt: int) -> np.ndarray:
    """A deterministic uniform [0, 1) per integer (borrower attributes known in every chunk)."""
    x = (values.astype(np.uint64) + np.uint64(salt)) * np.uint64(0x9E3779B97F4A7C15)
    x ^= x >> np.uint64(31)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(29)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def borrower_is_corporate(b: np.ndarray) -> np.ndarray:
    return _hash01(b, 1) < 0.6


def n_borrowers(n_loans: int) -> int:
    return max(1, round(n_loans * 320 / 520))  # the sample: 320 borrowers for 520 contracts


def _month_days(months: np.ndarray, day: np.ndarray) -> np.ndarray:
    """datetime64[D] of (months since 1970-01, day of month ≤ 28)."""
    return months.astype("datetime64[M]").astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")


def amortise(principal: np.ndarray, rate_e4: np.ndarray, method: np.ndarray, n_inst: np.ndarray,
             width: int) -> tuple[np.ndarray, np.ndarray]:
    """Monthly schedules, one row per contract: (principal, interest) cents of shape (n, width), 0 past n_inst."""
    n = len(principal)
    j = np.arange(width)[None, :]
    live = j < n_inst[:, None]
    last = j == (n_inst[:, None] - 1)
    P = principal[:, None].astype(np.int64)
    nn = n_inst[:, None].astype(np.int64)
    # 等额本金: equal parts, the remainder on the last one; 按月付息到期还本: everything at the end.
    base = P // nn
    eq_principal = np.where(last, P - base * (nn - 1), base)
    bullet = np.where(last, P, 0)
    # 等额本息: the annuity's remaining balance after k payments, rounded to the cent, differenced.
    r = (rate_e4 / 120000.0)[:, None]
    growth = (1 + r) ** (j + 1)
    annuity = P * r / (1 - (1 + r) ** (-nn))
    remaining = np.rint(P * growth - annuity * (growth - 1) / r).astype(np.int64)
    remaining = np.where(j + 1 >= nn, 0, np.clip(remaining, 0, None))
    before = np.concatenate([P, remaining[:, :-1]], axis=1)
    annuity_principal = np.clip(before - remaining, 0, None)
    m = method[:, None]
    parts = np.where(m == EQUAL_PRINCIPAL, eq_principal, np.where(m == INTEREST_ONLY, bullet, annuity_principal))
    parts = np.where(live, parts, 0)
    outstanding = P - np.concatenate([np.zeros((n, 1), np.int64), np.cumsum(parts, axis=1)[:, :-1]], axis=1)
    interest = (outstanding * rate_e4[:, None].astype(np.int64) * 2 + 120000) // 240000
    return parts, np.where(live, interest, 0)


def _pick_in_window(rng: np.random.Generator, dpd: np.ndarray, valid: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Per row, a random instalment index whose days past due at AS_OF fall in [lo, hi] (-1 when none)."""
    ok = valid & (dpd >= lo) & (dpd <= hi)
    key = np.where(ok, rng.random(ok.shape), -1.0)
    k = key.argmax(axis=1)
    return np.where(ok.any(axis=1), k, -1)


class _Rows:
    """Payment rows collected as array pieces: (contract row, version, instalment_no, paid_date, principal, interest)."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(self, row, version, no, paid, principal, interest) -> None:
        n = len(row)
        if n:
            self.parts.append((np.asarray(row, np.int64), np.broadcast_to(np.int64(version), (n,)) if np.isscalar(version)
                               else np.asarray(version, np.int64), np.asarray(no, np.int64),
                               np.asarray(paid, "datetime64[D]"), np.asarray(principal, np.int64),
                               np.asarray(interest, np.int64)))

    def arrays(self) -> tuple[np.ndarray, ...]:
        return tuple(np.concatenate([p[i] for p in self.parts]) for i in range(6))


# ---------------------------------------------------------------- one chunk

def generate_chunk(first: int, n: int, n_total: int, seed: int, chunk_no: int) -> dict[str, pa.Table]:
    """Contracts first … first+n-1 of a book of n_total, as typed Arrow tables (borrowers excluded)."""
    rng = np.random.default_rng([seed, chunk_no])
    as_of = np.datetime64(AS_OF, "D")
    as_of_month = np.datetime64(AS_OF, "M").astype(np.int64)
    gidx = first + np.arange(n, dtype=np.int64)
    n_b = n_borrowers(n_total)

    # Borrowers: the first n_b contracts each open one borrower; the rest are repeat business, mostly companies.
    repeat = gidx >= n_b
    b1, b2 = rng.integers(0, n_b, n), rng.integers(0, n_b, n)
    borrower = np.where(repeat, np.where(borrower_is_corporate(b1), b1, b2), gidx)
    corporate = borrower_is_corporate(borrower)
    product_lease = rng.random(n) < np.where(corporate, 0.5, 0.3)
    term = rng.choice(np.array([24, 36, 36, 48]), n)
    method = np.where(product_lease, np.where(rng.random(n) < 0.75, EQUAL_INSTALMENT, EQUAL_PRINCIPAL),
                      np.where((term <= 24) & (rng.random(n) < 0.5), INTEREST_ONLY,
                               np.where(rng.random(n) < 0.6, EQUAL_INSTALMENT, EQUAL_PRINCIPAL)))
    lo, hi = np.where(product_lease, 550, 600), np.where(product_lease, 950, 1500)
    rate_e4 = (lo // 5 + (rng.random(n) * (hi // 5 - lo // 5 + 1)).astype(np.int64)) * 5
    lpr = rng.random(n) < 0.5
    spread = np.where(lpr, np.clip(rate_e4 - 345, 50, None), 0)
    principal = np.where(corporate, np.round(300_000 * 60 ** rng.random(n), -4),
                         np.round(50_000 * 16 ** rng.random(n), -3)).astype(np.int64) * 100
    x = rng.random(n)
    issuance = np.where(~repeat, 0, np.where(x < 0.10, 1, np.where((x < 0.17) & corporate, 2,
                                                                    np.where(x < 0.22, 3, 0))))
    months_ago = rng.integers(1, 37, n)  # signed 1–36 months before the month end, like the sample's 36 months
    day = rng.integers(1, 29, n)
    start_month = as_of_month - months_ago
    start = _month_days(start_month, day)

    # Version 1 schedule on a (n, 48) grid.
    width = int(term.max())
    j = np.arange(width)
    live = j[None, :] < term[:, None]
    due = _month_days(start_month[:, None] + 1 + j[None, :], day[:, None])
    p1, i1 = amortise(principal, rate_e4, method, term, width)
    dpd_grid = (as_of - due).astype(np.int64)  # days past due if instalment j were the oldest unpaid
    is_due = live & (dpd_grid >= 0)
    due_count = is_due.sum(axis=1)
    maturity1 = due[np.arange(n), term - 1]

    # Segments by quota among eligible contracts, most constrained first.
    segment = np.full(n, "on_time", dtype=object)
    free = np.ones(n, bool)
    k_of = np.full(n, -1, np.int64)
    for name, share in SEGMENTS:
        quota = round(share * n)
        if name in WINDOWS:
            lo_w, hi_w = WINDOWS[name]
            k = _pick_in_window(rng, dpd_grid, live, lo_w, hi_w)
            eligible = k >= 0
            if name == "restructured":
                eligible &= term >= 12
        elif name == "extended":
            eligible = (as_of - maturity1).astype(np.int64) >= 30
            k = np.full(n, -1)
        elif name == "settled_early":
            eligible = (due_count >= 3) & (term >= 5)
            k = np.full(n, -1)
        else:  # late_cure
            eligible = due_count >= 1
            k = np.full(n, -1)
        pool = np.flatnonzero(eligible & free)
        chosen = rng.choice(pool, size=min(quota, len(pool)), replace=False) if len(pool) else pool
        segment[chosen] = name
        free[chosen] = False
        k_of[chosen] = k[chosen]

    rows = _Rows()
    paid1 = np.zeros_like(live)                     # instalments of version 1 paid in full (one row each)
    paid1_date = due - rng.choice(np.array([0, 0, 0, 1, 2, 3]), size=due.shape).astype("timedelta64[D]")
    defaulted = np.isin(segment, ["d1", "d91", "d271", "d361", "written_off", "restructured"])
    on_time = segment == "on_time"
    paid1[on_time] = live[on_time]
    # Defaults: instalments before the first missed one on time; sometimes part of the missed one.
    dr = np.flatnonzero(defaulted)
    paid1[dr] = j[None, :] < k_of[dr, None]
    part = dr[rng.random(len(dr)) < 0.4]
    kp = k_of[part]
    rows.add(part, 1, kp + 1, due[part, kp] + rng.integers(2, 21, len(part)).astype("timedelta64[D]"),
             p1[part, kp] * rng.integers(10, 51, len(part)) // 100, i1[part, kp])
    # Write-offs: 365–460 days after the first missed instalment, never after the month end.
    written_off_on = np.full(n, np.datetime64("NaT"), "datetime64[D]")
    wo = np.flatnonzero(segment == "written_off")
    dpd_k = dpd_grid[wo, k_of[wo]]
    written_off_on[wo] = due[wo, k_of[wo]] + (365 + (rng.random(len(wo)) * (np.minimum(460, dpd_k) - 365 + 1))
                                              .astype(np.int64)).astype("timedelta64[D]")
    # Late payers: one instalment (and whatever fell due until the cure) paid 5–75 days late.
    late = np.flatnonzero(segment == "late_cure")
    L = (rng.random(len(late)) * due_count[late]).astype(np.int64)
    cure = due[late, L] + rng.integers(5, 76, len(late)).astype("timedelta64[D]")
    late_mask = (j[None, :] >= L[:, None]) & (due[late] <= cure[:, None]) & live[late]
    paid1[late] = live[late]
    paid1_date[late] = np.where(late_mask, cure[:, None], paid1_date[late])
    # A third of late payers pay the interest first, the principal at the cure (two rows for instalment L).
    first_pay = due[late, L] + rng.integers(1, 6, len(late)).astype("timedelta64[D]")
    split = (rng.random(len(late)) < 0.35) & (p1[late, L] > 0) & (i1[late, L] > 0) & (first_pay < cure)
    s_rows = late[split]
    paid1[s_rows, L[split]] = False
    rows.add(s_rows, 1, L[split] + 1, first_pay[split], np.zeros(split.sum(), np.int64), i1[s_rows, L[split]])
    rows.add(s_rows, 1, L[split] + 1, cure[split], p1[s_rows, L[split]], np.zeros(split.sum(), np.int64))
    # Early settlement: on time up to instalment j0, everything left paid on one day.
    se = np.flatnonzero(segment == "settled_early")
    top = np.minimum(due_count[se], term[se] - 2)
    j0 = 2 + (rng.random(len(se)) * (top - 2)).astype(np.int64)
    settle = np.minimum(as_of, due[se, j0] + rng.integers(3, 21, len(se)).astype("timedelta64[D]"))
    paid1[se] = live[se]
    paid1_date[se] = np.where(j[None, :] > j0[:, None], settle[:, None], paid1_date[se])

    # Restructured and extended contracts get a version 2 schedule.
    restructured_on = np.full(n, np.datetime64("NaT"), "datetime64[D]")
    extended_on = np.full(n, np.datetime64("NaT"), "datetime64[D]")
    rs = np.flatnonzero(segment == "restructured")
    last = np.minimum(k_of[rs] + rng.integers(1, 4, len(rs)), term[rs] - 1)
    restructured_on[rs] = np.minimum(as_of - np.timedelta64(60, "D"),
                                     due[rs, last] + rng.integers(10, 26, len(rs)).astype("timedelta64[D]"))
    ex = np.flatnonzero(segment == "extended")
    paid1[ex] = j[None, :] < (term[ex, None] - 1)   # the last instalment is rescheduled
    extended_on[ex] = maturity1[ex] - rng.integers(5, 26, len(ex)).astype("timedelta64[D]")

    v2_rows = np.concatenate([rs, ex])
    v2 = None
    if len(v2_rows):
        paid_principal_v1 = (np.where(paid1, p1, 0).sum(axis=1))
        partial = np.zeros(n, np.int64)
        for r_, _, no_, _, pp_, _ in rows.parts:
            np.add.at(partial, r_, pp_)
        balance2 = principal[v2_rows] - paid_principal_v1[v2_rows] - partial[v2_rows]
        r_on = restructured_on[rs]
        remaining = ((due[rs] > r_on[:, None]) & live[rs]).sum(axis=1)
        n2_rs = np.clip(remaining + rng.choice(np.array([6, 12, 24]), len(rs)), 12, 60)
        n2_ex = rng.choice(np.array([6, 12, 12, 18]), len(ex)) + 1
        n2 = np.concatenate([n2_rs, n2_ex])
        m2 = np.concatenate([np.where(rng.random(len(rs)) < 0.7, EQUAL_INSTALMENT, EQUAL_PRINCIPAL),
                             np.where(rng.random(len(ex)) < 0.6, INTEREST_ONLY, EQUAL_PRINCIPAL)])
        r_on_m = r_on.astype("datetime64[M]").astype(np.int64)
        r_on_d = np.minimum((r_on - r_on.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1, 28)
        first_m = np.concatenate([r_on_m + 1, maturity1[ex].astype("datetime64[M]").astype(np.int64)])
        first_d = np.concatenate([r_on_d, day[ex]])
        w2 = int(n2.max())
        j2 = np.arange(w2)
        live2 = j2[None, :] < n2[:, None]
        due2 = _month_days(first_m[:, None] + j2[None, :], first_d[:, None])
        p2, i2 = amortise(balance2, rate_e4[v2_rows], m2, n2, w2)
        dpd2 = (as_of - due2).astype(np.int64)
        # Re-defaults on version 2: 2 in 5 restructured (1–90 and 91–270 days), 1 in 4 extended.
        redefault = np.concatenate([rng.random(len(rs)) < 0.4, rng.random(len(ex)) < 0.25])
        band = rng.random(len(v2_rows)) < 0.5
        k2 = np.where(band, _pick_in_window(rng, dpd2, live2, 1, 90), _pick_in_window(rng, dpd2, live2, 91, 270))
        k2 = np.where(redefault, k2, -1)
        paid2 = live2 & np.where(k2[:, None] >= 0, j2[None, :] < k2[:, None], True)
        paid2_date = due2 - rng.choice(np.array([0, 0, 0, 1, 2, 3]), size=due2.shape).astype("timedelta64[D]")
        rr, cc = np.nonzero(paid2)
        rows.add(v2_rows[rr], 2, cc + 1, paid2_date[rr, cc], p2[rr, cc], i2[rr, cc])
        v2 = (v2_rows, live2, due2, p2, i2)
        # Version 1 payments after the restructuring date did not happen.
    rr, cc = np.nonzero(paid1)
    keep = np.ones(len(rr), bool)
    is_rs = np.zeros(n, bool)
    is_rs[rs] = True
    keep &= ~(is_rs[rr] & (paid1_date[rr, cc] > restructured_on[rr]))
    rr, cc = rr[keep], cc[keep]
    rows.add(rr, 1, cc + 1, paid1_date[rr, cc], p1[rr, cc], i1[rr, cc])

    # Payments as known at the month end.
    pr, pv, pno, pdate, ppaid, ipaid = rows.arrays()
    known = pdate <= as_of
    pr, pv, pno, pdate, ppaid, ipaid = (a[known] for a in (pr, pv, pno, pdate, ppaid, ipaid))
    order = np.lexsort((pdate, pno, pv, pr))
    pr, pv, pno, pdate, ppaid, ipaid = (a[order] for a in (pr, pv, pno, pdate, ppaid, ipaid))

    # Loans as the core system shows them at the month end.
    paid_principal = np.bincount(pr, weights=ppaid, minlength=n).astype(np.int64)  # exact below 2**53 cents
    wo_mask = segment == "written_off"
    outstanding = np.where(wo_mask, 0, principal - paid_principal)
    maturity = maturity1.copy()
    if v2 is not None:
        v2_rows_, live2, due2, _, _ = v2
        maturity[v2_rows_] = due2[np.arange(len(v2_rows_)), live2.sum(axis=1) - 1]
    overdue_now = np.isin(segment, ["d1", "d91", "d271", "d361"]) | (segment == "late_cure")
    status = np.where(wo_mask, "核销", np.where(outstanding == 0, "结清", np.where(overdue_now, "逾期", "正常")))

    prefix = np.where(product_lease, "ZL", "HT")
    years = start.astype("datetime64[Y]").astype(np.int64) + 1970
    contract_id = [f"{p}{y}-{g:08d}" for p, y, g in zip(prefix.tolist(), years.tolist(), gidx.tolist())]
    borrower_id = [f"B{b:08d}" for b in borrower.tolist()]
    cid = pa.array(contract_id, pa.string())
    industry = _borrower_industry(borrower, corporate)
    region = _borrower_region(borrower)
    leased = np.where(product_lease, "设备", "")
    purpose = np.where(product_lease, np.where(rng.random(n) < 0.4, "售后回租，补充流动资金", "直租购置设备"),
                       np.where(corporate, "补充流动资金", "个体经营周转"))

    def d32(values: np.ndarray) -> pa.Array:
        return pa.array(values, pa.date32(), from_pandas=True)

    loans = pa.table({
        "contract_id": cid, "borrower_id": pa.array(borrower_id, pa.string()),
        "product": pa.array(np.where(product_lease, "finance_lease", "loan")),
        "issuance_type": pa.array(np.array(ISSUANCE)[issuance]),
        "principal": pa.array(principal, pa.int64()), "currency": pa.array(np.full(n, "CNY")),
        "annual_rate": pa.array(np.char.add("0.", np.char.zfill(rate_e4.astype(str), 4))).cast(pa.decimal128(6, 4)),
        "rate_type": pa.array(np.where(lpr, "lpr_spread", "fixed")),
        "lpr_spread_bp": pa.array(spread, pa.int64(), mask=~lpr),
        "start_date": d32(start), "original_maturity_date": d32(maturity1), "maturity_date": d32(maturity),
        "term_months": pa.array(term, pa.int64()),
        "repayment_method": pa.array(np.array(METHODS)[method]),
        "industry_code": pa.array(industry), "region": pa.array(region),
        "purpose": pa.array(purpose), "leased_asset": pa.array(leased),
        "restructured_on": d32(restructured_on), "extended_on": d32(extended_on), "written_off_on": d32(written_off_on),
        "status": pa.array(status), "outstanding_principal": pa.array(outstanding, pa.int64()),
    })

    sr, sc = np.nonzero(live)
    sched_parts = [(sr, np.ones(len(sr), np.int64), sc + 1, due[sr, sc], p1[sr, sc], i1[sr, sc])]
    if v2 is not None:
        v2_rows_, live2, due2, p2, i2 = v2
        r2, c2 = np.nonzero(live2)
        sched_parts.append((v2_rows_[r2], np.full(len(r2), 2, np.int64), c2 + 1, due2[r2, c2], p2[r2, c2], i2[r2, c2]))
    srow, sver, sno, sdue, sp, si = (np.concatenate([p[i] for p in sched_parts]) for i in range(6))
    order = np.lexsort((sno, sver, srow))
    srow, sver, sno, sdue, sp, si = (a[order] for a in (srow, sver, sno, sdue, sp, si))
    schedules = pa.table({"contract_id": cid.take(pa.array(srow)), "schedule_version": pa.array(sver, pa.int64()),
                          "instalment_no": pa.array(sno, pa.int64()), "due_date": d32(sdue),
                          "principal_due": pa.array(sp, pa.int64()), "interest_due": pa.array(si, pa.int64())})
    payments = pa.table({"contract_id": cid.take(pa.array(pr)), "schedule_version": pa.array(pv, pa.int64()),
                         "instalment_no": pa.array(pno, pa.int64()), "paid_date": d32(pdate),
                         "principal_paid": pa.array(ppaid, pa.int64()), "interest_paid": pa.array(ipaid, pa.int64())})

    # Collateral: 60% of contracts, one item, valued at signing and again each year until the month end.
    has = np.flatnonzero(rng.random(n) < 0.6)
    corp_t = _weighted(rng, len(has), COLLATERAL_CORP[1])
    pers_t = _weighted(rng, len(has), COLLATERAL_PERSON[1])
    ctype = np.where(corporate[has], np.array(COLLATERAL_CORP[0])[corp_t], np.array(COLLATERAL_PERSON[0])[pers_t])
    ctype = np.where(product_lease[has], np.where(corporate[has], "机器设备", "车辆"), ctype)
    value0 = (principal[has] * (0.5 + 1.1 * rng.random(len(has)))).astype(np.int64) // 100 * 100
    n_val = np.minimum(1 + (months_ago[has] - 1) // 12, 3)
    vr = np.repeat(np.arange(len(has)), n_val)
    vk = np.arange(len(vr)) - np.repeat(np.cumsum(n_val) - n_val, n_val)
    drift = (0.85 + 0.2 * rng.random(len(vr))) ** vk
    vdate = _month_days(start_month[has][vr] + 12 * vk, day[has][vr]) - np.timedelta64(5, "D")
    collateral = pa.table({
        "collateral_id": pa.array([f"CL{g:09d}" for g in gidx[has][vr].tolist()], pa.string()),
        "contract_id": cid.take(pa.array(has[vr])), "collateral_type": pa.array(ctype[vr]),
        "appraised_value": pa.array((value0[vr] * drift).astype(np.int64) // 100 * 100, pa.int64()),
        "valuation_date": d32(vdate)})

    # Guarantees: 40% of contracts, one guarantor for the whole principal.
    gu = np.flatnonzero(rng.random(n) < 0.4)
    gtype = np.where(rng.random(len(gu)) < 0.85, GUARANTEE_TYPES[0], GUARANTEE_TYPES[1])
    guarantors = pa.table({
        "contract_id": cid.take(pa.array(gu)), "guarantor_id": pa.array([f"G{g:09d}" for g in gidx[gu].tolist()]),
        "guarantor_name": pa.array([f"担保人{g:09d}" for g in gidx[gu].tolist()]),
        "guarantee_type": pa.array(gtype), "guaranteed_amount": pa.array(principal[gu], pa.int64())})
    return {"loans": loans, "schedules": schedules, "payments": payments, "collateral": collateral,
            "guarantors": guarantors}


def _borrower_industry(b: np.ndarray, corporate: np.ndarray) -> np.ndarray:
    u = _hash01(b, 2)
    corp = np.array(list(INDUSTRIES))[np.searchsorted(np.cumsum(CORP_INDUSTRY_WEIGHTS) / sum(CORP_INDUSTRY_WEIGHTS), u,
                                                       side="right")]
    pers = np.array(INDIVIDUAL_INDUSTRIES)[np.searchsorted(
        np.cumsum(INDIVIDUAL_INDUSTRY_WEIGHTS) / sum(INDIVIDUAL_INDUSTRY_WEIGHTS), u, side="right")]
    return np.where(corporate, corp, pers)


def _borrower_region(b: np.ndarray) -> np.ndarray:
    cum = np.cumsum(REGION_WEIGHTS) / sum(REGION_WEIGHTS)
    return np.array(REGIONS)[np.searchsorted(cum, _hash01(b, 3), side="right")]


def generate_borrowers(first: int, n: int) -> pa.Table:
    b = first + np.arange(n, dtype=np.int64)
    corporate = borrower_is_corporate(b)
    industry = _borrower_industry(b, corporate)
    grouped = corporate & (_hash01(b, 4) < 0.08)
    ids = b.tolist()
    return pa.table({
        "borrower_id": pa.array([f"B{i:08d}" for i in ids]),
        "name": pa.array([f"样本{i:08d}有限公司" if c else f"个人{i:08d}" for i, c in zip(ids, corporate.tolist())]),
        "kind": pa.array(np.where(corporate, "corporate", "individual")),
        "industry_code": pa.array(industry),
        "industry_name": pa.array(np.vectorize(INDUSTRIES.get, otypes=[object])(industry).astype(str)),
        "region": pa.array(_borrower_region(b)),
        "id_number": pa.array([f"91{i:016d}" if c else f"11{i:016d}" for i, c in zip(ids, corporate.tolist())]),
        "group_id": pa.array(np.where(grouped, np.char.add("G", (b // 7).astype(str)), "")),
        "related_party": pa.array(_hash01(b, 5) < 0.025),
    })


# ---------------------------------------------------------------- the text form (the project's current input)

def as_text(table: pa.Table, name: str) -> pa.Table:
    """Every column a string as read from the core system's CSV: ISO dates, money in yuan '1234.56', '' for empty."""
    money = set(MONEY.get(name, ()))
    columns = {}
    for field in table.schema:
        col = table[field.name]
        if field.name in money:
            yuan = pc.divide(col, pa.scalar(100, pa.int64()))
            fen = pc.subtract(col, pc.multiply(yuan, pa.scalar(100, pa.int64())))
            text = pc.binary_join_element_wise(pc.cast(yuan, pa.string()),
                                               pc.utf8_lpad(pc.cast(fen, pa.string()), width=2, padding="0"), ".")
        elif pa.types.is_boolean(field.type):
            text = pc.if_else(col, "true", "false")
        elif pa.types.is_string(field.type):
            text = col
        else:  # dates ISO, integers and decimals as written
            text = pc.cast(col, pa.string())
        columns[field.name] = pc.fill_null(text, "")
    return pa.table(columns)


# ---------------------------------------------------------------- files

def dataset_dir(n_loans: int, seed: int = SEED, base: Path | None = None) -> Path:
    return (base or ROOT / ".state" / "bench" / "portfolio") / f"n{n_loans}_s{seed}_v{FORMAT_VERSION}"


def paths(folder: Path, form: str) -> dict[str, Path]:
    return {t: folder / form / f"{t}.parquet" for t in TABLES}


def write_portfolio(n_loans: int, seed: int = SEED, folder: Path | None = None, chunk: int = CHUNK,
                    text: bool = True, log=print) -> Path:
    """Generate (or reuse, when complete) the typed and text Parquet files of n_loans contracts."""
    folder = folder or dataset_dir(n_loans, seed)
    marker = folder / "complete.json"
    if marker.exists() and (not text or json.loads(marker.read_text()).get("text")):
        log(f"portfolio: reusing {folder}")
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    forms = ["typed", "text"] if text else ["typed"]
    for form in forms:
        (folder / form).mkdir(parents=True)
    writers: dict[tuple[str, str], pq.ParquetWriter] = {}

    def write(name: str, table: pa.Table) -> None:
        for form in forms:
            t = table if form == "typed" else as_text(table, name)
            key = (form, name)
            if key not in writers:
                writers[key] = pq.ParquetWriter(folder / form / f"{name}.parquet", t.schema, compression="zstd")
            writers[key].write_table(t, row_group_size=1_000_000)

    started = time.perf_counter()
    counts = dict.fromkeys(TABLES, 0)
    n_b = n_borrowers(n_loans)
    for c, first in enumerate(range(0, n_b, chunk)):
        t = generate_borrowers(first, min(chunk, n_b - first))
        counts["borrowers"] += t.num_rows
        write("borrowers", t)
    for c, first in enumerate(range(0, n_loans, chunk)):
        tables = generate_chunk(first, min(chunk, n_loans - first), n_loans, seed, c)
        for name, t in tables.items():
            counts[name] += t.num_rows
            write(name, t)
        log(f"portfolio: {min(first + chunk, n_loans):,}/{n_loans:,} contracts written "
            f"({time.perf_counter() - started:.1f}s)")
    for w in writers.values():
        w.close()
    marker.write_text(json.dumps({"loans": n_loans, "seed": seed, "chunk": chunk, "as_of": AS_OF.isoformat(),
                                  "rows": counts, "text": text}, indent=1))
    log(f"portfolio: {n_loans:,} contracts in {folder} — " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loans", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--chunk", type=int, default=CHUNK)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--no-text", action="store_true", help="only the typed files")
    a = ap.parse_args()
    write_portfolio(a.loans, a.seed, a.out, a.chunk, text=not a.no_text, log=lambda m: print(m, file=sys.stderr))


if __name__ == "__main__":
    main()
