"""The console's use cases over the program, campaigns, templates and reports services: no SQL of its own.

Publishing goes through `app.campaigns.service.put`, the path of `PUT /v1/campaigns/{id}`: the same
validation, the same lock, a new program version with the key as author and the note."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import yaml

from app.campaigns import service as campaigns
from app.core.context import AppContext, utcnow
from app.core.errors import AppError
from app.core.http import nul_errors
from app.program.service import Publication
from app.reports import service as reports
from rules import Campaign, ProgramError, read_document

_CAMPAIGN_ID = re.compile(r"^[a-z0-9-]{1,64}$")  # as PUT /v1/campaigns/{campaign_id} takes
_NO_RESULTS = {"receipts": 0, "discount": 0, "points": 0, "coupon_uses": 0, "revenue": 0}


def status(campaign: Campaign, now: datetime) -> str:
    """`scheduled` before its `active.from`, `ended` from its `active.to`, `active` otherwise."""
    active = campaign.active
    if active is not None and active.from_ is not None and now < active.from_:
        return "scheduled"
    if active is not None and active.to is not None and now >= active.to:
        return "ended"
    return "active"


async def overview(ctx: AppContext) -> dict[str, Any]:
    """The active program's campaigns by priority, each with its status and the last 30 days' results."""
    program = ctx.programs.current
    report = await reports.campaigns_report(ctx, reports.parse_period(ctx))
    results = {row["id"]: row for row in report["campaigns"]}
    now = utcnow()
    rows = []
    for campaign in sorted(program.program.campaigns, key=lambda c: (c.priority, c.id)):
        found = results.get(campaign.id)
        rows.append({"id": campaign.id, "name": campaign.name, "type": campaign.type, "priority": campaign.priority,
                     "status": status(campaign, now),
                     "from": _as_written(campaign.active.from_ if campaign.active else None),
                     "to": _as_written(campaign.active.to if campaign.active else None),
                     "results": {key: found[key] for key in _NO_RESULTS} if found else _NO_RESULTS})
    return {"rows": rows, "version": program.version, "period": report["period"]}


def _as_written(at: datetime | None) -> str | None:
    """A window's end at the offset the program gives it: a campaign from 1 Nov 00:00 at +03:00 shows 1 Nov,
    as its author wrote it, not the 31 Oct of UTC."""
    return at.isoformat() if at is not None else None


def as_yaml(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)  # as GET /v1/program answers YAML


def template_params(parameters: list[dict[str, Any]], form: dict[str, str]) -> dict[str, Any]:
    """A template's parameters from its form: a blank field takes the default; integers and lists (comma-separated)
    are converted here, and anything that does not convert is passed as text for the template to refuse with
    its path."""
    params: dict[str, Any] = {}
    for parameter in parameters:
        text = form.get(parameter["name"], "").strip()
        if not text:
            continue
        kind = parameter["type"]
        if kind == "array":
            items = [item.strip() for item in text.split(",") if item.strip()]
            integers = parameter.get("items", {}).get("type") == "integer"
            params[parameter["name"]] = [_integer(item) if integers else item for item in items]
        elif kind == "integer":
            params[parameter["name"]] = _integer(text)
        elif kind == "boolean":
            params[parameter["name"]] = text.lower() in ("true", "on", "yes", "1")
        else:
            params[parameter["name"]] = text
    return params


def _integer(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text


def _refused(path: str, text: str) -> AppError:
    return AppError(422, "invalid_campaign", text, errors=[{"path": path, "message": text}])


def campaign_of(text: str) -> dict[str, Any]:
    """The campaign written as YAML in `text`, read as PUT /v1/campaigns/{id} reads its body; 422 with paths
    relative to the campaign when the text is not a mapping with an id or holds U+0000 (the rest of its checks
    are the program's, where it is published or simulated)."""
    try:
        data = read_document(text, "yaml")
    except ProgramError as error:
        raise AppError(422, "invalid_campaign", "the text is not valid YAML",
                       errors=[{**e, "path": "(text)"} for e in error.errors]) from None
    if not isinstance(data, dict):
        raise _refused("(text)", "the campaign must be a mapping of its fields")
    campaign_id = data.get("id")
    if not isinstance(campaign_id, str) or not _CAMPAIGN_ID.match(campaign_id):
        raise _refused("id", "the campaign needs an id: 1 to 64 of a-z 0-9 -")
    body = campaigns.read_campaign(text.encode(), "yaml", campaign_id)
    if errors := nul_errors(body):
        raise AppError(422, "invalid_campaign", "the campaign is invalid; paths are relative to it", errors=errors)
    return body


async def publish(ctx: AppContext, text: str, by: Publication) -> tuple[str, int]:
    """Add or replace the campaign written as YAML in `text` (by its `id`); its id and the new version.
    422 with paths relative to the campaign, and nothing published, when it is invalid."""
    body = campaign_of(text)
    _, _, version = await campaigns.put(ctx, body, by)
    return str(body["id"]), version


def main_fields(campaign: dict[str, Any]) -> dict[str, str]:
    """A campaign's name, priority and active dates as the fields form shows them."""
    active = campaign.get("active") or {}
    return {"name": str(campaign.get("name", "")), "priority": str(campaign.get("priority", "")),
            "from": str(active.get("from") or ""), "to": str(active.get("to") or "")}


def with_main_fields(campaign: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    """The campaign with the form's name, priority and dates; what does not convert goes as sent, for the
    program's validation to refuse at its path. Blank dates leave that side open."""
    changed = {**campaign, "name": fields.get("name", ""), "priority": _integer(fields.get("priority", "").strip())}
    active = {side: fields[side].strip() for side in ("from", "to") if fields.get(side, "").strip()}
    changed.pop("active", None)
    return {**changed, "active": active} if active else changed


def fields_campaign(ctx: AppContext, campaign_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """The active program's campaign with its main fields from the form (422 where a field holds U+0000)."""
    body = with_main_fields(campaigns.find(ctx.programs.current, campaign_id), fields)
    if errors := nul_errors(body):
        raise AppError(422, "invalid_campaign", "the campaign is invalid; paths are relative to it", errors=errors)
    return body


async def publish_fields(ctx: AppContext, campaign_id: str, fields: dict[str, str], by: Publication) -> int:
    """Publish the active program's campaign with its main fields from the form; the new version."""
    _, _, version = await campaigns.put(ctx, fields_campaign(ctx, campaign_id, fields), by)
    return version
