"""config/validation.yaml: GX expectation suites per extract frame, validated on load.

Every expectation is also built as a real GX Expectation at load time, so a wrong
expectation type or kwarg is reported against the file and key path, not mid-run.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from plugins.config import DEFAULT_CONFIG_DIR, load_yaml_model

Severity = Literal["blocking", "warning"]
ColumnType = Literal["number", "integer", "date"]

DEFAULT_VALIDATION_PATH = DEFAULT_CONFIG_DIR / "validation.yaml"
# Only these take a value_set that can be computed from another frame at run time.
_SET_EXPECTATIONS = {"expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set"}
_BETWEEN = "expect_column_values_to_be_between"
MONTH_END_PLACEHOLDER = datetime(2000, 1, 31)  # stands in for the month end when a spec is checked at load


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExpectationSpec(_Strict):
    type: str = Field(pattern=r"^expect_[a-z0-9_]+$")
    kwargs: dict[str, Any] = Field(default_factory=dict)
    severity: Severity
    description: str = Field(min_length=1)
    value_set_from: str | None = Field(default=None, pattern=r"^[A-Za-z_]\w*\.[A-Za-z_]\w*$")
    # month_end: kwargs.max_value is the reporting month's last day, filled in at run time (a date that
    # lies after the month end cannot be in a month-end extract); left out when no month is given.
    max_value_from: Literal["month_end"] | None = None

    @model_validator(mode="after")
    def _buildable_by_gx(self) -> "ExpectationSpec":
        if self.value_set_from:
            if self.type not in _SET_EXPECTATIONS:
                raise ValueError(f"value_set_from only works with {sorted(_SET_EXPECTATIONS)}")
            if "value_set" in self.kwargs:
                raise ValueError("give either kwargs.value_set or value_set_from, not both")
        if self.max_value_from:
            if self.type != _BETWEEN:
                raise ValueError(f"max_value_from only works with {_BETWEEN}")
            if "max_value" in self.kwargs:
                raise ValueError("give either kwargs.max_value or max_value_from, not both")
        build_expectation(self, value_set=[] if self.value_set_from else None,
                          max_value=MONTH_END_PLACEHOLDER if self.max_value_from else None)
        return self

    @property
    def column(self) -> str | None:
        """The column(s) the expectation looks at, for reports."""
        kw = self.kwargs
        if "column" in kw:
            return str(kw["column"])
        if "column_A" in kw:
            return f"{kw['column_A']}, {kw.get('column_B')}"
        if "column_list" in kw:
            return ", ".join(str(c) for c in kw["column_list"])
        return None


class FrameSuite(_Strict):
    id_columns: list[str] = Field(min_length=1)
    types: dict[str, ColumnType] = Field(default_factory=dict)
    parse_severity: Severity = "blocking"
    # An optional table (e.g. the inspection log) is validated when delivered and skipped when not.
    optional: bool = False
    expectations: list[ExpectationSpec] = Field(min_length=1)


class ValidationConfig(_Strict):
    frames: dict[str, FrameSuite] = Field(min_length=1)

    @model_validator(mode="after")
    def _sources_exist(self) -> "ValidationConfig":
        for name, suite in self.frames.items():
            for index, spec in enumerate(suite.expectations):
                source = (spec.value_set_from or "").split(".")[0]
                if source and source not in self.frames:
                    raise ValueError(f"frames.{name}.expectations.{index}.value_set_from: "
                                     f"frame '{source}' is not declared under frames")
        return self


def build_expectation(spec: ExpectationSpec, value_set: list[str] | None = None, meta: dict | None = None,
                      max_value: datetime | None = None) -> Any:
    """The GX Expectation for `spec`; `value_set` fills in a set computed from another frame, `max_value`
    the month end of a max_value_from: month_end spec."""
    from great_expectations.expectations.registry import get_expectation_impl  # GX import is slow: defer

    try:
        cls = get_expectation_impl(spec.type)
    except Exception:
        raise ValueError(f"'{spec.type}' is not a Great Expectations expectation type") from None
    kwargs = dict(spec.kwargs)
    if value_set is not None:
        kwargs["value_set"] = value_set
    if max_value is not None:
        kwargs["max_value"] = max_value
    try:
        return cls(**kwargs, meta=meta or {})
    except Exception as exc:  # GX raises pydantic (v1-compat) errors for bad kwargs
        raise ValueError(f"{spec.type} rejects kwargs {spec.kwargs}: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().replace("\n", " ")
    return text[:300]


def load_validation_config(path: Path | str = DEFAULT_VALIDATION_PATH) -> ValidationConfig:
    """Load config/validation.yaml; a bad file raises ConfigError naming the file, key path and problem."""
    return load_yaml_model(Path(path), ValidationConfig)
