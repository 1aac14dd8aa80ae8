"""Configuration: YAML files under config/, validated on load.

Every threshold and rate lives here, never in code. A bad file raises
ConfigError naming the file, the key path and the problem.
"""
from __future__ import annotations

import hashlib
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
Tier = Literal[1, 2, 3, 4, 5]


class ConfigError(ValueError):
    """A configuration file is missing or invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Calendar(_Strict):
    first_period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    monthly_report_day: int = Field(ge=1, le=28)
    quarterly_filing_days_after_quarter_end: int = Field(ge=1, le=60)
    # Data cut-off: the core system's books as at the period end, delivered within this many days.
    data_cutoff_days_after_period_end: int = Field(default=0, ge=0, le=28)
    # Day of the month after quarter end on which the quarterly returns run (before the filing deadline).
    quarterly_run_day_after_quarter_end: int = Field(default=10, ge=1, le=28)
    # Working days (plugins/calendar.py): the Chinese public-holiday calendar with its adjusted working days
    # (调休), or Monday–Friday.
    working_days: Literal["chinese_public_holidays", "weekdays"] = "chinese_public_holidays"
    # A filing deadline on a day off: kept (calendar days, as the rule says) or moved to the next working day.
    filing_deadline_on_day_off: Literal["keep", "next_working_day"] = "keep"

    @model_validator(mode="after")
    def _run_before_deadline(self) -> "Calendar":
        if self.quarterly_run_day_after_quarter_end >= self.quarterly_filing_days_after_quarter_end:
            raise ValueError("quarterly_run_day_after_quarter_end must fall before the filing deadline "
                             "(quarterly_filing_days_after_quarter_end)")
        return self


class Institution(_Strict):
    name: str
    code: str
    kind: Literal["bank", "financing_leasing", "small_loan", "auto_leasing"]
    preparer: str
    calendar: Calendar
    # The institution's time zone (IANA name): schedules fire and partitions end at its midnight, not UTC's.
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _a_known_time_zone(cls, name: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{name!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None
        return name


class OverdueFloor(_Strict):
    days: int = Field(ge=0)
    tier: Tier


class Restructured(_Strict):
    floor_tier: Tier
    observation_min_periods: int = Field(ge=1)
    observation_min_months: int = Field(ge=1)
    restructured_again_floor_tier: Tier
    previously_non_performing_floor_tier: Tier
    no_upgrade_in_observation: bool


class Impairment(_Strict):
    credit_impaired_tier: Tier
    doubtful_ecl_ratio: Decimal = Field(gt=0, le=1)
    doubtful_tier: Tier
    loss_ecl_ratio: Decimal = Field(gt=0, le=1)
    loss_tier: Tier
    liquidation_tier: Tier

    @model_validator(mode="after")
    def _loss_above_doubtful(self) -> "Impairment":
        if self.loss_ecl_ratio <= self.doubtful_ecl_ratio:
            raise ValueError("loss_ecl_ratio must be above doubtful_ecl_ratio")
        return self


class Overrides(_Strict):
    soft_rules: list[str] = Field(default_factory=list)


def _rising_floors(floors: list[OverdueFloor]) -> list[OverdueFloor]:
    days = [f.days for f in floors]
    tiers = [f.tier for f in floors]
    if days != sorted(set(days)) or tiers != sorted(tiers):
        raise ValueError("floors must be listed by increasing days with non-decreasing tiers")
    return floors


class Classification(_Strict):
    overdue_floors: list[OverdueFloor]
    credit_card_products: list[str]
    credit_card_floors: list[OverdueFloor]
    technical_grace_days: int = Field(ge=0, le=30)
    refinance_floor_tier: Tier
    restructured: Restructured
    extended_floor_tier: Tier
    impairment: Impairment
    debtor_npl_share: Decimal = Field(ge=0, le=1)
    cross_institution_overdue_share: Decimal = Field(ge=0, le=1)
    cross_institution_floor_tier: Tier
    overrides: Overrides

    @field_validator("overdue_floors", "credit_card_floors")
    @classmethod
    def _floors_rise(cls, floors: list[OverdueFloor]) -> list[OverdueFloor]:
        return _rising_floors(floors)


class Regulatory2002(_Strict):
    rates: dict[Tier, Decimal]
    float: dict[Tier, Decimal]
    general_provision_rate: Decimal = Field(ge=0, le=1)

    @field_validator("float")
    @classmethod
    def _float_within_20pct(cls, floats: dict[int, Decimal]) -> dict[int, Decimal]:
        for tier, value in floats.items():
            if tier not in (3, 4) or abs(value) > Decimal("0.2"):
                raise ValueError("only 次级 (3) and 可疑 (4) may float, by at most ±0.2 (±20%)")
        return floats


class Standard2012(_Strict):
    rates: dict[Tier, Decimal]
    general_reserve_min_rate: Decimal = Field(ge=0, le=1)


class Thresholds(_Strict):
    npl_ratio_max: Decimal
    provision_coverage_min: Decimal
    loan_provision_ratio_min: Decimal


class EclStaging(_Strict):
    """IFRS 9 staging backstops: a loan is in stage 2 or 3 when any of its triggers fires."""
    stage2_dpd_over: int = Field(ge=0)          # more than this many days past due → stage 2 (30)
    stage2_tiers: list[Tier]                    # 关注 is at best stage 2
    rating_downgrade_notches: int = Field(ge=1)  # downgrade since origination, when ratings are present
    stage3_dpd_over: int = Field(ge=0)          # more than this many days past due → stage 3 (90)
    stage3_tiers: list[Tier]                    # every NPL tier is credit-impaired


# Month ends before this one that the history assets (tier_history, delinquency_history, portfolio_performance)
# may read from stored month-end states: their partition mapping is fixed at definition time, so a configured
# window must fit in it (pipelines/partitions.py HISTORY_WINDOW). Each window needs one month end more than its
# length (last month's matrix / allowance), so a window of at most HISTORY_MONTHS_BACK - 1 months.
HISTORY_MONTHS_BACK = 24


def _within_history(months: int) -> int:
    if months + 1 > HISTORY_MONTHS_BACK:
        raise ValueError(f"a window of {months} months reaches {months + 1} month ends back (with the month "
                         f"before), beyond the {HISTORY_MONTHS_BACK} month ends of history the pipeline declares "
                         f"(HISTORY_MONTHS_BACK); at most {HISTORY_MONTHS_BACK - 1}")
    return months


class EclMigration(_Strict):
    """Monthly tier migration matrix: cohort estimate from the book's own history, fallback when short."""
    history_months: int = Field(ge=1, le=120)
    min_observations: int = Field(ge=1)         # fewer loans observed leaving a tier → that row from the fallback
    default_tiers: list[Tier]                   # reaching any of these tiers is default (absorbing for PD)
    fallback_matrix: dict[Tier, list[Decimal]]  # one-month transition probabilities, tier → [to 1..5]

    _history_fits = field_validator("history_months")(_within_history)

    @field_validator("fallback_matrix")
    @classmethod
    def _rows_are_distributions(cls, matrix: dict[int, list[Decimal]]) -> dict[int, list[Decimal]]:
        if set(matrix) != {1, 2, 3, 4, 5}:
            raise ValueError("needs one row per tier 1..5")
        for tier, row in matrix.items():
            if len(row) != 5 or any(p < 0 for p in row) or sum(row) != 1:
                raise ValueError(f"row {tier} must be 5 non-negative probabilities summing to exactly 1")
        return matrix


