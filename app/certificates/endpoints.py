"""HTTP for gift certificates: issue (admin) and look up (pos, limited for unknown codes)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.core import auth
from app.core.auth import Principal
from app.core.http import PROBLEM_RESPONSES, TOO_MANY_FAILED_LOOKUPS, body_schema, json_response, read_model

from . import service
from .schemas import Certificate, IssueRequest

router = APIRouter(prefix="/v1/gift-certificates", tags=["gift certificates"], responses=PROBLEM_RESPONSES)


@router.post("", status_code=201, openapi_extra=body_schema(IssueRequest),
             summary="Issue certificates (status issued, or active with their nominal); codes returned once")
async def issue(request: Request, _: Principal = Depends(auth.admin)) -> Response:
    body = await read_model(request, IssueRequest)
    return json_response({"codes": await service.issue(request.app.state.ctx, body)}, 201)


async def _look_up(code: str, request: Request, principal: Principal) -> Response:
    ctx = request.app.state.ctx
    code = "" if "\x00" in code else code  # a code with NUL is unknown: the same answer as a blank one
    return json_response(await ctx.lookups.guarded(principal, lambda: service.look_up(ctx, code)))


@router.get("/{code}", response_model=Certificate, responses=TOO_MANY_FAILED_LOOKUPS,
            summary="Status, balance and expiry of a certificate")
async def look_up(code: str, request: Request, principal: Principal = Depends(auth.pos)) -> Response:
    return await _look_up(code, request, principal)


@router.get("/", include_in_schema=False)
async def look_up_blank(request: Request, principal: Principal = Depends(auth.pos)) -> Response:
    """A blank code gets the same answer as an unknown one, and counts the same."""
    return await _look_up("", request, principal)
