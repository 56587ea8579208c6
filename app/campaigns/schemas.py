"""The campaign API's shapes in the OpenAPI schema. A campaign is exactly an element of the program
document's `campaigns`, so its schema is taken from the Program model (whose parts are components)."""

from __future__ import annotations

from typing import Any

from app.core.http import PROBLEM_RESPONSES
from rules import Program

_PROGRAM_SCHEMA = Program.model_json_schema(ref_template="#/components/schemas/{model}")
CAMPAIGN_SCHEMA: dict[str, Any] = _PROGRAM_SCHEMA["properties"]["campaigns"]["items"]

CAMPAIGN_PAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["campaigns", "next_cursor"],
    "properties": {
        "campaigns": {"type": "array", "items": CAMPAIGN_SCHEMA},
        "next_cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


CAMPAIGN_PAGE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: _json("campaigns by priority (ties by id); `next_cursor` → ?cursor=", CAMPAIGN_PAGE_SCHEMA),
}
CAMPAIGN_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {**_json("the campaign as in the program document (Accept: application/yaml for YAML)", CAMPAIGN_SCHEMA),
          "content": {"application/json": {"schema": CAMPAIGN_SCHEMA},
                      "application/yaml": {"schema": {"type": "string"}}}},
}
PUT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _json("replaced; header Program-Version is the new version", CAMPAIGN_SCHEMA),
    201: _json("created; header Program-Version is the new version", CAMPAIGN_SCHEMA),
}
DELETE_RESPONSES: dict[int | str, dict[str, Any]] = {
    204: {"description": "removed; header Program-Version is the new version"},
}



def _id_from_the_path(name: str) -> dict[str, Any]:
    """A campaign type's schema, inline, with `id` optional: a PUT body may leave it out (it is the path's)."""
    schema = _PROGRAM_SCHEMA["$defs"][name]
    return {**schema, "required": [field for field in schema["required"] if field != "id"]}


# The body of a PUT: a campaign whose `id`, when given, is the path's (campaign_id_mismatch otherwise, a rule
# of a field and a path parameter that JSON Schema cannot state).
CAMPAIGN_BODY_SCHEMA: dict[str, Any] = {"oneOf": [
    _id_from_the_path(ref.rsplit("/", 1)[1]) for ref in CAMPAIGN_SCHEMA["discriminator"]["mapping"].values()]}

CAMPAIGN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "one campaign as in the program document; `id` may be left out (it is the path's)",
        "content": {
            "application/json": {"schema": CAMPAIGN_BODY_SCHEMA},
            "application/yaml": {"schema": CAMPAIGN_BODY_SCHEMA},
        },
    },
}


def _problem(status: int, description: str) -> dict[str, Any]:
    return {**PROBLEM_RESPONSES[status], "description": description}


RESPONSES: dict[int | str, dict[str, Any]] = {
    **PROBLEM_RESPONSES,
    404: _problem(404, "`campaign_not_found`"),
    415: {**PROBLEM_RESPONSES[413], "description": "`unsupported_media_type`: send JSON or YAML"},
    422: _problem(422, "`invalid_campaign` with `errors: [{path, message}]`, paths relative to the campaign "
                       "(`thresholds[0].percent`); `campaign_id_mismatch`; `invalid_cursor`; `validation_error`"),
}