class EclScenario(_Strict):
    weight: Decimal = Field(ge=0, le=1)
    pd_multiplier: Decimal = Field(ge=0)


class CollateralRecovery(_Strict):
    haircut: Decimal = Field(ge=0, le=1)        # forced-sale discount on the appraised value
    recovery_lag_months: int = Field(ge=0)      # from default to cash, discounted at the effective rate


class GuaranteeRecovery(_Strict):
    recovery_rate: Decimal = Field(ge=0, le=1)  # share of the guaranteed amount expected to be collected
    recovery_lag_months: int = Field(ge=0)


class EclLgd(_Strict):
    unsecured_lgd: Decimal = Field(ge=0, le=1)  # loss on the part not covered by collateral or guarantees
    floor: Decimal = Field(ge=0, le=1)
    recovery_cost_rate: Decimal = Field(ge=0, le=1)  # legal and disposal costs, share of the collateral proceeds
    collateral: dict[str, CollateralRecovery]   # by collateral_type; `other` for types not listed
    guarantees: dict[str, GuaranteeRecovery]    # by guarantee_type; `other` for types not listed

    @model_validator(mode="after")
    def _has_other(self) -> "EclLgd":
        for name, table in (("collateral", self.collateral), ("guarantees", self.guarantees)):
            if "other" not in table:
                raise ValueError(f"{name} needs an 'other' entry for types not listed")
        return self


