"""Disposal of problem claims (不良资产处置): court cases, transfers, write-offs and recoveries (issue 14 item 4).

Two sources, both optional delivered tables:

- the collection log (collections.csv): its 诉讼 action opens a court case on its date, its 转让 action takes
  the claim off the book on its date, its 核销 action is the write-off (the loans table's written_off_on
  is the booking);
- the disposal register (disposals.csv, 处置台账): one row per step, `event` one of the case stages (立案,
  判决, 执行, 拍卖, 结案), 转让 (counterparty = buyer, claim_amount = principal transferred, amount = price),
  核销 (reason) or 收回 (amount recovered and its `source`: 核销后收回, 保证人代偿, 抵押物处置, 司法拍卖).

`with_transfers` is applied at ingest to the delivered text tables before they are typed (core_tables), and
by the EAST extract, so that the loan book, classification, provisions, migration, contract state, G11 and
EAST see a transferred claim as the core system should have shown it: status 转让, outstanding principal 0.00, the transfer's date in `transferred_on`, and no
payment after that date (what the buyer collects is not the lender's). The rest is the month's disposal
report and the disposal state carried month to month (court cases stay open until 结案).

Pure pandas over small frames (one row per disposal step); no Dagster, no environment reads; money in cents.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import pandas as pd

from plugins.config import DisposalSettings
from plugins.money import to_cents

TRANSFERRED = "转让"
TRANSFERRED_ON = "transferred_on"
TRANSFERRED_PRINCIPAL = "transferred_principal"  # the outstanding principal the delivery still showed
DISPOSAL_COLUMNS = ["contract_id", "event_date", "event", "court", "case_no", "counterparty", "claim_amount",
                    "amount", "source", "reason"]
CASE_COLUMNS = ["contract_id", "borrower_id", "filed_on", "court", "case_no", "stage", "judgment_on",
                "judgment_cents", "enforcement_on", "auction_on", "auction_cents", "closed_on"]
TRANSFER_COLUMNS = ["contract_id", "borrower_id", "transferred_on", "buyer", "balance_cents", "price_cents",
                    "loss_cents", "price_known"]
WRITE_OFF_COLUMNS = ["contract_id", "borrower_id", "written_off_on", "written_off_cents", "reason", "reason_known"]
RECOVERY_COLUMNS = ["contract_id", "recovered_on", "source", "line", "amount_cents"]


class HoldPlacer(Protocol):
    """What the disposal step needs of the archive's legal holds (plugins/archive/holds.LegalHolds)."""

    def held_borrowers(self, kind: str) -> set[str]: ...

    def hold_borrower(self, kind: str, borrower_id: str, reason: str) -> str: ...


def _dates(values: pd.Series) -> list[date | None]:
    return [date.fromisoformat(str(v)) if v not in (None, "") and not pd.isna(v) else None for v in values]


def _safe_dates(values: pd.Series) -> list[date | None]:
    """ISO dates, None for a cell that is not one (the gate blocks such a delivery; ingest must not crash first)."""
    out = []
    for v in values:
        try:
            out.append(date.fromisoformat(str(v)) if v not in (None, "") and not pd.isna(v) else None)
        except ValueError:
            out.append(None)
    return out


def _cents(value: object) -> int:
    return to_cents(str(value)) if value not in (None, "") and not pd.isna(value) else 0


# ------------------------------------------------------------------ transfers at ingest

def transfers(collections: pd.DataFrame | None, as_of: date, action: str = TRANSFERRED) -> dict[str, date]:
    """contract_id → the date of its first 转让 action dated by `as_of` (the transfer's date)."""
    if collections is None or collections.empty or not {"contract_id", "action", "action_date"} <= set(collections):
        return {}  # a column-short log is the gate's to refuse, not ingest's to crash on
    rows = collections[collections["action"] == action]
    found: dict[str, date] = {}
    for cid, when in zip(rows["contract_id"], _safe_dates(rows["action_date"])):
        if when is not None and when <= as_of and (cid not in found or when < found[cid]):
            found[cid] = when
    return found


