"""HTTP for the program document: GET and PUT, as JSON or YAML."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.core import auth
from app.core.auth import Principal
from app.core.errors import AppError
from app.core.http import PROBLEM_RESPONSES, json_response, read_body
from rules import dump_program

from . import service

router = APIRouter(prefix="/v1/program", tags=["program"], responses=PROBLEM_RESPONSES)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")

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


@router.get("", summary="The active program document (Accept: application/yaml for YAML)")
async def get_program(request: Request, _: Principal = Depends(auth.admin)) -> Response:
    program = request.app.state.ctx.programs.current
    headers = {"Program-Version": str(program.version)}
    if any(t in request.headers.get("accept", "") for t in YAML_TYPES):
        return Response(dump_program(program.program, "yaml"), media_type="application/yaml", headers=headers)
    return json_response(program.program.document(), headers=headers)


@router.put("", openapi_extra=_DOCUMENT_BODY,
            summary="Validate, version and activate a program document (live on every worker within 2 s)")
async def put_program(request: Request, _: Principal = Depends(auth.admin)) -> Response:
    ctx = request.app.state.ctx
    text = await read_body(request, ctx.settings.max_body_bytes)
    program = service.validate(text, format_of(request.headers.get("content-type", "")))
    async with ctx.db.transaction() as conn:
        version = await service.save(conn, program)
    ctx.programs.installed(version, program)
    return json_response({"version": version, "campaigns": len(program.campaigns)},
                         headers={"Program-Version": str(version)})

