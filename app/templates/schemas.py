"""The templates API's shapes in the OpenAPI schema: the listing, each template's parameters as the body of
its POST (one of them, by the path's template), and the campaign it answers (an element of the program)."""

from __future__ import annotations

from typing import Any

from app.campaigns.schemas import CAMPAIGN_SCHEMA
from app.core.http import PROBLEM_RESPONSES

from .catalogue import AIMS, TEMPLATES

_PARAMETER = {
    "type": "object",
    "required": ["name", "type", "required"],
    "properties": {
        "name": {"type": "string"}, "type": {"type": "string"}, "required": {"type": "boolean"},
        "default": {}, "minimum": {"type": "integer"}, "maximum": {"type": "integer"},
        "minLength": {"type": "integer"}, "maxLength": {"type": "integer"}, "minItems": {"type": "integer"},
        "maxItems": {"type": "integer"}, "pattern": {"type": "string"}, "description": {"type": "string"},
        "items": {"type": "object"},
    },
}
_TEMPLATE = {
    "type": "object",
    "required": ["id", "name", "aim", "aim_text", "description", "parameters"],
    "properties": {
        "id": {"type": "string", "enum": list(TEMPLATES)},
        "name": {"type": "string"},
        "aim": {"type": "string", "enum": list(AIMS)},
        "aim_text": {"type": "string", "enum": list(AIMS.values())},
        "description": {"type": "string"},
        "parameters": {"type": "array", "items": _PARAMETER},
    },
}
LIST_RESPONSE: dict[int | str, dict[str, Any]] = {200: {
    "description": "every template: what it is for (`aim`), its parameters with types, defaults and limits",
    "content": {"application/json": {"schema": {"type": "object", "required": ["templates"],
                                                "properties": {"templates": {"type": "array", "items": _TEMPLATE}}}}},
}}


def _params_schema(template_id: str) -> dict[str, Any]:
    schema = TEMPLATES[template_id].params.model_json_schema()
    return {**schema, "title": f"{template_id} parameters"}


# One of the templates' parameters: which one the path's template takes is a rule of a path parameter and a
# body that JSON Schema cannot state (`invalid_template_params` otherwise).
PARAMS_BODY: dict[str, Any] = {"requestBody": {
    "required": True,
    "description": "the template's parameters (GET /v1/templates lists them); `{}` takes every default",
    "content": {"application/json": {"schema": {"anyOf": [_params_schema(t) for t in TEMPLATES]}}},
}}
CAMPAIGN_RESPONSES: dict[int | str, dict[str, Any]] = {
    **PROBLEM_RESPONSES,
    200: {"description": "the campaign, as PUT /v1/campaigns/{id} and the program document take it",
          "content": {"application/json": {"schema": CAMPAIGN_SCHEMA}}},
    422: {**PROBLEM_RESPONSES[422], "description": "`invalid_template_params` with `errors: [{path, message}]`, "
                                                   "paths of the parameters; `invalid_json`"},
}
