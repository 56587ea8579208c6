"""On a Citus cluster: `bonus-engine migrate` places every table as app/core/distribution.py plans it.

The session's cluster (tests/cluster.py: a coordinator and two workers on this machine, started with
../shared/citus/cluster.sh, Citus built into the machine's PostgreSQL 15 by ../shared/citus/build.sh).
Collected only with BONUS_TEST_CITUS=1 (tests/conftest.py), which also puts every other test's database on
that cluster; `make citus-test` runs these and the modules it lists, and `.ci/run` runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.core.distribution import DISTRIBUTED, GROUPS, REFERENCE
from tests.conftest import Servers
from tests.load import sql

pytestmark = pytest.mark.citus


@pytest.fixture(scope="module")
def coordinator(servers: Servers) -> str:
    """The coordinator's URL of a fresh database on the cluster: the extension and the workers, no tables."""
    assert servers.cluster is not None, "BONUS_TEST_CITUS=1 puts the session's databases on a cluster"
    return servers.empty_database()


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
    assert nodes[0]["count"] == 2

    assert migrate(coordinator) == ["migrations applied"]  # placed already: nothing to do
