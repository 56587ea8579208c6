"""The cache on a Redis Cluster (BONUS_ENGINE_REDIS_CLUSTER=1): three masters on this machine, made with
Debian's redis-server (`--cluster-enabled yes`) and `redis-cli --cluster create`.

Snapshots of many cards land on every node and are read back; the failed look-up counter limits a key as
on one server; and a node stopped under load costs nothing but its own cache hits: every request is answered,
from PostgreSQL, in time, and the ledger audit is clean. The cache steps aside for the stopped node only (a
pause per node, app/core/cache.py): the cards on the other nodes are still read from the cluster.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from redis.cluster import RedisCluster

from loadtests.redis_cluster import RedisNodes, cli
from tests.support import Service, line, receipt, registered_card
from tests.test_redis_faults import cache_counts, timed_read

WELCOME = 20000  # the example program's registration bonus


@contextmanager
def redis_cluster() -> Iterator[list[tuple[int, subprocess.Popen[bytes]]]]:
    """(port, process) of each master of a fresh cluster (loadtests/redis_cluster.py); all stopped after."""
    cluster = RedisNodes()
    try:
        yield cluster.nodes
    finally:
        cluster.stop()


def keys_per_node(nodes: list[tuple[int, Any]], prefix: str) -> list[int]:
    return [len(cli(port, "--scan", "--pattern", f"{prefix}*").split()) for port, _ in nodes]


def cards_per_node(nodes: list[tuple[int, Any]], cards: list[str]) -> list[set[str]]:
    """The cards whose keys each node holds: the node of the slot of the card's hash tag. (Not the keys found
    on it: a read whose node was paused, after a timeout on a busy machine, left no snapshot.)"""
    with RedisCluster(host="127.0.0.1", port=nodes[0][0]) as cluster:
        port_of = {card: cluster.get_node_from_key(f"{{acct:{card}}}").port for card in cards}
    return [{card for card in cards if port_of[card] == port} for port, _ in nodes]


def cards_on_every_node(client: httpx.Client, nodes: list[tuple[int, Any]], prefix: str, at_least: int) -> list[str]:
    """Registered cards, read once so that their snapshots are cached, until each node holds one. Cards hash
    onto nodes at random: nine miss a given node once in forty runs, and a test then proves nothing."""
    cards: list[str] = []
    while len(cards) < at_least or not all(count > 0 for count in keys_per_node(nodes, prefix)):
        assert len(cards) < 60, keys_per_node(nodes, prefix)
        card = registered_card(client)
        assert timed_read(client, card)["available"] == WELCOME
        cards.append(card)
    return cards


def test_snapshots_and_look_up_limits_live_on_every_node(make_module_service: Callable[..., Service]) -> None:
    with redis_cluster() as nodes:
        prefix = f"rc{random.randrange(10**6)}:"
        service = make_module_service(REDIS_URL=f"redis://127.0.0.1:{nodes[0][0]}/0", BONUS_ENGINE_REDIS_CLUSTER="1",
                                      BONUS_ENGINE_REDIS_PREFIX=prefix, BONUS_ENGINE_FAILED_LOOKUP_LIMIT="2",
                                      # not a test of timeouts: a busy machine must not turn a hit into one
                                      BONUS_ENGINE_REDIS_TIMEOUT_MS="2000")
        client = service.client()
        cards = cards_on_every_node(client, nodes, prefix, 12)
        before = cache_counts(client)
        for card in cards:
            assert timed_read(client, card)["available"] == WELCOME
        after = cache_counts(client)
        assert after["hit"] - before["hit"] == len(cards), (before, after)  # each read came from the cluster
        assert after.get("error", 0) == 0, after

        for port, _ in nodes:  # a node that lost its scripts is sent the script's text, on that node only
            cli(port, "script", "flush")
        body = receipt([line("1", 100000)], cards[0], redeem_points=5000)
        confirmed = client.post("/v1/receipts", json=body)
        assert confirmed.status_code == 201, confirmed.text
        before = cache_counts(client)
        points = timed_read(client, cards[0])
        assert (points["available"], points["pending"]) == (WELCOME - 5000,
                                                            confirmed.json()["totals"]["points_accrued"])
        after = cache_counts(client)
        assert (after["hit"], after["error"]) == (before["hit"] + 1, 0), (before, after)  # the confirm's snapshot

        pos = httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {service.key('pos')}"})
        for code in ("GCNOPE1", "GCNOPE2"):
            assert pos.get(f"/v1/gift-certificates/{code}").status_code == 404
        limited = pos.get("/v1/gift-certificates/GCNOPE3")
        assert limited.status_code == 429 and limited.json()["code"] == "too_many_failed_lookups", limited.text
        pos.close()
        assert sum(len(cli(port, "--scan", "--pattern", f"{prefix}lookups:*").split()) for port, _ in nodes) == 1


def test_a_node_stopped_under_load_costs_only_cache_hits(make_module_service: Callable[..., Service]) -> None:
    with redis_cluster() as nodes:
        prefix = f"rc{random.randrange(10**6)}:"
        service = make_module_service(REDIS_URL=f"redis://127.0.0.1:{nodes[0][0]}/0", BONUS_ENGINE_REDIS_CLUSTER="1",
                                      BONUS_ENGINE_REDIS_PREFIX=prefix,
                                      # a killed node refuses at once; a live one must not time out on a busy
                                      # machine, or the hits counted card by card below miss one
                                      BONUS_ENGINE_REDIS_TIMEOUT_MS="500")
        setup = service.client()
        cards = cards_on_every_node(setup, nodes, prefix, 9)
        held = cards_per_node(nodes, cards)
        assert all(held), held
        answers: list[tuple[str, int, float]] = []  # (what, status, seconds)
        stop = threading.Event()

        def load(worker: int) -> None:
            client = service.client()
            n = 0
            while not stop.is_set():
                card = cards[(worker + n) % len(cards)]
                started = time.monotonic()
                if n % 2:
                    answer = client.post("/v1/receipts", json=receipt([line("1", 10000)], card))
                    answers.append(("confirm", answer.status_code, time.monotonic() - started))
                else:
                    answer = client.get(f"/v1/accounts/{card}")
                    answers.append(("read", answer.status_code, time.monotonic() - started))
                n += 1

        threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(1.5)
            before = cache_counts(setup)
            port, process = nodes[1]  # not the node REDIS_URL names
            process.kill()
            process.wait(10)
            time.sleep(3)
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
        during = cache_counts(setup)
        assert len(answers) > 50, len(answers)
        failed = [a for a in answers if a[1] not in (200, 201)]
        assert failed == [], failed[:5]
        slow = [a for a in answers if a[2] > 1.0]
        assert slow == [], slow[:5]
        # the stopped node was asked, failed, and the cache stepped aside for it
        assert during.get("error", 0) > before.get("error", 0), (before, during)
        assert during.get("skipped", 0) > before.get("skipped", 0), (before, during)
        # every confirm shows: the ledger, not a stale snapshot; and the snapshots are read through again (a
        # snapshot lost on the stopped node moved the whole cache to a new generation)
        for card in cards:
            assert timed_read(setup, card)["available"] == WELCOME
        stopped, others = sorted(held[1]), sorted(held[0] | held[2])
        for n, card in enumerate(others):  # right after the stopped node failed or was skipped, the others hit
            counts = cache_counts(setup)
            assert timed_read(setup, stopped[n % len(stopped)])["available"] == WELCOME  # from PostgreSQL
            between = cache_counts(setup)
            assert between["hit"] == counts["hit"], (counts, between)
            assert between["error"] + between["skipped"] > counts["error"] + counts["skipped"], (counts, between)
            assert timed_read(setup, card)["available"] == WELCOME
            after = cache_counts(setup)
            assert after["hit"] == between["hit"] + 1, (card, between, after)
            assert (after["error"], after["skipped"]) == (between["error"], between["skipped"]), (between, after)
        audit = service.audit()
        assert audit.returncode == 0, audit.stdout + audit.stderr


@pytest.fixture(autouse=True)
def _needs_redis_server() -> None:
    """The cluster is made of Debian's redis-server and redis-cli, which this kind of machine has."""
    assert shutil.which("redis-server") and shutil.which("redis-cli"), "redis-server and redis-cli are needed"
