"""Request bodies parsed once from raw bytes; responses written with orjson."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from .errors import AppError

M = TypeVar("M", bound=BaseModel)
PROBLEM_JSON = "application/problem+json"


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


def replayed(data: Any) -> Response:
    """A repeated write answers the original result with 200 and `Idempotent-Replayed: true`."""
    return json_response(data, 200, {"Idempotent-Replayed": "true"})


def error_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(body)"


def validation_errors(error: ValidationError) -> list[dict[str, str]]:
    return [{"path": error_path(e["loc"]), "message": e["msg"]} for e in error.errors(include_url=False)]


_NUL_MESSAGE = "must not contain the NUL character (U+0000)"


def nul_errors(data: Any, loc: tuple[int | str, ...] = ()) -> list[dict[str, str]]:
    """Where a text holds U+0000: PostgreSQL can store it neither in text nor in jsonb, so it is refused
    (422) at the door instead of failing in the database."""
    if isinstance(data, str):
        return [{"path": error_path(loc), "message": _NUL_MESSAGE}] if "\x00" in data else []
    if isinstance(data, dict):
        return [e for key, value in data.items() for e in nul_errors(key, loc) + nul_errors(value, (*loc, str(key)))]
    if isinstance(data, list | tuple):
        return [e for index, value in enumerate(data) for e in nul_errors(value, (*loc, index))]
    return []


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise AppError(413, "body_too_large", f"the body is over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise AppError(413, "body_too_large", f"the body is over {limit} bytes")
    return bytes(body)


async def read_model(request: Request, model: type[M]) -> M:
    """Validate the JSON body against `model` straight from bytes (unknown fields are refused)."""
    body = await read_body(request, request.app.state.settings.max_body_bytes)
    try:
        parsed = model.model_validate_json(body)
    except ValidationError as error:
        errors = validation_errors(error)
        if any(e["message"].startswith("Invalid JSON") for e in errors):
            raise AppError(422, "invalid_json", errors[0]["message"]) from None
        raise AppError(422, "validation_error", "the request is invalid", errors=errors) from None
    # JSON spells NUL only as this escape, so the common body costs one byte search.
    if b"\\u0000" in body and (errors := nul_errors(orjson.loads(body))):
        raise AppError(422, "validation_error", "the request is invalid", errors=errors)
    return parsed


# Models of bodies read with `read_model`; the OpenAPI builder adds them to the components.
BODY_MODELS: dict[str, type[BaseModel]] = {}


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` documenting a body that the handler reads itself with `read_model`."""
    BODY_MODELS[model.__name__] = model
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        },
    }


def _problem(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def replay_response(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """Documents the 200 that a repeated write answers (the original result, `Idempotent-Replayed: true`)."""
    return {200: {
        "model": model,
        "description": "a repeat of an earlier request: its original result",
        "headers": {"Idempotent-Replayed": {"description": "`true` on a replay",
                                            "schema": {"type": "string", "enum": ["true"]}}},
    }}


# A look-up of codes under the failed look-up limit (app.core.lookups).
TOO_MANY_FAILED_LOOKUPS: dict[int | str, dict[str, Any]] = {
    429: {**_problem("`too_many_failed_lookups`: too many unknown codes from this key this minute"),
          "headers": {"Retry-After": {"description": "seconds until the limit resets",
                                      "schema": {"type": "integer"}}}},
}

# Documented on every router: all errors are problem+json with a `code`.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _problem("no key, or an unknown key (`unauthorized`)"),
    403: _problem("the key's role or store does not allow this (`forbidden`)"),
    404: _problem("not found (`receipt_not_found`, `account_not_found`)"),
    409: _problem("`idempotency_conflict`, `account_exists`, `refund_exceeds_receipt`"),
    413: _problem("`body_too_large`"),
    422: _problem("`validation_error` with `errors: [{path, message}]`, or a rule such as `receipt_too_old`"),
    503: _problem("`database_unavailable` or `program_not_loaded`, with Retry-After"),
}


async def csv_stream(header: list[object], rows: AsyncIterator[list[object]]) -> AsyncIterator[str]:
    """CSV text from a header and rows, in chunks of a thousand rows (a download of millions streams)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    count = 0
    async for row in rows:
        writer.writerow(row)
        count += 1
        if count % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