class AgeingBucket(_Strict):
    max_dpd: int | None = Field(default=None, ge=0)  # bucket holds dpd ≤ max_dpd; None: everything above
    rate: Decimal = Field(ge=0, le=1)


class FlowRates(_Strict):
    """The simplified approach's loss rates from the book's own roll (flow) rates between delinquency buckets."""
    enabled: bool
    window_months: int = Field(ge=1, le=120)    # monthly roll rates averaged over this many month-end pairs
    min_observations: int = Field(ge=1)         # loans observed leaving each bucket of the chain, else the config matrix
    weight: Literal["balance", "count"]
    loss_bucket: str                            # reaching this delinquency bucket (or a write-off) is loss
    loss_bucket_rate: Decimal = Field(ge=0, le=1)  # loss rate of the loss bucket itself

    _window_fits = field_validator("window_months")(_within_history)


class SimplifiedApproach(_Strict):
    """Provision matrix by ageing bucket, always lifetime (lease receivables, CAS 22 / IFRS 9 5.5.15)."""
    enabled: bool
    products: list[str]
    ageing_buckets: list[AgeingBucket]
    flow_rates: FlowRates | None = None         # None: always the configured ageing_buckets matrix

    @field_validator("ageing_buckets")
    @classmethod
    def _buckets_rise(cls, buckets: list[AgeingBucket]) -> list[AgeingBucket]:
        bounded = [b.max_dpd for b in buckets[:-1]]
        if not buckets or buckets[-1].max_dpd is not None or None in bounded or bounded != sorted(set(bounded)):
            raise ValueError("buckets by increasing max_dpd, the last one open (max_dpd omitted)")
        return buckets


class DelinquencyBucket(_Strict):
    label: str
    max_dpd: int | None = Field(default=None, ge=0)  # bucket holds dpd ≤ max_dpd; None: everything above


class Ecl(_Strict):
    staging: EclStaging
    stage1_horizon_months: int = Field(ge=1)
    migration: EclMigration
    scenarios: dict[str, EclScenario]
    lgd: EclLgd
    prepayment_monthly_rate: Decimal = Field(ge=0, lt=1)  # share of the scheduled balance prepaid each month
    simplified_approach: SimplifiedApproach
    sensitivity_pd_shock: Decimal = Field(ge=0, le=1)

    @field_validator("scenarios")
    @classmethod
    def _weights_sum_to_one(cls, scenarios: dict[str, EclScenario]) -> dict[str, EclScenario]:
        if not scenarios or sum(s.weight for s in scenarios.values()) != 1:
            raise ValueError("scenario weights must sum to exactly 1")
        return scenarios


class ConcentrationLimits(_Strict):
    """Shares of net assets; a limit left out does not apply to the profile."""
    single_borrower: Decimal | None = Field(default=None, gt=0)
    single_group: Decimal | None = Field(default=None, gt=0)
    single_related_party: Decimal | None = Field(default=None, gt=0)
    all_related_parties: Decimal | None = Field(default=None, gt=0)
    borrower_with_related: Decimal | None = Field(default=None, gt=0)


class Concentration(_Strict):
    net_assets: Decimal = Field(gt=0)           # yuan, the institution's own figure (prior year-end where required)
    net_assets_date: date
    profiles: dict[str, ConcentrationLimits]    # by institution kind


