"""Program history: the versions newest first, one version's document, the diff of two, and rollback.

History is never rewritten: a rollback publishes a new version whose document is the old one's, validated
again as any publish is (a custom segment it names must still exist). Usable without HTTP (the console
calls these with a database and a context)."""

from __future__ import annotations

import base64
import re
from datetime import UTC
from typing import Any

import asyncpg

from app.core.context import AppContext
from app.core.db import Database
from app.core.errors import AppError, not_found
from rules import Program, ProgramError, parse_program

from . import repository
from .diff import ProgramDiff, diff
from .service import Publication, invalid, save

_CURSOR = re.compile(r"^v([1-9]\d{0,9})$")


def _cursor(version: int) -> str:
    """The position after `version` (newest first): a new publish between pages shifts nothing."""
    return base64.urlsafe_b64encode(f"v{version}".encode()).decode().rstrip("=")


def _before(cursor: str) -> int:
    try:
        match = _CURSOR.match(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except ValueError:  # bad base64 (binascii.Error) or bad UTF-8 are both ValueErrors
        match = None
    if match is None or int(match.group(1)) > 2**31 - 1:
        raise AppError(422, "invalid_cursor", "the cursor is not one this service gave")
    return int(match.group(1))


def _entry(row: asyncpg.Record, active: int) -> dict[str, Any]:
    return {"version": row["version"], "created_at": row["created_at"].astimezone(UTC).isoformat(),
            "author": row["author"], "note": row["note"], "campaigns": row["campaigns"],
            "active": row["version"] == active}


async def page(db: Database, limit: int, cursor: str | None) -> dict[str, Any]:
    """Versions newest first, `limit` at a time, after `cursor`; the active one is the newest (every worker
    runs it within `program_poll_ms` of its publish)."""
    before = _before(cursor) if cursor else None
    async with db.connection() as conn:
        active = await repository.latest_version(conn)
        rows = await repository.history(conn, before, limit + 1)
    chosen = rows[:limit]
    return {"versions": [_entry(row, active) for row in chosen], "active_version": active or None,
            "next_cursor": _cursor(chosen[-1]["version"]) if len(rows) > limit else None}


def _version_not_found(version: int) -> AppError:
    return not_found("program_version_not_found", f"no program version {version}")


async def _stored(conn: asyncpg.Connection, version: int) -> dict[str, Any]:
    row = await repository.by_version(conn, version)
    if row is None:
        raise _version_not_found(version)
    return dict(row["document"])


def normalized(document: dict[str, Any]) -> dict[str, Any]:
    """The document as GET /v1/program shows one (the model's field order, defaults filled in); a stored
    document that today's rules refuse is shown as it was stored."""
    try:
        return parse_program(document).document()
    except ProgramError:
        return document


async def document(db: Database, version: int) -> dict[str, Any]:
    async with db.connection() as conn:
        return normalized(await _stored(conn, version))


async def difference(db: Database, version: int, against: int) -> ProgramDiff:
    """What changed from version `against` to version `version`."""
    async with db.connection() as conn:
        before = normalized(await _stored(conn, against))
        after = normalized(await _stored(conn, version))
    return diff(before, after)


async def rollback(ctx: AppContext, version: int, by: Publication) -> tuple[int, Program]:
    """Publish version `version`'s document again as a new version (this worker runs it at once, the others
    within `program_poll_ms`); 422 `invalid_program` with paths, and nothing published, if it no longer
    validates. Without a note, the note says which version it restores."""
    by = Publication(by.author, by.note or f"rollback to version {version}")
    async with ctx.db.transaction() as conn:
        stored = await _stored(conn, version)
        try:
            program = parse_program(stored)
            new_version = await save(conn, program, by)
        except ProgramError as error:
            raise invalid(error) from None
    ctx.programs.installed(new_version, program)
    return new_version, program
