"""Expected credit loss under IFRS 9 / CAS 22 (企业会计准则第22号), per loan, explained — the whole book at once.

General approach, per loan with monthly periods t = 1 … H:

    ECL = Σ_s w_s · Σ_t mPD_s(t) · LGD · EAD(t) · DF(t)

- staging (`stage_of`): stage 3 when credit-impaired (an NPL tier, or more than
  90 days past due); stage 2 on a significant increase in credit risk (more than
  30 days past due, 关注, on the watch list, or a rating downgrade of the
  configured notches); otherwise stage 1. H is 12 months (capped at the
  remaining term) in stage 1 and the remaining term in stages 2 and 3.
- PD: the cumulative PD curve of the loan's tier from the migration matrix
  (`migration.cumulative_pd`); scenario s scales the cumulative curve by its
  multiplier (capped at 1) and mPD_s(t) is the curve's increase in month t.
  Stage 3 loans have defaulted: PD is 1 and ECL = LGD · EAD(1).
- EAD(t): the balance at the start of month t, i.e. the reported balance less
  the scheduled principal of the in-force schedule falling due in earlier months
  (never below 0), times (1 − prepayment rate)^(t−1).
- LGD (`loss_given_default`): collateral at the latest appraisal less the
  haircut of its type, less recovery costs, discounted over its recovery lag;
  guarantees at their recovery rate discounted over their lag; the part of the
  balance they do not cover loses `unsecured_lgd`; never below the floor.
- DF(t) = (1 + r/12)^(−t) at the loan's effective (annual) interest rate r,
  monthly compounding as the schedules are monthly.

Individually assessed loans (a book column assessed_loss_ratio, from the lender's
impairment table, classification/impairment.py): ECL = balance × the assessed ratio
(approach "individual"; scenarios and PD shocks do not move it).

Simplified approach (lease receivables where config enables it): lifetime ECL
= balance × the loss rate of the loan's ageing (DPD) bucket, from the book's own
roll (flow) rates when the history suffices, else from the configured matrix
(`flow_rates.py`; columns loss_rate and loss_rate_basis name the source).

How it is computed: columnar, the whole book at once. The small tables — the
PD curves (tiers × months, per scenario), the scenario weights, the loss rates
per ageing bucket and per assessed ratio, the prepayment factors — are exact
Decimal (28 significant digits), as are pd_12m, pd_lifetime and loss_rate. The
per-loan, per-month products and the sum over months run in float64 with numpy
(one row per loan and month of its horizon; scheduled principal and EAD before
prepayment are exact int64 cents). Each loan's ECL is rounded half up (away from
zero) to the cent once, at the end.

Rounding is exactly that of the Decimal definition: float64 is off by far less
than a cent, so it decides the cent unless the sum lies within its error bound
(`_error_bound`) of a half cent. Those loans — ties that are exact in Decimal
(balance × 0.45 ending in ½ cent), and the rare float near-ties — are measured
again one by one with the exact Decimal formulas (`_loan_ecl`), so every loan's
ECL is the Decimal result to the cent. (DuckDB DECIMAL cannot do this instead:
a product of five 28-digit factors needs more than its 38 digits, so it would
round intermediates too.) PD and LGD are shown as floats rounded to 6 decimals,
for reading only.

The extract is typed by config/schema.yaml (loanbook.typed_extract) and read
columnar with numpy (schedules: latest version, months after the measurement
date, principal per month) and pandas (collateral, guarantees); `EclInputs.terms` / `of()` build the per-loan `LoanTerms` only when
asked.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from plugins.config import Ecl, EclScenario, Provisioning
from plugins.portfolio.arrow_memory import keep_freed_memory
from plugins.portfolio.loanbook import contract_codes, day_numbers, latest_versions, typed_extract
from plugins.provisioning.flow_rates import SimplifiedMatrix, simplified_loss_rate
from plugins.provisioning.migration import MigrationMatrix, cumulative_pd, estimate_matrix

ZERO, ONE = Decimal(0), Decimal(1)
ECL_COLUMNS = ["contract_id", "approach", "stage", "stage_reason", "horizon_months", "pd_12m", "pd_lifetime",
               "lgd", "ead_cents", "ecl_cents", "loss_rate", "loss_rate_basis"]
ECL_DTYPES = {"stage": "int64", "horizon_months": "int64", "ead_cents": "int64", "ecl_cents": "int64",
              "loss_rate": "float64"}


# ---------------------------------------------------------------- inputs

@dataclass(frozen=True)
class LoanTerms:
    """What the ECL needs of one contract beyond the classified book."""
    annual_rate: Decimal = ZERO
    principal_by_month: Mapping[int, int] = field(default_factory=dict)  # months after as_of → scheduled cents
    collateral: tuple[tuple[str, int], ...] = ()   # (collateral_type, latest appraised cents)
    guarantees: tuple[tuple[str, int], ...] = ()   # (guarantee_type, guaranteed cents)


@dataclass(frozen=True)
class TermFrames:
    """The terms of every contract, columnar; contract code i is row i of `contracts`.

    contracts:  contract_id, annual_rate (float64), annual_rate_text (the exact rate), lifetime_months (≥ 1)
    schedule:   code, month (≥ 1), principal_cents — the in-force schedule's instalments due after the
                measurement date (two due in one month are two rows: sum them)
    collateral: code, collateral_type, value_cents (latest appraisal), in (contract, type, value) order
    guarantees: code, guarantee_type, amount_cents, in (contract, type, amount) order
    """
    contracts: pd.DataFrame
    schedule: pd.DataFrame
    collateral: pd.DataFrame
    guarantees: pd.DataFrame

    def codes(self, contract_ids: pd.Series) -> np.ndarray:
        """Contract code per id, −1 for a contract without terms."""
        return _codes_of(pd.Series(contract_ids), self.contracts).astype(np.int64)

    def loan_terms(self, codes: Iterable[int]) -> dict[int, LoanTerms]:
        """LoanTerms of the given contract codes, built in one pass over each table."""
        wanted = np.zeros(len(self.contracts), dtype=bool)
        codes = np.asarray(list(codes), dtype=np.int64)
        wanted[codes[codes >= 0]] = True
        months: dict[int, dict[int, int]] = {}
        sched = self.schedule[wanted[self.schedule["code"].to_numpy()]] if len(self.schedule) else self.schedule
        for code, month, cents in zip(sched["code"].tolist(), sched["month"].tolist(), sched["principal_cents"].tolist()):
            by_month = months.setdefault(code, {})
            by_month[month] = by_month.get(month, 0) + cents
        pledged: dict[int, list[tuple[str, int]]] = {}
        col = self.collateral[wanted[self.collateral["code"].to_numpy()]] if len(self.collateral) else self.collateral
        for code, ctype, cents in zip(col["code"].tolist(), col["collateral_type"].tolist(), col["value_cents"].tolist()):
            pledged.setdefault(code, []).append((ctype, cents))
        guaranteed: dict[int, list[tuple[str, int]]] = {}
        gua = self.guarantees[wanted[self.guarantees["code"].to_numpy()]] if len(self.guarantees) else self.guarantees
        for code, gtype, cents in zip(gua["code"].tolist(), gua["guarantee_type"].tolist(), gua["amount_cents"].tolist()):
            guaranteed.setdefault(code, []).append((gtype, cents))
        rates = self.contracts["annual_rate_text"]
        return {int(c): LoanTerms(annual_rate=_decimal(rates.iat[c]), principal_by_month=months.get(int(c), {}),
                                  collateral=tuple(pledged.get(int(c), ())),
                                  guarantees=tuple(guaranteed.get(int(c), ())))
                for c in codes if c >= 0}


class EclInputs:
    """Per-contract terms and the migration matrix at one measurement date.

    Either `terms` (contract_id → LoanTerms, for a handful of hand-made loans) or `frames`
    (columnar, from `inputs_from_extract`); each is derived from the other when asked.
    """

    def __init__(self, as_of: date, terms: Mapping[str, LoanTerms] | None = None,
                 matrix: MigrationMatrix | None = None, simplified: SimplifiedMatrix | None = None,
                 *, frames: TermFrames | None = None) -> None:
        self.as_of = as_of
        self.matrix = matrix          # None: the configured fallback matrix
        self.simplified = simplified  # None: the configured ageing matrix (simplified approach)
        self._terms = dict(terms) if terms is not None else None
        self._frames = frames if frames is not None or terms is not None else _frames_of_terms({})

    @property
    def frames(self) -> TermFrames:
        if self._frames is None:
            self._frames = _frames_of_terms(self._terms or {})
        return self._frames

    @property
    def terms(self) -> Mapping[str, LoanTerms]:
        """Every contract's LoanTerms (built on first use: a Python object per contract)."""
        if self._terms is None:
            ids = self.frames.contracts["contract_id"].tolist()
            built = self.frames.loan_terms(range(len(ids)))
            self._terms = {cid: built[i] for i, cid in enumerate(ids)}
        return self._terms

    def of(self, contract_id: str) -> LoanTerms:
        if self._terms is not None:
            return self._terms.get(contract_id, LoanTerms())
        code = int(self.frames.codes(pd.Series([contract_id]))[0])
        return self.frames.loan_terms([code]).get(code, LoanTerms())

    def __repr__(self) -> str:
        return (f"EclInputs(as_of={self.as_of!r}, contracts={len(self.frames.contracts)}, "
                f"matrix={'book' if self.matrix else 'fallback'}, simplified={self.simplified!r})")


