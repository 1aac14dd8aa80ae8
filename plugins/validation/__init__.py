"""Data-quality validation of the monthly core-system extract with Great Expectations.

Suites live in config/validation.yaml; a failing *blocking* expectation stops publication.
"""
from plugins.validation.config import (
    DEFAULT_VALIDATION_PATH,
    ExpectationSpec,
    FrameSuite,
    ValidationConfig,
    load_validation_config,
)
from plugins.validation.gx_suites import typed_copy, validate_extract
from plugins.validation.outcome import FileProblem, RowFailure, ValidationOutcome

__all__ = [
    "DEFAULT_VALIDATION_PATH",
    "ExpectationSpec",
    "FileProblem",
    "FrameSuite",
    "RowFailure",
    "ValidationConfig",
    "ValidationOutcome",
    "load_validation_config",
    "typed_copy",
    "validate_extract",
]
