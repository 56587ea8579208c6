"""HTTP for campaigns one at a time: list, get, put (JSON or YAML), delete. Each change is a new
program version; reads answer from the active program with its version in `Program-Version`."""

from __future__ import annotations

from typing import Annotated

import yaml
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from app.core import auth
from app.core.auth import Principal
from app.core.errors import AppError
from app.core.http import json_response, nul_errors, read_body
from app.program.endpoints import YAML_TYPES, NoteQuery, format_of
from app.program.service import publication

from . import service
from .schemas import (
    CAMPAIGN_BODY,
    CAMPAIGN_PAGE_RESPONSE,
    CAMPAIGN_RESPONSE,
    DELETE_RESPONSES,
    PUT_RESPONSES,
    RESPONSES,
)

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"], responses=RESPONSES)
CampaignIdPath = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,64}$")]


def _version(version: int) -> dict[str, str]:
    return {"Program-Version": str(version)}


@router.get("", responses=CAMPAIGN_PAGE_RESPONSE,
            summary="The active program's campaigns by priority (ties by id), cursor-paged")
async def list_campaigns(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=128)] = None,
    _: Principal = Depends(auth.marketer),
) -> Response:
    program = request.app.state.ctx.programs.current
    return json_response(service.page(program.program, limit, cursor), headers=_version(program.version))


@router.get("/{campaign_id}", responses=CAMPAIGN_RESPONSE, summary="One campaign as in the program document")
async def get_campaign(campaign_id: CampaignIdPath, request: Request,
                       _: Principal = Depends(auth.marketer)) -> Response:
    program = request.app.state.ctx.programs.current
    campaign = service.find(program, campaign_id)
    if any(t in request.headers.get("accept", "") for t in YAML_TYPES):
        text = yaml.safe_dump(campaign, sort_keys=False, allow_unicode=True)
        return Response(text, media_type="application/yaml", headers=_version(program.version))
    return json_response(campaign, headers=_version(program.version))


@router.put("/{campaign_id}", openapi_extra=CAMPAIGN_BODY, responses=PUT_RESPONSES,
            summary="Create (201) or replace (200) a campaign: the program is validated and saved as a new version")
async def put_campaign(campaign_id: CampaignIdPath, request: Request, note: NoteQuery = None,
                       principal: Principal = Depends(auth.marketer)) -> Response:
    ctx = request.app.state.ctx
    by = publication(principal, note)
    text = await read_body(request, ctx.settings.max_body_bytes)
    body = service.read_campaign(text, format_of(request.headers.get("content-type", "")), campaign_id)
    if errors := nul_errors(body):
        raise AppError(422, "invalid_campaign", "the campaign is invalid; paths are relative to it", errors=errors)
    campaign, created, version = await service.put(ctx, body, by)
    if created:
        return json_response(campaign, 201, {**_version(version), "Location": f"/v1/campaigns/{campaign_id}"})
    return json_response(campaign, 200, _version(version))


@router.delete("/{campaign_id}", status_code=204, responses=DELETE_RESPONSES,
               summary="Remove a campaign: the program is saved as a new version")
async def delete_campaign(campaign_id: CampaignIdPath, request: Request, note: NoteQuery = None,
                          principal: Principal = Depends(auth.marketer)) -> Response:
    version = await service.delete(request.app.state.ctx, campaign_id, publication(principal, note))
    return Response(status_code=204, headers=_version(version))
