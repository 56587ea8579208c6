"""Real PostgreSQL and Redis for every test run, and the service over real HTTP.

DATABASE_URL / REDIS_URL name servers to use (a fresh database and a fresh key prefix are made for
this run, and dropped after it); without them, embedded PostgreSQL and Valkey are started. With
BONUS_TEST_CITUS=1 the databases are on a Citus cluster this run starts (loadtests/cluster.py) instead, and the
tests marked `citus` are collected too (`make citus-test` runs those and the modules it lists). With
BONUS_TEST_REDIS_CLUSTER=1 the cache is on a Redis Cluster of three masters this run starts
(loadtests/redis_cluster.py), for every service and in-process context (BONUS_ENGINE_REDIS_CLUSTER=1 is set
for the run); `make citus-test` sets both.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from app import embedded
from app.core.distribution import distribute
from app.core.migrations import upgrade
from loadtests.cluster import Cluster
from loadtests.redis_cluster import RedisNodes
from tests.support import ADMIN_KEY, Service, start_service

EXAMPLE = Path(__file__).resolve().parents[1] / "rules" / "examples" / "program.yaml"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `citus` need a cluster (Citus built into this machine's PostgreSQL 15): they run with
    BONUS_TEST_CITUS=1 (`.ci/run` sets it after building Citus) and are deselected otherwise, not skipped."""
    if on_citus():
        return
    citus = [item for item in items if item.get_closest_marker("citus")]
    if citus:
        config.hook.pytest_deselected(items=citus)
        items[:] = [item for item in items if not item.get_closest_marker("citus")]


def on_citus() -> bool:
    return os.environ.get("BONUS_TEST_CITUS") == "1"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


class Servers:
    """Where this run's databases live; `new_database()` clones the migrated template."""

    def __init__(self) -> None:
        self.run_id = secrets.token_hex(4)
        self._embedded: embedded.Embedded | None = None
        self._tmp: str | None = None
        self.cluster: Cluster | None = None
        if on_citus():
            self.cluster = Cluster()
            self.admin_url = self.cluster.coordinator_url
        elif os.environ.get("DATABASE_URL"):
            self.admin_url = _with_database(os.environ["DATABASE_URL"], "postgres")
        else:
            self._tmp = tempfile.mkdtemp(prefix="bonus-engine-test-")
            os.chmod(self._tmp, 0o755)
            self._embedded = embedded.start(Path(self._tmp), persist=False)
            self.admin_url = self._embedded.database_url("postgres")
        self.redis_nodes: RedisNodes | None = None
        if os.environ.get("BONUS_TEST_REDIS_CLUSTER") == "1":
            self.redis_nodes = RedisNodes()
            self.redis_url = self.redis_nodes.url
            os.environ["BONUS_ENGINE_REDIS_CLUSTER"] = "1"  # the services inherit it, and Settings reads it
        else:
            self.redis_url = os.environ.get("REDIS_URL") or (self._embedded.redis_url if self._embedded else "")
        self.databases: list[str] = []
        self.template = self._create(f"bonus_test_{self.run_id}_template", template=None)
        upgrade(_with_database(self.admin_url, self.template))
        if self.cluster is not None:
            self._distribute(_with_database(self.admin_url, self.template))
            self.cluster.freeze_template(self.template)

    @staticmethod
    def _distribute(url: str) -> None:
        async def place() -> None:
            import asyncpg

            conn = await asyncpg.connect(url)
            try:
                await distribute(conn)
            finally:
                await conn.close()

        asyncio.run(place())

    def _create(self, name: str, template: str | None) -> str:
        if self.cluster is not None:
            self.cluster.create_database(name, template)
            self.databases.append(name)
            return name

        async def create() -> None:
            import asyncpg

            conn = await asyncpg.connect(self.admin_url)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
            finally:
                await conn.close()

        asyncio.run(create())
        self.databases.append(name)
        return name

    def new_database(self) -> str:
        """A fresh, migrated database URL."""
        name = self._create(f"bonus_test_{self.run_id}_{len(self.databases)}", template=self.template)
        return _with_database(self.admin_url, name)

    def empty_database(self) -> str:
        """A fresh database URL without migrations, for tests that migrate it themselves."""
        name = self._create(f"bonus_test_{self.run_id}_{len(self.databases)}", template=None)
        return _with_database(self.admin_url, name)

    def close(self) -> None:
        for name in reversed(self.databases):
            if self.cluster is not None:
                self.cluster.drop_database(name)
            else:
                asyncio.run(embedded.drop_database(self.admin_url, name))
        if self.cluster is not None:
            self.cluster.stop()
        if self.redis_nodes is not None:
            self.redis_nodes.stop()
        if self._embedded is not None:
            self._embedded.stop()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    found = Servers()
    yield found
    found.close()


@contextmanager
def _services(servers: Servers, tag: str) -> Iterator[Callable[..., Service]]:
    """Start `bonus-engine serve` on a fresh database with a program (YAML text); all stopped on exit."""
    started: list[Service] = []

    def make(program_yaml: str | None = None, **env: str) -> Service:
        service = start_service(
            servers.new_database(), servers.redis_url, f"t{servers.run_id}{tag}{len(started)}:",
            program_yaml if program_yaml is not None else EXAMPLE.read_text(), env,
        )
        started.append(service)
        return service

    try:
        yield make
    finally:
        for service in started:
            service.stop()


@pytest.fixture(scope="session")
def make_service(servers: Servers) -> Iterator[Callable[..., Service]]:
    with _services(servers, "s") as make:
        yield make


@pytest.fixture(scope="module")
def make_module_service(servers: Servers, request: pytest.FixtureRequest) -> Iterator[Callable[..., Service]]:
    """Services stopped when the module ends, so a long suite does not hold PostgreSQL connections open."""
    with _services(servers, f"m{abs(hash(request.module.__name__)) % 10**6}x") as make:
        yield make


@pytest.fixture(scope="session")
def service(make_service: Callable[..., Service]) -> Service:
    """The service with the example program, shared by tests that use unique cards and receipt ids."""
    return make_service()


@pytest.fixture(scope="session")
def admin_key() -> str:
    return ADMIN_KEY
