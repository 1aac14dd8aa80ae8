"""A provisioning model a lender may book: one flat rate on every loan's balance."""
from __future__ import annotations

from decimal import Decimal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from plugins.money import cents_times_rate_array  # the host's one rounding rule (half up at the cent)


class FlatRateSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rate: Decimal = Field(gt=0, lt=1)


class FlatRate:
    name = "flat_rate"
    settings_model = FlatRateSettings

    def __init__(self, settings: FlatRateSettings) -> None:
        self.settings = settings

    def provisions(self, book: pd.DataFrame, config) -> pd.Series:
        cents = cents_times_rate_array(book["balance_cents"].to_numpy(dtype="int64"), self.settings.rate)
        return pd.Series(cents, index=book.index, dtype="int64")
