"""A Citus cluster on this machine for the tests and `python -m loadtests.bench --citus`: a coordinator and
workers started by ../shared/citus/cluster.sh (Citus built into the machine's PostgreSQL 15 by
../shared/citus/build.sh).

A database on a cluster is one database of the same name on every node, each with the extension, and the
coordinator's copy knowing the workers. A migrated, distributed template is cloned node by node (each
node's copy of the template holds its own shards and metadata, so the clones agree); the template refuses
connections once made, so that Citus' maintenance daemon does not hold it open against the cloning.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import asyncpg

CITUS = Path(__file__).resolve().parents[2] / "shared" / "citus"
HOST = "127.0.0.1"


def port_is_free(port: int) -> bool:
    """Whether `port` on 127.0.0.1 can be bound now (a server about to start may take it)."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports(count: int) -> int:
    """The first of `count` consecutive free ports on 127.0.0.1 (below the kernel's ephemeral range)."""
    for _ in range(100):
        base = random.randrange(20_000, 30_000)
        if all(port_is_free(port) for port in range(base, base + count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports")


class Cluster:
    """A coordinator on `base` and workers on the ports after it, in a directory of their own."""

    def __init__(self, workers: int = 2) -> None:
        assert Path("/usr/lib/postgresql/15/lib/citus.so").exists(), f"Citus is not built here: run {CITUS}/build.sh"
        self.workers = workers
        self.base = _free_ports(workers + 1)
        self.directory = tempfile.mkdtemp(prefix="bonus-citus-")
        started = subprocess.run(["bash", str(CITUS / "cluster.sh"), "start", self.directory, str(self.base),
                                  str(workers)], capture_output=True, text=True, timeout=180)
        if started.returncode != 0:
            self.stop()
            raise RuntimeError(f"cluster.sh start failed: {started.stderr}")
        self.coordinator_url = started.stdout.strip().splitlines()[-1]  # its `postgres` database

    @property
    def ports(self) -> list[int]:
        """The coordinator's port first, then the workers'."""
        return [self.base + i for i in range(self.workers + 1)]

    def url(self, database: str, port: int | None = None) -> str:
        return f"postgresql://postgres@{HOST}:{port or self.base}/{database}"

    def node_data(self, port: int) -> str:
        return f"{self.directory}/node{port}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """`name` on every node (a clone of `template` there, or a new database with the extension and the
        workers added); returns the coordinator's URL of it."""
        asyncio.run(self._create(name, template))
        return self.url(name)

    async def _create(self, name: str, template: str | None) -> None:
        for port in self.ports:
            conn = await asyncpg.connect(self.url("postgres", port))
            try:
                await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
            finally:
                await conn.close()
        if template is not None:
            return
        for port in self.ports:
            conn = await asyncpg.connect(self.url(name, port))
            try:
                await conn.execute("CREATE EXTENSION citus")
            finally:
                await conn.close()
        conn = await asyncpg.connect(self.url(name))
        try:
            await conn.execute("SELECT citus_set_coordinator_host($1, $2)", HOST, self.base)
            for port in self.ports[1:]:
                await conn.execute("SELECT citus_add_node($1, $2)", HOST, port)
        finally:
            await conn.close()

    def freeze_template(self, name: str) -> None:
        """No more connections to `name` on any node, so that it can be cloned."""
        async def freeze() -> None:
            for port in self.ports:
                conn = await asyncpg.connect(self.url("postgres", port))
                try:
                    await conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                    await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                                       name)
                finally:
                    await conn.close()

        asyncio.run(freeze())

    def drop_database(self, name: str) -> None:
        """`name` gone from every node; a transaction left prepared there (a node stopped mid-commit that no
        recovery has resolved yet) is rolled back first, or it would hold the database."""
        async def drop() -> None:
            for port in self.ports:
                conn = await asyncpg.connect(self.url("postgres", port))
                try:
                    prepared = await conn.fetch("SELECT gid FROM pg_prepared_xacts WHERE database = $1", name)
                    if prepared:  # rolled back from inside their own database
                        there = await asyncpg.connect(self.url(name, port))
                        try:
                            for row in prepared:
                                await there.execute(f"ROLLBACK PREPARED '{row['gid']}'")
                        finally:
                            await there.close()
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                finally:
                    await conn.close()

        asyncio.run(drop())

    def pg_ctl(self, port: int, *args: str) -> None:
        """pg_ctl on one node (as the postgres user, who owns its data): `stop -m fast`, `start`, ..."""
        subprocess.run(["su", "postgres", "-c", " ".join(
            ["/usr/lib/postgresql/15/bin/pg_ctl", "-D", self.node_data(port), "-l", f"{self.node_data(port)}.log",
             "-w", *args])], check=True, capture_output=True, timeout=120)

    def stop(self) -> None:
        subprocess.run(["bash", str(CITUS / "cluster.sh"), "stop", self.directory], capture_output=True, timeout=120)
        shutil.rmtree(self.directory, ignore_errors=True)