def _decimal(value: object) -> Decimal:
    """Exact Decimal of a rate as the extract gives it (text, number or Decimal); empty or missing → 0."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
        return ZERO
    return Decimal(str(value).strip())


def _frames_of_terms(terms: Mapping[str, LoanTerms]) -> TermFrames:
    """Columnar form of hand-made terms (tests, the bare-book model): a loop, but over a few loans."""
    ids = list(terms)
    rates = [terms[c].annual_rate for c in ids]
    contracts = pd.DataFrame({"contract_id": pd.Series(ids, dtype=object),
                              "annual_rate": np.array([float(r) for r in rates], dtype=np.float64),
                              "annual_rate_text": pd.Series(rates, dtype=object),
                              "lifetime_months": np.array([remaining_months(terms[c]) for c in ids], dtype=np.int64)})
    sched = [(i, int(m), int(p)) for i, c in enumerate(ids) for m, p in sorted(terms[c].principal_by_month.items())]
    col = [(i, t, int(v)) for i, c in enumerate(ids) for t, v in terms[c].collateral]
    gua = [(i, t, int(v)) for i, c in enumerate(ids) for t, v in terms[c].guarantees]
    return TermFrames(
        contracts=contracts,
        schedule=pd.DataFrame(sched, columns=["code", "month", "principal_cents"]).astype("int64"),
        collateral=pd.DataFrame(col, columns=["code", "collateral_type", "value_cents"]).astype(
            {"code": "int64", "value_cents": "int64"}),
        guarantees=pd.DataFrame(gua, columns=["code", "guarantee_type", "amount_cents"]).astype(
            {"code": "int64", "amount_cents": "int64"}))


def months_after(as_of: date, due: date) -> int:
    """Month index of a due date after a month end: due in the next calendar month → 1."""
    return (due.year - as_of.year) * 12 + due.month - as_of.month


# ---------------------------------------------------------------- reading the extract, columnar

def _is_text(column: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(column) or (column.dtype == object and column.map(type).eq(str).any())


def _typed(table: str, frame: pd.DataFrame, keep: list[str]) -> dict[str, pd.Series]:
    """The columns `keep` of an extract table typed by config/schema.yaml (loanbook.typed_extract, the
    project's one parser: exact cents rounded half up once), as columns (no frame: building one would copy
    the integer columns into one block)."""
    typed = typed_extract({table: frame[keep]})[table]
    return {c: typed[c] for c in keep}


def _amounts(column: pd.Series) -> np.ndarray:
    """int64 cents; an empty amount counts as 0 here."""
    return (column.fillna(0) if column.hasnans else column).to_numpy(dtype=np.int64)


def _contracts(loans: pd.DataFrame) -> pd.DataFrame:
    """One row per contract (the last row of a repeated id, as the dict of the Decimal version kept).

    annual_rate is the float the sums use; annual_rate_text keeps the extract's own value
    (text or number), read as a Decimal only for the loans measured exactly.
    """
    loans = loans[["contract_id", "annual_rate"]].drop_duplicates("contract_id", keep="last")
    given = loans["annual_rate"]
    if _is_text(given):
        rate = pd.to_numeric(given.astype(str).str.strip().replace("", "0"))
    else:
        rate = pd.to_numeric(given).fillna(0)
    return pd.DataFrame({"contract_id": loans["contract_id"].to_numpy(),
                         "annual_rate": rate.to_numpy(dtype=np.float64),
                         "annual_rate_text": given.to_numpy(dtype=object)})


def _month_index(days: np.ndarray, as_of: date) -> np.ndarray:
    """Calendar months after as_of's month of each day number (days since 1970), via a table over the days'
    range (numpy's day → month conversion per row is not cheap)."""
    if not len(days):
        return np.zeros(0, dtype=np.int32)
    low = int(days.min())
    span = np.arange(low, int(days.max()) + 1).astype("datetime64[D]")
    table = (span.astype("datetime64[M]").astype(np.int64) - np.datetime64(as_of, "M").astype(np.int64)).astype(np.int32)
    return table[days - low]


def _schedule(schedules: pd.DataFrame, contracts: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Scheduled principal per contract code and month after `as_of`, of each contract's latest schedule version.

    Whole-column numpy on integers: contract codes (loanbook.contract_codes, one lookup per distinct id), the
    latest version per code, months after `as_of` from the due dates' days. No grouping by (contract, month):
    two instalments due in one month stay two rows and are summed where used.
    """
    sched = _typed("schedules", schedules, ["contract_id", "schedule_version", "due_date", "principal_due"])
    code = _codes_of(sched["contract_id"], contracts)
    version = sched["schedule_version"].to_numpy()
    latest = latest_versions(code, version, len(contracts))
    due, valid = day_numbers(sched["due_date"])  # a missing due date is never after as_of
    # row positions int32 where they fit: one per instalment still to fall due (tens of millions)
    after = np.flatnonzero((due > (as_of - date(1970, 1, 1)).days) & valid)
    if len(code) < 2**31:
        after = after.astype(np.int32)
    after = after[code[after] >= 0]
    after = after[version[after] == latest[code[after]]]
    month = _month_index(due[after], as_of)
    keep = month >= 1
    after, month = after[keep], month[keep]
    principal = sched["principal_due"]
    principal = (principal.fillna(0) if principal.hasnans else principal).to_numpy(dtype=np.int64)
    return pd.DataFrame({"code": code[after], "month": month, "principal_cents": principal[after]}, copy=False)


def _codes_of(contract_ids: pd.Series, contracts: pd.DataFrame) -> np.ndarray:
    """Each row's contract code (position in `contracts`), −1 for a contract without terms."""
    known = pa.array(contracts["contract_id"], type=pa.string(), from_pandas=True)
    return contract_codes(contract_ids, known)


def _by_contract(code: np.ndarray, kind: pd.Series, cents: np.ndarray) -> np.ndarray:
    """Row order by (contract, type, amount): within a contract, as (contract_id, type, amount) sorts them
    (the sums over a contract's items run in this order); contracts by code."""
    types = pd.Categorical(kind)  # categories sorted: a type's code orders as its text
    return np.lexsort((cents, types.codes, code))


def _collateral(collateral: pd.DataFrame, contracts: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Latest appraisal at `as_of` of each collateral item, per contract code (see _by_contract for the order)."""
    col = _typed("collateral", collateral,
                 ["collateral_id", "contract_id", "collateral_type", "appraised_value", "valuation_date"])
    day, valid = day_numbers(col["valuation_date"])
    seen = np.flatnonzero(valid & (day <= (as_of - date(1970, 1, 1)).days))
    item = pd.factorize(col["collateral_id"].iloc[seen])[0]
    # the latest valuation of each item: the last row of the item in (item, day) order (a stable sort)
    order = np.lexsort((day[seen], item))
    last = order[np.append(item[order][1:] != item[order][:-1], True)] if len(order) else order
    rows = np.sort(seen[last])
    code = _codes_of(col["contract_id"].iloc[rows], contracts)
    rows, code = rows[code >= 0], code[code >= 0]
    kind = col["collateral_type"].iloc[rows].reset_index(drop=True)
    value = _amounts(col["appraised_value"].iloc[rows])
    order = _by_contract(code, kind, value)
    return pd.DataFrame({"code": code[order], "collateral_type": kind.to_numpy(dtype=object)[order],
                         "value_cents": value[order]}, copy=False)


def _guarantees(guarantors: pd.DataFrame, contracts: pd.DataFrame) -> pd.DataFrame:
    """Each guarantee per contract code (see _by_contract for the order)."""
    gua = _typed("guarantors", guarantors, ["contract_id", "guarantee_type", "guaranteed_amount"])
    code = _codes_of(gua["contract_id"], contracts)
    rows = np.flatnonzero(code >= 0)
    kind = gua["guarantee_type"].iloc[rows].reset_index(drop=True)
    amount = _amounts(gua["guaranteed_amount"].iloc[rows])
    order = _by_contract(code[rows], kind, amount)
    return pd.DataFrame({"code": code[rows][order], "guarantee_type": kind.to_numpy(dtype=object)[order],
                         "amount_cents": amount[order]}, copy=False)


def inputs_from_extract(extract: Mapping[str, pd.DataFrame], as_of: date,
                        matrix: MigrationMatrix | None = None, simplified: SimplifiedMatrix | None = None) -> EclInputs:
    """Terms per contract from the core extract as known at `as_of`, columnar.

    The tables may be as the core system delivers them (every column text) or typed
    (amounts int64 cents, dates datetime64 / date).
    """
    keep_freed_memory()
    contracts = _contracts(extract["loans"])
    schedule = _schedule(extract["schedules"], contracts, as_of)
    lifetime = np.ones(len(contracts), dtype=np.int64)
    if len(schedule):
        code, month = schedule["code"].to_numpy(), schedule["month"].to_numpy()
        if (code[1:] >= code[:-1]).all():  # grouped by contract, as the core system lists instalments
            starts = np.flatnonzero(np.concatenate(([True], code[1:] != code[:-1])))
            lifetime[code[starts]] = np.maximum(np.maximum.reduceat(month, starts), 1)
        else:
            np.maximum.at(lifetime, code, month)
    contracts["lifetime_months"] = lifetime
    frames = TermFrames(contracts=contracts, schedule=schedule,
                        collateral=_collateral(extract["collateral"], contracts, as_of),
                        guarantees=_guarantees(extract["guarantors"], contracts))
    return EclInputs(as_of, matrix=matrix, simplified=simplified, frames=frames)


# ---------------------------------------------------------------- components (exact, per loan)

def stage_of(dpd: int, tier: int, config: Ecl, watch_list: bool = False,
             downgrade_notches: int | None = None) -> tuple[int, str]:
    """IFRS 9 stage and the trigger that set it (the most severe one)."""
    s = config.staging
    if tier in s.stage3_tiers:
        return 3, f"tier {tier} is non-performing"
    if dpd > s.stage3_dpd_over:
        return 3, f"{dpd} DPD > {s.stage3_dpd_over}"
    if dpd > s.stage2_dpd_over:
        return 2, f"{dpd} DPD > {s.stage2_dpd_over}"
    if tier in s.stage2_tiers:
        return 2, f"tier {tier} (关注)"
    if watch_list:
        return 2, "on the watch list"
    if downgrade_notches is not None and downgrade_notches >= s.rating_downgrade_notches:
        return 2, f"rating down {downgrade_notches} notches"
    return 1, ""


def discount_factor(annual_rate: Decimal, months: int) -> Decimal:
    return ONE / (ONE + annual_rate / 12) ** months


def loss_given_default(balance_cents: int, terms: LoanTerms, config: Ecl) -> Decimal:
    """LGD on the balance: uncovered part × unsecured LGD, with recoveries discounted, never below the floor."""
    if balance_cents <= 0:
        return ZERO
    lgd = config.lgd
    recoveries = ZERO
    for ctype, value in terms.collateral:
        rule = lgd.collateral.get(ctype, lgd.collateral["other"])
        recoveries += (Decimal(value) * (1 - rule.haircut) * (1 - lgd.recovery_cost_rate)
                       * discount_factor(terms.annual_rate, rule.recovery_lag_months))
    for gtype, amount in terms.guarantees:
        rule = lgd.guarantees.get(gtype, lgd.guarantees["other"])
        recoveries += Decimal(amount) * rule.recovery_rate * discount_factor(terms.annual_rate, rule.recovery_lag_months)
    balance = Decimal(balance_cents)
    uncovered = balance - min(balance, recoveries)
    return max(lgd.floor, uncovered * lgd.unsecured_lgd / balance)


def remaining_months(terms: LoanTerms) -> int:
    """Lifetime in months: to the last scheduled instalment; at least one (overdue past maturity)."""
    return max([1, *terms.principal_by_month])


def exposure_profile(balance_cents: int, terms: LoanTerms, months: int, prepayment: Decimal) -> list[Decimal]:
    """EAD(t) for t = 1 … months: balance at the start of month t after scheduled amortisation and prepayment."""
    profile, scheduled = [], Decimal(balance_cents)
    for t in range(1, months + 1):
        profile.append(max(ZERO, scheduled) * (1 - prepayment) ** (t - 1))
        scheduled -= terms.principal_by_month.get(t, 0)
    return profile


def scenario_curve(curve: list[Decimal], scenario: EclScenario, shock: Decimal) -> list[Decimal]:
    """Cumulative PD under a scenario (and a PD shock), capped at 1."""
    factor = scenario.pd_multiplier * (1 + shock)
    return [min(ONE, p * factor) for p in curve]


def _round_cents(amount: Decimal) -> int:
    return int(amount.quantize(ONE, rounding=ROUND_HALF_UP))


def _float6(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP))


def _uses_simplified(product: str, config: Ecl) -> bool:
    return config.simplified_approach.enabled and product in config.simplified_approach.products


def _downgrade(row: Mapping) -> int | None:
    rating, initial = row.get("rating"), row.get("origination_rating")
    if rating is None or initial is None or pd.isna(rating) or pd.isna(initial):
        return None
    return int(rating) - int(initial)  # ratings are notches, higher is worse


def _loan_ecl(row: Mapping, terms: LoanTerms, cfg: Ecl, curves: dict[int, list[Decimal]],
              scenarios: Mapping[str, EclScenario], shock: Decimal, forced_stage: int | None,
              simplified: tuple[Decimal, str] | None, matrix: SimplifiedMatrix | None) -> dict:
    """One loan in exact Decimal: the definition, and the measurement of the loans the float sum cannot round."""
    balance, dpd, tier = int(row["balance_cents"]), int(row.get("dpd", 0)), int(row["tier"])
    watch = row.get("watch_list")
    stage, reason = stage_of(dpd, tier, cfg, bool(watch) and not pd.isna(watch), _downgrade(row))
    if forced_stage is not None and forced_stage != stage:
        stage, reason = forced_stage, f"stage {forced_stage} assumed (attribution)"
    lifetime = remaining_months(terms)
    out = {"contract_id": row["contract_id"], "stage": stage, "stage_reason": reason, "ead_cents": balance,
           "loss_rate": float("nan"), "loss_rate_basis": ""}
    assessed = row.get("assessed_loss_ratio")
    if assessed is not None and not pd.isna(assessed) and str(assessed) != "":
        ratio = Decimal(str(assessed))
        return {**out, "approach": "individual", "horizon_months": lifetime, "pd_12m": float("nan"),
                "pd_lifetime": float("nan"), "lgd": float("nan"), "ecl_cents": _round_cents(balance * ratio),
                "loss_rate": _float6(ratio), "loss_rate_basis": "individually assessed"}
    if simplified is not None:
        rate, bucket = simplified
        source = matrix.source if matrix is not None else "config"
        rate = min(ONE, rate * (1 + shock))
        return {**out, "approach": "simplified", "horizon_months": lifetime, "pd_12m": float("nan"),
                "pd_lifetime": float("nan"), "lgd": float("nan"), "ecl_cents": _round_cents(balance * rate),
                "loss_rate": _float6(rate), "loss_rate_basis": f"{source}: {bucket}"}
    lgd = loss_given_default(balance, terms, cfg)
    if stage == 3:
        return {**out, "approach": "general", "horizon_months": lifetime, "pd_12m": 1.0, "pd_lifetime": 1.0,
                "lgd": _float6(lgd), "ecl_cents": _round_cents(lgd * balance)}
    horizon = min(cfg.stage1_horizon_months, lifetime) if stage == 1 else lifetime
    ead = exposure_profile(balance, terms, horizon, cfg.prepayment_monthly_rate)
    discount = [discount_factor(terms.annual_rate, t) for t in range(1, horizon + 1)]
    curve = curves[tier]
    ecl, pd_12m, pd_life = ZERO, ZERO, ZERO
    for scenario in scenarios.values():
        cumulative = scenario_curve(curve[:max(horizon, cfg.stage1_horizon_months, lifetime) + 1], scenario, shock)
        marginal = (cumulative[t] - cumulative[t - 1] for t in range(1, horizon + 1))
        ecl += scenario.weight * sum((p * lgd * e * d for p, e, d in zip(marginal, ead, discount)), ZERO)
        pd_12m += scenario.weight * cumulative[min(cfg.stage1_horizon_months, lifetime)]
        pd_life += scenario.weight * cumulative[lifetime]
    return {**out, "approach": "general", "horizon_months": horizon, "pd_12m": _float6(pd_12m),
            "pd_lifetime": _float6(pd_life), "lgd": _float6(lgd), "ecl_cents": _round_cents(ecl)}


# ---------------------------------------------------------------- the whole book at once

def _error_bound(x: np.ndarray, balance: np.ndarray, terms: np.ndarray | int) -> np.ndarray:
    """Bound on |float64 − exact| of a loan's ECL in cents: a few ulps per operation and per month summed,
    of the ECL and of the balance (LGD's uncovered part, balance − recoveries, is a difference)."""
    return (np.asarray(terms, dtype=np.float64) + 20.0) * 1e-15 * (np.abs(x) + np.abs(balance.astype(np.float64)))


def _half_up(x: np.ndarray, bound: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cents rounded half away from zero, and where x is within `bound` of a half (the float cannot decide)."""
    a = np.abs(x)
    whole = np.floor(a)
    fraction = a - whole
    unsure = np.abs(fraction - 0.5) <= bound
    return (np.sign(x) * (whole + (fraction >= 0.5))).astype(np.int64), unsure


def _texts(values: np.ndarray, text) -> np.ndarray:
    """text(v) per value, formatted once per distinct value."""
    if not len(values):
        return np.empty(0, dtype=object)
    uniques, inverse = np.unique(values, return_inverse=True)
    return np.array([text(int(u)) for u in uniques], dtype=object)[inverse]


def _truthy(book: pd.DataFrame, name: str) -> np.ndarray:
    """bool(value) and not missing, per row; False without the column."""
    if name not in book:
        return np.zeros(len(book), dtype=bool)
    missing = book[name].isna().to_numpy()
    values = book[name].to_numpy(dtype=object, copy=True)
    values[missing] = False
    return values.astype(bool)


def _downgrades(book: pd.DataFrame) -> np.ndarray:
    """Notches down since origination (float, NaN unless both ratings are there); ratings are notches, higher is worse."""
    if "rating" not in book or "origination_rating" not in book:
        return np.full(len(book), np.nan)
    rating = np.trunc(pd.to_numeric(book["rating"]).to_numpy(dtype=np.float64))
    initial = np.trunc(pd.to_numeric(book["origination_rating"]).to_numpy(dtype=np.float64))
    return rating - initial


def _stages(book: pd.DataFrame, tier: np.ndarray, dpd: np.ndarray, cfg: Ecl) -> tuple[np.ndarray, np.ndarray]:
    """`stage_of` for every loan: the first trigger that fires, in stage_of's order, sets stage and reason."""
    s = cfg.staging
    down = _downgrades(book)
    with np.errstate(invalid="ignore"):
        downgraded = np.nan_to_num(down, nan=-np.inf) >= s.rating_downgrade_notches
    triggers = [
        (np.isin(tier, s.stage3_tiers), 3, tier, lambda v: f"tier {v} is non-performing"),
        (dpd > s.stage3_dpd_over, 3, dpd, lambda v: f"{v} DPD > {s.stage3_dpd_over}"),
        (dpd > s.stage2_dpd_over, 2, dpd, lambda v: f"{v} DPD > {s.stage2_dpd_over}"),
        (np.isin(tier, s.stage2_tiers), 2, tier, lambda v: f"tier {v} (关注)"),
        (_truthy(book, "watch_list"), 2, tier, lambda v: "on the watch list"),
        (downgraded, 2, np.nan_to_num(down).astype(np.int64), lambda v: f"rating down {v} notches"),
    ]
    stage = np.ones(len(book), dtype=np.int64)
    reason = np.full(len(book), "", dtype=object)
    decided = np.zeros(len(book), dtype=bool)
    for fired, level, values, text in triggers:
        hit = fired & ~decided
        stage[hit] = level
        reason[hit] = _texts(values[hit], text)
        decided |= hit
    return stage, reason


def _recoveries(frames: TermFrames, cfg: Ecl) -> np.ndarray:
    """Discounted recoveries per contract code (float cents): collateral net of haircut and costs, guarantees."""
    lgd = cfg.lgd
    rates = frames.contracts["annual_rate"].to_numpy(dtype=np.float64)
    total = np.zeros(len(frames.contracts))

    def add(codes: np.ndarray, types: pd.Series, cents: np.ndarray, share: dict, lags: dict) -> None:
        if not len(codes):
            return
        # the share and lag of each type from config (small), looked up once per distinct type
        kind, distinct = pd.factorize(types)
        f = np.array([share.get(t, share["other"]) for t in distinct], dtype=np.float64)[kind]
        lag = np.array([lags.get(t, lags["other"]) for t in distinct], dtype=np.float64)[kind]
        discount = np.exp(-lag * np.log1p(rates[codes] / 12))
        total[:] += np.bincount(codes, weights=cents.astype(np.float64) * f * discount, minlength=len(total))

    col = frames.collateral
    add(col["code"].to_numpy(), col["collateral_type"], col["value_cents"].to_numpy(),
        {t: float((1 - r.haircut) * (1 - lgd.recovery_cost_rate)) for t, r in lgd.collateral.items()},
        {t: r.recovery_lag_months for t, r in lgd.collateral.items()})
    gua = frames.guarantees
    add(gua["code"].to_numpy(), gua["guarantee_type"], gua["amount_cents"].to_numpy(),
        {t: float(r.recovery_rate) for t, r in lgd.guarantees.items()},
        {t: r.recovery_lag_months for t, r in lgd.guarantees.items()})
    return total


def _pd_tables(curves: dict[int, list[Decimal]], scenarios: Mapping[str, EclScenario], shock: Decimal,
               months: int) -> tuple[np.ndarray, np.ndarray]:
    """(tier, t) tables in exact Decimal, handed over as float: the scenario-weighted marginal PD of month t,
    and the scenario-weighted cumulative PD after t months rounded to 6 decimals (pd_12m, pd_lifetime)."""
    marginal, cumulative = np.zeros((6, months + 1)), np.zeros((6, months + 1))
    weights = [s.weight for s in scenarios.values()]
    for tier, curve in curves.items():
        capped = [scenario_curve(curve[:months + 1], s, shock) for s in scenarios.values()]
        for t in range(months + 1):
            weighted = ZERO
            for w, c in zip(weights, capped):   # in the scenarios' order, as _loan_ecl sums them
                weighted += w * c[t]
            cumulative[tier, t] = _float6(weighted)
            if t:
                marginal[tier, t] = float(sum((w * (c[t] - c[t - 1]) for w, c in zip(weights, capped)), ZERO))
    return marginal, cumulative


def _segments(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of consecutive segments: each row's segment, its 1-based position in it, and each segment's start."""
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    # int32 where it fits: one element per loan and month of the horizon (tens of millions at bank scale)
    kind = np.int32 if int(lengths.sum()) < 2**31 else np.int64
    segment = np.repeat(np.arange(len(lengths), dtype=kind), lengths)
    position = (np.arange(len(segment), dtype=kind) - starts.astype(kind)[segment] + 1).astype(kind, copy=False)
    return segment, position, starts


def _occurrence(codes: np.ndarray) -> np.ndarray:
    """0 for the first loan of a contract code, 1 for a second one, …: each pass scatters unique codes."""
    known = codes[codes >= 0]  # rows without terms (−1) are never scattered
    if not len(known) or np.bincount(known).max() <= 1:
        return np.zeros(len(codes), dtype=np.int64)
    return pd.Series(codes).groupby(codes).cumcount().to_numpy(dtype=np.int64)


class _BookMeasurement:
    """Everything of a book's ECL that scenarios and PD shocks do not move, prepared once.

    Per loan: stage and reason, approach, lifetime and horizon, LGD. Per loan in stage 1 or 2
    of the general approach, one row per month t of its horizon with EAD(t) · DF(t); a case
    (scenarios, shock) then only weighs those rows with its marginal PD table and sums them.
    """

    def __init__(self, book: pd.DataFrame, inputs: EclInputs, config: Provisioning,
                 stages: Mapping[str, int] | None = None) -> None:
        cfg = config.ecl
        self.book, self.inputs, self.config, self.cfg, self.stages = book, inputs, config, cfg, stages
        frames = inputs.frames
        n = len(book)
        self.code = frames.codes(book["contract_id"])
        known = self.code >= 0
        self.lifetime = np.ones(n, dtype=np.int64)
        self.lifetime[known] = frames.contracts["lifetime_months"].to_numpy(dtype=np.int64)[self.code[known]]
        rate = np.zeros(n)
        rate[known] = frames.contracts["annual_rate"].to_numpy(dtype=np.float64)[self.code[known]]
        self.balance = book["balance_cents"].to_numpy(dtype=np.int64)
        self.tier = book["tier"].to_numpy(dtype=np.int64)
        self.dpd = book["dpd"].to_numpy(dtype=np.int64) if "dpd" in book else np.zeros(n, dtype=np.int64)
        self.stage, self.reason = _stages(book, self.tier, self.dpd, cfg)
        if stages:
            forced = book["contract_id"].map(stages)
            moved = (forced.notna().to_numpy() & (forced.fillna(0).to_numpy() != self.stage))
            self.stage[moved] = forced.to_numpy()[moved].astype(np.int64)
            self.reason[moved] = _texts(self.stage[moved], lambda v: f"stage {v} assumed (attribution)")

        # the approach: individual assessment first, then the simplified approach, else general
        assessed = book["assessed_loss_ratio"] if "assessed_loss_ratio" in book else pd.Series(np.nan, index=book.index)
        self.individual = (assessed.notna() & (assessed.astype(str) != "")).to_numpy(dtype=bool)
        products = book["product"] if "product" in book else pd.Series("", index=book.index)
        enabled = cfg.simplified_approach.enabled
        self.simplified = ~self.individual & (products.isin(cfg.simplified_approach.products).to_numpy(dtype=bool)
                                              & enabled)
        self.general = ~self.individual & ~self.simplified
        self.defaulted = self.general & (self.stage == 3)
        self.horizon = self.lifetime.copy()
        first = self.general & (self.stage == 1)
        self.horizon[first] = np.minimum(cfg.stage1_horizon_months, self.lifetime[first])

        # the small tables: PD curves to the longest lifetime, ratios and loss rates per distinct value
        self.months = int(max([cfg.stage1_horizon_months, *(self.lifetime.max(initial=1),)]))
        matrix = inputs.matrix or estimate_matrix([[0] * 5] * 5, cfg.migration)
        self.curves = cumulative_pd(matrix, cfg.migration.default_tiers, self.months)
        ratio_codes, ratio_values = pd.factorize(assessed[self.individual].astype(object), use_na_sentinel=True)
        self.ratio_code, self.ratios = ratio_codes, [Decimal(str(v)) for v in ratio_values]
        dpd_codes, dpds = pd.factorize(self.dpd[self.simplified])
        self.bucket_code = dpd_codes
        self.buckets = [simplified_loss_rate(int(d), inputs.simplified, config) for d in dpds]

        # LGD of the general approach, float
        recovered = np.zeros(n)
        recovered[known] = _recoveries(frames, cfg)[self.code[known]]
        b = self.balance.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            lgd = np.maximum(float(cfg.lgd.floor), (b - np.minimum(b, recovered)) * float(cfg.lgd.unsecured_lgd) / b)
        self.lgd = np.where(self.balance > 0, lgd, 0.0)
        self._rows(rate, frames)

    def _rows(self, rate: np.ndarray, frames: TermFrames) -> None:
        """One row per month t of each stage 1/2 general loan's horizon: key into the PD table, EAD(t) · DF(t)."""
        self.lifecycle = np.flatnonzero(self.general & (self.stage != 3))
        horizon = self.horizon[self.lifecycle]
        segment, t, starts = _segments(horizon)
        # scheduled principal of month m lowers EAD from month m + 1: scatter it there, then a running sum
        due = np.zeros(len(segment), dtype=np.int64)
        # the schedule's columns as they are (no widening copy of tens of millions of rows)
        sched_code = frames.schedule["code"].to_numpy()
        sched_month = frames.schedule["month"].to_numpy()
        sched_cents = frames.schedule["principal_cents"].to_numpy()
        codes = self.code[self.lifecycle]
        occurrence = _occurrence(codes)
        for k in range(int(occurrence.max(initial=-1)) + 1):
            mine = np.flatnonzero((occurrence == k) & (codes >= 0))
            loan_of_code = np.full(len(frames.contracts), -1, dtype=np.int32 if len(codes) < 2**31 else np.int64)
            loan_of_code[codes[mine]] = mine
            loan = loan_of_code[sched_code] if len(sched_code) else np.empty(0, dtype=np.int64)
            hit = np.flatnonzero(loan >= 0)
            loan, month = loan[hit], sched_month[hit]
            inside = month < horizon[loan]
            # a sum, as two instalments may fall due in one month; float64 adds integers exactly below 2**53
            due += np.bincount(starts[loan[inside]] + month[inside], weights=sched_cents[hit[inside]],
                               minlength=len(due)).astype(np.int64)
        running = np.cumsum(due, out=due)  # in place: the scheduled principal up to each month
        if len(segment):
            running -= running[starts][segment]
        # EAD(t) before prepayment, then the row's weight built in place (one float array per row, not four)
        weight = np.maximum(self.balance[self.lifecycle][segment] - running, 0).astype(np.float64)
        del running, due
        prepayment = np.array([float((1 - self.cfg.prepayment_monthly_rate) ** max(m - 1, 0))
                               for m in range(self.months + 1)])
        weight *= prepayment[t]
        discount = np.log1p(rate[self.lifecycle] / 12)[segment]
        discount *= -t
        np.exp(discount, out=discount)
        weight *= discount
        del discount
        self.row_loan = segment
        self.row_key = self.tier[self.lifecycle].astype(segment.dtype)[segment] * (self.months + 1) + t
        self.row_weight = weight

    def measure(self, scenarios: Mapping[str, EclScenario] | None = None, shock: Decimal = ZERO) -> pd.DataFrame:
        """The ECL frame (ECL_COLUMNS) of one case."""
        scenarios = scenarios if scenarios is not None else self.cfg.scenarios
        n = len(self.book)
        ecl, terms = np.zeros(n), np.ones(n)
        marginal, cumulative = _pd_tables(self.curves, scenarios, shock, self.months)
        if len(self.lifecycle):
            summed = np.bincount(self.row_loan, weights=self.row_weight * marginal.ravel()[self.row_key],
                                 minlength=len(self.lifecycle))
            ecl[self.lifecycle] = self.lgd[self.lifecycle] * summed
            terms[self.lifecycle] = self.horizon[self.lifecycle]
        ecl[self.defaulted] = self.lgd[self.defaulted] * self.balance[self.defaulted]
        ratio = np.array([float(r) for r in self.ratios])[self.ratio_code] if len(self.ratios) else np.zeros(0)
        ecl[self.individual] = self.balance[self.individual] * ratio
        rates = [min(ONE, rate * (1 + shock)) for rate, _ in self.buckets]
        loss_rate = np.array([float(r) for r in rates])[self.bucket_code] if rates else np.zeros(0)
        ecl[self.simplified] = self.balance[self.simplified] * loss_rate
        cents, unsure = _half_up(ecl, _error_bound(ecl, self.balance, terms))

        # LGD shown to 6 decimals: the float decides unless it is within its error of a half millionth
        lgd6 = np.full(n, np.nan)
        scaled = self.lgd[self.general] * 1e6
        shown, lgd_unsure = _half_up(scaled, np.full(len(scaled), 1e-7))
        lgd6[self.general] = shown / 1e6
        unsure[self.general] |= lgd_unsure
        lgd = lgd6
        self._exact(unsure, cents, lgd, scenarios, shock, rates)

        frame = pd.DataFrame({
            "contract_id": self.book["contract_id"].to_numpy(),
            "approach": np.where(self.individual, "individual", np.where(self.simplified, "simplified", "general")
                                 ).astype(object),
            "stage": self.stage, "stage_reason": self.reason, "horizon_months": self.horizon,
            "pd_12m": self._pd(cumulative, np.minimum(self.cfg.stage1_horizon_months, self.lifetime)),
            "pd_lifetime": self._pd(cumulative, self.lifetime), "lgd": lgd, "ead_cents": self.balance,
            "ecl_cents": cents, "loss_rate": self._loss_rates(rates), "loss_rate_basis": self._bases()})
        return frame.astype(ECL_DTYPES)

    def _pd(self, cumulative: np.ndarray, months: np.ndarray) -> np.ndarray:
        shown = np.full(len(self.book), np.nan)
        shown[self.general] = cumulative[self.tier[self.general], months[self.general]]
        shown[self.defaulted] = 1.0
        return shown

    def _loss_rates(self, rates: list[Decimal]) -> np.ndarray:
        shown = np.full(len(self.book), np.nan)
        if len(self.ratios):
            shown[self.individual] = np.array([_float6(r) for r in self.ratios])[self.ratio_code]
        if rates:
            shown[self.simplified] = np.array([_float6(r) for r in rates])[self.bucket_code]
        return shown

    def _bases(self) -> np.ndarray:
        basis = np.full(len(self.book), "", dtype=object)
        basis[self.individual] = "individually assessed"
        if self.buckets:
            source = self.inputs.simplified.source if self.inputs.simplified is not None else "config"
            basis[self.simplified] = np.array([f"{source}: {bucket}" for _, bucket in self.buckets],
                                              dtype=object)[self.bucket_code]
        return basis

    def _exact(self, unsure: np.ndarray, cents: np.ndarray, lgd: np.ndarray,
               scenarios: Mapping[str, EclScenario], shock: Decimal, rates: list[Decimal]) -> None:
        """The loans the float could not round, measured again in exact Decimal (in place)."""
        where = np.flatnonzero(unsure)
        if not len(where):
            return
        single = np.zeros(len(self.book), dtype=np.int64)
        single[self.individual] = self.ratio_code
        single[self.simplified] = self.bucket_code
        for i in where[self.individual[where]]:
            cents[i] = _round_cents(int(self.balance[i]) * self.ratios[single[i]])
        for i in where[self.simplified[where]]:
            cents[i] = _round_cents(int(self.balance[i]) * rates[single[i]])
        general = where[self.general[where]]
        if not len(general):
            return
        terms = self._loan_terms(general)
        rows = self.book.iloc[general].to_dict("records")
        for i, row, loan_terms in zip(general, rows, terms):
            forced = (self.stages or {}).get(row["contract_id"])
            exact = _loan_ecl(row, loan_terms, self.cfg, self.curves, scenarios, shock, forced, None,
                              self.inputs.simplified)
            cents[i], lgd[i] = exact["ecl_cents"], exact["lgd"]

    def _loan_terms(self, positions: np.ndarray) -> list[LoanTerms]:
        if self.inputs._terms is not None:
            return [self.inputs.of(c) for c in self.book["contract_id"].iloc[positions]]
        built = self.inputs.frames.loan_terms(self.code[positions])
        return [built.get(int(c), LoanTerms()) for c in self.code[positions]]


# ---------------------------------------------------------------- the measurement

def expected_credit_loss(book: pd.DataFrame, inputs: EclInputs, config: Provisioning,
                         scenarios: Mapping[str, EclScenario] | None = None, pd_shock: Decimal = ZERO,
                         stages: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Per loan: approach, stage (with its trigger), PD 12-month and lifetime, LGD, EAD and ECL in cents.

    `book` needs contract_id, product, tier, dpd and balance_cents; optional columns
    watch_list (bool) and rating / origination_rating (notches, higher is worse).
    `scenarios` replaces the configured ones (sensitivity), `pd_shock` scales every
    PD by (1 + shock), and `stages` forces a stage per contract (movement attribution).
    Rows in the book's order.
    """
    if book.empty:
        return pd.DataFrame([], columns=ECL_COLUMNS).astype(ECL_DTYPES)
    return _BookMeasurement(book, inputs, config, stages).measure(scenarios, pd_shock)


def sensitivity(book: pd.DataFrame, inputs: EclInputs, config: Provisioning) -> pd.DataFrame:
    """Total ECL in cents as configured, under each scenario alone, and with every PD shocked up and down."""
    cfg = config.ecl
    shock = cfg.sensitivity_pd_shock
    cases: list[tuple[str, Mapping[str, EclScenario] | None, Decimal]] = [("weighted", None, ZERO)]
    cases += [(f"scenario_{name}", {name: s.model_copy(update={"weight": ONE})}, ZERO)
              for name, s in cfg.scenarios.items()]
    cases += [(f"pd_plus_{shock}", None, shock), (f"pd_minus_{shock}", None, -shock)]
    prepared = _BookMeasurement(book, inputs, config) if not book.empty else None  # stages, LGD, EAD rows: once
    rows = []
    for case, scenarios, pd_shock in cases:
        total = int(prepared.measure(scenarios, pd_shock)["ecl_cents"].sum()) if prepared is not None else 0
        rows.append({"case": case, "ecl_cents": total})
    frame = pd.DataFrame(rows)
    frame["change_cents"] = frame["ecl_cents"] - frame.loc[0, "ecl_cents"]
    return frame


class ExpectedCreditLoss:
    """ProvisioningModel `ecl`.

    The asset measures ECL with the full inputs (schedules, collateral, guarantees,
    the book's migration matrix) and puts `ecl_cents` in the book; this model books
    that column. Given a bare book (tier, dpd, balance, product) it measures with
    what the book alone tells: no amortisation, no collateral, the fallback matrix.
    """
    name = "ecl"

    def provisions(self, book: pd.DataFrame, config: Provisioning) -> pd.Series:
        if "ecl_cents" in book:
            return book["ecl_cents"].astype("int64")
        if "contract_id" not in book:  # the protocol promises only tier and balance_cents
            book = book.assign(contract_id=[str(i) for i in book.index])
        frame = expected_credit_loss(book, EclInputs(as_of=date.min, terms={}), config)
        return pd.Series(frame["ecl_cents"].to_numpy(), index=book.index, dtype="int64")
