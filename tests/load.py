"""Helpers for the fault, storm and expiry tests: timed requests that never raise, SQL straight to the
database (not through the service or a fault proxy), and the service's worker processes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support import Service


@dataclass
class Answer:
    """One request as the client saw it: when it started, how long it took, and what came back."""

    op: str
    started: float  # time.monotonic()
    took: float
    status: int | None = None  # None: no HTTP answer (connection refused, reset, timed out)
    code: str | None = None  # problem+json `code`
    retry_after: str | None = None
    problem_json: bool = False
    replayed: bool = False
    error: str | None = None
    body: Any = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def ended(self) -> float:
        return self.started + self.took


def timed(client: httpx.Client, method: str, path: str, body: Any = None, op: str = "") -> Answer:
    started = time.monotonic()
    try:
        response = client.request(method, path, json=body)
    except httpx.TransportError as error:
        return Answer(op or path, started, time.monotonic() - started, error=f"{type(error).__name__}: {error}")
    answer = Answer(op or path, started, time.monotonic() - started, response.status_code,
                    retry_after=response.headers.get("retry-after"),
                    problem_json=response.headers.get("content-type", "").startswith("application/problem+json"),
                    replayed=response.headers.get("idempotent-replayed") == "true")
    try:
        answer.body = response.json()
    except ValueError:
        answer.body = response.text
    if answer.problem_json and isinstance(answer.body, dict):
        answer.code = answer.body.get("code")
    return answer


def sql(database_url: str, query: str, *args: Any) -> list[dict[str, Any]]:
    """Rows of one query, on a connection of its own straight to the database. On a Citus coordinator the
    query may join tables of different groups however it likes (a repartition join): tests check the service
    against such plain SQL, which the service itself never sends."""
    import asyncpg

    async def run() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(database_url)
        try:
            if await conn.fetchval("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')"):
                await conn.execute("SET citus.enable_repartition_joins = on")
            return [dict(row) for row in await conn.fetch(query, *args)]
        finally:
            await conn.close()

    return asyncio.run(run())


def worker_pids(service: Service) -> list[int]:
    """The uvicorn worker processes of a `serve --workers N` service (children of its supervisor)."""
    import psutil

    workers = []
    for child in psutil.Process(service.process.pid).children():
        try:
            if any("spawn_main" in part for part in child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                workers.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return sorted(workers)


def client_connections(pid: int, port: int) -> int:
    """Established HTTP connections that process `pid` holds on the service's `port`."""
    import psutil

    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.NoSuchProcess:
        return 0
    return sum(1 for c in connections if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
