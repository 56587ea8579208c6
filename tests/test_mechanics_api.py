"""The example program's discount mechanics through HTTP, and refunds of discounted units."""

from __future__ import annotations

from tests.support import Service, assert_books, card, confirm, line, receipt


def test_two_for_one_wins_its_group_and_a_refund_of_one_unit_reverses_half(service: Service) -> None:
    client, number = service.client(), card()
    # two pairs of summer shoes at 3,000.00: 2-for-1 gives one free (3,000.00); the winter 5 % in the same
    # group would give 300.00 (while it runs), so the 2-for-1 wins and the winter campaign leaves no trace
    body = receipt([line("1", 600000, "2", category="shoes/summer", sku="SANDAL-1")], number)
    result = confirm(client, body)
    assert result["lines"][0]["discount"] == 300000
    assert result["lines"][0]["campaigns"] == ["summer-2for1"]
    assert [c["id"] for c in result["campaigns"]] == ["summer-2for1"]
    # 3,000.00 paid at the base tier's 3 % = 90.00 points (whole points)
    assert result["totals"]["points_accrued"] == 9000
    # one pair back: half of each stored figure: 3,000.00 amount, 1,500.00 discount, 45.00 points
    refund = client.post(f"/v1/receipts/{body['receipt_id']}/refunds",
                         json={"refund_id": "one", "lines": [{"line_id": "1", "quantity": "1"}]})
    assert refund.status_code == 201, refund.text
    assert refund.json()["refund"]["totals"] == {"amount": 300000, "discount": 150000, "points_redeemed": 0,
                                                 "gift_certificates": 0, "to_pay": 150000, "points_accrued": 4500}
    assert_books(service, client, number)


def test_socks_by_count_and_a_coupon_on_top(service: Service) -> None:
    client = service.client()
    # three pairs of socks (whole units) at 500.00: 15 % of 1,500.00 = 225.00 spread 75.00 each
    socks = [line(str(i), 50000, category="accessories/socks", sku=f"SOCK-{i}") for i in (1, 2, 3)]
    result = confirm(client, receipt(socks, card()))
    assert [x["discount"] for x in result["lines"]] == [7500, 7500, 7500]
    # a fractional line (0.350 kg of something in socks) counts no unit: two pairs are not enough
    two = [line("1", 50000, category="accessories/socks"), line("2", 50000, category="accessories/socks"),
           {**line("3", 35000, category="accessories/socks"), "quantity": "0.350", "price": 100000}]
    assert confirm(client, receipt(two, card()))["totals"]["discount"] == 0
    # WINTER10 on shoes from 3,000.00: 10 % of 4,000.00 = 400.00, measured after the other shoe discounts
    shoes = receipt([line("1", 400000, category="shoes/boots", sku="BOOT-999")], card(), coupons=["winter10"])
    coupon = confirm(client, shoes)
    assert coupon["coupons"] == [{"code": "WINTER10", "status": "applied"}]
    assert coupon["totals"]["discount"] == 40000
