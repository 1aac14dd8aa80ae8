"""An institution's own classification rule: a large exposure that falls overdue at all is at least 关注."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LargeExposureSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min_balance_yuan: int = Field(gt=0)   # what counts as a large exposure at this lender
    min_dpd: int = Field(default=1, ge=1)  # overdue by at least this many days
    floor_tier: int = Field(default=2, ge=1, le=5)


class LargeExposureOverdue:
    """Whole-book SQL rule over `book` (the columns of LoanFacts): contract_id, floor, facts per loan it fires on."""
    name = "large_exposure_overdue"
    article = "institution policy: a large exposure overdue at all is at least 关注"
    settings_model = LargeExposureSettings

    def __init__(self, settings: LargeExposureSettings) -> None:
        self.settings = settings

    def sql(self, config) -> str:
        s = self.settings
        return (f"SELECT contract_id, {s.floor_tier} AS floor, "
                f"json_object('balance_cents', balance_cents, 'dpd', dpd, 'min_balance_yuan', {s.min_balance_yuan}) "
                f"AS facts FROM book WHERE balance_cents >= {s.min_balance_yuan * 100} AND dpd >= {s.min_dpd}")
