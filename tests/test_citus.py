"""On a Citus cluster: `bonus-engine migrate` places every table as app/core/distribution.py plans it.

A coordinator and two workers on this machine (../shared/citus/cluster.sh, Citus built into the machine's
PostgreSQL 15 by ../shared/citus/build.sh), in a fresh directory and on free ports, stopped afterwards.
Collected only with BONUS_TEST_CITUS=1 (tests/conftest.py); `.ci/run` builds Citus when it is missing and
runs these.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.distribution import DISTRIBUTED, GROUPS, REFERENCE
from tests.load import sql
from tests.support import port_is_free

pytestmark = pytest.mark.citus

CITUS = Path(__file__).resolve().parents[2] / "shared" / "citus"
WORKERS = 2


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports on 127.0.0.1 (below the kernel's ephemeral range)."""
    for _ in range(100):
        base = random.randrange(20_000, 30_000)
        if all(port_is_free(port) for port in range(base, base + count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports")


@pytest.fixture(scope="module")
def coordinator() -> Iterator[str]:
    """The URL of a fresh cluster's coordinator database (`postgres`, where cluster.sh made the extension)."""
    assert Path("/usr/lib/postgresql/15/lib/citus.so").exists(), f"Citus is not built here: run {CITUS}/build.sh"
    base = free_ports(WORKERS + 1)
    directory = tempfile.mkdtemp(prefix="bonus-citus-")
    try:
        started = subprocess.run(["bash", str(CITUS / "cluster.sh"), "start", directory, str(base), str(WORKERS)],
                                 capture_output=True, text=True, timeout=180)
        assert started.returncode == 0, started.stderr
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(CITUS / "cluster.sh"), "stop", directory], capture_output=True, timeout=120)
        shutil.rmtree(directory, ignore_errors=True)


def migrate(database_url: str) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "app.cli", "migrate"], capture_output=True, text=True,
                          env={**os.environ, "DATABASE_URL": database_url}, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def test_migrate_places_every_table_as_planned_and_again_changes_nothing(coordinator: str) -> None:
    printed = migrate(coordinator)
    assert printed[0] == "migrations applied"
    assert len(printed) == 1 + len(REFERENCE) + len(DISTRIBUTED)

    rows = sql(coordinator, "SELECT logicalrelid::regclass::text AS name, partmethod::text AS partmethod,"
                            " column_to_column_name(logicalrelid, partkey) AS column, colocationid"
                            " FROM pg_dist_partition")
    placed = {row["name"]: row for row in rows}
    assert {name for name, row in placed.items() if row["partmethod"] == "n"} == set(REFERENCE)
    assert {name: row["column"] for name, row in placed.items() if row["partmethod"] == "h"} == \
        {table: column for table, (_, column) in DISTRIBUTED.items()}
    for group in GROUPS:  # colocated: one colocation id per group, another for each group
        assert len({placed[table]["colocationid"] for table in group.tables}) == 1, group.anchor
    assert len({placed[group.anchor]["colocationid"] for group in GROUPS}) == len(GROUPS)
    shards = {row["name"]: row["count"] for row in sql(
        coordinator, "SELECT logicalrelid::regclass::text AS name, count(*) AS count FROM pg_dist_shard"
                     " GROUP BY 1")}
    for group in GROUPS:
        assert shards[group.anchor] == group.shard_count, group.anchor
    nodes = sql(coordinator, "SELECT count(*) AS count FROM pg_dist_node WHERE noderole = 'primary'"
                             " AND nodeport <> (SELECT nodeport FROM pg_dist_node WHERE groupid = 0)")
    assert nodes[0]["count"] == WORKERS

    assert migrate(coordinator) == ["migrations applied"]  # placed already: nothing to do
