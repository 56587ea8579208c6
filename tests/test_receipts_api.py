"""Receipt flows through HTTP with the arithmetic written out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from tests.programs import program
from tests.support import Service, account, assert_books, card, confirm, ledger, line, now_iso, receipt


@pytest.fixture(scope="module")
def svc(make_module_service: Callable[..., Service]) -> Service:
    # base 3 %, silver from 1,000.00 at 5 %, gold from 5,000.00 at 7 %; points available at once
    return make_module_service(program(pending_days=0, rounding="minor"))


def test_tier_held_before_the_receipt_earns(svc: Service) -> None:
    client, number = svc.client(), card()
    # 1,200.00 at base 3 % = 36.00 points; the receipt lifts purchases to 1,200.00 (silver from 1,000.00)
    first = confirm(client, receipt([line("1", 120000)], number, issued_at=now_iso(timedelta(hours=-2))))
    assert first["totals"]["points_accrued"] == 3600
    assert first["account"]["tier_applied"] == "base"
    assert first["account"]["tier"] == "silver"
    # the next receipt earns at silver 5 %: 200.00 × 5 % = 10.00 points
    second = confirm(client, receipt([line("1", 20000)], number))
    assert second["totals"]["points_accrued"] == 1000
    assert second["account"]["tier_applied"] == "silver"
    view = account(client, number)
    assert view["tier"]["id"] == "silver"
    assert view["tier"]["purchases"] == 140000
    assert view["tier"]["next"] == {"id": "gold", "min_purchases": 500000, "remaining": 360000}
    assert_books(svc, client, number)


def test_redemption_capped_and_spread_by_largest_remainder(svc: Service) -> None:
    client, number = svc.client(), card()
    client.post(f"/v1/accounts/{number}/adjustments", json={"points": 100000, "reason": "test credit"})
    assert client.get(f"/v1/accounts/{number}").status_code == 404  # adjustments need an account
    client.post("/v1/accounts", json={"card": number})
    assert client.post(f"/v1/accounts/{number}/adjustments",
                       json={"points": 100000, "reason": "test credit"}).status_code == 201
    # three equal lines of 10.00; 50 % cap: redeemable_max = min(1,000.00 available, 15.00) = 15.00
    body = receipt([line("1", 1000), line("2", 1000), line("3", 1000)], number, redeem_points=1000)
    result = confirm(client, body)
    assert result["points"]["redeemable_max"] == 1500
    # 10.00 points over three equal lines: 3.34, 3.33, 3.33 (the tie goes to the earlier line)
    assert [x["points_redeemed"] for x in result["lines"]] == [334, 333, 333]
    assert result["totals"]["points_redeemed"] == 1000
    assert result["totals"]["to_pay"] == 3000 - 1000
    # accrual on the paid base, in minor units: (1000 − 334) × 3 % = 19.98 → 19; (1000 − 333) × 3 % = 20.01 → 20
    assert [x["points_accrued"] for x in result["lines"]] == [19, 20, 20]
    # asking for more than the cap grants the cap
    more = confirm(client, receipt([line("1", 2000)], number, redeem_points=99999))
    assert more["totals"]["points_redeemed"] == 1000  # 50 % of 20.00
    assert_books(svc, client, number)


def test_calculate_changes_nothing_and_matches_confirm(svc: Service) -> None:
    client, number = svc.client(), card()
    client.post("/v1/accounts", json={"card": number})
    client.post(f"/v1/accounts/{number}/adjustments", json={"points": 5000, "reason": "credit"})
    body = receipt([line("1", 7777, "3"), line("2", 1234)], number, redeem_points=3000)
    before = account(client, number)
    preview = client.post("/v1/receipts/calculate", json=body)
    assert preview.status_code == 200, preview.text
    assert account(client, number) == before
    assert client.get(f"/v1/receipts/{body['receipt_id']}").status_code == 404
    confirmed = confirm(client, body)
    for name in ("totals", "lines", "campaigns", "points"):
        assert preview.json()[name] == confirmed[name]
    assert preview.json()["status"] == "calculated" and confirmed["status"] == "confirmed"


def test_partial_refunds_reverse_stored_shares_and_last_unit_takes_the_rest(svc: Service) -> None:
    client, number = svc.client(), card()
    client.post("/v1/accounts", json={"card": number})
    client.post(f"/v1/accounts/{number}/adjustments", json={"points": 100000, "reason": "credit"})
    # 3 units for 1,000.00; 50 % cap → redeem 100.00 points; accrual (100000 − 10000) × 3 % = 2,700.00
    body = receipt([line("1", 100000, "3")], number, redeem_points=10000)
    sale = confirm(client, body)
    assert sale["lines"][0]["points_accrued"] == 2700
    rid = body["receipt_id"]
    # one unit: amount floor(100000/3) = 33333, points redeemed floor(10000/3) = 3333, accrued floor(2700/3) = 900
    one_unit = [{"line_id": "1", "quantity": "1"}]
    first = client.post(f"/v1/receipts/{rid}/refunds", json={"refund_id": "a", "lines": one_unit})
    assert first.status_code == 201, first.text
    assert first.json()["refund"]["totals"] == {
        "amount": 33333, "discount": 0, "points_redeemed": 3333, "gift_certificates": 0,
        "to_pay": 30000, "points_accrued": 900}
    assert first.json()["status"] == "partially_refunded"
    second = client.post(f"/v1/receipts/{rid}/refunds", json={"refund_id": "b", "lines": one_unit})
    assert second.json()["refund"]["totals"]["amount"] == 33333
    # the last unit takes each remainder: 100000 − 2 × 33333 = 33334; 10000 − 6666 = 3334; 2700 − 1800 = 900
    last = client.post(f"/v1/receipts/{rid}/refunds", json={"refund_id": "c"})
    assert last.status_code == 201
    assert last.json()["refund"]["totals"]["amount"] == 33334
    assert last.json()["refund"]["totals"]["points_redeemed"] == 3334
    assert last.json()["status"] == "refunded"
    assert last.json()["lines"][0]["refunded_quantity"] == "3"
    # everything is back: 100000 credited, nothing spent, nothing earned
    assert account(client, number)["points"]["available"] == 100000
    stored = client.get(f"/v1/receipts/{rid}").json()
    assert [r["refund_id"] for r in stored["refunds"]] == ["a", "b", "c"]
    replay = client.post(f"/v1/receipts/{rid}/refunds", json={"refund_id": "a", "lines": one_unit})
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert client.post(f"/v1/receipts/{rid}/refunds", json={"refund_id": "d"}).status_code == 409
    assert_books(svc, client, number)


def test_redeemed_points_return_into_the_lots_they_left(svc: Service) -> None:
    client, number = svc.client(), card()
    client.post("/v1/accounts", json={"card": number})
    # two lots: 50.00 expiring in 10 days, 500.00 expiring in 100 days
    client.post(f"/v1/accounts/{number}/adjustments", json={"points": 5000, "reason": "soon", "expire_days": 10})
    client.post(f"/v1/accounts/{number}/adjustments", json={"points": 50000, "reason": "later", "expire_days": 100})
    # the 60.00 redeemed take the 50.00 that expire first, then 10.00 of the later lot
    body = receipt([line("1", 20000)], number, redeem_points=6000)
    confirm(client, body)
    assert account(client, number)["points"]["expiring"] == []
    client.post(f"/v1/receipts/{body['receipt_id']}/cancel")
    # back where they came from, the 50.00 expiring in 10 days again
    expiring = account(client, number)["points"]["expiring"]
    assert [e["amount"] for e in expiring] == [5000]
    assert account(client, number)["points"]["available"] == 55000
    assert_books(svc, client, number)


def test_reversed_accrual_may_go_below_zero_and_is_repaid_first(svc: Service) -> None:
    client, number = svc.client(), card()
    # 1,000.00 at 3 % = 30.00 points, available at once (pending_days 0)
    sale = receipt([line("1", 100000)], number)
    confirm(client, sale)
    assert account(client, number)["points"]["available"] == 3000
    # spend them all on a 100.00 receipt (50 % cap = 50.00 ≥ 30.00)
    spend = confirm(client, receipt([line("1", 10000)], number, redeem_points=3000))
    assert spend["totals"]["points_redeemed"] == 3000
    # spend earned (100.00 − 30.00) × 5 % (silver now) = 3.50
    assert spend["totals"]["points_accrued"] == 350
    # refund the first sale: 30.00 reversed: 3.50 from the newer lot, 26.50 becomes debt
    refund = client.post(f"/v1/receipts/{sale['receipt_id']}/refunds", json={"refund_id": "all"})
    assert refund.status_code == 201, refund.text
    assert account(client, number)["points"]["available"] == -2650
    # the next accrual pays the debt back first (whatever it earns, 26.50 of it goes to the debt)
    later = confirm(client, receipt([line("1", 100000)], number))
    earned = later["totals"]["points_accrued"]
    assert account(client, number)["points"]["available"] == earned - 2650
    assert_books(svc, client, number)


def test_cancel_is_idempotent_and_releases_everything(svc: Service) -> None:
    client, number = svc.client(), card()
    body = receipt([line("1", 50000), line("2", 25000, "2")], number)
    confirm(client, body)
    rid = body["receipt_id"]
    first = client.post(f"/v1/receipts/{rid}/cancel")
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "cancelled"
    again = client.post(f"/v1/receipts/{rid}/cancel")
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    assert client.post(f"/v1/receipts/{rid}/refunds", json={"refund_id": "x"}).status_code == 409
    view = account(client, number)
    assert view["points"]["available"] == 0 and view["tier"]["purchases"] == 0
    assert client.post("/v1/receipts/nope-404/cancel").status_code == 404
    assert_books(svc, client, number)


def test_cardless_and_refund_lowers_tier_purchases(svc: Service) -> None:
    client, number = svc.client(), card()
    cardless = confirm(client, receipt([line("1", 10000)]))
    assert cardless["card_status"] == "none"
    assert cardless["totals"]["points_accrued"] == 0 and cardless["account"] is None
    body = receipt([line("1", 60000, "2")], number)
    confirm(client, body)
    assert account(client, number)["tier"]["purchases"] == 60000
    client.post(f"/v1/receipts/{body['receipt_id']}/refunds",
                json={"refund_id": "one", "lines": [{"line_id": "1", "quantity": "1"}]})
    assert account(client, number)["tier"]["purchases"] == 30000


def test_receipt_age_limit(svc: Service) -> None:
    client = svc.client()
    old = client.post("/v1/receipts", json=receipt([line("1", 100)], card(), issued_at=now_iso(timedelta(days=-31))))
    assert old.status_code == 422 and old.json()["code"] == "receipt_too_old"
    fine = client.post("/v1/receipts", json=receipt([line("1", 100)], card(), issued_at=now_iso(timedelta(days=-29))))
    assert fine.status_code == 201


def test_pending_points_ripen_and_lots_expire(make_module_service: Callable[..., Service]) -> None:
    svc = make_module_service(program(pending_days=14, expire_days=10, rounding="whole"))
    client, number = svc.client(), card()
    # 20 days ago: 1,000.00 × 3 % = 30.00 (whole points), available 6 days ago, expires in 4 days
    confirm(client, receipt([line("1", 100000)], number, issued_at=now_iso(timedelta(days=-20))))
    # 1 day ago: 500.00 × 5 % = 25.00, pending for 13 more days
    confirm(client, receipt([line("1", 50000)], number, issued_at=now_iso(timedelta(days=-1))))
    view = account(client, number)
    assert view["points"]["available"] == 3000
    assert view["points"]["pending"] == 2500
    assert [e["amount"] for e in view["points"]["expiring"]] == [3000]
    # 28 days ago with pending 14 and expiry 10: expired 4 days ago, counted nowhere
    confirm(client, receipt([line("1", 100000)], number, issued_at=now_iso(timedelta(days=-28))))
    assert account(client, number)["points"]["available"] == 3000
    sweep = svc.cli("expire")
    assert sweep.returncode == 0 and "expired 1 lots" in sweep.stdout, sweep.stdout + sweep.stderr
    assert svc.cli("expire").stdout.strip() == "expired 0 lots"
    expiry = [e for e in ledger(client, number) if e["kind"] == "expiry"]
    assert len(expiry) == 1 and expiry[0]["points"] == -3000
    assert_books(svc, client, number)


def test_unknown_card_without_auto_enrol(make_module_service: Callable[..., Service]) -> None:
    svc = make_module_service(program(auto_enroll=False))
    client = svc.client()
    result = confirm(client, receipt([line("1", 10000)], card(), redeem_points=100))
    assert result["card_status"] == "unknown"
    assert result["totals"]["points_accrued"] == 0 and result["points"]["redeemable_max"] == 0


def test_after_discount_base_and_whole_rounding(make_module_service: Callable[..., Service]) -> None:
    svc = make_module_service(program(accrual_base="after_discount", rounding="whole", campaigns=[{
        "id": "ten-off", "name": "10 % off", "type": "receipt_discount", "priority": 1,
        "thresholds": [{"min_amount": 0, "percent": 10}]}]))
    client, number = svc.client(), card()
    client.post("/v1/accounts", json={"card": number})
    client.post(f"/v1/accounts/{number}/adjustments", json={"points": 10000, "reason": "credit"})
    # 1,234.56 − 10 % (123.46, half up) = 1,111.10; redeem 100.00 does not lower the after_discount base:
    # 111110 × 3 % = 3333.3 → 3333 → whole points: 3300
    result = confirm(client, receipt([line("1", 123456)], number, redeem_points=10000))
    assert result["lines"][0]["discount"] == 12346
    assert result["lines"][0]["points_accrued"] == 3300
