"""Covenant headroom: the latest debt-to-asset ratio against the covenant ceiling, by hand."""
from __future__ import annotations

from decimal import Decimal

import pandas as pd

from plugins.config import load_config
from plugins.monitoring.covenants import covenant_headroom
from plugins.reports.management import covenant_section_table

CFG = load_config().early_warning  # debt_to_asset_covenant threshold 0.70


def _figures(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame([{"borrower_id": b, "period_end": p, "canonical": c, "current_cents": v, "prior_cents": None,
                          "scope": "entity"} for b, p, c, v in rows])


BOOK = pd.DataFrame([("HT1", "B1", "江苏恒达机械制造有限公司", "corporate", 100_00),
                     ("HT2", "B1", "江苏恒达机械制造有限公司", "corporate", 200_00),
                     ("HT3", "B2", "张三", "individual", 50_00),
                     ("HT4", "B4", "李四", "individual", 10_00)],
                    columns=["contract_id", "borrower_id", "borrower_name", "borrower_kind", "balance_cents"])


def test_headroom_is_the_ceiling_less_the_latest_ratio_tightest_first():
    assert CFG.signals["debt_to_asset_covenant"].threshold == Decimal("0.70")
    figures = _figures([
        ("B1", "2025-12-31", "total_assets", 1_000_00), ("B1", "2025-12-31", "total_liabilities", 600_00),
        ("B1", "2026-06-30", "total_assets", 1_000_00), ("B1", "2026-06-30", "total_liabilities", 750_00),  # latest
        ("B1", "2026-06-30", "equity", 250_00),
        ("B2", "2026-06-30", "total_assets", 3_000_00), ("B2", "2026-06-30", "total_liabilities", 1_800_00),
        ("B3", "2026-06-30", "total_assets", 1_000_00), ("B3", "2026-06-30", "total_liabilities", 900_00),  # no loan
        ("B4", "2026-06-30", "total_assets", 0), ("B4", "2026-06-30", "total_liabilities", 10_00),  # no assets
    ])
    frame = covenant_headroom(figures, BOOK, CFG)
    assert frame["borrower_id"].tolist() == ["B1", "B2"]
    b1, b2 = frame.iloc[0], frame.iloc[1]
    assert (b1["period_end"], b1["debt_to_asset"], b1["headroom"], b1["breach"], b1["balance_cents"]) == \
        ("2026-06-30", Decimal("0.7500"), Decimal("-0.0500"), True, 300_00)
    assert (b2["debt_to_asset"], b2["headroom"], b2["breach"]) == (Decimal("0.6000"), Decimal("0.1000"), False)
    table = covenant_section_table(frame)
    assert table.iloc[0][["借款人", "资产负债率（%）", "余量（百分点）", "状态"]].tolist() == \
        ["江苏****有限公司", Decimal("75.00"), Decimal("-5.00"), "违约"]
    assert table.iloc[1]["借款人"] == "张*"


def test_no_statements_no_rows():
    assert covenant_headroom(_figures([]), BOOK, CFG).empty
