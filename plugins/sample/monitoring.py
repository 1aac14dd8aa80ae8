"""The sample lender's other post-loan registers, each from its own random streams (issue 14 items 5–9):

- `events.csv` (重大事项): litigation against the borrower, production halted, key person gone, penalties,
  negative news, with severity; more often for borrowers who fall overdue;
- `fund_flows.csv` (资金流向): how each loan's money was paid out in its first month (payee, account type,
  category, amount, 受托支付), mostly as its purpose says, a few to securities, real estate or back to the
  borrower;
- `asset_register.csv` (租赁物及押品台账): every leased asset and every vehicle, property or machine held as
  collateral, with insurance and annual-inspection expiry, last GPS contact and mileage for vehicles, lease
  end and return; a few policies lapse, a few GPS units fall silent, a few leases end without return;
- `warning_dispositions.csv` (预警处置): what was done about the warnings these registers raise (events,
  inspection findings of 经营停滞): acknowledged, action taken, cleared, by whom and when.

Draws come from ``random.Random(f"{SEED}/{key}")`` per borrower, contract or asset: the portfolio's and the
other logs' draws are untouched, so every existing table stays byte-identical. Each is cut at the month end
as the other logs are: rows dated by then (the register: its state at the month end).
"""
from __future__ import annotations

import random
from datetime import date, timedelta

import pandas as pd

from plugins.sample.docspecs import money

EVENTS_SEED, FLOWS_SEED, ASSETS_SEED, DISPOSITION_SEED = 8_2026_01, 8_2026_02, 8_2026_03, 8_2026_04
EVENT_COLUMNS = ["borrower_id", "contract_id", "event_date", "event_type", "severity", "source", "description"]
FLOW_COLUMNS = ["contract_id", "flow_date", "payee", "payee_account_type", "payee_category", "amount",
                "entrusted_payment"]
ASSET_COLUMNS = ["asset_id", "contract_id", "collateral_id", "asset_type", "vin_serial", "plate", "insurance_expiry",
                 "inspection_expiry", "last_gps_contact", "mileage_km", "lease_end", "returned_on"]
DISPOSITION_COLUMNS = ["contract_id", "signal", "status", "updated_by", "updated_on", "note"]
EVENTS = [("诉讼", "high", "借款人作为被告涉及买卖合同纠纷"), ("停产", "high", "主要生产线停产"),
          ("关键人员变动", "medium", "法定代表人辞任"), ("行政处罚", "medium", "环保部门行政处罚"),
          ("负面舆情", "low", "媒体报道拖欠供应商货款")]
VEHICLES = ("网约车", "乘用车", "轻型货车", "冷链运输车", "冷藏车", "厢式货车", "重型牵引车", "混凝土泵车", "汽车起重机")
# Purpose keyword → the payee categories its money goes to (the sample's honest flows).
PURPOSE_CATEGORIES = [("直租", ["设备"]), ("设备", ["设备"]), ("车辆", ["车辆"]), ("消费", ["消费"]),
                      ("采购", ["原材料", "商品采购"]), ("备货", ["商品采购"])]
DEFAULT_CATEGORIES = ["原材料", "商品采购", "工资"]
MISUSE = ["证券投资", "房地产", "back_to_borrower", "not_entrusted"]
SAMPLE_OFFICERS = ["风险经理张明", "客户经理李华", "风险经理王芳"]


def _anniversary_after(start: date, on: date, years_ok: bool = True) -> date:
    """The first anniversary of `start` after `on` (a yearly policy's current expiry)."""
    year = on.year
    while True:
        try:
            candidate = start.replace(year=year)
        except ValueError:  # 29 February
            candidate = date(year, 2, 28)
        if candidate > on:
            return candidate
        year += 1


