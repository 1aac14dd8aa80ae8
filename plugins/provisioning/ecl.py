"""Expected credit loss under IFRS 9 / CAS 22 (企业会计准则第22号), per loan, explained.

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

Rounding: everything is exact Decimal arithmetic (28 significant digits); each
loan's ECL is rounded half up to the cent once, at the end. PD and LGD are
shown in the frame as floats rounded to 6 decimals, for reading only.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from plugins.config import Ecl, EclScenario, Provisioning
from plugins.provisioning.flow_rates import SimplifiedMatrix, simplified_loss_rate
from plugins.provisioning.migration import MigrationMatrix, cumulative_pd, estimate_matrix

ZERO, ONE = Decimal(0), Decimal(1)
ECL_COLUMNS = ["contract_id", "approach", "stage", "stage_reason", "horizon_months", "pd_12m", "pd_lifetime",
               "lgd", "ead_cents", "ecl_cents", "loss_rate", "loss_rate_basis"]


# ---------------------------------------------------------------- inputs

@dataclass(frozen=True)
class LoanTerms:
    """What the ECL needs of one contract beyond the classified book."""
    annual_rate: Decimal = ZERO
    principal_by_month: Mapping[int, int] = field(default_factory=dict)  # months after as_of → scheduled cents
    collateral: tuple[tuple[str, int], ...] = ()   # (collateral_type, latest appraised cents)
    guarantees: tuple[tuple[str, int], ...] = ()   # (guarantee_type, guaranteed cents)


@dataclass(frozen=True)
class EclInputs:
    """Per-contract terms and the migration matrix at one measurement date."""
    as_of: date
    terms: Mapping[str, LoanTerms]
    matrix: MigrationMatrix | None = None   # None: the configured fallback matrix
    simplified: SimplifiedMatrix | None = None  # None: the configured ageing matrix (simplified approach)

    def of(self, contract_id: str) -> LoanTerms:
        return self.terms.get(contract_id, LoanTerms())


def months_after(as_of: date, due: date) -> int:
    """Month index of a due date after a month end: due in the next calendar month → 1."""
    return (due.year - as_of.year) * 12 + due.month - as_of.month


def _cents(text: str) -> int:
    return int((Decimal(text or "0") * 100).quantize(ONE, rounding=ROUND_HALF_UP))


def inputs_from_extract(extract: Mapping[str, pd.DataFrame], as_of: date,
                        matrix: MigrationMatrix | None = None, simplified: SimplifiedMatrix | None = None) -> EclInputs:
    """Terms per contract from the core extract (all text columns) as known at `as_of`."""
    loans = extract["loans"]
    rates = {cid: Decimal(r or "0") for cid, r in zip(loans["contract_id"], loans["annual_rate"])}

    sched = extract["schedules"]
    version = sched["schedule_version"].astype(int)
    sched = sched[version == version.groupby(sched["contract_id"]).transform("max")]
    principal: dict[str, dict[int, int]] = {}
    for cid, due, amount in zip(sched["contract_id"], sched["due_date"], sched["principal_due"]):
        m = months_after(as_of, date.fromisoformat(due))
        if date.fromisoformat(due) > as_of and m >= 1:
            principal.setdefault(cid, {})
            principal[cid][m] = principal[cid].get(m, 0) + _cents(amount)

    col = extract["collateral"]
    col = col[[date.fromisoformat(d) <= as_of for d in col["valuation_date"]]]
    latest = col.sort_values(["collateral_id", "valuation_date"]).groupby("collateral_id").tail(1)
    collateral: dict[str, list[tuple[str, int]]] = {}
    for cid, ctype, value in sorted(zip(latest["contract_id"], latest["collateral_type"], latest["appraised_value"])):
        collateral.setdefault(cid, []).append((ctype, _cents(value)))

    guar = extract["guarantors"]
    guarantees: dict[str, list[tuple[str, int]]] = {}
    for cid, gtype, amount in sorted(zip(guar["contract_id"], guar["guarantee_type"], guar["guaranteed_amount"])):
        guarantees.setdefault(cid, []).append((gtype, _cents(amount)))

    terms = {cid: LoanTerms(annual_rate=rates[cid], principal_by_month=principal.get(cid, {}),
                            collateral=tuple(collateral.get(cid, ())), guarantees=tuple(guarantees.get(cid, ())))
             for cid in rates}
    return EclInputs(as_of=as_of, terms=terms, matrix=matrix, simplified=simplified)


# ---------------------------------------------------------------- components

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


# ---------------------------------------------------------------- the measurement

def _uses_simplified(product: str, config: Ecl) -> bool:
    return config.simplified_approach.enabled and product in config.simplified_approach.products


def _downgrade(row: Mapping) -> int | None:
    rating, initial = row.get("rating"), row.get("origination_rating")
    if rating is None or initial is None or pd.isna(rating) or pd.isna(initial):
        return None
    return int(rating) - int(initial)  # ratings are notches, higher is worse


def expected_credit_loss(book: pd.DataFrame, inputs: EclInputs, config: Provisioning,
                         scenarios: Mapping[str, EclScenario] | None = None, pd_shock: Decimal = ZERO,
                         stages: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Per loan: approach, stage (with its trigger), PD 12-month and lifetime, LGD, EAD and ECL in cents.

    `book` needs contract_id, product, tier, dpd and balance_cents; optional columns
    watch_list (bool) and rating / origination_rating (notches, higher is worse).
    `scenarios` replaces the configured ones (sensitivity), `pd_shock` scales every
    PD by (1 + shock), and `stages` forces a stage per contract (movement attribution).
    """
    cfg = config.ecl
    scenarios = scenarios if scenarios is not None else cfg.scenarios
    matrix = inputs.matrix or estimate_matrix([[0] * 5] * 5, cfg.migration)
    horizon_max = max([cfg.stage1_horizon_months, *(remaining_months(inputs.of(c)) for c in book["contract_id"])])
    curves = cumulative_pd(matrix, cfg.migration.default_tiers, horizon_max)
    rows = []
    for row in book.to_dict("records"):
        simplified = (simplified_loss_rate(int(row.get("dpd", 0)), inputs.simplified, config)
                      if _uses_simplified(row.get("product", ""), cfg) else None)
        rows.append(_loan_ecl(row, inputs.of(row["contract_id"]), cfg, curves, scenarios, pd_shock,
                              (stages or {}).get(row["contract_id"]), simplified, inputs.simplified))
    return pd.DataFrame(rows, columns=ECL_COLUMNS).astype({"stage": "int64", "horizon_months": "int64",
                                                           "ead_cents": "int64", "ecl_cents": "int64",
                                                           "loss_rate": "float64"})


def _loan_ecl(row: Mapping, terms: LoanTerms, cfg: Ecl, curves: dict[int, list[Decimal]],
              scenarios: Mapping[str, EclScenario], shock: Decimal, forced_stage: int | None,
              simplified: tuple[Decimal, str] | None, matrix: SimplifiedMatrix | None) -> dict:
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


def sensitivity(book: pd.DataFrame, inputs: EclInputs, config: Provisioning) -> pd.DataFrame:
    """Total ECL in cents as configured, under each scenario alone, and with every PD shocked up and down."""
    cfg = config.ecl
    shock = cfg.sensitivity_pd_shock
    cases: list[tuple[str, Mapping[str, EclScenario] | None, Decimal]] = [("weighted", None, ZERO)]
    cases += [(f"scenario_{name}", {name: s.model_copy(update={"weight": ONE})}, ZERO)
              for name, s in cfg.scenarios.items()]
    cases += [(f"pd_plus_{shock}", None, shock), (f"pd_minus_{shock}", None, -shock)]
    rows = []
    for case, scenarios, pd_shock in cases:
        total = int(expected_credit_loss(book, inputs, config, scenarios, pd_shock)["ecl_cents"].sum())
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
