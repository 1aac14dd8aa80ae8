"""Tier migration between two period ends: the transition matrix and the regulatory migration rates.

Transitions: every loan outstanding at the opening period end, by its opening tier, to its closing tier,
or, when it left the book, to why it left: 结清 (settled), 核销 (written off in the period) or 转让
(transferred), from the core system's loans table (`exit_reasons`); "exited" when no reason was given. Loans new in the period
have no opening tier and are shown in a "new" row; they take no part in the rates.

Migration rates (迁徙率), CBIRC off-site definitions (非现场监管指标):

    正常类贷款迁徙率 = 期初正常类贷款中转为不良贷款的金额 / (期初正常类贷款余额 − 期初正常类贷款期间减少金额)
    关注类贷款迁徙率 = 期初关注类贷款中转为不良贷款的金额 / (期初关注类贷款余额 − 期初关注类贷款期间减少金额)
    次级类贷款迁徙率 = 期初次级类贷款中转为可疑类、损失类的金额 / (期初次级类贷款余额 − 期初次级类贷款期间减少金额)
    可疑类贷款迁徙率 = 期初可疑类贷款中转为损失类的金额 / (期初可疑类贷款余额 − 期初可疑类贷款期间减少金额)

implemented per loan of the opening tier as:
    amount migrated   = closing balance of those loans whose closing tier is in the target set
                        (不良 = 次级, 可疑, 损失);
    decrease          = max(opening balance − closing balance, 0) per loan: repayments, write-offs and
                        transfers during the period (an exited loan decreases by its whole opening balance);
    rate              = amount migrated / (opening balance − decrease), None when the denominator is 0.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import pandas as pd

from plugins.classification.rules import TIER_NAMES
from plugins.money import ratio

EXITED = "exited"
SETTLED, WRITTEN_OFF, TRANSFERRED = "结清", "核销", "转让"
EXIT_ORDER = {SETTLED: 6, WRITTEN_OFF: 7, TRANSFERRED: 8, EXITED: 9}  # after 损失, in this order
NEW = "new"
NON_PERFORMING = (3, 4, 5)

# Rate name → (opening tier, closing tiers counted as migrated).
MIGRATION_RATES: dict[str, tuple[int, tuple[int, ...]]] = {
    "正常类贷款迁徙率": (1, NON_PERFORMING),
    "关注类贷款迁徙率": (2, NON_PERFORMING),
    "次级类贷款迁徙率": (3, (4, 5)),
    "可疑类贷款迁徙率": (4, (5,)),
}
# from_tier / to_tier are 1–5 or <NA> (new / exited); from_state / to_state are the printable labels.
TRANSITION_COLUMNS = ["from_tier", "to_tier", "from_state", "to_state", "loans", "opening_balance_cents",
                      "closing_balance_cents"]
RATE_COLUMNS = ["rate_name", "from_tier", "migrated_cents", "opening_balance_cents", "decrease_cents",
                "denominator_cents", "rate"]


@dataclass(frozen=True)
class Migration:
    transitions: pd.DataFrame  # long form, TRANSITION_COLUMNS
    rates: pd.DataFrame  # RATE_COLUMNS

    def matrix(self, value: str = "loans") -> pd.DataFrame:
        """Opening state (rows: 正常…损失, new) × closing state (columns: 正常…损失, exited) of `value`."""
        return transition_matrix(self.transitions, value)


def _label(tier: object, missing: str) -> str:
    return missing if pd.isna(tier) else TIER_NAMES[int(tier)]


def _joined(opening: pd.DataFrame, closing: pd.DataFrame) -> pd.DataFrame:
    """One row per loan in either period: opening and closing tier (<NA> when absent) and balances."""
    left = opening[["contract_id", "tier", "balance_cents"]].rename(
        columns={"tier": "from_tier", "balance_cents": "opening_balance_cents"})
    right = closing[["contract_id", "tier", "balance_cents"]].rename(
        columns={"tier": "to_tier", "balance_cents": "closing_balance_cents"})
    both = left.merge(right, on="contract_id", how="outer", validate="one_to_one")
    both = both.astype({"from_tier": "Int64", "to_tier": "Int64"})
    for column in ("opening_balance_cents", "closing_balance_cents"):
        both[column] = both[column].fillna(0).astype("int64")
    return both


def exit_reasons(loans: pd.DataFrame, opening_end: date, closing_end: date) -> dict[str, str]:
    """contract_id → why a loan would leave the book between two month ends: 核销 when written off in
    between, 转让 when its status is 转让, otherwise 结清 (loans: the core system's loans table)."""
    written_off = pd.to_datetime(loans["written_off_on"].replace("", None))
    in_period = ((written_off > pd.Timestamp(opening_end)) & (written_off <= pd.Timestamp(closing_end))).to_numpy()
    transferred = (loans["status"] == TRANSFERRED).to_numpy() if "status" in loans else False
    reasons = pd.Series(SETTLED, index=loans.index).mask(transferred, TRANSFERRED).mask(in_period, WRITTEN_OFF)
    return dict(zip(loans["contract_id"], reasons))


def transitions(opening: pd.DataFrame, closing: pd.DataFrame, exits: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Long-form transitions by count and balance; `opening`/`closing` have contract_id, tier, balance_cents;
    `exits` (exit_reasons) names why each loan that left the book left."""
    both = _joined(opening, closing)
    left = both["to_tier"].isna()
    both["to_state"] = both["to_tier"].map(lambda t: _label(t, EXITED))
    if exits is not None:
        both.loc[left, "to_state"] = both.loc[left, "contract_id"].map(exits).fillna(EXITED)
    # Sort keys: new loans after 损失 on the opening side, exits after 损失 on the closing side.
    both["_from"] = both["from_tier"].fillna(6)
    both["_to"] = both["to_tier"].fillna(both["to_state"].map(EXIT_ORDER))
    grouped = (both.groupby(["_from", "_to", "to_state"])
               .agg(loans=("contract_id", "size"), opening_balance_cents=("opening_balance_cents", "sum"),
                    closing_balance_cents=("closing_balance_cents", "sum")).reset_index())
    grouped["from_tier"] = grouped["_from"].where(grouped["_from"] <= 5).astype("Int64")
    grouped["to_tier"] = grouped["_to"].where(grouped["_to"] <= 5).astype("Int64")
    grouped["from_state"] = grouped["from_tier"].map(lambda t: _label(t, NEW))
    return grouped[TRANSITION_COLUMNS].astype({"loans": "int64", "opening_balance_cents": "int64",
                                               "closing_balance_cents": "int64", "from_state": object,
                                               "to_state": object})


def transition_matrix(long: pd.DataFrame, value: str = "loans") -> pd.DataFrame:
    """Pivot of the long transitions: rows 正常…损失 + new, columns 正常…损失 + the exits (结清, 核销, 转让 when
    reasons were given, else exited), zeros where empty."""
    rows = [*TIER_NAMES.values(), NEW]
    given = set(long["to_state"]) - {EXITED} - set(TIER_NAMES.values())
    columns = [*TIER_NAMES.values(), *((SETTLED, WRITTEN_OFF, TRANSFERRED) if given else (EXITED,))]
    table = long.pivot_table(index="from_state", columns="to_state", values=value, aggfunc="sum", fill_value=0)
    return table.reindex(index=rows, columns=columns, fill_value=0).astype("int64").rename_axis(
        index="期初", columns="期末")


def migration_rates(opening: pd.DataFrame, closing: pd.DataFrame) -> pd.DataFrame:
    """The four regulatory migration rates with their numerators and denominators (module docstring)."""
    both = _joined(opening, closing)
    rows = []
    for name, (from_tier, targets) in MIGRATION_RATES.items():
        cohort = both[both["from_tier"] == from_tier]
        migrated = int(cohort.loc[cohort["to_tier"].isin(targets), "closing_balance_cents"].sum())
        opening_balance = int(cohort["opening_balance_cents"].sum())
        decrease = int((cohort["opening_balance_cents"] - cohort["closing_balance_cents"]).clip(lower=0).sum())
        denominator = opening_balance - decrease
        rate = ratio(migrated, denominator) if denominator > 0 else None
        rows.append({"rate_name": name, "from_tier": from_tier, "migrated_cents": migrated,
                     "opening_balance_cents": opening_balance, "decrease_cents": decrease,
                     "denominator_cents": denominator, "rate": rate})
    return pd.DataFrame(rows, columns=RATE_COLUMNS)


def migrate(opening: pd.DataFrame, closing: pd.DataFrame, exits: Mapping[str, str] | None = None) -> Migration:
    return Migration(transitions(opening, closing, exits), migration_rates(opening, closing))
