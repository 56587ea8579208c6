"""On a Citus cluster: `bonus-engine migrate` places every table as app/core/distribution.py plans it.

The session's cluster (loadtests/cluster.py: a coordinator and two workers on this machine, started with
../shared/citus/cluster.sh, Citus built into the machine's PostgreSQL 15 by ../shared/citus/build.sh).
Collected only with BONUS_TEST_CITUS=1 (tests/conftest.py), which also puts every other test's database on
that cluster; `make citus-test` runs these and the modules it lists, and `.ci/run` runs it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator

import asyncpg
import pytest

from app.core.distribution import DISTRIBUTED, GROUPS, REFERENCE
from app.reports import rollup
from tests.conftest import Servers
from tests.load import sql
from tests.support import Service, line, receipt, start_service
from tests.test_faults import (
    PROGRAM,
    assert_applied_once,
    assert_audit_clean,
    assert_only_unavailable,
    http,
    open_cards,
    under_fault,
)
from tests.test_redis_faults import cache_counts, timed_read

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


# --- the report roll-up's horizon on the cluster ----------------------------------------------------------

def test_rows_routed_to_workers_carry_the_coordinators_transaction_id(servers: Servers) -> None:
    """The roll-up folds rows by `change_xid` below a horizon taken from the coordinator's snapshot: that only
    holds if every row written through the coordinator carries the coordinator's transaction id, whichever
    form wrote it (a VALUES list, `unnest`, a CTE)."""
    url = servers.new_database()

    async def run() -> tuple[int, list[int]]:
        conn = await asyncpg.connect(url)
        try:
            async with conn.transaction():
                xid = int(await conn.fetchval("SELECT pg_current_xact_id()::text::bigint"))
                ids = [900_001, 900_002]  # two accounts on two shards (a fresh database's ids are far below)
                await conn.execute("INSERT INTO accounts (id, card) VALUES ($1, 'x1'), ($2, 'x2')", *ids)
                await conn.execute("INSERT INTO ledger (id, account_id, kind, points, reason)"
                                   " VALUES (9001, $1, 'adjustment', 1, 't'), (9002, $2, 'adjustment', 1, 't')", *ids)
                await conn.execute("INSERT INTO ledger (id, account_id, kind, points, reason) SELECT * FROM"
                                   " unnest('{9003,9004}'::bigint[], $1::bigint[], '{adjustment,adjustment}'::text[],"
                                   " '{1,1}'::bigint[], '{t,t}'::text[])", ids)
                await conn.execute("WITH e AS (INSERT INTO ledger (id, account_id, kind, points, reason)"
                                   " VALUES (9005, $1, 'adjustment', 1, 't')) SELECT 1", ids[0])
            found = [int(r["change_xid"]) for r in await conn.fetch("SELECT change_xid FROM ledger WHERE id > 9000")]
            return xid, found
        finally:
            await conn.close()

    xid, found = asyncio.run(run())
    assert found == [xid] * 5


def test_a_roll_up_waits_for_the_commits_prepared_on_a_worker(servers: Servers) -> None:
    """A transaction prepared on a worker (the second half of a distributed commit) holds the roll-up's horizon
    back: `settled_horizon` gives none while it stays prepared, and one as soon as it is committed."""
    assert servers.cluster is not None
    url = servers.new_database()
    database = url.rsplit("/", 1)[1]
    worker = servers.cluster.url(database, servers.cluster.ports[1])

    async def run() -> tuple[int | None, int | None]:
        on_worker = await asyncpg.connect(worker)
        conn = await asyncpg.connect(url)
        try:
            await on_worker.execute("BEGIN; PREPARE TRANSACTION 'test_settle_1'")
            held = await rollup.settled_horizon(conn, timeout_s=0.3)

            async def commit_soon() -> None:
                await asyncio.sleep(0.3)
                await on_worker.execute("COMMIT PREPARED 'test_settle_1'")

            committing = asyncio.create_task(commit_soon())
            settled = await rollup.settled_horizon(conn, timeout_s=10)
            await committing
            return held, settled
        finally:
            await conn.close()
            await on_worker.close()

    held, settled = asyncio.run(run())
    assert held is None
    assert isinstance(settled, int) and settled > 0


# --- faults on the cluster: a worker node, then the coordinator, stopped under load --------------------------

@pytest.fixture()
def cluster_service(servers: Servers) -> Iterator[Service]:
    assert servers.cluster is not None
    service = start_service(servers.new_database(), servers.redis_url, f"t{servers.run_id}cf{secrets.token_hex(2)}:",
                            PROGRAM, {})
    try:
        yield service
    finally:
        service.stop()


def node_of(database_url: str, table: str, value: int | str) -> int:
    """The port of the worker node that holds `table`'s shard for distribution value `value`."""
    cast = "bigint" if isinstance(value, int) else "text"
    return int(sql(database_url, "SELECT nodeport FROM citus_shards WHERE shardid ="
                                 f" get_shard_id_for_distribution_column('{table}', $1::{cast})", value)[0]["nodeport"])


