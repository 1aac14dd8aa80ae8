"""The simplified approach's provision matrix from the book's own roll (flow) rates, with its fallback.

Eight leases over three month ends (balances in yuan, constant), window two month pairs, loss bucket M3
at a loss rate of 50%:

    lease   06-30      07-31      08-31
    a       M0 1,000   M1         M2
    b       M0 1,000   M0         M1
    c       M0 1,000   M0         (repaid)
    d       M0 1,000   M0         M0
    e       M1 2,000   M2         M1 (cured a bucket)
    f       M1 2,000   M0 (cured)  M0
    g       M2 1,000   M3         M4
    h       M2 3,000   (written off 07-20)

Monthly roll rates by balance (share of a bucket's balance in a worse bucket or written off a month later):
    M0: June 1,000 / 4,000 = 0.25; July 1,000 / 5,000 = 0.2 (b rolls; c repaid stays in the denominator)
    M1: June 2,000 / 4,000 = 0.5;  July 1,000 / 1,000 = 1
    M2: June 4,000 / 4,000 = 1;    July 0 / 2,000 = 0
Averages: M0 0.225, M1 0.75, M2 0.5. Loss rates: M3 and worse 0.5; M2 0.5 × 0.5 = 0.25;
M1 0.75 × 0.25 = 0.1875; M0 0.225 × 0.1875 = 0.0421875.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd

from plugins.config import load_config
from plugins.provisioning import EclInputs, expected_credit_loss
from plugins.provisioning.flow_rates import flow_rate_matrix

CFG = load_config().provisioning
D = Decimal
JUNE, JULY, AUGUST, SEPTEMBER = date(2026, 6, 30), date(2026, 7, 31), date(2026, 8, 31), date(2026, 9, 30)
LEASE = "finance_lease"


def config(**flow) -> object:
    simplified = CFG.ecl.simplified_approach
    settings = {"enabled": True, "window_months": 2, "min_observations": 1, "weight": "balance",
                "loss_bucket": "M3", "loss_bucket_rate": D("0.5"), **flow}
    changed = simplified.model_copy(update={"flow_rates": simplified.flow_rates.model_copy(update=settings)})
    return CFG.model_copy(update={"ecl": CFG.ecl.model_copy(update={"simplified_approach": changed})})


def history() -> pd.DataFrame:
    path = {"a": ("M0", "M1", "M2"), "b": ("M0", "M0", "M1"), "c": ("M0", "M0", None), "d": ("M0", "M0", "M0"),
            "e": ("M1", "M2", "M1"), "f": ("M1", "M0", "M0"), "g": ("M2", "M3", "M4"), "h": ("M2", None, None),
            # an ordinary loan (not under the simplified approach) that rolls every month: left out
            "z": ("M0", "M1", "M2")}
    balance = {"e": 2_000_00, "f": 2_000_00, "h": 3_000_00}
    rows = [{"contract_id": cid, "month_end": end, "bucket": bucket, "dpd": 0,
             "balance_cents": balance.get(cid, 1_000_00), "product": "loan" if cid == "z" else LEASE,
             "written_off_on": date(2026, 7, 20) if cid == "h" else None}
            for cid, buckets in path.items() for end, bucket in zip((JUNE, JULY, AUGUST), buckets) if bucket]
    return pd.DataFrame(rows)


def test_loss_rates_are_the_products_of_averaged_roll_rates_into_the_loss_bucket():
    matrix = flow_rate_matrix(history(), AUGUST, config())
    assert matrix.source == "flow_rates"
    assert matrix.roll_rates == {"M0": D("0.225"), "M1": D("0.75"), "M2": D("0.5")}
    assert matrix.loss_rates == {"M0": D("0.0421875"), "M1": D("0.1875"), "M2": D("0.25"), "M3": D("0.5"),
                                 "M4": D("0.5"), "M5": D("0.5"), "M6+": D("0.5")}
    # loans leaving each bucket of the chain over the window
    assert matrix.observations == {"M0": 8, "M1": 3, "M2": 3}


def test_roll_rates_by_count_weigh_each_lease_once():
    # M0: June 1/4, July 1/4 (b of b, c, d, f) → 0.25; M1 0.75 and M2 0.5 as by balance.
    matrix = flow_rate_matrix(history(), AUGUST, config(weight="count"))
    assert matrix.roll_rates["M0"] == D("0.25")
    assert matrix.loss_rates["M0"] == D("0.25") * D("0.75") * D("0.5") * D("0.5")


def test_few_observations_fall_back_to_the_configured_matrix_and_say_why():
    matrix = flow_rate_matrix(history(), AUGUST, config(min_observations=4))
    assert matrix.source == "config"
    assert "M1 left by 3 loans, M2 left by 3 loans < 4" in matrix.reason


def test_a_window_the_history_does_not_cover_falls_back():
    # Measured at 09-30 the window is 07-31 … 09-30, and 09-30 is not in the history.
    matrix = flow_rate_matrix(history(), SEPTEMBER, config())
    assert matrix.source == "config" and "2026-09-30" in matrix.reason


def test_switched_off_flow_rates_use_the_configured_matrix():
    assert flow_rate_matrix(history(), AUGUST, config(enabled=False)).source == "config"


def test_the_simplified_ecl_books_the_flow_rate_of_the_loans_bucket():
    # 1,000,000.00 lease, 45 DPD (M2): 25% → 250,000.00; current (M0): 4.21875% → 42,187.50.
    prov = config()
    matrix = flow_rate_matrix(history(), AUGUST, prov)
    book = pd.DataFrame([{"contract_id": cid, "tier": 1, "dpd": dpd, "balance_cents": 1_000_000_00, "product": LEASE}
                         for cid, dpd in (("late", 45), ("current", 0))])
    result = expected_credit_loss(book, EclInputs(AUGUST, {}, simplified=matrix), prov).set_index("contract_id")
    assert result.loc["late", "ecl_cents"] == 250_000_00 and result.loc["current", "ecl_cents"] == 42_187_50
    assert result.loc["late", "loss_rate_basis"] == "flow_rates: M2"
    # Without the book's matrix the configured one applies: 31–90 DPD at 20%.
    fallback = expected_credit_loss(book, EclInputs(AUGUST, {}), prov).set_index("contract_id")
    assert fallback.loc["late", "ecl_cents"] == 200_000_00
    assert fallback.loc["late", "loss_rate_basis"] == "config: dpd ≤ 90"


def test_the_loss_bucket_must_be_a_delinquency_bucket(tmp_path):
    import shutil

    import pytest

    from plugins.config import DEFAULT_CONFIG_DIR, ConfigError

    shutil.copytree(DEFAULT_CONFIG_DIR, tmp_path / "config")
    path = tmp_path / "config" / "provisioning.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('loss_bucket: "M6+"', 'loss_bucket: "M9"'),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"provisioning\.yaml.*loss_bucket 'M9'"):
        load_config(tmp_path / "config")
