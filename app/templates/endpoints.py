"""HTTP for campaign templates: the list, and a campaign built from one (marketer or admin)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from app.core import auth
from app.core.auth import Principal
from app.core.errors import AppError
from app.core.http import PROBLEM_RESPONSES, json_response, read_body

from . import service
from .catalogue import TEMPLATES
from .schemas import CAMPAIGN_RESPONSES, LIST_RESPONSE, PARAMS_BODY

router = APIRouter(prefix="/v1/templates", tags=["templates"], responses=PROBLEM_RESPONSES)
TemplatePath = Annotated[str, Path(pattern="^(" + "|".join(TEMPLATES) + ")$", description="a template's id")]


@router.get("", responses=LIST_RESPONSE, summary="Campaign templates: aim, description, parameters")
async def list_templates(_: Principal = Depends(auth.marketer)) -> Response:
    return json_response(service.listing())


@router.post("/{template_id}/campaign", openapi_extra=PARAMS_BODY, responses=CAMPAIGN_RESPONSES,
             summary="A campaign document from a template and its parameters (nothing is saved)")
async def build_campaign(template_id: TemplatePath, request: Request,
                         _: Principal = Depends(auth.marketer)) -> Response:
    body = await read_body(request, request.app.state.settings.max_body_bytes)
    try:
        params = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError as error:
        raise AppError(422, "invalid_json", f"the body is not valid JSON: {error}") from None
    program = request.app.state.ctx.programs.loaded
    return json_response(service.build(template_id, params, program.program if program else None))
