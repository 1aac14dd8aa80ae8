"""Small helpers shared by the assets (metadata formatting)."""
from __future__ import annotations

import pandas as pd


def markdown_table(frame: pd.DataFrame, max_rows: int = 20) -> str:
    """A Markdown preview of a frame for the Dagster UI."""
    if frame.empty:
        return "_none_"
    shown = frame.head(max_rows).astype(object)
    shown = shown.where(shown.notna(), "").map(str)  # pandas 3 keeps NaN in astype(str)
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "---|" * len(shown.columns)
    body = ["| " + " | ".join(v.replace("|", "/") for v in row) + " |" for row in shown.itertuples(index=False)]
    more = [f"\n_… {len(frame) - max_rows} more rows_"] if len(frame) > max_rows else []
    return "\n".join([header, rule, *body, *more])
