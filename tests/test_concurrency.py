"""Real parallel requests against a two-worker service, then the books and the ledger audit.

Every scenario fires its requests from separate threads, each with its own HTTP connection, released
together by a barrier, so that they really race in the server (two worker processes, one database).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import EXAMPLE, Servers
from tests.support import (
    Call,
    Service,
    assert_books,
    card,
    ledger,
    line,
    post,
    race,
    receipt,
    registered_card,
    start_service,
)

WELCOME = 20000  # the example program's registration bonus


@pytest.fixture(scope="module")
def racing(servers: Servers) -> Iterator[Service]:
    """A service of its own with two worker processes, so requests race across processes too."""
    service = start_service(servers.new_database(), servers.redis_url, f"t{servers.run_id}conc:",
                            EXAMPLE.read_text(), {}, workers=2)
    try:
        time.sleep(0.6)  # the worker that did not take the PUT finds the program by polling (200 ms)
        yield service
    finally:
        service.stop()


def in_parallel(service: Service, calls: list[Call]) -> list[httpx.Response]:
    """Run each call in its own thread on its own connection, all released at once; answers in call order."""
    return race([(service, call) for call in calls], timeout_s=30)


def test_concurrent_redemptions_never_spend_more_than_the_balance(racing: Service) -> None:
    client = racing.client()
    balance = WELCOME + 100000
    number = registered_card(client, WELCOME, extra_points=100000)
    # Each receipt of 1,000.00 may take up to 500.00 in points (max_redeem_percent 50) and asks for it:
    # 24 × 50000 asked against 120000 available.
    bodies = [receipt([line("1", 100000)], number, redeem_points=50000) for _ in range(24)]
    answers = in_parallel(racing, [post("/v1/receipts", b) for b in bodies])

    assert [a.status_code for a in answers] == [201] * len(bodies), [a.text for a in answers if a.status_code != 201]
    redeemed = [a.json()["totals"]["points_redeemed"] for a in answers]
    assert all(0 <= r <= 50000 for r in redeemed), redeemed
    assert sum(redeemed) <= balance, redeemed
    # everyone asked for more than was left, so the balance is spent exactly, not a point more or less
    assert sum(redeemed) == balance, redeemed
    for answer in answers:
        assert answer.json()["account"]["available"] >= 0, answer.json()["account"]
        # what a receipt's response shows was left is never more than the start less what it took
        assert answer.json()["account"]["available"] <= balance - answer.json()["totals"]["points_redeemed"]

    points = assert_books(racing, client, number, every_page=True, non_negative=True)
    assert points["available"] == balance - sum(redeemed)
    entries = ledger(client, number, every_page=True)
    redemptions = [e for e in entries if e["kind"] == "redemption"]
    assert sorted(-e["points"] for e in redemptions) == sorted(r for r in redeemed if r)
    accrued = sum(a.json()["totals"]["points_accrued"] for a in answers)
    assert points["pending"] == accrued


def test_concurrent_duplicates_of_one_receipt_apply_once(racing: Service) -> None:
    client = racing.client()
    number = registered_card(client, WELCOME)
    body = receipt([line("1", 250000, "2"), line("2", 50000)], number, redeem_points=5000)
    answers = in_parallel(racing, [post("/v1/receipts", body) for _ in range(16)])

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 15 + [201], [a.text for a in answers if a.status_code not in (200, 201)]
    for answer in answers:
        if answer.status_code == 200:
            assert answer.headers.get("Idempotent-Replayed") == "true"
        else:
            assert answer.headers.get("Idempotent-Replayed") is None
    first = answers[0].json()
    assert all(a.json() == first for a in answers)
    assert first["status"] == "confirmed"
    assert first["totals"]["points_redeemed"] == 5000

    entries = [e for e in ledger(client, number, every_page=True) if e.get("receipt_id") == body["receipt_id"]]
    assert [e["kind"] for e in entries if e["kind"] == "accrual"] == ["accrual"], entries
    assert [e["kind"] for e in entries if e["kind"] == "redemption"] == ["redemption"], entries
    accrual = next(e for e in entries if e["kind"] == "accrual")
    assert accrual["points"] == first["totals"]["points_accrued"]
    points = assert_books(racing, client, number, every_page=True, non_negative=True)
    assert points["available"] == WELCOME - 5000
    assert points["pending"] == first["totals"]["points_accrued"]


def test_concurrent_refunds_never_return_more_than_was_bought(racing: Service) -> None:
    client = racing.client()
    number = registered_card(client, WELCOME)
    body = receipt([line("1", 100000, "10")], number, redeem_points=WELCOME)
    sold = client.post("/v1/receipts", json=body)
    assert sold.status_code == 201, sold.text
    totals = sold.json()["totals"]
    assert totals["points_redeemed"] == WELCOME
    assert totals["points_accrued"] > 0
    before = client.get(f"/v1/accounts/{number}").json()["points"]
    assert before["available"] == 0

    url = f"/v1/receipts/{body['receipt_id']}/refunds"
    answers = in_parallel(racing, [
        post(url, {"refund_id": f"ret-{i}", "lines": [{"line_id": "1", "quantity": "1"}]}) for i in range(12)
    ])

    created = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code != 201]
    assert len(created) == 10, [a.text for a in answers]
    assert [a.status_code for a in refused] == [409, 409], [a.text for a in refused]
    for answer in refused:
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "refund_exceeds_receipt"
    parts = [a.json()["refund"]["totals"] for a in created]
    for name in ("amount", "points_redeemed", "points_accrued", "discount"):
        assert sum(p[name] for p in parts) == totals[name], (name, parts)

    stored = client.get(f"/v1/receipts/{body['receipt_id']}")
    assert stored.status_code == 200, stored.text
    assert stored.json()["status"] == "refunded"
    assert len(stored.json()["refunds"]) == 10
    assert stored.json()["lines"][0]["refunded_quantity"] in ("10", "10.000")

    entries = [e for e in ledger(client, number, every_page=True) if e.get("receipt_id") == body["receipt_id"]]
    assert sum(e["points"] for e in entries) == 0, entries  # every point of the sale came back or went back
    points = assert_books(racing, client, number, every_page=True, non_negative=True)
    assert (points["available"], points["pending"]) == (WELCOME, 0)


def test_confirms_racing_a_cancel_of_the_same_card(racing: Service) -> None:
    client = racing.client()
    start = WELCOME + 60000
    number = registered_card(client, WELCOME, extra_points=60000)
    first = receipt([line("1", 200000)], number, redeem_points=30000)
    sold = client.post("/v1/receipts", json=first)
    assert sold.status_code == 201, sold.text
    assert sold.json()["totals"]["points_redeemed"] == 30000

    bodies = [receipt([line("1", 40000 + 1000 * i), line("2", 15000)], number, redeem_points=5000)
              for i in range(14)]
    cancel = f"/v1/receipts/{first['receipt_id']}/cancel"
    calls = [post("/v1/receipts", b) for b in bodies]
    calls[7:7] = [post(cancel), post(cancel)]
    answers = in_parallel(racing, calls)

    cancels = answers[7:9]
    confirms = answers[:7] + answers[9:]
    assert [a.status_code for a in cancels] == [200, 200], [a.text for a in cancels]
    assert all(a.json()["status"] == "cancelled" for a in cancels)
    assert [a.status_code for a in confirms] == [201] * len(bodies), [a.text for a in confirms]
    redeemed = sum(a.json()["totals"]["points_redeemed"] for a in confirms)
    accrued = sum(a.json()["totals"]["points_accrued"] for a in confirms)
    # 50000 were left before the race and 70000 are asked; the cancel gives back 30000 at some point in it
    assert all(0 <= a.json()["totals"]["points_redeemed"] <= 5000 for a in confirms)
    assert start - 30000 <= redeemed <= 5000 * len(bodies), redeemed

    entries = ledger(client, number, every_page=True)
    of_first = [e for e in entries if e.get("receipt_id") == first["receipt_id"]]
    assert sum(e["points"] for e in of_first) == 0, of_first
    assert len([e for e in of_first if e["kind"] == "redemption_return"]) == 1, of_first  # reversed once
    assert len([e for e in of_first if e["kind"] == "accrual_reversal"]) == 1, of_first
    points = assert_books(racing, client, number, every_page=True, non_negative=True)
    assert points["available"] == start - redeemed
    assert points["pending"] == accrued
    assert client.get(f"/v1/receipts/{first['receipt_id']}").json()["status"] == "cancelled"


def test_receipts_racing_to_enrol_one_unknown_card(racing: Service) -> None:
    """The same unknown card on many receipts at once: one account, one welcome bonus, and every answer
    and every later read shows that bonus as available (bonus points are available at once)."""
    client = racing.client()
    for _ in range(5):  # a race: a few rounds make the wrong clock likely to show
        number = card()
        bodies = [receipt([line("1", 30000)], number) for _ in range(12)]
        answers = in_parallel(racing, [post("/v1/receipts", b) for b in bodies])
        assert [a.status_code for a in answers] == [201] * len(bodies), [a.text for a in answers]
        entries = ledger(client, number, every_page=True)
        assert [e["kind"] for e in entries].count("bonus") == 1, entries
        assert len({e["receipt_id"] for e in entries if e["kind"] == "accrual"}) == len(bodies)
        accrued = [a.json()["totals"]["points_accrued"] for a in answers]
        # the read after the race shows every receipt
        points = assert_books(racing, client, number, every_page=True, non_negative=True)
        assert (points["available"], points["pending"]) == (WELCOME, sum(accrued))
        shown = [(a.json()["account"]["available"], a.json()["account"]["pending"]) for a in answers]
        assert all(available == WELCOME for available, _ in shown), shown
        assert max(pending for _, pending in shown) == sum(accrued), shown
