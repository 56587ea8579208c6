"""Custom segment use cases: put (validate, store, refresh membership), read, list, delete, members."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from pydantic import BaseModel, ValidationError

from app.core.context import AppContext
from app.core.errors import AppError, conflict, not_found
from app.core.http import nul_errors
from app.program import repository as program_versions
from rules import ProgramError, parse_program, read_document

from . import repository, schemas
from .filters import check_limits
from .refresh import refresh
from .schemas import CONDITIONS, MAX_SEGMENTS, SegmentDocument, reserved


def _invalid(errors: list[dict[str, str]]) -> AppError:
    return AppError(422, "invalid_segment", "the segment document is invalid", errors=errors)


# how pydantic names the members of a union in an error's location: types, and the models of schemas.py
_UNION_LABELS = frozenset({"bool", "str", "int"} | {name for name, value in vars(schemas).items()
                                                    if isinstance(value, type) and issubclass(value, BaseModel)})


def _path(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as the document's path: the tags that pick a condition's model (its own key
    again) and the names of union members are left out, so `filter.all[2].bought.within_days` it reads."""
    path = ""
    previous: int | str | None = None
    for part in loc:
        label = isinstance(part, str) and (part in _UNION_LABELS or part.startswith(("constrained-", "function-")))
        if part == previous and part in CONDITIONS or label:
            continue
        previous = part
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(body)"


def read_segment(text: bytes, fmt: str, segment_id: str) -> SegmentDocument:
    """The body (JSON or YAML) as a valid document whose id is the path's: 422 with each bad field's path."""
    try:
        data = read_document(text, fmt)
    except ProgramError as error:
        raise _invalid([{**e, "path": "(body)"} for e in error.errors]) from None
    if not isinstance(data, dict):
        raise _invalid([{"path": "(body)", "message": "the segment must be a mapping"}])
    given = data.get("id", segment_id)
    if given != segment_id:
        message = f"the body's id {given!r} is not the path's {segment_id!r}"
        raise AppError(422, "segment_id_mismatch", message, errors=[{"path": "id", "message": message}])
    if reserved(segment_id):
        raise _invalid([{"path": "id", "message": f"{segment_id!r} is a CVM segment's name"}])
    try:
        document = SegmentDocument.model_validate({**data, "id": segment_id})
    except ValidationError as error:
        seen: dict[tuple[str, str], None] = {}
        for e in error.errors(include_url=False):
            seen[(_path(e["loc"]), e["msg"])] = None
        raise _invalid([{"path": path, "message": message} for path, message in seen]) from None
    if errors := check_limits(document.filter) + nul_errors(data):
        raise _invalid(errors)
    return document


def segment_json(row: asyncpg.Record) -> dict[str, Any]:
    document = row["document"]
    return {"id": row["id"], "name": document["name"], "filter": document["filter"],
            "members": None if row["members"] is None else int(row["members"]),
            "refreshed_at": row["refreshed_at"].isoformat() if row["refreshed_at"] else None,
            "updated_at": row["updated_at"].isoformat()}


async def put(ctx: AppContext, document: SegmentDocument) -> tuple[dict[str, Any], bool]:
    """Create or replace, then refresh every segment's membership at once (a campaign naming this one sees
    its new members from the next confirm); returns the segment with its members and whether it is new."""
    stored = document.model_dump(mode="json", by_alias=True, exclude_none=True)
    program = ctx.programs.current.program  # 503 program_not_loaded before anything is stored
    async with ctx.db.transaction() as conn:
        current = await repository.lock(conn, document.id)
        if current is None and await repository.count(conn) >= MAX_SEGMENTS:
            raise conflict("too_many_segments", f"at most {MAX_SEGMENTS} segments; delete one first")
        created = await repository.save(conn, document.id, stored)
    await refresh(ctx.db, program, ctx.settings.report_time_zone)
    return await get(ctx, document.id), created


async def get(ctx: AppContext, segment_id: str) -> dict[str, Any]:
    async with ctx.db.connection() as conn:
        row = await repository.get(conn, segment_id)
    if row is None:
        raise not_found("custom_segment_not_found", f"no custom segment {segment_id!r}")
    return segment_json(row)


async def listed(ctx: AppContext) -> dict[str, Any]:
    async with ctx.db.connection() as conn:
        return {"segments": [segment_json(row) for row in await repository.all_segments(conn)]}


async def delete(ctx: AppContext, segment_id: str) -> None:
    """409 `segment_in_use` while the newest program's campaigns name it (the paths say where). Its id stays
    on the account rows until the next refresh, where nothing reads it: no campaign names it any more, the
    card lists only segments that exist, and a new segment of that id refreshes before it is answered."""
    async with ctx.db.transaction() as conn:
        if await repository.lock(conn, segment_id) is None:
            raise not_found("custom_segment_not_found", f"no custom segment {segment_id!r}")
        latest = await program_versions.latest(conn)  # after the lock: a program saved before it is seen
        paths = parse_program(latest["document"]).custom_segments().get(segment_id, []) if latest else []
        if paths:
            raise AppError(409, "segment_in_use", f"campaigns name segment {segment_id!r}: change them first",
                           errors=[{"path": path, "message": "names this segment"} for path in paths])
        await repository.delete(conn, segment_id)


MEMBERS_HEADER = ["card", "ltv", "receipts", "last_purchase"]


async def members(ctx: AppContext, segment_id: str) -> AsyncIterator[list[Any]]:
    """The members CSV's rows, header first (after the segment is known to exist)."""
    await get(ctx, segment_id)
    yield MEMBERS_HEADER
    async with ctx.db.connection() as conn, conn.transaction():
        async for row in repository.members(conn, segment_id):
            last = row["last_purchase_at"]
            yield [row["card"], int(row["ltv"]), int(row["receipts"]), last.isoformat() if last else ""]


async def names(conn: asyncpg.Connection, ids: list[str] | None) -> list[str]:
    """The custom segments among `ids` (an account's stored membership) that still exist, sorted."""
    if not ids:
        return []
    return sorted(await repository.existing_ids(conn, ids))
