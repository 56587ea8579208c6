"""Request and response models of the gift certificates API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from rules import Money, Rfc3339


class IssueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [
        {"count": 100, "nominal": 300000, "expires_at": "2027-12-31T23:59:59+03:00", "single_use": False,
         "active": False}]})

    count: Annotated[int, Field(strict=True, ge=1, le=10_000)]
    nominal: Annotated[Money, Field(gt=0)]
    expires_at: Rfc3339 | None = None  # RFC 3339 text with an offset, as issued_at; not a timestamp
    single_use: bool = Field(default=False, strict=True)
    active: bool = Field(default=False, strict=True)


class Certificate(BaseModel):
    code: str
    status: Literal["issued", "active", "used", "expired", "void"]
    balance: int
    nominal: int
    expires_at: str | None
    single_use: bool
