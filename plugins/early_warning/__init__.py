"""Early-warning signals (DOMAIN.md §5) and the watch list; thresholds in config/early_warning.yaml."""
from plugins.early_warning.signals import (
    SIGNAL_COLUMNS,
    Signal,
    book_signals,
    collateral_positions,
    financial_signals,
    overdue_events,
    signals_frame,
)
from plugins.early_warning.watchlist import WATCH_LIST_COLUMNS, watch_list

__all__ = ["SIGNAL_COLUMNS", "WATCH_LIST_COLUMNS", "Signal", "book_signals", "collateral_positions",
           "financial_signals", "overdue_events", "signals_frame", "watch_list"]
