"""Provisioning methods behind one protocol, and the regulatory indicators.

- regulatory_2002: 银行贷款损失准备计提指引 (2002) specific provisions by tier
  (次级/可疑 may float ±20%), plus a general provision on all loans.
- standard_2012: 金融企业准备金计提管理办法 (2012) potential-risk estimate by tier.
- ecl: IFRS 9 / CAS 22 expected credit loss (plugins/provisioning/ecl.py).
Rates and thresholds come from config/provisioning.yaml.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from plugins.config import ConfigError, Provisioning
from plugins.money import cents_times_rate, cents_times_rate_array, ratio
from plugins.provisioning.ecl import ExpectedCreditLoss

NPL_TIERS = (3, 4, 5)


class ProvisioningModel(Protocol):
    name: str

    def provisions(self, book: pd.DataFrame, config: Provisioning) -> pd.Series:
        """Provision in cents per loan; `book` has columns tier and balance_cents."""
        ...


def _by_tier(book: pd.DataFrame, rates: dict[int, Decimal]) -> pd.Series:
    """balance × the tier's rate per loan, rounded half up at the cent (cents_times_rate), one tier at a time."""
    balance = book["balance_cents"].to_numpy(dtype=np.int64)
    tier = book["tier"].to_numpy(dtype=np.int64)
    provision = np.zeros(len(book), dtype=np.int64)
    for t in np.unique(tier):
        rows = tier == t
        provision[rows] = cents_times_rate_array(balance[rows], rates[int(t)])
    return pd.Series(provision, index=book.index, dtype="int64")


class Regulatory2002:
    name = "regulatory_2002"

    def provisions(self, book: pd.DataFrame, config: Provisioning) -> pd.Series:
        method = config.regulatory_2002
        rates = {t: r * (1 + method.float.get(t, Decimal(0))) for t, r in method.rates.items()}
        return _by_tier(book, rates)


class Standard2012:
    name = "standard_2012"

    def provisions(self, book: pd.DataFrame, config: Provisioning) -> pd.Series:
        return _by_tier(book, config.standard_2012.rates)


DEFAULT_MODELS: tuple[ProvisioningModel, ...] = (Regulatory2002(), Standard2012(), ExpectedCreditLoss())


def provision_columns(book: pd.DataFrame, models: Sequence[ProvisioningModel], config: Provisioning) -> pd.DataFrame:
    """The book with provision_<model>_cents per model (side by side, in the models' order), `booked_method`
    and `booked_provision_cents`: the provisions of the model config.booked_method names, which may be any
    installed model (a plugin's too), but must be one of `models` (installed and enabled)."""
    names = [m.name for m in models]
    if config.booked_method not in names:
        raise ConfigError(f"provisioning.yaml: key 'booked_method': {config.booked_method!r} is not an enabled "
                          f"provisioning model; enabled: {', '.join(names)} (plugins.yaml: provisioning_models)")
    frame = book.copy(deep=False)  # copy-on-write: the new columns stay out of `book`
    for model in models:
        frame[f"provision_{model.name}_cents"] = model.provisions(frame, config)
    frame["booked_method"] = config.booked_method
    frame["booked_provision_cents"] = frame[f"provision_{config.booked_method}_cents"]
    return frame


@dataclass(frozen=True)
class Indicators:
    loans: int
    balance_cents: int
    npl_cents: int
    specific_provision_cents: int
    general_provision_cents: int
    allowance_cents: int
    npl_ratio: Decimal | None
    provision_coverage: Decimal | None
    loan_provision_ratio: Decimal | None
    npl_ratio_ok: bool
    provision_coverage_ok: bool
    loan_provision_ratio_ok: bool
    binding_constraint: str
    targets_met: dict[str, bool] | None = None  # the institution's own targets, when configured

    def as_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in self.__dict__.items()}


def indicators(book: pd.DataFrame, booked: pd.Series, config: Provisioning) -> Indicators:
    """NPL ratio, provision coverage and loan provision ratio against the thresholds.

    The loan-loss allowance is the booked specific provisions plus, under the
    2002 method, the general provision on all loans. Of coverage and loan
    provision ratio, the one requiring the larger allowance binds.
    """
    balance = int(book["balance_cents"].sum())
    npl = int(book.loc[book["tier"].isin(NPL_TIERS), "balance_cents"].sum())
    specific = int(booked.sum())
    general = 0
    if config.booked_method == "regulatory_2002":
        general = cents_times_rate(balance, config.regulatory_2002.general_provision_rate)
    allowance = specific + general
    t = config.thresholds
    npl_ratio, coverage, provision_ratio = ratio(npl, balance), ratio(allowance, npl), ratio(allowance, balance)
    needed_for_coverage = Decimal(npl) * t.provision_coverage_min
    needed_for_ratio = Decimal(balance) * t.loan_provision_ratio_min
    binding = "provision_coverage" if needed_for_coverage >= needed_for_ratio else "loan_provision_ratio"
    return Indicators(
        loans=len(book), balance_cents=balance, npl_cents=npl, specific_provision_cents=specific,
        general_provision_cents=general, allowance_cents=allowance, npl_ratio=npl_ratio,
        provision_coverage=coverage, loan_provision_ratio=provision_ratio,
        npl_ratio_ok=npl_ratio is not None and npl_ratio <= t.npl_ratio_max,
        provision_coverage_ok=coverage is None or coverage >= t.provision_coverage_min,
        loan_provision_ratio_ok=provision_ratio is not None and provision_ratio >= t.loan_provision_ratio_min,
        binding_constraint=binding,
        targets_met=None if config.targets is None else {
            "npl_ratio": npl_ratio is not None and npl_ratio <= config.targets.npl_ratio_max,
            "provision_coverage": coverage is None or coverage >= config.targets.provision_coverage_min,
            "loan_provision_ratio": provision_ratio is not None and provision_ratio >= config.targets.loan_provision_ratio_min,
        },
    )


@dataclass(frozen=True)
class GeneralReserve2012:
    """金融企业准备金计提管理办法 (2012) art. 6: the general reserve to hold at period end."""
    potential_risk_cents: int
    impairment_allowance_cents: int
    difference_cents: int
    floor_cents: int
    required_cents: int
    binding: str  # "difference" or "floor"


def general_reserve_2012(book: pd.DataFrame, impairment_allowance_cents: int, config: Provisioning) -> GeneralReserve2012:
    """The potential-risk estimate above the impairment allowance, but never below the floor rate
    (1.5% by default) of period-end risk assets; risk assets here are the loan balances."""
    potential = int(Standard2012().provisions(book, config).sum())
    difference = max(potential - impairment_allowance_cents, 0)
    floor = cents_times_rate(int(book["balance_cents"].sum()), config.standard_2012.general_reserve_min_rate)
    required = max(difference, floor)
    return GeneralReserve2012(potential, impairment_allowance_cents, difference, floor, required,
                              "difference" if difference >= floor else "floor")
