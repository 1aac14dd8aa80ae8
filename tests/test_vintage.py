"""Vintage curves by origination quarter and the roll-rate summary, by hand."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd

from plugins.config import DelinquencyBucket
from plugins.portfolio.performance import bucket_of
from plugins.portfolio.vintage import cohort_of, month_ends_back, months_on_book, roll_summary, vintage_curves

BUCKETS = [DelinquencyBucket(label=label, max_dpd=days) for label, days in
           (("M0", 0), ("M1", 30), ("M2", 60), ("M3", 90), ("M4", 120), ("M5", 150), ("M6+", None))]
ENDS = month_ends_back(date(2025, 6, 30), 6)  # 2025-01-31 … 2025-06-30


def _history(paths: dict[str, tuple[date, int, date | None, list[int | None]]]) -> pd.DataFrame:
    """contract → (start, principal cents, written off on, dpd at each of ENDS; None: not on the book)."""
    rows = []
    for cid, (start, principal, off, dpds) in paths.items():
        for end, dpd in zip(ENDS, dpds):
            if dpd is not None:
                rows.append({"contract_id": cid, "month_end": end, "dpd": dpd, "bucket": bucket_of(dpd, BUCKETS),
                             "balance_cents": principal, "product": "loan", "start_date": start,
                             "principal_cents": principal, "written_off_on": off})
    return pd.DataFrame(rows)


def test_month_ends_cohorts_and_months_on_book():
    assert ENDS == [date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30), date(2025, 5, 31),
                    date(2025, 6, 30)]
    assert cohort_of(date(2025, 3, 5)) == "2025Q1" and cohort_of(date(2025, 10, 1)) == "2025Q4"
    assert months_on_book(date(2025, 1, 10), date(2025, 3, 31)) == 2


def test_vintage_share_of_principal_ever_past_30_and_90_days():
    history = _history({
        # 2025Q1: L1 (100 000.00) 35 DPD at MOB 2, 65 at MOB 3; L2 (300 000.00) 95 DPD at MOB 3.
        "L1": (date(2025, 1, 10), 10_000_000, None, [0, 0, 35, 65, 0, 0]),
        "L2": (date(2025, 3, 5), 30_000_000, None, [None, None, 0, 0, 0, 95]),
        # 2025Q2: L3 (50 000.00) current, then written off on 06-20 (MOB 2): counts as bad from then.
        "L3": (date(2025, 4, 1), 5_000_000, date(2025, 6, 20), [None, None, None, 0, 0, None]),
        # Started before the window: its early months are unknown, so its cohort is left out.
        "L0": (date(2024, 12, 15), 7_000_000, None, [40, 0, 0, 0, 0, 0]),
    })
    curves = vintage_curves(history, date(2025, 6, 30))
    q1 = curves[curves["cohort"] == "2025Q1"].set_index("mob")
    # The cohort's last start month (March) is 3 months old at June end: MOB 0–3, over 400 000.00 of principal.
    assert list(q1.index) == [0, 1, 2, 3] and set(q1["principal_cents"]) == {40_000_000}
    assert q1["share_30"].tolist() == [Decimal("0"), Decimal("0"), Decimal("0.25"), Decimal("1")]
    assert q1["share_90"].tolist() == [Decimal("0"), Decimal("0"), Decimal("0"), Decimal("0.75")]
    q2 = curves[curves["cohort"] == "2025Q2"].set_index("mob")
    assert q2["share_90"].tolist() == [Decimal("0"), Decimal("0"), Decimal("1")]
    assert "2024Q4" not in set(curves["cohort"])


def test_roll_rates_to_the_next_bucket_and_back_to_m0():
    ends = ENDS[:2]
    rows = [("A", ends[0], 0, 100_000), ("B", ends[0], 20, 50_000), ("C", ends[0], 10, 30_000),
            ("D", ends[0], 0, 20_000),
            ("A", ends[1], 15, 100_000), ("B", ends[1], 45, 50_000), ("C", ends[1], 0, 30_000)]  # D repaid
    history = pd.DataFrame([{"contract_id": c, "month_end": e, "dpd": d, "bucket": bucket_of(d, BUCKETS),
                             "balance_cents": b, "written_off_on": None} for c, e, d, b in rows])
    table = roll_summary(history, BUCKETS).set_index("from_bucket")
    m0, m1 = table.loc["M0"], table.loc["M1"]
    # M0: 1 200.00 at the first month end; A (1 000.00) rolled to M1, D (200.00) closed.
    assert (m0["to_bucket"], m0["balance_cents"], m0["roll_rate"], m0["cure_rate"], m0["closed_rate"]) == \
        ("M1", 120_000, Decimal("0.8333"), None, Decimal("0.1667"))
    # M1: 800.00; B (500.00) rolled to M2, C (300.00) back to M0.
    assert (m1["balance_cents"], m1["roll_rate"], m1["cure_rate"]) == (80_000, Decimal("0.625"), Decimal("0.375"))
    assert table.loc["M2", "roll_rate"] is None  # nothing was in M2


def test_a_history_read_back_with_timestamps_gives_the_same_curves_and_its_window_the_roll_rates():
    # delinquency_history from the work store: dates may come back as Timestamps; every month end is in it,
    # so nothing is rebuilt from the extract and the roll rates pool exactly its month ends.
    from plugins.portfolio.vintage import performance_report

    history = _history({"L1": (date(2025, 1, 10), 10_000_000, None, [0, 0, 35, 65, 0, 0]),
                        "L2": (date(2025, 3, 5), 30_000_000, None, [None, None, 0, 0, 0, 95])})
    stored = history.assign(month_end=pd.to_datetime(history["month_end"]),
                            start_date=pd.to_datetime(history["start_date"]))
    empty = {"loans": pd.DataFrame(columns=["contract_id", "principal", "written_off_on"])}
    report = performance_report(empty, date(2025, 6, 30), 6, BUCKETS, recent=stored)
    assert report["vintage"].equals(vintage_curves(history, date(2025, 6, 30)))
    assert report["roll_rates"].equals(roll_summary(history, BUCKETS))
