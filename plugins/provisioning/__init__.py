"""Provisioning methods, expected credit loss, the allowance movement and the regulatory indicators."""
from plugins.provisioning.ecl import EclInputs, ExpectedCreditLoss, LoanTerms, expected_credit_loss, sensitivity
from plugins.provisioning.methods import (
    DEFAULT_MODELS,
    GeneralReserve2012,
    Indicators,
    ProvisioningModel,
    Regulatory2002,
    Standard2012,
    general_reserve_2012,
    indicators,
)

__all__ = ["DEFAULT_MODELS", "EclInputs", "ExpectedCreditLoss", "GeneralReserve2012", "Indicators", "LoanTerms", "ProvisioningModel",
           "Regulatory2002", "Standard2012", "expected_credit_loss", "general_reserve_2012", "indicators", "sensitivity"]
