"""A first end-to-end pass: register, confirm, read, refund, audit."""

from __future__ import annotations

from tests.support import Service, card, line, receipt


def test_register_confirm_refund_audit(service: Service) -> None:
    client = service.client()
    number = card()
    assert client.post("/v1/accounts", json={"card": number}).status_code == 201
    body = receipt([line("1", 100000)], number)
    confirmed = client.post("/v1/receipts", json=body)
    assert confirmed.status_code == 201, confirmed.text
    # base tier 3 %: 100000 × 3 % = 3000 → whole points: 3000
    assert confirmed.json()["totals"]["points_accrued"] == 3000
    refund = client.post(f"/v1/receipts/{body['receipt_id']}/refunds", json={"refund_id": "f1"})
    assert refund.status_code == 201, refund.text
    assert refund.json()["status"] == "refunded"
    audit = service.audit()
    assert audit.returncode == 0, audit.stdout + audit.stderr