def with_transfers(frames: Mapping[str, pd.DataFrame], as_of: date, transfer_action: str = TRANSFERRED
                   ) -> tuple[dict[str, pd.DataFrame], dict[str, date]]:
    """The delivered text tables with every claim the collection log transferred by `as_of` off the book:
    loans status 转让, outstanding_principal 0.00, `transferred_on` and `transferred_principal` (the principal
    the delivery still showed outstanding: the claim transferred); payments dated after the transfer
    dropped. Returns (tables, contract_id → transfer date). Tables without a transfer come back unchanged."""
    out = dict(frames)
    moved = transfers(frames.get("collections"), as_of, transfer_action)
    loans = frames.get("loans")
    if loans is None or "contract_id" not in loans:
        return out, {}
    moved = {cid: d for cid, d in moved.items() if cid in set(loans["contract_id"])}
    if not moved:
        return out, {}
    loans = loans.copy()
    hit = loans["contract_id"].isin(moved)
    text = loans["contract_id"].dtype  # the added columns take the delivered text's own dtype
    if "outstanding_principal" in loans:
        loans[TRANSFERRED_PRINCIPAL] = loans["outstanding_principal"].where(hit, "").astype(text)
    if "status" in loans:
        loans.loc[hit, "status"] = transfer_action
    if "outstanding_principal" in loans:
        loans.loc[hit, "outstanding_principal"] = "0.00"
    loans[TRANSFERRED_ON] = pd.Series([moved[c].isoformat() if c in moved else "" for c in loans["contract_id"]],
                                      index=loans.index, dtype=text)
    out["loans"] = loans
    payments = frames.get("payments")
    if payments is not None and {"contract_id", "paid_date"} <= set(payments.columns):
        after = [cid in moved and str(d) > moved[cid].isoformat()
                 for cid, d in zip(payments["contract_id"], payments["paid_date"])]
        out["payments"] = payments[~pd.Series(after, index=payments.index, dtype=bool)].reset_index(drop=True)
    return out, moved


# ------------------------------------------------------------------ the month's disposal report

def register(frames: Mapping[str, pd.DataFrame], as_of: date) -> pd.DataFrame:
    """The disposal register's rows dated by `as_of` (empty, with its columns, when not delivered)."""
    found = frames.get("disposals")
    if found is None:
        return pd.DataFrame(columns=DISPOSAL_COLUMNS)
    found = found.reindex(columns=DISPOSAL_COLUMNS, fill_value="").fillna("")
    keep = [d is not None and d <= as_of for d in _dates(found["event_date"])]
    return found[pd.Series(keep, index=found.index, dtype=bool)].reset_index(drop=True)


def court_cases(frames: Mapping[str, pd.DataFrame], as_of: date, settings: DisposalSettings) -> pd.DataFrame:
    """One row per contract sued (its first 诉讼 action, or its first 立案 in the register), with the latest
    stage the register shows: court, case number, judgment date and amount, enforcement, auction, closing."""
    loans = frames["loans"].set_index("contract_id")
    log = frames.get("collections")
    filed: dict[str, date] = {}
    if log is not None and not log.empty:
        filed = transfers(log, as_of, settings.litigation_action)
    steps = register(frames, as_of)
    steps = steps[steps["event"].isin(settings.case_stages)]
    for cid, when in zip(steps.loc[steps["event"] == settings.case_stages[0], "contract_id"],
                         _dates(steps.loc[steps["event"] == settings.case_stages[0], "event_date"])):
        if cid not in filed or when < filed[cid]:
            filed[cid] = when
    rank = {stage: i for i, stage in enumerate(settings.case_stages)}
    rows = []
    for cid in sorted(c for c in filed if c in loans.index):
        mine = steps[steps["contract_id"] == cid]
        on = dict(zip(mine["event"], _dates(mine["event_date"])))
        amounts = dict(zip(mine["event"], mine["amount"]))
        courts = [c for c in mine["court"] if c]
        numbers = [c for c in mine["case_no"] if c]
        reached = max(mine["event"], key=lambda e: rank[e], default=settings.case_stages[0])
        rows.append([cid, str(loans.at[cid, "borrower_id"]), filed[cid], courts[0] if courts else "",
                     numbers[0] if numbers else "", reached, on.get("判决"), _cents(amounts.get("判决")),
                     on.get("执行"), on.get("拍卖"), _cents(amounts.get("拍卖")), on.get("结案")])
    return pd.DataFrame(rows, columns=CASE_COLUMNS)