class Provisioning(_Strict):
    # The name of an installed provisioning model (entry-point group postloan.provisioning_models: the built-in
    # regulatory_2002, standard_2012 and ecl, or a plugin's); checked against the installed names on load.
    booked_method: str

    @field_validator("booked_method")
    @classmethod
    def _an_installed_model(cls, name: str) -> str:
        installed = installed_provisioning_models()
        if name not in installed:
            raise ValueError(f"{name!r} is not an installed provisioning model; installed: {', '.join(installed)} "
                             "(a plugin's model is installed with its distribution: docs/plugins.md)")
        return name
    regulatory_2002: Regulatory2002
    standard_2012: Standard2012
    thresholds: Thresholds
    targets: Thresholds | None = None  # the institution's own, usually stricter than the regulator's
    ecl: Ecl
    concentration: Concentration
    # Delinquency (ageing) buckets by days past due: roll rates, vintage curves, the flow-rate provision matrix.
    ageing_buckets: list[DelinquencyBucket]

    @field_validator("ageing_buckets")
    @classmethod
    def _delinquency_buckets_rise(cls, buckets: list[DelinquencyBucket]) -> list[DelinquencyBucket]:
        bounded = [b.max_dpd for b in buckets[:-1]]
        labels = [b.label for b in buckets]
        if (not buckets or buckets[-1].max_dpd is not None or None in bounded or bounded != sorted(set(bounded))
                or len(set(labels)) != len(labels) or {"closed", "written off"} & set(labels)):
            raise ValueError("buckets by increasing max_dpd with distinct labels (not 'closed' or 'written off'), "
                             "the last one open (max_dpd omitted)")
        return buckets

    @model_validator(mode="after")
    def _all_tiers_have_rates(self) -> "Provisioning":
        for name, rates in (("regulatory_2002", self.regulatory_2002.rates), ("standard_2012", self.standard_2012.rates)):
            missing = {1, 2, 3, 4, 5} - set(rates)
            if missing:
                raise ValueError(f"{name}.rates lacks tiers {sorted(missing)}")
        flow = self.ecl.simplified_approach.flow_rates
        labels = [b.label for b in self.ageing_buckets]
        if flow is not None and flow.loss_bucket not in labels[1:]:
            raise ValueError(f"ecl.simplified_approach.flow_rates.loss_bucket {flow.loss_bucket!r} must be one of "
                             f"the ageing_buckets after the first: {labels[1:]}")
        return self


class RetentionClass(_Strict):
    years: int | None = Field(default=None, ge=1)
    from_: Literal["received", "period_end", "maturity"] = Field(alias="from")


class IntegrityAudit(_Strict):
    """How the scheduled integrity audit re-hashes the archive."""
    mode: Literal["full", "sample"] = "full"
    # sample mode: enough objects to find at least one corrupt object with this probability
    # when at least this share of objects is corrupt
    confidence: float = Field(default=0.99, gt=0, lt=1)
    corruption_rate: float = Field(default=0.01, gt=0, le=1)
    batch_size: int = Field(default=200, ge=1)
    cron: str = "0 3 * * 0"


class Retention(_Strict):
    mode: Literal["COMPLIANCE", "GOVERNANCE"]
    permanent_years: int = Field(ge=1)
    classes: dict[str, RetentionClass]
    hold_kinds: dict[str, str] = Field(default_factory=lambda: {"litigation": "诉讼", "disposal": "处置"})
    integrity_audit: IntegrityAudit = Field(default_factory=IntegrityAudit)

    @model_validator(mode="after")
    def _archive_classes_present(self) -> "Retention":
        # The archive keeps these records itself; each needs a retention rule.
        missing = {"quarantine", "manifest", "legal_hold", "access_log"} - set(self.classes)
        if missing:
            raise ValueError(f"classes lacks {sorted(missing)}")
        return self


ArchiveAction = Literal["find", "get", "verify", "inputs", "hold", "release", "extend", "audit", "rebuild",
                        "bundle", "read_log", "export_log", "approve"]
# approve: record a maker-checker decision on a draft report (plugins/reports/approval.py)
WRITE_ACTIONS = frozenset({"hold", "release", "extend", "rebuild", "export_log", "approve"})


class Role(_Strict):
    description: str
    see_identifiers: bool
    read_only: bool = False
    actions: list[ArchiveAction]

    @model_validator(mode="after")
    def _read_only_cannot_write(self) -> "Role":
        writes = sorted(WRITE_ACTIONS & set(self.actions))
        if self.read_only and writes:
            raise ValueError(f"a read-only role may not {', '.join(writes)}")
        return self


class Access(_Strict):
    """Archive roles: what each may do, and whether it sees borrower identifiers unmasked."""
    masked_fields: list[str]
    roles: dict[str, Role]


class Buckets(_Strict):
    inbox: str
    archive: str
    work: str


class LocalServer(_Strict):
    master_port: int
    volume_port: int
    filer_port: int


class Storage(_Strict):
    endpoint: str
    secure: bool
    region: str
    access_key_env: str
    secret_key_env: str
    local_access_key: str | None = None  # deprecated: the local server's credentials are generated into the
    local_secret_key: str | None = None  # state folder (plugins/archive/identities.py); no secret in config/
    buckets: Buckets
    local_server: LocalServer
    catalog_url: str | None = None


class PreviousFiling(_Strict):
    """How a statement's prior-period column is matched with the borrower's earlier filing."""
    lookback_months: int = Field(ge=1, le=36)      # monthly partitions searched for the earlier filing
    fiscal_year_end: str = Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")  # MM-DD


