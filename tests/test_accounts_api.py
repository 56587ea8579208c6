"""Accounts over HTTP: register, the read endpoint, the ledger and its pages, adjustments, block.

The shared service runs the example program: tiers base 3 % / silver from 15,000.00 at 5 % / gold from
50,000.00 at 7 %, accrued points pending 14 days, lots expire after 365 days, whole-point rounding, and
the `welcome` registration bonus of 200.00 points (20000) that expires in 14 days.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support import (
    Service,
    account,
    assert_books,
    assert_problem,
    card,
    confirm,
    ledger,
    line,
    receipt,
    register,
    unique,
)

WELCOME = 20000


def adjust(client: httpx.Client, number: str, points: int, reason: str = "goodwill", status: int = 201,
           **fields: Any) -> dict[str, Any]:
    answer = client.post(f"/v1/accounts/{number}/adjustments", json={"points": points, "reason": reason, **fields})
    assert answer.status_code == status, answer.text
    return dict(answer.json())


def parse(moment: str) -> datetime:
    parsed = datetime.fromisoformat(moment)
    assert parsed.tzinfo is not None, moment
    return parsed


# --- register ---------------------------------------------------------------------------------------


def test_register_grants_the_welcome_bonus_at_once(service: Service) -> None:
    client, number = service.client(), card()
    before = datetime.now(UTC)
    created = register(client, number)
    assert created["card"] == number
    assert created["status"] == "active"
    assert created["segment"] == "none"
    # the registration bonus is available at once, not pending
    assert created["points"]["available"] == WELCOME
    assert created["points"]["pending"] == 0
    # it expires in 14 days, so it is listed as expiring within 30 days
    [expiring] = created["points"]["expiring"]
    assert expiring["amount"] == WELCOME
    at = parse(expiring["at"])
    assert before + timedelta(days=14) - timedelta(minutes=1) <= at <= datetime.now(UTC) + timedelta(days=14)
    assert created["tier"] == {
        "id": "base", "accrual_percent": 3, "purchases": 0,
        "next": {"id": "silver", "min_purchases": 1500000, "remaining": 1500000},
    }
    [entry] = ledger(client, number)
    assert entry["kind"] == "bonus"
    assert entry["points"] == WELCOME
    assert entry.get("reason"), entry
    assert "receipt_id" not in entry or entry["receipt_id"] is None
    assert parse(entry["expires_at"]) == at
    assert account(client, number) == created
    assert_books(service, client, number)


def test_register_with_a_pos_key(service: Service) -> None:
    client, number = service.client(service.key("pos")), card()
    created = register(client, number, phone="+79001234567", birth_date="1990-05-17")
    assert created["points"]["available"] == WELCOME
    assert account(client, number)["card"] == number


def test_register_again_with_the_same_body_is_a_replay_without_a_second_bonus(service: Service) -> None:
    client, number = service.client(), card()
    first = register(client, number, phone="+79001234567", birth_date="1990-05-17")
    # the same request after validation: another key order and whitespace
    again = client.post("/v1/accounts", content=(
        f'{{ "birth_date": "1990-05-17",\n "phone": "+79001234567", "card": "{number}" }}'
    ), headers={"Content-Type": "application/json"})
    assert again.status_code == 200, again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["points"] == first["points"]
    third = client.post("/v1/accounts", json={"card": number, "phone": "+79001234567", "birth_date": "1990-05-17"})
    assert third.status_code == 200, third.text
    assert third.headers.get("idempotent-replayed") == "true"
    entries = ledger(client, number)
    assert [e["kind"] for e in entries] == ["bonus"]
    assert account(client, number)["points"]["available"] == WELCOME
    assert_books(service, client, number)


@pytest.mark.parametrize("other", [
    {"phone": "+79007654321", "birth_date": "1990-05-17"},
    {"phone": "+79001234567"},
    {"phone": "+79001234567", "birth_date": "1991-05-17"},
    {},
])
def test_register_again_with_another_body_is_409_account_exists(service: Service, other: dict[str, Any]) -> None:
    client, number = service.client(), card()
    register(client, number, phone="+79001234567", birth_date="1990-05-17")
    answer = client.post("/v1/accounts", json={"card": number, **other})
    assert_problem(answer, 409, "account_exists")
    assert [e["kind"] for e in ledger(client, number)] == ["bonus"]
    assert account(client, number)["points"]["available"] == WELCOME


def test_registering_an_auto_enrolled_card_gives_no_second_bonus(service: Service) -> None:
    client, number = service.client(), card()
    confirmed = confirm(client, receipt([line("1", 100000)], number))
    assert confirmed["card_status"] == "ok"
    assert confirmed["account"]["available"] == WELCOME
    answer = client.post("/v1/accounts", json={"card": number})
    assert answer.status_code in (200, 201), answer.text
    kinds = [e["kind"] for e in ledger(client, number)]
    assert kinds.count("bonus") == 1, kinds
    assert account(client, number)["points"]["available"] == WELCOME
    assert_books(service, client, number)


@pytest.mark.parametrize("body", [
    {"card": "29 0001"},
    {"card": ""},
    {"card": "x" * 65},
    {"card": "2900001", "colour": "red"},
    {"card": "2900001", "phone": "call me"},
    {"card": "2900001", "birth_date": "17.05.1990"},
    {"phone": "+79001234567"},
])
def test_register_refuses_bad_bodies(service: Service, body: dict[str, Any]) -> None:
    client = service.client()
    problem = assert_problem(client.post("/v1/accounts", json=body), 422, "validation_error")
    assert problem["errors"], problem
    if "card" in body and body["card"] == "2900001":
        assert_problem(client.get("/v1/accounts/2900001"), 404, "account_not_found")


# --- the read endpoint ------------------------------------------------------------------------------


def test_look_up_after_one_purchase(service: Service) -> None:
    client, number = service.client(), card()
    register(client, number)
    before = account(client, number)
    assert before["segment"] == "none"
    confirmed = confirm(client, receipt([line("1", 100000)], number))
    # base 3 % of 1,000.00 = 30.00 points, pending 14 days
    assert confirmed["totals"]["points_accrued"] == 3000
    view = account(client, number)
    assert view["segment"] == "newcomer"
    assert view["points"]["available"] == WELCOME
    assert view["points"]["pending"] == 3000
    # only the welcome bonus expires within 30 days; the accrual is still pending
    assert [e["amount"] for e in view["points"]["expiring"]] == [WELCOME]
    assert view["tier"]["id"] == "base"
    assert view["tier"]["purchases"] == 100000
    assert view["tier"]["next"] == {"id": "silver", "min_purchases": 1500000, "remaining": 1400000}
    # a pos key reads the same
    assert account(service.client(service.key("pos")), number) == view
    assert_books(service, client, number)


def test_tier_progress_reaches_the_top(service: Service) -> None:
    client, number = service.client(), card()
    register(client, number)
    confirm(client, receipt([line("1", 1600000, category="bags")], number))
    view = account(client, number)
    assert view["tier"]["id"] == "silver"
    assert view["tier"]["accrual_percent"] == 5
    assert view["tier"]["next"] == {"id": "gold", "min_purchases": 5000000, "remaining": 3400000}
    confirm(client, receipt([line("1", 3400000, category="bags")], number))
    view = account(client, number)
    assert view["tier"]["id"] == "gold"
    assert view["tier"]["purchases"] == 5000000
    assert view["tier"]["next"] is None
    assert_books(service, client, number)


def test_unknown_card_is_404_account_not_found(service: Service) -> None:
    client, number = service.client(), card()
    assert_problem(client.get(f"/v1/accounts/{number}"), 404, "account_not_found")
    assert_problem(client.get(f"/v1/accounts/{number}/ledger"), 404, "account_not_found")
    assert_problem(client.post(f"/v1/accounts/{number}/adjustments", json={"points": 100, "reason": "x"}),
                   404, "account_not_found")
    assert_problem(client.post(f"/v1/accounts/{number}/block"), 404, "account_not_found")
    assert_problem(client.post(f"/v1/accounts/{number}/unblock"), 404, "account_not_found")
    # none of these opened an account
    assert_problem(client.get(f"/v1/accounts/{number}"), 404, "account_not_found")


# --- the ledger -------------------------------------------------------------------------------------


def test_ledger_pages_walk_every_entry_once_newest_first(service: Service) -> None:
    client, number = service.client(), card()
    register(client, number)
    for points in (100, 200, -50, 300, 400, -25):
        adjust(client, number, points, reason=f"step {points}")
    everything = ledger(client, number)
    assert len(everything) == 7
    ids = [int(e["id"]) for e in everything]
    assert ids == sorted(ids, reverse=True)
    assert [parse(e["created_at"]) for e in everything] == sorted(
        (parse(e["created_at"]) for e in everything), reverse=True)
    # newest first: the last adjustment leads, the welcome bonus comes last
    assert everything[0]["points"] == -25
    assert everything[-1]["kind"] == "bonus"

    walked: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        answer = client.get(f"/v1/accounts/{number}/ledger", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert 1 <= len(page["entries"]) <= 2
        walked += page["entries"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10, "the pages never end"
    assert pages == 4
    assert walked == everything
    assert len({e["id"] for e in walked}) == 7
    assert_books(service, client, number)


def test_ledger_with_an_exact_multiple_of_the_limit_ends_with_a_null_cursor(service: Service) -> None:
    client, number = service.client(), card()
    register(client, number)
    for points in (100, 200, 300):
        adjust(client, number, points)
    first = client.get(f"/v1/accounts/{number}/ledger", params={"limit": 2}).json()
    assert len(first["entries"]) == 2 and first["next_cursor"]
    second = client.get(f"/v1/accounts/{number}/ledger", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert len(second["entries"]) == 2
    assert second["next_cursor"] is None
    assert {e["id"] for e in first["entries"]}.isdisjoint({e["id"] for e in second["entries"]})


@pytest.mark.parametrize("cursor", [
    "garbage", "!!!", "eDEy",  # base64 of "x12"
    "bA", "bC0x",  # "l" and "l-1"
    "bDk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ",  # "l" and 24 nines: not a bigint
    "_w",  # not UTF-8
])
def test_garbage_cursor_is_422_invalid_cursor(service: Service, cursor: str) -> None:
    client, number = service.client(), card()
    register(client, number)
    answer = client.get(f"/v1/accounts/{number}/ledger", params={"limit": 2, "cursor": cursor})
    assert_problem(answer, 422, "invalid_cursor")


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": -1}, {"limit": "two"}, {"limit": 501}])
def test_ledger_bad_limit_is_422(service: Service, params: dict[str, Any]) -> None:
    client, number = service.client(), card()
    register(client, number)
    assert_problem(client.get(f"/v1/accounts/{number}/ledger", params=params), 422, "validation_error")


# --- adjustments ------------------------------------------------------------------------------------


def test_positive_adjustment_creates_available_points(service: Service) -> None:
    client, number = service.client(), card()
    register(client, number)
    result = adjust(client, number, 12345, reason="apology for the queue")
    entry = result["entry"]
    assert entry["kind"] == "adjustment"
    assert entry["points"] == 12345
    assert entry["reason"] == "apology for the queue"
    assert entry.get("author"), entry
    assert result["account"]["points"]["available"] == WELCOME + 12345
    assert result["account"]["points"]["pending"] == 0
    # the program's 365 days: not among what expires within 30 days
    assert [e["amount"] for e in result["account"]["points"]["expiring"]] == [WELCOME]
    view = account(client, number)
    assert view["points"]["available"] == WELCOME + 12345
    newest = ledger(client, number)[0]
    assert newest["id"] == entry["id"]
    assert newest["kind"] == "adjustment"
    assert newest["points"] == 12345
    assert newest["reason"] == "apology for the queue"
    assert newest.get("author") == entry["author"]
    assert_books(service, client, number)


def test_adjustment_with_its_own_expiry_is_listed_as_expiring(service: Service) -> None:
    client, number = service.client(), card()
    register(client, number)
    result = adjust(client, number, 5000, expire_days=10)
    at = parse(result["entry"]["expires_at"])
    assert timedelta(days=10) - timedelta(minutes=1) <= at - datetime.now(UTC) <= timedelta(days=10)
    expiring = account(client, number)["points"]["expiring"]
    assert sorted(e["amount"] for e in expiring) == [5000, WELCOME]
    # expires before the welcome bonus, so listed first
    assert expiring[0]["amount"] == 5000


def test_negative_adjustment_debits(service: Service) -> None:
    client, number = service.client(), card()
    register(client, number)
    result = adjust(client, number, -5000, reason="fraud reversal")
    entry = result["entry"]
    assert entry["kind"] == "adjustment"
    assert entry["points"] == -5000
    assert entry["reason"] == "fraud reversal"
    assert entry.get("author"), entry
    view = account(client, number)
    assert view["points"]["available"] == WELCOME - 5000
    assert [e["amount"] for e in view["points"]["expiring"]] == [WELCOME - 5000]
    assert [(e["kind"], e["points"]) for e in ledger(client, number)] == [("adjustment", -5000), ("bonus", WELCOME)]
    assert_books(service, client, number)


def test_adjustment_replay_and_conflict(service: Service) -> None:
    client, number = service.client(), card()
    register(client, number)
    adjustment_id = unique("adj-")
    body = {"points": 700, "reason": "birthday", "adjustment_id": adjustment_id}
    first = client.post(f"/v1/accounts/{number}/adjustments", json=body)
    assert first.status_code == 201, first.text
    again = client.post(f"/v1/accounts/{number}/adjustments", json=body)
    assert again.status_code == 200, again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["entry"] == first.json()["entry"]
    for other in ({**body, "points": 701}, {**body, "reason": "birthday!"}, {**body, "expire_days": 5}):
        answer = client.post(f"/v1/accounts/{number}/adjustments", json=other)
        assert_problem(answer, 409, "idempotency_conflict")
    entries = ledger(client, number)
    assert [(e["kind"], e["points"]) for e in entries] == [("adjustment", 700), ("bonus", WELCOME)]
    assert account(client, number)["points"]["available"] == WELCOME + 700
    assert_books(service, client, number)


@pytest.mark.parametrize("body", [
    {"points": 0, "reason": "nothing"},
    {"points": 100.0, "reason": "float"},
    {"points": "100", "reason": "string"},
    {"points": 100},
    {"points": 100, "reason": ""},
    {"points": 100, "reason": "x", "expire_days": 0},
    {"points": 100, "reason": "x", "author": "me"},
    {"points": 100, "reason": "x", "adjustment_id": "has space"},
])
def test_bad_adjustments_are_422_and_change_nothing(service: Service, body: dict[str, Any]) -> None:
    client, number = service.client(), card()
    register(client, number)
    answer = client.post(f"/v1/accounts/{number}/adjustments", json=body)
    problem = assert_problem(answer, 422, "validation_error")
    assert problem.get("errors"), problem
    assert [e["kind"] for e in ledger(client, number)] == ["bonus"]
    assert account(client, number)["points"]["available"] == WELCOME


def test_pos_key_cannot_adjust_or_block(service: Service) -> None:
    admin, number = service.client(), card()
    register(admin, number)
    pos = service.client(service.key("pos"))
    store_pos = service.client(service.key("pos", store="s17"))
    for client in (pos, store_pos):
        answer = client.post(f"/v1/accounts/{number}/adjustments", json={"points": 100, "reason": "self-service"})
        assert_problem(answer, 403, "forbidden")
        assert_problem(client.post(f"/v1/accounts/{number}/block"), 403, "forbidden")
        assert_problem(client.post(f"/v1/accounts/{number}/unblock"), 403, "forbidden")
    view = account(admin, number)
    assert view["status"] == "active"
    assert view["points"]["available"] == WELCOME
    assert [e["kind"] for e in ledger(admin, number)] == ["bonus"]


# --- block and unblock ------------------------------------------------------------------------------


def test_blocked_card_earns_and_spends_nothing_until_unblocked(service: Service) -> None:
    client, number = service.client(), card()
    register(client, number)
    blocked = client.post(f"/v1/accounts/{number}/block")
    assert blocked.status_code == 200, blocked.text
    assert blocked.json()["status"] == "blocked"
    assert account(client, number)["status"] == "blocked"

    body = receipt([line("1", 100000)], number, redeem_points=10000)
    preview = client.post("/v1/receipts/calculate", json=body)
    assert preview.status_code == 200, preview.text
    assert preview.json()["card_status"] == "blocked"
    assert preview.json()["points"]["redeemable_max"] == 0

    result = confirm(client, body)
    assert result["card_status"] == "blocked"
    assert result["totals"]["points_accrued"] == 0
    assert result["totals"]["points_redeemed"] == 0
    assert result["totals"]["to_pay"] == 100000
    assert all(ln["points_accrued"] == 0 and ln["points_redeemed"] == 0 for ln in result["lines"])
    view = account(client, number)
    assert view["points"]["available"] == WELCOME
    assert view["points"]["pending"] == 0
    assert [e["kind"] for e in ledger(client, number)] == ["bonus"]

    unblocked = client.post(f"/v1/accounts/{number}/unblock")
    assert unblocked.status_code == 200, unblocked.text
    assert unblocked.json()["status"] == "active"
    assert account(client, number)["status"] == "active"
    result = confirm(client, receipt([line("1", 100000)], number, redeem_points=10000))
    assert result["card_status"] == "ok"
    assert result["totals"]["points_redeemed"] == 10000
    # base 3 % of what is paid: (1,000.00 − 100.00) × 3 % = 27.00 points
    assert result["totals"]["points_accrued"] == 2700
    view = account(client, number)
    assert view["points"]["available"] == WELCOME - 10000
    assert view["points"]["pending"] == 2700
    kinds = sorted(e["kind"] for e in ledger(client, number))
    assert kinds == ["accrual", "bonus", "redemption"]
    assert_books(service, client, number)


def test_block_twice_and_unblock_an_active_card(service: Service) -> None:
    client, number = service.client(), card()
    register(client, number)
    for _ in range(2):
        answer = client.post(f"/v1/accounts/{number}/block")
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "blocked"
    for _ in range(2):
        answer = client.post(f"/v1/accounts/{number}/unblock")
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "active"
    assert account(client, number)["points"]["available"] == WELCOME


# --- the books --------------------------------------------------------------------------------------


def test_entries_sum_to_available_plus_pending_after_a_mixed_history(service: Service) -> None:
    client, number = service.client(), card()
    register(client, number)
    first_body = receipt([line("1", 200000, quantity="2"), line("2", 50000)], number, redeem_points=15000)
    first = confirm(client, first_body)
    assert first["totals"]["points_redeemed"] == 15000
    adjust(client, number, 3000, reason="compensation")
    adjust(client, number, -1000, reason="correction")
    refund = client.post(f"/v1/receipts/{first['receipt_id']}/refunds",
                         json={"refund_id": "f1", "lines": [{"line_id": "1", "quantity": "1"}]})
    assert refund.status_code == 201, refund.text
    entries = ledger(client, number)
    kinds = {e["kind"] for e in entries}
    assert {"bonus", "redemption", "accrual", "adjustment", "accrual_reversal", "redemption_return"} <= kinds
    by_kind = {e["kind"]: e for e in entries if e["kind"] != "adjustment"}
    for kind in ("redemption", "accrual", "accrual_reversal", "redemption_return"):
        assert by_kind[kind].get("receipt_id") == first["receipt_id"], by_kind[kind]
    for kind in ("accrual_reversal", "redemption_return"):
        assert by_kind[kind].get("refund_id") == "f1", by_kind[kind]
    # accruals ripen 14 days after issued_at and expire 365 days after that
    issued = parse(first_body["issued_at"])
    accrual = by_kind["accrual"]
    assert accrual["points"] == first["totals"]["points_accrued"]
    assert parse(accrual["available_at"]) == issued + timedelta(days=14)
    assert parse(accrual["expires_at"]) == issued + timedelta(days=14 + 365)
    assert by_kind["redemption"]["points"] == -15000
    # a pos key reads the same ledger
    pos = service.client(service.key("pos"))
    assert pos.get(f"/v1/accounts/{number}/ledger", params={"limit": 500}).json()["entries"] == entries
    for entry in entries:
        if entry["kind"] in ("redemption", "accrual_reversal", "expiry"):
            assert entry["points"] < 0, entry
        if entry["kind"] in ("accrual", "bonus", "redemption_return"):
            assert entry["points"] > 0, entry
    assert_books(service, client, number)


def test_a_debit_beyond_the_balance_becomes_debt_repaid_by_the_next_credit(service: Service) -> None:
    client, number = service.client(), card()
    register(client, number)
    adjust(client, number, -25000, reason="chargeback")
    view = account(client, number)
    assert view["points"]["available"] + view["points"]["pending"] == WELCOME - 25000
    assert_books(service, client, number)
    adjust(client, number, 10000, reason="goodwill")
    view = account(client, number)
    assert view["points"]["available"] == 5000
    assert view["points"]["pending"] == 0
    assert_books(service, client, number)


def test_a_cancelled_purchase_no_longer_counts_for_segment_and_tier(service: Service) -> None:
    client, number = service.client(), card()
    register(client, number)
    body = receipt([line("1", 100000)], number)
    confirm(client, body)
    assert account(client, number)["segment"] == "newcomer"
    cancelled = client.post(f"/v1/receipts/{body['receipt_id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    view = account(client, number)
    assert view["segment"] == "none"
    assert view["tier"]["purchases"] == 0
    assert view["points"] == {"available": WELCOME, "pending": 0, "expiring": view["points"]["expiring"]}
    assert_books(service, client, number)


# --- concurrent duplicates: exactly one is applied ---------------------------------------------------


def _race(service: Service, count: int, send: Any) -> list[httpx.Response]:
    from concurrent.futures import ThreadPoolExecutor

    clients = [service.client() for _ in range(count)]
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(send, clients))


def test_concurrent_registrations_of_one_card_grant_one_bonus(service: Service) -> None:
    number = card()
    body = {"card": number, "phone": "+79001112233"}
    answers = _race(service, 8, lambda c: c.post("/v1/accounts", json=body))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 7 + [201], [a.text for a in answers]
    assert all(a.headers.get("idempotent-replayed") == "true" for a in answers if a.status_code == 200)
    client = service.client()
    assert [e["kind"] for e in ledger(client, number)] == ["bonus"]
    assert_books(service, client, number)


def test_concurrent_registrations_with_other_bodies_one_wins(service: Service) -> None:
    number = card()
    phones = iter(f"+7900111{i:04d}" for i in range(8))
    bodies = [{"card": number, "phone": next(phones)} for _ in range(8)]
    answers = _race(service, 8, lambda c: c.post("/v1/accounts", json=bodies.pop()))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 7, [a.text for a in answers]
    assert all(a.json()["code"] == "account_exists" for a in answers if a.status_code == 409)
    assert [e["kind"] for e in ledger(service.client(), number)] == ["bonus"]


def test_concurrent_adjustments_with_one_id_apply_once(service: Service) -> None:
    client, number = service.client(), card()
    register(client, number)
    body = {"points": 1500, "reason": "race", "adjustment_id": unique("adj-")}
    answers = _race(service, 8, lambda c: c.post(f"/v1/accounts/{number}/adjustments", json=body))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 7 + [201], [a.text for a in answers]
    entry_ids = {a.json()["entry"]["id"] for a in answers}
    assert len(entry_ids) == 1
    assert [e["kind"] for e in ledger(client, number)] == ["adjustment", "bonus"]
    assert account(client, number)["points"]["available"] == WELCOME + 1500
    assert_books(service, client, number)


def test_the_read_endpoint_agrees_before_and_after_unblock(service: Service) -> None:
    """Unblocking changes the status only: the account's tier purchases and segment read the same
    right after a blocked card's purchase as after the unblock (no stale snapshot)."""
    client, number = service.client(), card()
    register(client, number)
    assert client.post(f"/v1/accounts/{number}/block").status_code == 200
    before = account(client, number)
    result = confirm(client, receipt([line("1", 100000)], number))
    assert result["card_status"] == "blocked"
    blocked_view = account(client, number)
    assert client.post(f"/v1/accounts/{number}/unblock").status_code == 200
    unblocked_view = account(client, number)
    assert unblocked_view["status"] == "active"
    assert blocked_view["points"] == before["points"] == unblocked_view["points"]
    assert blocked_view["tier"] == unblocked_view["tier"], (blocked_view, unblocked_view)
    assert blocked_view["segment"] == unblocked_view["segment"], (blocked_view, unblocked_view)