def events_as_of(portfolio, month_end: date, overdue_borrowers: set[str]) -> pd.DataFrame:
    rows = []
    loans = portfolio.loans
    for b in portfolio.borrowers.itertuples(index=False):
        if b.kind != "corporate":
            continue
        rng = random.Random(f"{EVENTS_SEED}/{b.borrower_id}")
        if rng.random() >= (0.35 if b.borrower_id in overdue_borrowers else 0.05):
            continue
        mine = loans[loans["borrower_id"] == b.borrower_id]
        first = min(mine["start_date"]) if len(mine) else date(2024, 1, 1)
        when = first + timedelta(days=rng.randint(60, 900))
        kind, severity, text = rng.choice(EVENTS)
        running = [c for c, d in zip(mine["contract_id"], mine["start_date"]) if d <= when]
        contract = running[0] if running and rng.random() < 0.5 else ""
        if when <= month_end:
            rows.append([b.borrower_id, contract, when, kind, severity, rng.choice(["企查查", "裁判文书网", "客户经理"]),
                         text])
    frame = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    return frame.sort_values(["event_date", "borrower_id"], kind="stable", ignore_index=True)


def _categories(purpose: str) -> list[str]:
    return next((cats for key, cats in PURPOSE_CATEGORIES if key in (purpose or "")), DEFAULT_CATEGORIES)


def fund_flows_as_of(portfolio, month_end: date) -> pd.DataFrame:
    rows = []
    names = dict(zip(portfolio.borrowers["borrower_id"], portfolio.borrowers["name"]))
    for loan in portfolio.loans.itertuples(index=False):
        if loan.start_date > month_end:
            continue
        rng = random.Random(f"{FLOWS_SEED}/{loan.contract_id}")
        principal = int(str(loan.principal).replace(".", ""))
        parts = rng.randint(1, 3)
        left = principal
        for n in range(parts):
            amount = left if n == parts - 1 else principal * rng.randint(20, 50) // 100
            left -= amount
            when = loan.start_date + timedelta(days=rng.randint(0, 20))
            category = rng.choice(_categories(loan.purpose))
            payee = f"{category}供应商{rng.randint(1, 40):02d}"
            # 受托支付 for every lease and every large payment; small ones are often paid to the borrower's account.
            large = amount * 10 >= principal * 3
            account, entrusted = "对公", "true" if loan.product == "finance_lease" or large or rng.random() < 0.6 else "false"
            if rng.random() < 0.04:  # the few that go where they must not
                misuse = rng.choice(MISUSE)
                if misuse == "not_entrusted":
                    pass  # the right payee, but a large payment made without 受托支付
                elif misuse == "back_to_borrower":
                    payee, category, account = names.get(loan.borrower_id, ""), "往来款", "对私"
                else:
                    payee, category = f"{misuse}相关方{rng.randint(1, 9)}", misuse
                entrusted = "false"
            if when <= month_end:
                rows.append([loan.contract_id, when, payee, account, category, money(amount), entrusted])
    frame = pd.DataFrame(rows, columns=FLOW_COLUMNS)
    return frame.sort_values(["contract_id", "flow_date", "payee"], kind="stable", ignore_index=True)


def asset_register_as_of(portfolio, month_end: date) -> pd.DataFrame:
    rows = []
    loans = portfolio.loans.set_index("contract_id")
    assets = [(cid, "", asset) for cid, asset in zip(portfolio.loans["contract_id"], portfolio.loans["leased_asset"])
              if asset]
    collateral = portfolio.collateral.drop_duplicates("collateral_id", keep="last")
    assets += [(cid, clid, kind) for cid, clid, kind in zip(collateral["contract_id"], collateral["collateral_id"],
                                                            collateral["collateral_type"])
               if kind in ("车辆", "房产", "机器设备")]
    for n, (cid, clid, kind) in enumerate(sorted(assets), start=1):
        start = loans.at[cid, "start_date"]
        if start > month_end:
            continue
        asset_id = f"ZC{n:05d}"
        rng = random.Random(f"{ASSETS_SEED}/{cid}/{clid or kind}")
        vehicle = kind in VEHICLES or kind == "车辆"
        insured_from = start + timedelta(days=rng.randint(0, 10))
        lapse = start + timedelta(days=rng.randint(200, 900)) if rng.random() < 0.08 else None
        insurance = _anniversary_after(insured_from, min(month_end, lapse) if lapse else month_end)
        if lapse is not None and lapse <= month_end:  # not renewed: the last policy's expiry stands
            insurance = _anniversary_after(insured_from, lapse - timedelta(days=366))
        vin = (f"LSV{rng.randint(10**13, 10**14 - 1)}" if vehicle else f"SN{rng.randint(10**7, 10**8 - 1)}")
        plate = f"粤B{rng.randint(10000, 99999)}" if vehicle else ""
        inspection = _anniversary_after(start, month_end) if vehicle else None
        if vehicle and rng.random() < 0.06:
            inspection = _anniversary_after(start, month_end - timedelta(days=365))  # annual inspection missed
        gps, mileage = None, ""
        if vehicle:
            silent = rng.random() < 0.07
            gps = month_end - timedelta(days=rng.randint(16, 60) if silent else rng.randint(0, 3))
            mileage = str(max(0, (month_end - start).days) * rng.randint(40, 300))
        lease_end = loans.at[cid, "maturity_date"] if not clid else None
        returned = None
        if lease_end is not None and lease_end <= month_end and rng.random() < 0.9:
            returned = lease_end + timedelta(days=rng.randint(0, 20))
            returned = returned if returned <= month_end else None
        rows.append([asset_id, cid, clid, kind, vin, plate, insurance, inspection, gps, mileage, lease_end, returned])
    return pd.DataFrame(rows, columns=ASSET_COLUMNS)


