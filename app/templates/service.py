"""Templates listed, and one template's campaign built from parameters and validated by rules' parser inside
the active program (where its tiers live); usable without HTTP."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from app.core.errors import AppError, not_found
from app.core.http import validation_errors
from rules import Program, ProgramError, parse_program

from .catalogue import AIMS, TEMPLATES, Template, parameters

# What a campaign is checked in when no program is loaded yet: the least program rules accept.
_EMPTY_PROGRAM: dict[str, Any] = {"tiers": {"levels": [{"id": "base", "min_purchases": 0, "accrual_percent": 0}]}}


def describe(template: Template) -> dict[str, Any]:
    return {"id": template.id, "name": template.name, "aim": template.aim, "aim_text": AIMS[template.aim],
            "description": template.description, "parameters": parameters(template)}


def listing() -> dict[str, Any]:
    return {"templates": [describe(template) for template in TEMPLATES.values()]}


def _invalid(errors: list[dict[str, str]]) -> AppError:
    return AppError(422, "invalid_template_params", "the template's parameters are invalid", errors=errors)


def _at_parameter(template: Template, error: dict[str, str]) -> dict[str, str]:
    """`campaigns[0].when.tiers` → `tier`, where a parameter made that field; else `campaign.when.tiers`."""
    path = error["path"].removeprefix("campaigns[0]").lstrip(".")
    for prefix, parameter in template.paths:
        if path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "["):
            return {**error, "path": parameter}
    return {**error, "path": f"campaign.{path}" if path else "campaign"}


def build(template_id: str, params: Any, program: Program | None) -> dict[str, Any]:
    """The campaign `template_id` makes of `params` (a JSON object), checked as the only campaign of the
    active program's settings and tiers (it may then replace a campaign of the same id or join the others)."""
    template = TEMPLATES.get(template_id)
    if template is None:
        raise not_found("template_not_found", f"no template {template_id!r}: GET /v1/templates lists them")
    if not isinstance(params, dict):
        raise _invalid([{"path": "(body)", "message": "the parameters must be a JSON object"}])
    try:
        chosen = template.params.model_validate(params)
    except ValidationError as error:
        raise _invalid(validation_errors(error)) from None
    campaign = template.build(chosen)
    settings = program.document() if program is not None else _EMPTY_PROGRAM
    try:
        parsed = parse_program({**settings, "campaigns": [campaign]})
    except ProgramError as error:
        raise _invalid([_at_parameter(template, e) for e in error.errors]) from None
    return parsed.document()["campaigns"][0]  # type: ignore[no-any-return]