def transfers_in_month(frames: Mapping[str, pd.DataFrame], moved: Mapping[str, date], start: date,
                       as_of: date) -> pd.DataFrame:
    """Claims transferred after `start` up to `as_of`: buyer, balance transferred, price and loss (balance less
    price). The register's 转让 row gives buyer, claim amount and price; without one the balance is the
    principal the delivery showed (`transferred_principal`) and the price unknown (loss = the whole balance,
    `price_known` false)."""
    loans = frames["loans"].set_index("contract_id")
    shown = loans[TRANSFERRED_PRINCIPAL] if TRANSFERRED_PRINCIPAL in loans else pd.Series(dtype=object)
    balances = {cid: _cents(v) for cid, v in shown.items()}
    steps = register(frames, as_of)
    deals = steps[steps["event"] == TRANSFERRED].drop_duplicates("contract_id").set_index("contract_id")
    rows = []
    for cid, when in sorted(moved.items()):
        if not start < when <= as_of:
            continue
        deal = deals.loc[cid] if cid in deals.index else None
        balance = _cents(deal["claim_amount"]) if deal is not None and deal["claim_amount"] else int(balances.get(cid, 0))
        price = _cents(deal["amount"]) if deal is not None and deal["amount"] else 0
        rows.append([cid, str(loans.at[cid, "borrower_id"]), when, deal["counterparty"] if deal is not None else "",
                     balance, price, balance - price, deal is not None and bool(deal["amount"])])
    return pd.DataFrame(rows, columns=TRANSFER_COLUMNS)


def write_offs_in_month(frames: Mapping[str, pd.DataFrame], start: date, as_of: date,
                        settings: DisposalSettings) -> pd.DataFrame:
    """Loans written off after `start` up to `as_of` (the loans table's written_off_on), each with the reason the
    register's 核销 row gives; `reason_known` false when it gives none or one outside write_off_reasons."""
    from plugins.provisioning.history import written_off_between

    written = written_off_between(frames, start, as_of)
    steps = register(frames, as_of)
    reasons = dict(zip(steps.loc[steps["event"] == settings.write_off_action, "contract_id"],
                       steps.loc[steps["event"] == settings.write_off_action, "reason"]))
    borrowers = dict(zip(frames["loans"]["contract_id"], frames["loans"]["borrower_id"]))
    rows = [[cid, borrowers.get(cid, ""), on, int(cents), reasons.get(cid, ""),
             reasons.get(cid, "") in settings.write_off_reasons]
            for cid, on, cents in zip(written["contract_id"], written["written_off_on"], written["written_off_cents"])]
    return pd.DataFrame(rows, columns=WRITE_OFF_COLUMNS)


def recoveries_in_month(frames: Mapping[str, pd.DataFrame], start: date, as_of: date,
                        settings: DisposalSettings) -> pd.DataFrame:
    """The register's 收回 rows dated after `start` up to `as_of`, each with the movement line of its source
    (recovery_sources: written_off, guarantor, collateral); a source not configured is `other`."""
    steps = register(frames, as_of)
    steps = steps[steps["event"] == "收回"]
    rows = [[cid, when, source, settings.recovery_sources.get(source, "other"), _cents(amount)]
            for cid, when, source, amount in zip(steps["contract_id"], _dates(steps["event_date"]), steps["source"],
                                                 steps["amount"]) if start < when <= as_of]
    return pd.DataFrame(rows, columns=RECOVERY_COLUMNS)


