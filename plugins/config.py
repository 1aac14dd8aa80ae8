"""Configuration: YAML files under config/, validated on load.

Every threshold and rate lives here, never in code. A bad file raises
ConfigError naming the file, the key path and the problem.
"""
from __future__ import annotations

import hashlib
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


class Institution(_Strict):
    name: str
    code: str
    kind: Literal["bank", "financing_leasing", "small_loan", "auto_leasing"]
    preparer: str
    calendar: Calendar


class OverdueFloor(_Strict):
    days: int = Field(ge=0)
    tier: Tier


class Restructured(_Strict):
    floor_tier: Tier
    observation_min_periods: int = Field(ge=1)
    observation_min_months: int = Field(ge=1)


class Classification(_Strict):
    overdue_floors: list[OverdueFloor]
    technical_grace_days: int = Field(ge=0, le=30)
    refinance_floor_tier: Tier
    restructured: Restructured
    extended_floor_tier: Tier
    debtor_npl_share: Decimal = Field(ge=0, le=1)

    @field_validator("overdue_floors")
    @classmethod
    def _floors_rise(cls, floors: list[OverdueFloor]) -> list[OverdueFloor]:
        days = [f.days for f in floors]
        tiers = [f.tier for f in floors]
        if days != sorted(set(days)) or tiers != sorted(tiers):
            raise ValueError("floors must be listed by increasing days with non-decreasing tiers")
        return floors


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


class Provisioning(_Strict):
    booked_method: Literal["regulatory_2002", "standard_2012"]
    regulatory_2002: Regulatory2002
    standard_2012: Standard2012
    thresholds: Thresholds

    @model_validator(mode="after")
    def _all_tiers_have_rates(self) -> "Provisioning":
        for name, rates in (("regulatory_2002", self.regulatory_2002.rates), ("standard_2012", self.standard_2012.rates)):
            missing = {1, 2, 3, 4, 5} - set(rates)
            if missing:
                raise ValueError(f"{name}.rates lacks tiers {sorted(missing)}")
        return self


class RetentionClass(_Strict):
    years: int | None = Field(default=None, ge=1)
    from_: Literal["received", "period_end", "maturity"] = Field(alias="from")


class Retention(_Strict):
    mode: Literal["COMPLIANCE", "GOVERNANCE"]
    permanent_years: int = Field(ge=1)
    classes: dict[str, RetentionClass]


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
    local_access_key: str
    local_secret_key: str
    buckets: Buckets
    local_server: LocalServer
    catalog_url: str | None = None


class Documents(_Strict):
    max_bytes: int = Field(gt=0)
    max_pages: int = Field(gt=0)


class Sample(_Strict):
    seed: int
    start: date
    end: date
    borrowers: int = Field(ge=1)
    contracts: int = Field(ge=1)


class PostloanConfig(_Strict):
    config_dir: Path
    institution: Institution
    classification: Classification
    provisioning: Provisioning
    retention: Retention
    storage: Storage
    documents: Documents
    sample: Sample

    @property
    def digest(self) -> str:
        return config_digest(self.config_dir)


_FILES: dict[str, type[BaseModel]] = {
    "institution": Institution,
    "classification": Classification,
    "provisioning": Provisioning,
    "retention": Retention,
    "storage": Storage,
    "documents": Documents,
    "sample": Sample,
}

M = TypeVar("M", bound=BaseModel)


def load_yaml_model(path: Path, model: type[M]) -> M:
    """Load one YAML file into `model`; errors name the file, the key and the problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
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
    parts = {name: load_yaml_model(folder / f"{name}.yaml", model) for name, model in _FILES.items()}
    return PostloanConfig(config_dir=folder.resolve(), **parts)


def config_digest(config_dir: Path) -> str:
    """SHA-256 over every YAML file of the folder (names and bytes), for report manifests."""
    digest = hashlib.sha256()
    for path in sorted(Path(config_dir).glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
