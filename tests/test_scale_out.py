"""Horizontal scale on one machine: two `bonus-engine serve` instances (two ports, two processes) on one
database and one Redis key prefix, as replicas behind a load balancer would run.

A program change saved through either instance is live on the other within 2 s; receipts split
across both, with concurrent redemptions from shared cards, spend each balance exactly once; copies
of one receipt sent to both apply once; cancels through the other instance give every point back;
both instances show the same balances; and `bonus-engine audit` finds the books in order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Servers
from tests.programs import program
from tests.support import (
    Service,
    account,
    card,
    ledger,
    line,
    metric,
    post,
    race,
    receipt,
    registered_card,
    start_service,
)

# pending_days 14: points accrued by these receipts are not spendable by the next ones, so what the
# racing receipts may redeem is exactly the balance each card starts with
PROGRAM = program(pending_days=14, rounding="whole")
FAST = program(pending_days=14, rounding="whole", levels=[{"id": "base", "min_purchases": 0, "accrual_percent": 9}])
SLOW = program(pending_days=14, rounding="whole", levels=[{"id": "base", "min_purchases": 0, "accrual_percent": 4}])


@pytest.fixture(scope="module")
def pair(servers: Servers) -> Iterator[tuple[Service, Service]]:
    """Two instances: the same database URL and the same Redis prefix, each its own process and port."""
    database = servers.new_database()
    prefix = f"t{servers.run_id}scale:"
    first = start_service(database, servers.redis_url, prefix, PROGRAM, {})
    try:
        second = start_service(database, servers.redis_url, prefix, "", {})
    except BaseException:
        first.stop()
        raise
    try:
        assert first.url != second.url and first.process.pid != second.process.pid
        wait_for_version(second, program_version(first))
        yield first, second
    finally:
        second.stop()
        first.stop()


def program_version(service: Service) -> int:
    answer = service.client().get("/v1/program")
    assert answer.status_code == 200, answer.text
    return int(answer.headers["Program-Version"])


def wait_for_version(service: Service, version: int, within_s: float = 2.0) -> float:
    """Seconds until `service` evaluates receipts with `version` (fails after `within_s`)."""
    started = time.monotonic()
    client = service.client()
    while True:
        answer = client.post("/v1/receipts/calculate", json=receipt([line("1", 100000)], card()))
        if answer.status_code == 200 and answer.json()["program_version"] >= version:
            return time.monotonic() - started
        assert time.monotonic() - started < within_s, f"{service.url} still runs an older program: {answer.text}"
        time.sleep(0.05)


def calculated_points(service: Service) -> int:
    answer = service.client().post("/v1/receipts/calculate", json=receipt([line("1", 100000)], card()))
    assert answer.status_code == 200, answer.text
    return int(answer.json()["totals"]["points_accrued"])


def test_a_program_change_through_either_instance_is_live_on_the_other_within_2_s(
    pair: tuple[Service, Service],
) -> None:
    first, second = pair
    assert calculated_points(second) == 3000  # base tier 3 % of 1,000.00
    for writer, reader, document, points in ((first, second, FAST, 9000), (second, first, SLOW, 4000),
                                             (first, second, PROGRAM, 3000)):
        put = writer.client().put("/v1/program", content=document, headers={"Content-Type": "application/yaml"})
        assert put.status_code == 200, put.text
        assert calculated_points(writer) == points  # the instance that saved it uses it at once
        wait_for_version(reader, int(put.json()["version"]))
        assert calculated_points(reader) == points


def confirmed_count(service: Service) -> float:
    return metric(httpx.get(f"{service.url}/metrics").text, "bonus_receipts_total", operation="confirmed")


def test_receipts_split_across_instances_with_concurrent_redemptions_on_shared_cards(
    pair: tuple[Service, Service],
) -> None:
    first, second = pair
    instances = (first, second)
    start_balance = 100000
    cards = [registered_card(instances[i % 2].client(), welcome=0, extra_points=start_balance) for i in range(4)]
    # 8 receipts per card, alternating between the instances, each asking for 300.00 points of the
    # 500.00 it may take: 2,400.00 asked against 1,000.00 held, so every card's balance is spent exactly
    per_card = 8
    bodies = [receipt([line("1", 100000)], number, redeem_points=30000) for number in cards for _ in range(per_card)]
    owners = [instances[i % 2] for i in range(len(bodies))]
    before = [confirmed_count(s) for s in instances]
    answers = race([(owner, post("/v1/receipts", body)) for owner, body in zip(owners, bodies, strict=True)])

    assert [a.status_code for a in answers] == [201] * len(bodies), [a.text for a in answers if a.status_code != 201]
    # both instances did the work: each counted the confirms it answered
    assert [confirmed_count(s) - b for s, b in zip(instances, before, strict=True)] == [len(bodies) / 2] * 2
    for index, number in enumerate(cards):
        mine = answers[index * per_card:(index + 1) * per_card]
        redeemed = [a.json()["totals"]["points_redeemed"] for a in mine]
        assert all(0 <= r <= 30000 for r in redeemed), redeemed
        assert sum(redeemed) == start_balance, redeemed
        accrued = sum(a.json()["totals"]["points_accrued"] for a in mine)
        for answer in mine:
            assert answer.json()["account"]["available"] >= 0
        # the balance adds up, and reads the same through either instance (one Redis, one database)
        views = [account(s.client(), number)["points"] for s in instances]
        assert views[0] == views[1], views
        assert views[0]["available"] == 0 and views[0]["pending"] == accrued, (views[0], accrued)
        entries = ledger(first.client(), number)
        assert sum(e["points"] for e in entries) == views[0]["available"] + views[0]["pending"]
        assert sorted(-e["points"] for e in entries if e["kind"] == "redemption") == sorted(r for r in redeemed if r)

    # copies of one receipt sent to both instances at once: applied once, the others replay it
    number = cards[0]
    duplicate = receipt([line("1", 50000)], number)
    copies = race([(instances[i % 2], post("/v1/receipts", duplicate)) for i in range(6)])
    assert sorted(a.status_code for a in copies) == [200] * 5 + [201], [a.text for a in copies]
    assert all(a.headers.get("idempotent-replayed") == "true" for a in copies if a.status_code == 200)
    assert len({a.json()["totals"]["points_accrued"] for a in copies}) == 1

    # cancels of the first two cards' receipts, each through the instance that did not confirm it, racing
    cancelled = [(instances[(i + 1) % 2], post(f"/v1/receipts/{bodies[i]['receipt_id']}/cancel"))
                 for i in range(2 * per_card)]
    cancels = race(cancelled)
    assert [a.status_code for a in cancels] == [200] * len(cancelled), [a.text for a in cancels]
    duplicate_accrued = copies[0].json()["totals"]["points_accrued"]
    for index, number in enumerate(cards[:2]):
        views = [account(s.client(), number)["points"] for s in instances]
        assert views[0] == views[1], views
        # every redeemed point is back and every accrued one reversed (card 0 keeps the duplicate's accrual)
        assert views[0]["available"] == start_balance
        assert views[0]["pending"] == (duplicate_accrued if index == 0 else 0), views[0]

    audit = first.audit()
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert second.audit().returncode == 0