def recoveries_after_write_off(frames: Mapping[str, pd.DataFrame], start: date, as_of: date,
                               settings: DisposalSettings) -> int:
    """Cents the register records as recovered after `start` up to `as_of` on claims written off on or before
    `start`, from any source (after write-off, from guarantors, from collateral): what the allowance movement
    credits to stage 3 besides the payments the core system books on written-off loans."""
    recovered = recoveries_in_month(frames, start, as_of, settings)
    loans = frames["loans"]
    off = {cid: d for cid, d in zip(loans["contract_id"], _dates(loans["written_off_on"])) if d is not None}
    return int(sum(a for cid, a in zip(recovered["contract_id"], recovered["amount_cents"])
                   if cid in off and off[cid] <= start))


# ------------------------------------------------------------------ holds and the state month to month

def place_litigation_holds(cases: pd.DataFrame, holds: HoldPlacer, settings: DisposalSettings) -> dict[str, str]:
    """A legal hold on the documents of every sued borrower not already held for litigation; returns
    borrower_id → hold id for the holds placed now (none on a re-run: a held borrower is skipped)."""
    held = holds.held_borrowers(settings.hold_kind)
    placed = {}
    for borrower, group in cases[cases["closed_on"].isna()].groupby("borrower_id", sort=True):
        if borrower in held:
            continue
        first = group.sort_values(["filed_on", "contract_id"]).iloc[0]
        reason = f"诉讼：合同 {first['contract_id']} 于 {first['filed_on'].isoformat()} 起诉" + (
            f"（{first['court']} {first['case_no']}）" if first["court"] else "")
        placed[borrower] = holds.hold_borrower(settings.hold_kind, borrower, reason)
    return placed


@dataclass(frozen=True)
class DisposalReport:
    cases: pd.DataFrame
    transfers: pd.DataFrame
    write_offs: pd.DataFrame
    recoveries: pd.DataFrame

    def as_dict(self) -> dict[str, pd.DataFrame]:
        return {"cases": self.cases, "transfers": self.transfers, "write_offs": self.write_offs,
                "recoveries": self.recoveries}


def disposal_report(frames: Mapping[str, pd.DataFrame], moved: Mapping[str, date], start: date, as_of: date, settings: DisposalSettings,
                    previous: Mapping[str, pd.DataFrame] | None = None) -> DisposalReport:
    """The month's disposal: open and closed court cases, transfers of the month (with last month's
    transfers carried in `previous` kept, so the state lists every transfer once), write-offs and recoveries."""
    earlier = (previous or {}).get("transfers")
    month = transfers_in_month(frames, moved, start, as_of)
    if earlier is not None and len(earlier):
        earlier = earlier[~earlier["contract_id"].isin(month["contract_id"])].reindex(columns=TRANSFER_COLUMNS)
        earlier = earlier.assign(transferred_on=[pd.Timestamp(d).date() for d in earlier["transferred_on"]])
        month = pd.concat([earlier, month], ignore_index=True) if len(month) else earlier.reset_index(drop=True)
    # A transfer of an earlier month this state never saw (a first month, a gap) is listed from the log.
    seen = set(month["contract_id"])
    missed = {c: d for c, d in moved.items() if c not in seen}
    if missed:
        month = pd.concat([month, transfers_in_month(frames, missed, date.min, as_of)], ignore_index=True)
    month = month.sort_values(["transferred_on", "contract_id"], ignore_index=True)
    return DisposalReport(cases=court_cases(frames, as_of, settings), transfers=month,
                          write_offs=write_offs_in_month(frames, start, as_of, settings),
                          recoveries=recoveries_in_month(frames, start, as_of, settings))
