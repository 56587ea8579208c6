"""HTTP for custom segments (admin keys): the documents as JSON or YAML, and the members as CSV."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response, StreamingResponse

from app.core import auth
from app.core.auth import Principal
from app.core.http import BODY_MODELS, PROBLEM_RESPONSES, csv_stream, json_response, read_body
from app.program.endpoints import format_of
from rules import CUSTOM_SEGMENT_PATTERN

from . import service
from .schemas import NOT_CVM, CustomSegment, CustomSegmentList, SegmentDocument

router = APIRouter(prefix="/v1/segments", tags=["segments"], responses=PROBLEM_RESPONSES)
SegmentPath = Annotated[str, Path(pattern=CUSTOM_SEGMENT_PATTERN, json_schema_extra=NOT_CVM,
                                   description="the custom segment's id (not a CVM segment's name)")]
BODY_MODELS[SegmentDocument.__name__] = SegmentDocument  # the OpenAPI builder adds it to the components
_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/SegmentDocument"}},
    "application/yaml": {"schema": {"$ref": "#/components/schemas/SegmentDocument"}}}}}
_PUT: dict[int | str, dict[str, Any]] = {
    200: {"model": CustomSegment, "description": "replaced, and membership refreshed"},
    201: {"model": CustomSegment, "description": "created, and membership refreshed"},
    409: {**PROBLEM_RESPONSES[409], "description": "`too_many_segments`"},
    422: {**PROBLEM_RESPONSES[422],
          "description": "`invalid_segment` or `segment_id_mismatch` with `errors: [{path, message}]`"},
}


@router.put("/{segment_id}", openapi_extra=_BODY, responses=_PUT, response_model=CustomSegment,
            summary="Create or replace a custom segment (JSON or YAML); its membership is refreshed at once")
async def put_segment(segment_id: SegmentPath, request: Request, _: Principal = Depends(auth.marketer)) -> Response:
    ctx = request.app.state.ctx
    text = await read_body(request, ctx.settings.max_body_bytes)
    document = service.read_segment(text, format_of(request.headers.get("content-type", "")), segment_id)
    segment, created = await service.put(ctx, document)
    return json_response(segment, 201 if created else 200)


@router.get("", response_model=CustomSegmentList, summary="Every custom segment, with its members as of its refresh")
async def list_segments(request: Request, _: Principal = Depends(auth.marketer)) -> Response:
    return json_response(await service.listed(request.app.state.ctx))


@router.get("/{segment_id}", response_model=CustomSegment, summary="A custom segment and its members as of its refresh")
async def get_segment(segment_id: SegmentPath, request: Request, _: Principal = Depends(auth.marketer)) -> Response:
    return json_response(await service.get(request.app.state.ctx, segment_id))


@router.delete("/{segment_id}", status_code=204, responses={
    409: {**PROBLEM_RESPONSES[409], "description": "`segment_in_use`: campaigns name it (`errors` gives where)"}},
    summary="Delete a custom segment that no campaign names")
async def delete_segment(segment_id: SegmentPath, request: Request, _: Principal = Depends(auth.marketer)) -> Response:
    await service.delete(request.app.state.ctx, segment_id)
    return Response(status_code=204)


@router.get("/{segment_id}/members", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}},
                             "description": "card, ltv, receipts, last_purchase: one row per member, by account"}},
            summary="The members of a custom segment as of its refresh, as CSV")
async def segment_members(segment_id: SegmentPath, request: Request, _: Principal = Depends(auth.marketer)) -> Response:
    rows = service.members(request.app.state.ctx, segment_id)
    header = await anext(rows)  # 404 as a problem before streaming starts
    return StreamingResponse(csv_stream(header, rows), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{segment_id}.csv"'})
