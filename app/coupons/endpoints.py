"""HTTP for coupons: batches of unique codes, and look-ups."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.core import auth
from app.core.auth import Principal
from app.core.http import PROBLEM_RESPONSES, TOO_MANY_FAILED_LOOKUPS, body_schema, json_response, read_model

from . import service
from .schemas import BatchRequest, Codes, CouponStatus

router = APIRouter(prefix="/v1/coupons", tags=["coupons"], responses=PROBLEM_RESPONSES)


@router.post("/batches", status_code=201, response_model=Codes, openapi_extra=body_schema(BatchRequest),
             summary="Unique single-use codes of a coupon campaign, returned once")
async def create_batch(request: Request, _: Principal = Depends(auth.admin)) -> Response:
    body = await read_model(request, BatchRequest)
    return json_response({"codes": await service.create_batch(request.app.state.ctx, body)}, 201)


@router.get("/{code}", response_model=CouponStatus, responses=TOO_MANY_FAILED_LOOKUPS,
            summary="A coupon's status and uses")
async def look_up(code: str, request: Request, principal: Principal = Depends(auth.admin)) -> Response:
    ctx = request.app.state.ctx
    code = "" if "\x00" in code else code  # a code with NUL is unknown: the same answer as a blank one
    return json_response(await ctx.lookups.guarded(principal, lambda: service.look_up(ctx, code)))
