"""The program history API's shapes: the rollback body (a model) and the answers (schemas in OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.core.http import PROBLEM_RESPONSES

from .service import MAX_NOTE_CHARS

_VERSION = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
_VERSION_HEADER = {"Program-Version": {"description": "the version of the program answered or saved",
                                       "schema": {"type": "integer"}}}


class RollbackRequest(BaseModel):
    """Which version's document to publish again, and why (default: `rollback to version N`)."""

    model_config = ConfigDict(extra="forbid")

    version: Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)]
    note: Annotated[str, Field(max_length=MAX_NOTE_CHARS)] | None = None


def _json(description: str, schema: dict[str, Any], headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    return {**answer, "headers": headers} if headers else answer


_ENTRY = {
    "type": "object",
    "required": ["version", "created_at", "author", "note", "campaigns", "active"],
    "properties": {
        "version": _VERSION,
        "created_at": {"type": "string", "format": "date-time"},
        "author": {"anyOf": [{"type": "string"}, {"type": "null"}],
                   "description": "the publishing key's id (`bootstrap`: the bootstrap key); null: CLI or older"},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "campaigns": {"type": "integer", "minimum": 0},
        "active": {"type": "boolean", "description": "the newest version: the one every worker runs"},
    },
}
_PAGE = {
    "type": "object",
    "required": ["versions", "active_version", "next_cursor"],
    "properties": {
        "versions": {"type": "array", "items": _ENTRY},
        "active_version": {"anyOf": [_VERSION, {"type": "null"}]},
        "next_cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
}
_CHANGE = {"type": "object", "required": ["path", "before", "after"], "properties": {
    "path": {"type": "string", "description": "dotted, e.g. `thresholds[0].percent`"},
    "before": {"description": "null: absent on that side"}, "after": {"description": "null: absent on that side"},
}}
_DIFF = {
    "type": "object",
    "required": ["version", "against", "added", "removed", "changed", "settings"],
    "properties": {
        "version": _VERSION,
        "against": _VERSION,
        "added": {"type": "array", "items": {"type": "string"}, "description": "campaign ids new in `version`"},
        "removed": {"type": "array", "items": {"type": "string"}, "description": "campaign ids gone in `version`"},
        "changed": {"type": "array", "items": {"type": "object", "required": ["id", "changes"], "properties": {
            "id": {"type": "string"}, "changes": {"type": "array", "items": _CHANGE}}}},
        "settings": {"type": "array", "items": _CHANGE,
                     "description": "changes outside `campaigns`: points, tiers, segments, ..."},
    },
}
_SAVED = {"type": "object", "required": ["version", "campaigns"],
          "properties": {"version": _VERSION, "campaigns": {"type": "integer", "minimum": 0}}}


def _problem(status: int, description: str) -> dict[str, Any]:
    return {**PROBLEM_RESPONSES[status], "description": description}


_NO_VERSION = _problem(404, "`program_version_not_found`")
VERSIONS_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: _json("versions newest first; `next_cursor` → ?cursor=", _PAGE),
    422: _problem(422, "`invalid_cursor`; `validation_error`"),
}
VERSION_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "the version's document (Accept: application/yaml for YAML)", "headers": _VERSION_HEADER,
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Program"}},
                      "application/yaml": {"schema": {"type": "string"}}}},
    404: _NO_VERSION,
}
DIFF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: _json("from `against` (before) to `version` (after)", _DIFF),
    404: _NO_VERSION,
}
ROLLBACK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _json("published as a new version, active: its version and number of campaigns", _SAVED, _VERSION_HEADER),
    404: _NO_VERSION,
    422: _problem(422, "`invalid_program` with `errors: [{path, message}]` (e.g. a custom segment it names is "
                       "gone): nothing published; `validation_error`"),
}
