"""Request and response models of the coupons API."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [
        {"campaign_id": "welcome-back", "count": 1000, "prefix": "WB"}]})

    campaign_id: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,64}$")]
    count: Annotated[int, Field(strict=True, ge=1, le=100_000)]
    prefix: Annotated[str, Field(pattern=r"^[A-Z0-9]{0,16}$")] = ""


class Codes(BaseModel):
    codes: list[str]


class CouponUse(BaseModel):
    receipt_id: str
    created_at: str
    released_at: str | None = None


class CouponStatus(BaseModel):
    code: str
    campaign_id: str
    kind: str
    status: str
    uses: int
    max_uses: int | None = None
    max_uses_per_account: int | None = None
    history: list[CouponUse]