def test_a_worker_node_stopped_under_load_answers_503_and_loses_nothing(servers: Servers,
                                                                         cluster_service: Service) -> None:
    """The node stops at once (its open transactions die, prepared ones stay prepared) while clients confirm,
    refund and read, retrying each write until it succeeds. While it is down, a receipt whose claim and
    account are on the other node is confirmed, one that needs it answers 503; once it is back and the
    coordinator has recovered the two-phase commits, every retried write is applied exactly once and the
    audit is clean."""
    cluster, service = servers.cluster, cluster_service
    assert cluster is not None
    cards = open_cards(service, 40)
    node, live = cluster.ports[-1], cluster.ports[1]
    url = service.database_url
    accounts = {row["card"]: row["id"] for row in sql(url, "SELECT card, id FROM accounts")}
    on_live = [number for number in cards  # the card's row and its account both on the running node
               if node_of(url, "cards", number) == live and node_of(url, "accounts", accounts[number]) == live]
    ids = [f"probe-{secrets.token_hex(4)}" for _ in range(40)]
    live_ids = [i for i in ids if node_of(url, "receipt_claims", i) == live]
    dead_ids = [i for i in ids if node_of(url, "receipt_claims", i) == node]
    assert on_live and live_ids and dead_ids
    probes: list[int] = []

    def down() -> None:
        cluster.pg_ctl(node, "stop", "-m", "immediate")
        with http(service) as client:  # the probes are confirmed once more after the node is back: replays
            for receipt_id, number in ((live_ids[0], on_live[0]), (dead_ids[0], on_live[0])):
                probes.append(client.post("/v1/receipts", json=receipt(
                    [line("1", 10000)], number, receipt_id=receipt_id)).status_code)

    def back() -> None:
        cluster.pg_ctl(node, "start")
        # what the coordinator's maintenance daemon does every citus.recover_2pc_interval (1 min by default):
        # the transactions prepared on the node are committed or rolled back as the coordinator decided
        sql(url, "SELECT recover_prepared_transactions()")

    load, _, stopped_at, _ = under_fault(service, cards, down, back, hold_s=2.0)
    assert probes == [201, 503], "the receipt on the running node went through, the other one waits"
    failed = [a for a in load.answers if not a.ok]
    assert len([a for a in failed if a.started >= stopped_at]) >= 5, "the clients saw the node down"
    assert_only_unavailable(failed)
    with http(service) as client:  # the probe that was refused goes through now, once
        assert client.post("/v1/receipts", json=receipt([line("1", 10000)], on_live[0],
                                                        receipt_id=dead_ids[0])).status_code == 201
    assert_applied_once(url, load.confirmed | {live_ids[0], dead_ids[0]}, load.refunded)
    assert_audit_clean(service)
    print(f"\nworker node stopped: {len(load.answers)} requests, {len(failed)} answered 503, "
          f"{len(load.confirmed)} receipts and {len(load.refunded)} refunds applied once; audit clean")


def test_the_coordinator_restarted_under_load_answers_503_and_loses_nothing(servers: Servers,
                                                                            cluster_service: Service) -> None:
    cluster, service = servers.cluster, cluster_service
    assert cluster is not None
    cards = open_cards(service, 20)
    coordinator = cluster.ports[0]
    load, _, stopped_at, _ = under_fault(service, cards, lambda: cluster.pg_ctl(coordinator, "stop", "-m", "fast"),
                                         lambda: cluster.pg_ctl(coordinator, "start"), hold_s=2.0)
    failed = [a for a in load.answers if not a.ok]
    assert [a for a in failed if a.started >= stopped_at], "the clients saw the coordinator down"
    assert_only_unavailable(failed)
    sql(service.database_url, "SELECT recover_prepared_transactions()")
    assert_applied_once(service.database_url, load.confirmed, load.refunded)
    assert_audit_clean(service)


# --- the cache on a Redis Cluster beside the Citus cluster ----------------------------------------------------

def test_the_engine_on_citus_keeps_its_cache_on_a_redis_cluster(servers: Servers, cluster_service: Service) -> None:
    """`make citus-test` runs with BONUS_TEST_REDIS_CLUSTER=1: every service of the run keeps its snapshots on
    a Redis Cluster of three masters. Confirmed balances are read back from it (hits, no errors) as each
    confirm answered them, and its keys land on more than one node."""
    nodes = servers.redis_nodes
    assert nodes is not None, "make citus-test sets BONUS_TEST_REDIS_CLUSTER=1"
    service = cluster_service
    assert service.env["BONUS_ENGINE_REDIS_CLUSTER"] == "1"
    client = service.client()
    answered = {}
    for number in open_cards(service, 12):
        confirmed = client.post("/v1/receipts", json=receipt([line("1", 10000)], number, redeem_points=100))
        assert confirmed.status_code == 201, confirmed.text
        account = confirmed.json()["account"]
        answered[number] = {"available": account["available"], "pending": account["pending"]}
    before = cache_counts(client)
    read = {number: timed_read(client, number) for number in answered}
    after = cache_counts(client)
    assert after["hit"] - before["hit"] == len(answered), (before, after)  # each confirm left its snapshot there
    assert after.get("error", 0) == 0, after
    assert {n: {"available": p["available"], "pending": p["pending"]} for n, p in read.items()} == answered
    prefix = service.env["BONUS_ENGINE_REDIS_PREFIX"]
    assert sum(1 for port in nodes.ports if nodes.keys(port, f"{prefix}*")) >= 2, "the keys are spread"