def dispositions_as_of(portfolio, month_end: date, warnings: list[tuple[str, str, date]]) -> pd.DataFrame:
    """Dispositions of `warnings` ((contract_id, signal, raised_on)): acknowledged after a few days for most,
    action taken for half, cleared for a third; each step dated by `month_end` only."""
    rows = []
    for cid, signal, raised in sorted(set(warnings)):
        rng = random.Random(f"{DISPOSITION_SEED}/{cid}/{signal}")
        who = rng.choice(SAMPLE_OFFICERS)
        if rng.random() >= 0.7:
            continue
        steps = [("已确认", raised + timedelta(days=rng.randint(2, 10)), "已核实预警信息")]
        if rng.random() < 0.6:
            steps.append(("已采取措施", steps[-1][1] + timedelta(days=rng.randint(10, 30)), "已开展专项检查"))
            if rng.random() < 0.5:
                steps.append(("已解除", steps[-1][1] + timedelta(days=rng.randint(30, 90)), "风险因素已消除"))
        rows += [[cid, signal, status, who, when, note] for status, when, note in steps if when <= month_end]
    frame = pd.DataFrame(rows, columns=DISPOSITION_COLUMNS)
    return frame.sort_values(["contract_id", "signal", "updated_on"], kind="stable", ignore_index=True)


def extra_monitoring_tables(portfolio, month_end: date) -> dict[str, pd.DataFrame]:
    """The month's disposal register, events, fund flows, asset register and warning dispositions."""
    from plugins.sample.disposal import disposals_as_of
    from plugins.sample.inspections import inspections_as_of, overdue_episodes

    started = set(portfolio.loans.loc[[d <= month_end for d in portfolio.loans["start_date"]], "contract_id"])
    episodes = overdue_episodes(portfolio)
    overdue = {b for b, c in zip(portfolio.loans["borrower_id"], portfolio.loans["contract_id"])
               if any(e.start <= month_end for e in episodes.get(c, []))}
    events = events_as_of(portfolio, month_end, overdue)
    by_borrower = portfolio.loans.groupby("borrower_id")["contract_id"].apply(list).to_dict()
    warnings = [(c, "major_event", d) for b, c0, d in zip(events["borrower_id"], events["contract_id"],
                                                           events["event_date"])
                for c in ([c0] if c0 else by_borrower.get(b, [])) if c in started]
    inspections = inspections_as_of(portfolio, month_end)
    halted = inspections[inspections["finding"].str.contains("经营停滞", regex=False)]
    warnings += [(c, "inspection_finding", d) for c, d in zip(halted["contract_id"], halted["done_date"])
                 if c in started and isinstance(d, date)]
    return {"disposals": disposals_as_of(portfolio, month_end).pipe(lambda f: f[f["contract_id"].isin(started)])
            .reset_index(drop=True),
            "events": events, "fund_flows": fund_flows_as_of(portfolio, month_end),
            "asset_register": asset_register_as_of(portfolio, month_end),
            "warning_dispositions": dispositions_as_of(portfolio, month_end, warnings)}
