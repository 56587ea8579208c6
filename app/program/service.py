"""The active program: validated, versioned, compiled once per version, swapped atomically."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import asyncpg

from app.core import metrics
from app.core.auth import Principal
from app.core.db import Database
from app.core.errors import AppError
from app.core.http import nul_errors
from rules import CompiledProgram, Program, ProgramError, compile_program, parse_program, read_document

from . import repository

log = logging.getLogger("bonus_engine.program")


MAX_NOTE_CHARS = 500  # a publish note: a sentence or two on why, shown in the history


@dataclass(frozen=True, slots=True)
class Publication:
    """Who publishes a version and why, stored beside it (NULL for the CLI, which has no key)."""

    author: str | None = None
    note: str | None = None


def publication(principal: Principal, note: str | None) -> Publication:
    """The author is the key's id (`bootstrap` for the bootstrap admin key); an empty note is no note."""
    if note is not None and (errors := nul_errors(note, ("note",))):
        raise AppError(422, "validation_error", "the request is invalid", errors=errors)
    return Publication(principal.key_id, note or None)


def validate(text: bytes | str, fmt: str) -> Program:
    try:
        return parse_program(read_document(text, fmt))
    except ProgramError as error:
        raise invalid(error) from None


def invalid(error: ProgramError) -> AppError:
    return AppError(422, "invalid_program", "the program document is invalid", errors=error.errors)


async def save(conn: asyncpg.Connection, program: Program, by: Publication = Publication()) -> int:
    """Store a new version; ProgramError when a campaign names a custom segment that does not exist (the
    ones it names are held against deletion until the caller commits). Every worker installs it within
    `program_poll_ms` (ProgramHolder polls for the newest version; the saving worker at once)."""
    named = program.custom_segments()
    if named:
        found = await repository.existing_segments(conn, sorted(named))
        missing = [{"path": path, "message": f"no custom segment {segment_id!r} (PUT /v1/segments/{segment_id})"}
                   for segment_id, paths in named.items() if segment_id not in found for path in paths]
        if missing:
            raise ProgramError(missing)
    return await repository.insert_next(conn, program.document(), by.author, by.note)


class ProgramHolder:
    """Each worker keeps the compiled program of the newest version and polls for newer ones."""

    def __init__(self, db: Database, poll_ms: int):
        self._db = db
        self._poll_s = poll_ms / 1000
        self._current: CompiledProgram | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def current(self) -> CompiledProgram:
        if self._current is None:
            raise AppError(503, "program_not_loaded", "no program is loaded: PUT /v1/program first",
                           headers={"Retry-After": "1"})
        return self._current

    @property
    def loaded(self) -> CompiledProgram | None:
        return self._current

    async def refresh(self) -> None:
        async with self._db.connection() as conn:
            version = await repository.latest_version(conn)
            if version and (self._current is None or version > self._current.version):
                row = await repository.by_version(conn, version)
                if row is not None:
                    self.installed(row["version"], parse_program(row["document"]))

    def installed(self, version: int, program: Program) -> None:
        """The worker that saved a version uses it at once; the others find it by polling."""
        if self._current is None or version > self._current.version:
            self._current = compile_program(program, version)
            metrics.PROGRAM_VERSION.set(version)
            log.info("program version %s active", version)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                await self.refresh()
            except Exception as error:  # keep polling through database outages
                log.warning("program refresh failed: %s", error)

    async def start(self) -> None:
        try:
            await self.refresh()
        except Exception as error:
            log.warning("program not loaded at start-up: %s", error)
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