class Ocr(_Strict):
    """The optional OCR extractor for image-only PDFs (off: they are quarantined as needs_ocr)."""
    enabled: bool
    engine: str = Field(min_length=1)              # an extractor of the postloan.extractors entry points
    dpi: int = Field(ge=72, le=600)
    max_pages: int = Field(ge=1, le=50)
    min_confidence: float = Field(gt=0, le=1)      # terms read with less are named in the warnings


class DocumentTriage(_Strict):
    """Limits of reading one document at triage (config/documents.yaml `triage`), and what active content does."""
    max_decompressed_bytes: int = Field(gt=0)  # all streams but images, inflated and summed
    max_image_pixels: int = Field(gt=0)        # one image's width × height
    seconds: float = Field(gt=0, le=3600)      # wall-clock time of one document's triage (its worker process)
    memory_mib: int = Field(ge=256)            # address space of that worker process
    active_content: Literal["quarantine", "flag"]  # flag: archived, the ingest row says what was found
    # an agreement that lends nothing (research, services, purchase): archived as non_loan_agreement, or quarantined
    non_loan_agreements: Literal["archive", "quarantine"] = "archive"


class Documents(_Strict):
    max_bytes: int = Field(gt=0)
    max_pages: int = Field(gt=0)
    triage: DocumentTriage
    previous_filing: PreviousFiling
    ocr: Ocr
    parent_company_statements: bool = False  # lay out 母公司 pages too when consolidated ones are printed


class Sample(_Strict):
    seed: int
    start: date
    end: date
    borrowers: int = Field(ge=1)
    contracts: int = Field(ge=1)
    # realistic: few defaults, every tier populated (the demo's default); stressed: the historical book the
    # tests' hand numbers are written on (plugins/sample/simulate.py SCENARIO_QUOTAS)
    scenario: Literal["realistic", "stressed"] = "realistic"


Severity = Literal["low", "medium", "high"]


class Signal(_Strict):
    severity: Severity
    threshold: Decimal | None = None


class WatchAction(_Strict):
    action: str
    role: str


class EarlyWarning(_Strict):
    lookback_months: int = Field(ge=1, le=60)
    overdue_event_grace_days: int = Field(ge=0, le=30)
    signals: dict[str, Signal]
    overdue_with_deterioration_severity: Severity
    watch_list: dict[Literal["special_mention", "restructured_in_observation", "high_severity_signal"], WatchAction]

    @model_validator(mode="after")
    def _thresholds_present(self) -> "EarlyWarning":
        needs = {"dpd_over_90", "repeated_overdue", "maturity_without_renewal", "collateral_value_down",
                 "loan_to_value_high", "revenue_down", "debt_to_asset_covenant", "statements_overdue"}
        lacking = sorted(n for n in needs if n in self.signals and self.signals[n].threshold is None)
        if lacking:
            raise ValueError(f"signals {lacking} need a threshold")
        overdue = self.signals.get("statements_overdue")
        if overdue is not None and not (overdue.threshold == int(overdue.threshold) and 1 <= overdue.threshold <= 24):
            raise ValueError("signals.statements_overdue.threshold is the latest statement's greatest age in whole "
                             "months (1–24)")
        missing = {"special_mention", "restructured_in_observation", "high_severity_signal"} - set(self.watch_list)
        if missing:
            raise ValueError(f"watch_list lacks {sorted(missing)}")
        return self


class FirstInspection(_Strict):
    within_working_days: int = Field(ge=1, le=60)


class PeriodicInspection(_Strict):
    months_by_tier: dict[Tier, int]

    @field_validator("months_by_tier")
    @classmethod
    def _every_tier(cls, months: dict[int, int]) -> dict[int, int]:
        if set(months) != {1, 2, 3, 4, 5} or any(not 1 <= m <= 12 for m in months.values()):
            raise ValueError("give every tier 1–5 a frequency of 1–12 months")
        return months


class SpecialInspection(_Strict):
    within_days: int = Field(ge=1, le=90)
    triggers: list[Literal["overdue", "downgrade"]]


class Inspections(_Strict):
    """config/inspections.yaml: when post-loan inspections (贷后检查) fall due."""
    first_inspection: FirstInspection
    periodic: PeriodicInspection
    special: SpecialInspection
    overdue_bands: list[int] = Field(min_length=1)

    @field_validator("overdue_bands")
    @classmethod
    def _rising(cls, bands: list[int]) -> list[int]:
        if bands != sorted(set(bands)) or bands[0] < 1:
            raise ValueError("bands must be rising day counts from 1")
        return bands


