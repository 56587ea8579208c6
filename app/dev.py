"""`bonus-engine dev`: everything a developer needs on a machine with only Python."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from types import FrameType

import asyncpg

from app import embedded
from app.core.db import with_connection

DATABASE = "bonus_engine"
EXAMPLE_PROGRAM = Path(__file__).resolve().parents[1] / "rules" / "examples" / "program.yaml"


DEV_ROLES = ("admin", "pos", "marketer")


def _keys(data_dir: Path, database_url: str) -> dict[str, str]:
    """Dev keys are kept in plain text in the data folder so that every `dev` run prints the same ones; a
    role the folder has no key of yet (one made before marketer keys) gets one."""
    from app.keys.service import create_key

    path = data_dir / "dev-keys.json"
    keys: dict[str, str] = dict(json.loads(path.read_text())) if path.exists() else {}
    missing = [role for role in DEV_ROLES if role not in keys]
    if not missing:
        return keys

    async def make(conn: asyncpg.Connection) -> dict[str, str]:
        return {role: await create_key(conn, role) for role in missing}

    keys |= asyncio.run(with_connection(database_url, make))
    path.write_text(json.dumps(keys))
    return keys


def _load_example(database_url: str) -> int | None:
    from app.program import repository
    from rules import load_program

    async def load(conn: asyncpg.Connection) -> int | None:
        if await repository.latest_version(conn):
            return None
        program = load_program(EXAMPLE_PROGRAM.read_text(), "yaml")
        async with conn.transaction():
            return await repository.insert_next(conn, program.document())

    return asyncio.run(with_connection(database_url, load))


def run(data_dir: Path, host: str, port: int) -> int:
    import uvicorn

    from app.core.migrations import upgrade

    data_dir = data_dir.resolve()
    # SIGTERM (a process manager, `kill`, an IDE's stop button) must stop the embedded servers as Ctrl-C does:
    # by default it ends the process at once, and uvicorn raises it again once it has shut down, so the
    # `finally` below would never run and both servers would be left running
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    print(f"starting embedded PostgreSQL and Valkey in {data_dir} …", flush=True)
    servers = embedded.start(data_dir)
    try:
        embedded.ensure_database(servers.database_url("postgres"), DATABASE)
        database_url = servers.database_url(DATABASE)
        upgrade(database_url)
        version = _load_example(database_url)
        keys = _keys(data_dir, database_url)
        os.environ["DATABASE_URL"] = database_url
        os.environ["REDIS_URL"] = servers.redis_url
        from app.core.settings import get_settings

        get_settings.cache_clear()
        print(
            f"""
bonus engine dev server
  API           http://{host}:{port}   docs: http://{host}:{port}/docs
  program       {'example program loaded as version ' + str(version) if version else 'kept from the last run'}
  admin key     {keys['admin']}
  pos key       {keys['pos']}
  marketer key  {keys['marketer']}
  console       http://{host}:{port}/console   reports: http://{host}:{port}/reports
                (in a browser: any user name, the marketer or admin key as the password)
  DATABASE_URL={database_url}
  REDIS_URL={servers.redis_url}
Ctrl-C stops the API and both embedded servers; data stays in {data_dir}.
""",
            flush=True,
        )
        uvicorn.run("app.main:app_from_env", factory=True, host=host, port=port, access_log=False,
                    log_level="warning", loop="uvloop", http="httptools")
    finally:
        servers.stop()
        print("embedded servers stopped", flush=True)
    return 0


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
