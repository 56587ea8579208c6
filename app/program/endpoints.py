"""HTTP for the program document: GET and PUT, as JSON or YAML; its history, diff and rollback."""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from app.core import auth
from app.core.auth import Principal
from app.core.errors import AppError
from app.core.http import PROBLEM_RESPONSES, body_schema, json_response, nul_errors, read_body, read_model
from rules import ProgramError

from . import service, versions
from .schemas import DIFF_RESPONSE, ROLLBACK_RESPONSES, VERSION_RESPONSE, VERSIONS_RESPONSE, RollbackRequest

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
async def get_program(request: Request, _: Principal = Depends(auth.marketer)) -> Response:
    program = request.app.state.ctx.programs.current
    return _document(request, program.version, program.program.document())


def _document(request: Request, version: int, document: dict[str, Any]) -> Response:
    """A program document (as `Program.document()` gives it) as JSON, or as YAML when Accept asks for it."""
    headers = {"Program-Version": str(version)}
    if any(t in request.headers.get("accept", "") for t in YAML_TYPES):
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)  # as rules.dump_program does
        return Response(text, media_type="application/yaml", headers=headers)
    return json_response(document, headers=headers)


# A publish's note, stored with the version and shown in its history (JSON and YAML bodies alike).
NoteQuery = Annotated[str | None, Query(max_length=service.MAX_NOTE_CHARS,
                                        description="why this version: shown in GET /v1/program/versions")]
VersionPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="a program version")]


@router.put("", openapi_extra=_DOCUMENT_BODY, responses=_PUT_RESPONSES,
            summary="Validate, version and activate a program document (live on every worker within 2 s)")
async def put_program(request: Request, note: NoteQuery = None,
                      principal: Principal = Depends(auth.marketer)) -> Response:
    ctx = request.app.state.ctx
    by = service.publication(principal, note)
    text = await read_body(request, ctx.settings.max_body_bytes)
    program = service.validate(text, format_of(request.headers.get("content-type", "")))
    if errors := nul_errors(program.document()):
        raise AppError(422, "invalid_program", "the program document is invalid", errors=errors)
    try:
        async with ctx.db.transaction() as conn:
            version = await service.save(conn, program, by)
    except ProgramError as error:
        raise service.invalid(error) from None
    ctx.programs.installed(version, program)
    return json_response({"version": version, "campaigns": len(program.campaigns)},
                         headers={"Program-Version": str(version)})



@router.get("/versions", responses=VERSIONS_RESPONSE,
            summary="Every program version, newest first, cursor-paged: who published it, why, and which is active")
async def list_versions(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    _: Principal = Depends(auth.marketer),
) -> Response:
    return json_response(await versions.page(request.app.state.ctx.db, limit, cursor))


@router.get("/versions/{version}", responses=VERSION_RESPONSE,
            summary="One program version's document (Accept: application/yaml for YAML)")
async def get_version(version: VersionPath, request: Request, _: Principal = Depends(auth.marketer)) -> Response:
    return _document(request, version, await versions.document(request.app.state.ctx.db, version))


@router.get("/versions/{version}/diff", responses=DIFF_RESPONSE,
            summary="What changed from version `against` to this one: campaigns added, removed, changed by field")
async def diff_versions(version: VersionPath, request: Request,
                        against: Annotated[int, Query(ge=1, le=2**31 - 1, description="the older side")],
                        _: Principal = Depends(auth.marketer)) -> Response:
    found = await versions.difference(request.app.state.ctx.db, version, against)
    return json_response({"version": version, "against": against, **found})


@router.post("/rollback", openapi_extra=body_schema(RollbackRequest), responses=ROLLBACK_RESPONSES,
             summary="Publish an earlier version's document again as a new version (history is kept)")
async def rollback(request: Request, principal: Principal = Depends(auth.marketer)) -> Response:
    body = await read_model(request, RollbackRequest)
    ctx = request.app.state.ctx
    version, program = await versions.rollback(ctx, body.version, service.publication(principal, body.note))
    return json_response({"version": version, "campaigns": len(program.campaigns)},
                         headers={"Program-Version": str(version)})