class DunningStage(_Strict):
    """One rung of the dunning ladder (config/collections.yaml `stages`)."""
    code: str = Field(pattern=r"^[a-z_]+$")
    name: str
    from_dpd: int = Field(ge=1)
    action: str
    channels: list[str] = Field(min_length=1)
    action_within_days: int = Field(ge=0, le=180)
    collectors: list[str] = Field(min_length=1)


class PenaltyDefault(_Strict):
    """A product's default penalty rate: the contract rate raised by a share, or an annual rate of its own."""
    over_contract_rate: float | None = Field(default=None, ge=0, le=5)
    annual_rate: float | None = Field(default=None, ge=0, le=1)
    compounding: bool

    @model_validator(mode="after")
    def _one_rate(self) -> "PenaltyDefault":
        if (self.over_contract_rate is None) == (self.annual_rate is None):
            raise ValueError("give exactly one of over_contract_rate or annual_rate")
        return self


class PenaltyInterest(_Strict):
    day_count_basis: Literal[360, 365]
    defaults: dict[str, PenaltyDefault] = Field(min_length=1)


class Collections(_Strict):
    """config/collections.yaml: how collection results are judged, cases run and penalty interest accrued."""
    promise_kept_within_days: int = Field(ge=1, le=90)
    channels: list[str] = Field(default_factory=lambda: ["短信", "电话", "上门", "律师函", "诉讼", "转让", "核销"],
                                min_length=1)
    stages: list[DunningStage] = Field(default_factory=list)
    legal_after_dpd: int = Field(default=90, ge=1)
    legal_steps: list[str] = Field(default_factory=lambda: ["诉讼"])
    outcomes: dict[str, str] = Field(default_factory=lambda: {"cured": "逾期已结清", "结清": "合同结清",
                                                              "核销": "核销", "转让": "转让"})
    penalty_interest: PenaltyInterest | None = None

    @model_validator(mode="after")
    def _ladder(self) -> "Collections":
        starts = [s.from_dpd for s in self.stages]
        if starts != sorted(set(starts)):
            raise ValueError("stages must rise strictly in from_dpd")
        unknown = sorted({c for s in self.stages for c in s.channels} | set(self.legal_steps) - set(self.channels))
        unknown = [c for c in unknown if c not in self.channels]
        if unknown:
            raise ValueError(f"stage channels or legal_steps not in channels: {unknown}")
        return self


class DisposalSettings(_Strict):
    """config/monitoring.yaml `disposal`: which collection actions start a disposal step, the automatic hold."""
    litigation_action: str
    transfer_action: str
    write_off_action: str
    hold_kind: str
    hold_actor: str
    hold_role: str
    write_off_reasons: list[str] = Field(min_length=1)
    recovery_sources: dict[str, Literal["written_off", "guarantor", "collateral"]] = Field(min_length=1)
    case_stages: list[str] = Field(min_length=1)


class GuarantorSettings(_Strict):
    non_performing_tier: Tier
    deterioration_signals: list[str]


class CollateralSettings(_Strict):
    revaluation_months: dict[str, int]
    default_months: int = Field(ge=1, le=120)
    insurance_warning_days: int = Field(ge=0, le=365)


class UseOfFundsSettings(_Strict):
    forbidden_categories: list[str]
    allowed_by_purpose: dict[str, list[str]]
    back_to_borrower: bool
    entrusted_payment_min_share: Decimal = Field(gt=0, le=1)


class VehicleSettings(_Strict):
    gps_silent_days: int = Field(ge=1, le=365)
    expiry_warning_days: int = Field(ge=0, le=365)
    return_grace_days: int = Field(ge=0, le=365)


class EventSettings(_Strict):
    types: dict[str, Severity] = Field(min_length=1)
    event_lookback_months: int = Field(ge=1, le=60)
    severities: list[Severity]
    findings: dict[str, Severity] = Field(min_length=1)
    findings_lookback_months: int = Field(ge=1, le=24)


class DispositionSettings(_Strict):
    statuses: list[str] = Field(min_length=2)
    escalate_after_days: dict[Severity, int]
    escalate_to: str


class Monitoring(_Strict):
    """config/monitoring.yaml: disposal, guarantors and collateral, use of funds, vehicles, events, dispositions."""
    disposal: DisposalSettings
    guarantors: GuarantorSettings
    collateral: CollateralSettings
    use_of_funds: UseOfFundsSettings
    vehicles: VehicleSettings
    events: EventSettings
    dispositions: DispositionSettings


