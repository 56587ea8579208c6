"""HTTP for the program document: GET and PUT, as JSON or YAML."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.core import auth
from app.core.auth import Principal
from app.core.errors import AppError
from app.core.http import PROBLEM_RESPONSES, json_response, nul_errors, read_body
from rules import ProgramError, dump_program

from . import service

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
_VERSION_HEADER = {"Program-Version": {"description": "the version of the program answered or saved",
                                       "schema": {"type": "integer"}}}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    **PROBLEM_RESPONSES,
    415: {**PROBLEM_RESPONSES[413], "description": "`unsupported_media_type`: send JSON or YAML"},
    422: {**PROBLEM_RESPONSES[422], "description": "`invalid_program` with `errors: [{path, message}]`"},
}
_GET_RESPONSES: dict[int | str, dict[str, Any]] = {200: {
    "description": "the active program document (Accept: application/yaml for YAML)",
    "headers": _VERSION_HEADER,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Program"}},
                "application/yaml": {"schema": {"type": "string"}}},
}}
_PUT_RESPONSES: dict[int | str, dict[str, Any]] = {200: {
    "description": "saved and active: its version and number of campaigns",
    "headers": _VERSION_HEADER,
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["version", "campaigns"],
        "properties": {"version": {"type": "integer"}, "campaigns": {"type": "integer"}},
    }}},
}}
router = APIRouter(prefix="/v1/program", tags=["program"], responses=_RESPONSES)

_DOCUMENT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Program"}},
            "application/yaml": {"schema": {"$ref": "#/components/schemas/Program"}},
        },
    },
}


def format_of(content_type: str) -> str:
    media = content_type.split(";")[0].strip().lower()
    if media in YAML_TYPES:
        return "yaml"
    if media in ("application/json", ""):
        return "json"
    raise AppError(415, "unsupported_media_type", "send application/json or application/yaml")


@router.get("", responses=_GET_RESPONSES, summary="The active program document (Accept: application/yaml for YAML)")
async def get_program(request: Request, _: Principal = Depends(auth.admin)) -> Response:
    program = request.app.state.ctx.programs.current
    headers = {"Program-Version": str(program.version)}
    if any(t in request.headers.get("accept", "") for t in YAML_TYPES):
        return Response(dump_program(program.program, "yaml"), media_type="application/yaml", headers=headers)
    return json_response(program.program.document(), headers=headers)


@router.put("", openapi_extra=_DOCUMENT_BODY, responses=_PUT_RESPONSES,
            summary="Validate, version and activate a program document (live on every worker within 2 s)")
async def put_program(request: Request, _: Principal = Depends(auth.admin)) -> Response:
    ctx = request.app.state.ctx
    text = await read_body(request, ctx.settings.max_body_bytes)
    program = service.validate(text, format_of(request.headers.get("content-type", "")))
    if errors := nul_errors(program.document()):
        raise AppError(422, "invalid_program", "the program document is invalid", errors=errors)
    try:
        async with ctx.db.transaction() as conn:
            version = await service.save(conn, program)
    except ProgramError as error:
        raise service.invalid(error) from None
    ctx.programs.installed(version, program)
    return json_response({"version": version, "campaigns": len(program.campaigns)},
                         headers={"Program-Version": str(version)})

