"""What every feature's service needs: settings, database, cache, the active program, the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .cache import Cache
from .db import Database
from .settings import Settings

if TYPE_CHECKING:
    from app.program.service import ProgramHolder


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class AppContext:
    settings: Settings
    db: Database
    cache: Cache
    programs: ProgramHolder

    def snapshot_key(self, card: str) -> str:
        return f"{self.cache.account_key(card)}:p{self.programs.current.version}"

    async def cache_account(self, view: dict[str, Any], version: int, changes_at: datetime | None) -> None:
        """Store an account snapshot until it next changes by itself (capped), if newer than the cached one."""
        ttl_ms = self.settings.snapshot_max_ttl_s * 1000
        if changes_at is not None:
            ttl_ms = min(ttl_ms, int((changes_at - utcnow()).total_seconds() * 1000))
        await self.cache.put_snapshot(self.snapshot_key(view["card"]), version, view, ttl_ms)