NOTICE_KINDS = ("repayment_reminder", "overdue_notice", "demand_letter", "maturity_reminder", "vehicle_recovery")
# The fields a notice template may name (plugins/notices/select.py fills every one of them).
NOTICE_FIELDS = frozenset({
    "institution", "borrower_name", "contract_id", "product_name", "notice_id", "notice_date", "reply_by",
    "due_date", "amount_due", "amount_due_words", "maturity_date", "balance", "balance_words", "dpd",
    "overdue_since", "overdue_principal", "overdue_interest", "penalty_interest", "overdue_total",
    "overdue_total_words", "leased_asset", "reason"})


class NoticeKind(_Strict):
    """One kind of notice (config/notices.yaml `kinds`): when it is issued and its template."""
    name: str
    title: str
    paragraphs: list[str] = Field(min_length=1)
    lead_days: int | None = Field(default=None, ge=1, le=120)

    @field_validator("paragraphs")
    @classmethod
    def _known_fields(cls, paragraphs: list[str]) -> list[str]:
        import string

        try:
            named = {field for text in paragraphs for _, field, _, _ in string.Formatter().parse(text) if field}
        except ValueError as exc:
            raise ValueError(f"a paragraph is not a valid template: {exc}") from None
        unknown = sorted(named - NOTICE_FIELDS)
        if unknown:
            raise ValueError(f"names unknown field(s) {unknown}; fields: {sorted(NOTICE_FIELDS)}")
        return paragraphs
    stage: str | None = None
    products: list[str] | None = None
    vehicles: list[str] | None = None
    recover_after_dpd: int | None = Field(default=None, ge=1)


class Notices(_Strict):
    """config/notices.yaml: the notices a month's run issues, their templates and their delivery."""
    reply_within_working_days: int = Field(ge=1, le=60)
    kinds: dict[str, NoticeKind]
    product_names: dict[str, str] = Field(default_factory=lambda: {"loan": "借款", "finance_lease": "融资租赁"})

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: dict[str, NoticeKind]) -> dict[str, NoticeKind]:
        unknown = sorted(set(kinds) - set(NOTICE_KINDS))
        if unknown:
            raise ValueError(f"unknown notice kind(s) {unknown}; known: {list(NOTICE_KINDS)}")
        return kinds


ColumnType = Literal["text", "date", "cents", "int", "decimal", "bool"]
# The core system's extract tables; the loan book reads all of them (plugins/portfolio/loanbook.py).
EXTRACT_TABLES = ("borrowers", "loans", "schedules", "payments", "collateral", "guarantors")


class ColumnSchema(_Strict):
    """One column of a core table: what it holds and whether a cell may be empty."""
    type: ColumnType
    nullable: bool = False


class TableSchema(_Strict):
    columns: dict[str, ColumnSchema] = Field(min_length=1)  # in the CSV's column order


Encoding = Literal["detect", "utf-8", "gb18030"]
Delimiter = Literal[",", ";", "|", "\t"]


class TableReading(_Strict):
    """How one delivered table file is read before its values are typed (schema.yaml `reading`)."""
    encoding: Encoding          # detect: UTF-8, else GB18030; or the one declared
    delimiter: Delimiter
    max_bytes: int = Field(gt=0)  # a larger file is refused unread
    max_rows: int = Field(gt=0)   # a file with more data rows is refused unparsed


class TableReadingOverride(_Strict):
    encoding: Encoding | None = None
    delimiter: Delimiter | None = None
    max_bytes: int | None = Field(default=None, gt=0)
    max_rows: int | None = Field(default=None, gt=0)


class Reading(_Strict):
    default: TableReading
    tables: dict[str, TableReadingOverride] = Field(default_factory=dict)  # any delivered table, optional ones too

    @field_validator("tables")
    @classmethod
    def _table_names(cls, tables: dict[str, TableReadingOverride]) -> dict[str, TableReadingOverride]:
        bad = [name for name in tables if not re.fullmatch(r"[a-z][a-z0-9_]*", name)]
        if bad:
            raise ValueError(f"table names are the file names without .csv (lower case, digits, _): {bad}")
        return tables

    def for_table(self, name: str) -> TableReading:
        override = self.tables.get(name)
        if override is None:
            return self.default
        return self.default.model_copy(update=override.model_dump(exclude_none=True))


