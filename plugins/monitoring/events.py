"""Major events and inspection findings (重大事项 / 检查发现, issue 14 item 8) as early-warning signals.

- events.csv: borrower_id, contract_id (empty: every loan of the borrower), event_date, event_type (诉讼,
  停产, 关键人员变动, 行政处罚, 负面舆情), severity, source, description. Each event is a `major_event` signal
  on the loans it concerns, with the type's severity from config/monitoring.yaml `events.types` (a delivered
  severity in `events.severities` overrides it).
- the inspection log's findings (inspections.csv `finding`): an inspection done within
  `findings_lookback_months` whose finding contains a key of `events.findings` (经营停滞, 拒绝配合 …) is an
  `inspection_finding` signal with that key's severity; the latest such inspection per loan and finding.
"""
from __future__ import annotations

from datetime import date

import pandas as pd

from plugins.config import EventSettings
from plugins.early_warning.signals import Signal
from plugins.monitoring.collateral import _date
from plugins.monitoring.inspections import add_months

MAJOR_EVENT, INSPECTION_FINDING = "major_event", "inspection_finding"


def event_signals(events: pd.DataFrame | None, book: pd.DataFrame, as_of: date, settings: EventSettings) -> list[Signal]:
    """A major_event signal per event dated within `event_lookback_months` up to `as_of`, on each loan on the
    book it concerns."""
    if events is None or events.empty:
        return []
    loans = book.groupby("borrower_id")["contract_id"].apply(list).to_dict()
    on_book = set(book["contract_id"])
    since = add_months(as_of, -settings.event_lookback_months)
    signals = []
    for e in events.itertuples(index=False):
        when = _date(e.event_date)
        if when is None or not since < when <= as_of or e.event_type not in settings.types:
            continue
        severity = e.severity if e.severity in settings.severities else settings.types[e.event_type]
        targets = [e.contract_id] if e.contract_id else loans.get(e.borrower_id, [])
        signals += [Signal(cid, e.borrower_id, MAJOR_EVENT, severity,
                           {"event_type": e.event_type, "event_date": when.isoformat(), "source": e.source,
                            "description": e.description})
                    for cid in targets if cid in on_book]
    return signals


def finding_of(text: str, settings: EventSettings) -> str | None:
    """The vocabulary key a finding's text contains (the first in config order), or None."""
    return next((key for key in settings.findings if key in (text or "")), None)


def finding_signals(inspections: pd.DataFrame | None, book: pd.DataFrame, as_of: date,
                    settings: EventSettings) -> list[Signal]:
    """An inspection_finding signal per loan on the book and finding, from its latest inspection done within
    the lookback that recorded it."""
    if inspections is None or inspections.empty:
        return []
    since = add_months(as_of, -settings.findings_lookback_months)
    owners = dict(zip(book["contract_id"], book["borrower_id"]))
    latest: dict[tuple[str, str], tuple[date, str, str]] = {}
    for r in inspections.itertuples(index=False):
        done = _date(r.done_date)
        key = finding_of(r.finding, settings)
        if done is None or key is None or not since < done <= as_of or r.contract_id not in owners:
            continue
        if (r.contract_id, key) not in latest or done > latest[(r.contract_id, key)][0]:
            latest[(r.contract_id, key)] = (done, r.finding, r.inspector)
    return [Signal(cid, owners[cid], INSPECTION_FINDING, settings.findings[key],
                   {"finding": key, "inspected_on": done.isoformat(), "inspector": who, "recorded": text})
            for (cid, key), (done, text, who) in sorted(latest.items())]
