"""Two instances × two workers on one database: confirms of 20 cards with 5 shared coupons and 5 gift
certificates, racing refunds and cancels, sent by many clients at once so that every worker forms batches.

No deadlock and no 5xx; every receipt applied once; no shared code used more than its limits allow, no
certificate charged below zero, and the audit (ledger, lots, debt, certificate balances against their
moves, coupon uses against their receipts) clean.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Servers
from tests.load import sql
from tests.programs import program
from tests.support import ADMIN_KEY, Service, card, line, metric, receipt, start_service

CODES = [f"SHARE{i}" for i in range(5)]
MAX_USES, MAX_PER_CARD = 12, 2
PROGRAM = program(pending_days=0, max_redeem_percent=50, campaigns=[
    {"id": f"share{i}", "name": f"Shared {i}", "type": "coupon", "priority": 20 + i, "code": code, "percent": 5,
     "max_uses": MAX_USES, "max_uses_per_account": MAX_PER_CARD}
    for i, code in enumerate(CODES)
])
CARDS, RECEIPTS, CLIENTS = 20, 240, 16
NOMINAL = 100000


@pytest.fixture(scope="module")
def instances(servers: Servers) -> Iterator[list[Service]]:
    url = servers.new_database()
    first = start_service(url, servers.redis_url, f"t{servers.run_id}race:", PROGRAM, {}, workers=2)
    second = start_service(url, servers.redis_url, f"t{servers.run_id}race:", PROGRAM, {}, workers=2)
    try:
        yield [first, second]
    finally:
        first.stop()
        second.stop()


def batches(instances: list[Service]) -> float:
    return sum(metric(s.client().get("/metrics").text, "bonus_confirm_batch_size_count") for s in instances)


def test_instances_racing_on_shared_codes_and_certificates(instances: list[Service]) -> None:
    rng = random.Random(20261206)
    client = instances[0].client()
    cards = [card() for _ in range(CARDS)]
    for number in cards:
        assert client.post("/v1/accounts", json={"card": number}).status_code in (200, 201)
        answer = client.post(f"/v1/accounts/{number}/adjustments", json={"points": 30000, "reason": "race"})
        assert answer.status_code == 201, answer.text
    issued = client.post("/v1/gift-certificates", json={"count": 5, "nominal": NOMINAL, "active": True})
    assert issued.status_code == 201, issued.text
    certificates = issued.json()["codes"]
    bodies = []
    for _ in range(RECEIPTS):
        fields: dict[str, Any] = {"coupons": rng.sample(CODES, rng.choice((0, 1, 2)))}
        if rng.random() < 0.3:
            fields["gift_certificates"] = [{"code": rng.choice(certificates), "amount": rng.choice((5000, 20000))}]
        if rng.random() < 0.3:
            fields["redeem_points"] = rng.choice((5000, 20000))
        bodies.append(receipt([line("1", rng.choice((60000, 90000, 120000))), line("2", 15000)],
                              rng.choice(cards), **fields))
    batches_before = batches(instances)

    answers: list[tuple[str, int, dict[str, Any]]] = []
    confirmed: list[str] = []
    lock = threading.Lock()
    queue = list(enumerate(bodies))

    def send(index: int) -> None:
        service = instances[index % 2]
        with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                          timeout=60) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    n, body = queue.pop()
                    undo = confirmed.pop(rng.randrange(len(confirmed))) if confirmed and n % 4 == 0 else None
                if undo is not None:
                    kind = "cancel" if n % 8 == 0 else "refund"
                    path = (f"/v1/receipts/{undo}/cancel" if kind == "cancel"
                            else f"/v1/receipts/{undo}/refunds")
                    reply = http.post(path, json=None if kind == "cancel" else {"refund_id": "all"})
                    with lock:
                        answers.append((kind, reply.status_code, reply.json()))
                reply = http.post("/v1/receipts", json=body)
                with lock:
                    answers.append(("confirm", reply.status_code, reply.json()))
                    if reply.status_code == 201:
                        confirmed.append(body["receipt_id"])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "a client never got its answer (a deadlock?)"

    statuses = Counter((kind, status) for kind, status, _ in answers)
    assert all(status < 500 for _, status in statuses), statuses
    assert statuses[("confirm", 201)] == RECEIPTS, statuses
    assert all(status in (200, 201) for kind, status in statuses if kind != "confirm"), statuses

    url = instances[0].database_url
    stored = sql(url, "SELECT receipt_id, status FROM receipts")
    assert sorted(r["receipt_id"] for r in stored) == sorted(b["receipt_id"] for b in bodies)
    live_uses = sql(url, "SELECT code, account_id, count(*) AS n FROM coupon_uses WHERE released_at IS NULL"
                         " GROUP BY code, account_id")
    per_code = Counter[str]()
    for row in live_uses:
        assert row["n"] <= MAX_PER_CARD, row
        per_code[row["code"]] += row["n"]
    assert per_code and all(n <= MAX_USES for n in per_code.values()), per_code
    balances = sql(url, "SELECT code, balance FROM gift_certificates WHERE code = ANY($1::text[])", certificates)
    assert all(0 <= row["balance"] <= NOMINAL for row in balances), balances
    assert any(row["balance"] < NOMINAL for row in balances)
    audit = instances[0].audit()
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert 0 < batches(instances) - batches_before < RECEIPTS, "the workers formed batches of several confirms"