class ExtractSchema(_Strict):
    """config/schema.yaml: the declared schema of each core table, typed once by plugins/portfolio/typed.py,
    and how every delivered table file is read (`reading`: encoding, delimiter, size limits)."""
    tables: dict[str, TableSchema]
    reading: Reading

    @field_validator("tables")
    @classmethod
    def _every_extract_table(cls, tables: dict[str, TableSchema]) -> dict[str, TableSchema]:
        missing = [t for t in EXTRACT_TABLES if t not in tables]
        if missing:
            raise ValueError(f"lacks the extract tables {missing}")
        return tables


def installed_provisioning_models() -> list[str]:
    """Names of the provisioning models installed (entry points, read from the distributions' metadata: no plugin
    code is imported), sorted."""
    from importlib.metadata import entry_points

    return sorted({ep.name for ep in entry_points(group="postloan.provisioning_models")})


class PluginGroup(_Strict):
    """One entry-point group in config/plugins.yaml: plugins switched off, the order they run in (those named
    first, in that order; the others after them by name), and each plugin's own settings (validated by the
    plugin's settings model when it is loaded, plugins/registry.py)."""
    disabled: list[str] = Field(default_factory=list)
    order: list[str] = Field(default_factory=list)
    settings: dict[str, dict] = Field(default_factory=dict)


class Plugins(_Strict):
    """config/plugins.yaml: one section per entry-point group (docs/plugins.md)."""
    classification_rules: PluginGroup = PluginGroup()
    book_rules: PluginGroup = PluginGroup()
    provisioning_models: PluginGroup = PluginGroup()
    extractors: PluginGroup = PluginGroup()
    validators: PluginGroup = PluginGroup()
    publishers: PluginGroup = PluginGroup()
    archive_backends: PluginGroup = PluginGroup()
    institution_profiles: PluginGroup = PluginGroup()


class PostloanConfig(_Strict):
    config_dir: Path
    institution: Institution
    classification: Classification
    early_warning: EarlyWarning
    provisioning: Provisioning
    retention: Retention
    storage: Storage
    documents: Documents
    sample: Sample
    access: Access
    inspections: Inspections
    collections: Collections
    notices: Notices
    monitoring: Monitoring
    extract_schema: ExtractSchema  # schema.yaml ("schema" would shadow pydantic's BaseModel.schema)
    plugins: Plugins

    @property
    def digest(self) -> str:
        return config_digest(self.config_dir)


_FILES: dict[str, type[BaseModel]] = {
    "institution": Institution,
    "classification": Classification,
    "early_warning": EarlyWarning,
    "provisioning": Provisioning,
    "retention": Retention,
    "storage": Storage,
    "documents": Documents,
    "sample": Sample,
    "access": Access,
    "inspections": Inspections,
    "collections": Collections,
    "notices": Notices,
    "monitoring": Monitoring,
    "schema": ExtractSchema,
    "plugins": Plugins,
}
# Files whose PostloanConfig field is not named after the file.
_FIELD_OF_FILE = {"schema": "extract_schema"}

M = TypeVar("M", bound=BaseModel)
# libyaml's loader is ten times faster and every asset step loads the configuration; same safe subset.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml_model(path: Path, model: type[M]) -> M:
    """Load one YAML file into `model`; errors name the file, the key and the problem."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    try:
        return model.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        problems = "; ".join(f"key '{_key_path(e['loc'])}': {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {problems}") from None


def _key_path(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def load_config(config_dir: Path | str | None = None) -> PostloanConfig:
    """Load and validate every file of the configuration folder."""
    folder = Path(config_dir) if config_dir else DEFAULT_CONFIG_DIR
    parts = {_FIELD_OF_FILE.get(name, name): load_yaml_model(folder / f"{name}.yaml", model)
             for name, model in _FILES.items()}
    return PostloanConfig(config_dir=folder.resolve(), **parts)


def load_schema(config_dir: Path | str | None = None) -> ExtractSchema:
    """config/schema.yaml alone (the loan book needs no other file); errors name the file and the key."""
    folder = Path(config_dir) if config_dir else DEFAULT_CONFIG_DIR
    return load_yaml_model(folder / "schema.yaml", ExtractSchema)


def config_digest(config_dir: Path) -> str:
    """SHA-256 over every YAML file of the folder (names and bytes), for report manifests."""
    digest = hashlib.sha256()
    for path in sorted(Path(config_dir).glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
