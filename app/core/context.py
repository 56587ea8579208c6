"""What every feature's service needs: settings, database, cache, the active program, the clock."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from rules import CompiledProgram, Program, Receipt

from .auth import Principal
from .cache import Cache
from .db import Database
from .lookups import FailedLookups
from .settings import Settings

log = logging.getLogger("bonus_engine.cache")


def utcnow() -> datetime:
    return datetime.now(UTC)


# What the context holds of two features, named here so that core imports none of them: the program's
# `ProgramHolder` (app/program/service.py) and the receipts' group commit `Committer` (app/receipts/batch.py)
# fit these shapes, and mypy checks that they do where app/main.py builds the context.
class ActivePrograms(Protocol):
    """The worker's active program: the newest version, compiled once."""

    @property
    def current(self) -> CompiledProgram: ...  # the program, or a 503 problem while none is loaded

    @property
    def loaded(self) -> CompiledProgram | None: ...

    def installed(self, version: int, program: Program) -> None: ...

    async def refresh(self) -> None: ...


class Confirms(Protocol):
    """The worker's confirm queue: (result, replayed?) of a checked receipt, written with others."""

    async def confirm(self, receipt: Receipt, principal: Principal,
                      fingerprint: bytes) -> tuple[dict[str, Any], bool]: ...

    async def drain(self) -> None: ...


@dataclass
class AppContext:
    settings: Settings
    db: Database
    cache: Cache
    programs: ActivePrograms
    lookups: FailedLookups
    confirms: Confirms | None = None  # the worker's group commit; None: each confirm alone

    def snapshot_key(self, card: str) -> str:
        return f"{self.cache.account_key(card)}:p{self.programs.current.version}"

    async def cache_account(self, view: dict[str, Any], version: int, changes_at: datetime | None, *,
                            after_write: bool = True) -> None:
        """Store an account snapshot until it next changes by itself (capped), if newer than the cached one.

        When Redis cannot take one made after a write, the snapshot it holds is stale: move every worker to
        a new cache generation (once per outage), so that no snapshot written before is read again. A
        read-through (`after_write=False`) replaces nothing, so its failure moves nothing: a Redis pause under
        a read load must not empty the whole cache.
        """
        await self.cache_accounts([(view, version, changes_at)], after_write=after_write)

    async def cache_accounts(self, snapshots: list[tuple[dict[str, Any], int, datetime | None]], *,
                             after_write: bool = True) -> None:
        """`cache_account` for many accounts in one round trip."""
        max_ttl_ms = self.settings.snapshot_max_ttl_s * 1000
        now = utcnow()
        entries = [(self.snapshot_key(view["card"]), version, view,
                    max_ttl_ms if changes_at is None
                    else min(max_ttl_ms, int((changes_at - now).total_seconds() * 1000)))
                   for view, version, changes_at in snapshots]
        stored = await self.cache.put_snapshots(entries, after_write=after_write)
        if not stored and after_write:
            await self.next_cache_generation()

    async def next_cache_generation(self) -> None:
        if not self.cache.lost_writes:
            return
        self.cache.lost_writes = False
        try:
            self.cache.generation = int(await self.db.fetchval(
                "UPDATE cache_state SET generation = generation + 1 WHERE id = 1 RETURNING generation"
            ))
        except Exception as error:  # the write is committed: never fail the request for the cache
            self.cache.lost_writes = True  # try again with the next write
            log.warning("could not move to a new cache generation: %s", error)

    async def follow_cache_generation(self, interval_s: float) -> None:
        """Other workers' generation bumps reach this one within `interval_s`."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                generation = int(await self.db.fetchval("SELECT generation FROM cache_state WHERE id = 1"))
                self.cache.generation = max(self.cache.generation, generation)
            except Exception as error:  # keep following through database outages
                log.warning("cache generation poll failed: %s", error)
