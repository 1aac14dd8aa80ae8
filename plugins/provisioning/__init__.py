"""Provisioning methods and regulatory indicators."""
from plugins.provisioning.methods import DEFAULT_MODELS, Indicators, ProvisioningModel, Regulatory2002, Standard2012, indicators

__all__ = ["DEFAULT_MODELS", "Indicators", "ProvisioningModel", "Regulatory2002", "Standard2012", "indicators"]
