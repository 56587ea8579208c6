"""The simulations API: the request, and the job as `GET /v1/simulations/{id}` answers it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.campaigns.schemas import CAMPAIGN_SCHEMA

MAX_PERIOD_DAYS = 366  # a year: at the chain's scale a few million receipts, minutes of one low-priority core
MAX_QUEUED = 20  # jobs waiting at once; the 21st is refused (409 too_many_simulations)
MAX_CAMPAIGN_CHANGES = 200


class SimulationRequest(BaseModel):
    """Exactly one of `program` (a whole draft document) and `campaigns` (campaign documents that replace the
    active program's campaigns of the same id, or are added after them)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    program: dict[str, Any] | None = Field(default=None, description="a whole program document, as PUT /v1/program")
    campaigns: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=MAX_CAMPAIGN_CHANGES)] | None = Field(
        default=None, description="campaign documents replacing (by id) or added to the active program's")
    period_from: date = Field(alias="from", description="the first day (the chain's time zone), included")
    period_to: date = Field(alias="to", description="the last day, included")
    baseline: Literal["active"] | Annotated[int, Field(ge=1, le=2**31 - 1)] = Field(
        default="active", description="what the draft is compared with: the active program or a version")

    @model_validator(mode="after")
    def _one_draft(self) -> SimulationRequest:
        if (self.program is None) == (self.campaigns is None):
            raise ValueError("give exactly one of program and campaigns")
        return self


def _request_schema() -> dict[str, Any]:
    """The request's schema with the documents' own schemas (components of the program), which pydantic cannot
    reference from a plain dict field; inline in the operation, as a campaign's PUT body is."""
    schema = SimulationRequest.model_json_schema()
    schema["properties"]["program"] = {"$ref": "#/components/schemas/Program",
                                       "description": "a whole program document, as PUT /v1/program"}
    schema["properties"]["campaigns"] = {
        "type": "array", "minItems": 1, "maxItems": MAX_CAMPAIGN_CHANGES, "items": CAMPAIGN_SCHEMA,
        "description": "campaign documents replacing (by id) or added to the active program's"}
    schema["oneOf"] = [{"required": ["program"]}, {"required": ["campaigns"]}]
    return schema


REQUEST_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": _request_schema()}}}}

Status = Literal["queued", "running", "done", "failed"]


class Progress(BaseModel):
    receipts_done: int
    receipts_total: int | None = Field(description="null until the job has counted the period")


class Simulation(BaseModel):
    """A simulation job. `result` is there once `status` is done, `error` once it is failed."""

    id: int
    status: Status
    period_from: date = Field(serialization_alias="from")
    period_to: date = Field(serialization_alias="to")
    baseline_version: int
    author: str | None
    progress: Progress
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = None
    result: dict[str, Any] | None = Field(
        default=None, description="per campaign and in total: receipts touched, discount, points, coupon uses, cost, "
                                  "its difference against the baseline, revenue per receipt touched and untouched")


class SimulationPage(BaseModel):
    simulations: list[Simulation]
    next_cursor: str | None


class Accepted(BaseModel):
    id: int
    status: Status
