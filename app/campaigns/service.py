"""Campaigns one at a time. Reads come from this worker's active program; every change is a
read-modify-write of the whole program document in one transaction that first takes the lock new
versions are written under, so concurrent changes of different campaigns are applied one after the
other and none is lost. The result is validated as a whole and saved as a new program version."""

from __future__ import annotations

import base64
import re
from typing import Any

import asyncpg

from app.core.context import AppContext
from app.core.errors import AppError, not_found
from app.program import repository
from app.program import service as programs
from rules import Campaign, CompiledProgram, Program, ProgramError, parse_program, read_document

_CURSOR = re.compile(r"^c(-?\d{1,7}):([a-z0-9-]{1,64})$")


def campaign_json(campaign: Campaign) -> dict[str, Any]:
    """A campaign exactly as it appears in the program document."""
    return campaign.model_dump(mode="json", by_alias=True, exclude_none=True)


def _order(campaign: Campaign) -> tuple[int, str]:
    return campaign.priority, campaign.id


# --- reads ------------------------------------------------------------------------------------------


def _cursor(campaign: Campaign) -> str:
    """The position after `campaign` in (priority, id) order: pages stay consistent when campaigns are
    added or removed between requests (no campaign is skipped or repeated unless its priority moves)."""
    return base64.urlsafe_b64encode(f"c{campaign.priority}:{campaign.id}".encode()).decode().rstrip("=")


def _parse_cursor(cursor: str) -> tuple[int, str]:
    try:
        match = _CURSOR.match(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except ValueError:  # bad base64 (binascii.Error) or bad UTF-8 are both ValueErrors
        match = None
    if match is None:
        raise AppError(422, "invalid_cursor", "the cursor is not one this service gave")
    return int(match.group(1)), match.group(2)


def page(program: Program, limit: int, cursor: str | None) -> dict[str, Any]:
    """Campaigns in priority order (ties by id), `limit` at a time, after `cursor`."""
    ordered = sorted(program.campaigns, key=_order)
    if cursor:
        after = _parse_cursor(cursor)
        ordered = [campaign for campaign in ordered if _order(campaign) > after]
    chosen = ordered[:limit]
    next_cursor = _cursor(chosen[-1]) if len(ordered) > limit else None
    return {"campaigns": [campaign_json(campaign) for campaign in chosen], "next_cursor": next_cursor}


def find(program: CompiledProgram, campaign_id: str) -> dict[str, Any]:
    campaign = program.by_id.get(campaign_id)
    if campaign is None:
        raise not_found("campaign_not_found", f"no campaign {campaign_id!r} in the active program")
    return campaign_json(campaign)


# --- changes ----------------------------------------------------------------------------------------


def _invalid(detail: str, errors: list[dict[str, str]]) -> AppError:
    return AppError(422, "invalid_campaign", detail, errors=errors)


def read_campaign(text: bytes, fmt: str, campaign_id: str) -> dict[str, Any]:
    """The body as a campaign mapping whose `id` is the path's (a different `id` in the body is refused)."""
    try:
        data = read_document(text, fmt)
    except ProgramError as error:
        raise _invalid(f"the body is not valid {fmt.upper()}",
                       [{**e, "path": "(body)"} for e in error.errors]) from None
    if not isinstance(data, dict):
        raise _invalid("the campaign must be a mapping", [{"path": "(body)", "message": "expected a mapping"}])
    given = data.get("id", campaign_id)
    if given != campaign_id:
        message = f"the body's id {given!r} is not the path's {campaign_id!r}"
        raise AppError(422, "campaign_id_mismatch", message, errors=[{"path": "id", "message": message}])
    return {**data, "id": campaign_id}


def _relative(error: dict[str, str], index: int | None) -> dict[str, str]:
    """`campaigns[3].thresholds[0].percent` → `thresholds[0].percent` for the campaign being changed;
    problems reported at other campaigns (a coupon code used twice) keep their document path."""
    prefix = f"campaigns[{index}]"
    path = error["path"]
    if index is None or not path.startswith(prefix):
        return error
    if path == prefix:
        # pydantic reports a missing or unknown `type` (the union's tag) at the campaign itself
        return {**error, "path": "type" if "'type'" in error["message"] else "(body)"}
    if path.startswith(prefix + "."):
        return {**error, "path": path[len(prefix) + 1:]}
    return error


def _validated(document: dict[str, Any], index: int | None) -> Program:
    try:
        return parse_program(document)
    except ProgramError as error:
        errors = [_relative(e, index) for e in error.errors]
        raise _invalid("the campaign is invalid; paths are relative to it", errors) from None


async def _latest_campaigns(conn: asyncpg.Connection) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The newest document, read under the program lock, and a copy of its campaigns to change."""
    row = await repository.latest_locked(conn)
    if row is None:
        raise AppError(503, "program_not_loaded", "no program is loaded: PUT /v1/program first",
                       headers={"Retry-After": "1"})
    document = dict(row["document"])
    return document, list(document.get("campaigns") or [])


def _index_of(campaigns: list[dict[str, Any]], campaign_id: str) -> int | None:
    return next((i for i, campaign in enumerate(campaigns) if campaign.get("id") == campaign_id), None)


async def put(ctx: AppContext, campaign: dict[str, Any],
              by: programs.Publication = programs.Publication()) -> tuple[dict[str, Any], bool, int]:
    """Create or replace `campaign` (in place, or appended); returns it as stored, whether it is new,
    and the new program version, which this worker uses at once."""
    async with ctx.db.transaction() as conn:
        document, campaigns = await _latest_campaigns(conn)
        index = _index_of(campaigns, campaign["id"])
        created = index is None
        if index is None:
            index = len(campaigns)
            campaigns.append(campaign)
        else:
            campaigns[index] = campaign
        program = _validated({**document, "campaigns": campaigns}, index)
        try:
            version = await programs.save(conn, program, by)
        except ProgramError as error:  # a custom segment it names does not exist
            raise _invalid("the campaign is invalid; paths are relative to it",
                           [_relative(e, index) for e in error.errors]) from None
    ctx.programs.installed(version, program)
    return campaign_json(program.campaigns[index]), created, version


async def delete(ctx: AppContext, campaign_id: str, by: programs.Publication = programs.Publication()) -> int:
    """Remove a campaign; returns the new program version (nothing is saved when it is absent)."""
    async with ctx.db.transaction() as conn:
        document, campaigns = await _latest_campaigns(conn)
        index = _index_of(campaigns, campaign_id)
        if index is None:
            raise not_found("campaign_not_found", f"no campaign {campaign_id!r} in the program")
        del campaigns[index]
        program = _validated({**document, "campaigns": campaigns}, None)
        version = await programs.save(conn, program, by)
    ctx.programs.installed(version, program)
    return version
