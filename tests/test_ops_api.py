"""Ops endpoints: metrics, health, readiness, the OpenAPI schema; keys from the CLI."""

from __future__ import annotations

import re

import httpx

from tests.support import Service, card, line, metric, receipt


def test_health_and_readiness(service: Service) -> None:
    assert httpx.get(f"{service.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{service.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["postgres"] == "ok" and ready.json()["checks"]["migrations"] == "ok"


def test_metrics_count_receipts_points_and_routes(service: Service) -> None:
    before = httpx.get(f"{service.url}/metrics").text
    client = service.client()
    body = receipt([line("1", 100000)], card())
    client.post("/v1/receipts", json=body)
    client.post("/v1/receipts", json=body)
    after = httpx.get(f"{service.url}/metrics").text
    assert metric(after, "bonus_receipts_total", operation="confirmed") == \
        metric(before, "bonus_receipts_total", operation="confirmed") + 1
    assert metric(after, "bonus_idempotent_replays_total", operation="confirm") == \
        metric(before, "bonus_idempotent_replays_total", operation="confirm") + 1
    accrued_before = metric(before, "bonus_points_total", kind="accrual")
    assert metric(after, "bonus_points_total", kind="accrual") >= accrued_before + 3000
    assert metric(after, "bonus_http_request_duration_seconds_count", route="/v1/receipts", method="POST") >= 2
    assert "bonus_db_pool_in_use" in after
    # no card numbers or receipt ids in labels
    assert body["card"] not in after and body["receipt_id"] not in after
    assert not re.search(r'route="/v1/accounts/\d', after)


def test_openapi_documents_bodies_and_error_codes(service: Service) -> None:
    schema = httpx.get(f"{service.url}/openapi.json").json()
    components = schema["components"]["schemas"]
    for model in ("Receipt", "Line", "RefundRequest", "RegisterRequest", "AdjustmentRequest", "Program", "Problem"):
        assert model in components, model
    confirm = schema["paths"]["/v1/receipts"]["post"]
    assert confirm["requestBody"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Receipt"
    assert "idempotency_conflict" in components["Problem"]["properties"]["code"]["enum"]


def test_keys_from_the_cli_are_hashed_and_work(service: Service) -> None:
    key = service.key("pos")
    assert key.startswith("be_pos_")
    look_up = httpx.get(f"{service.url}/v1/accounts/{card()}", headers={"Authorization": f"Bearer {key}"})
    assert look_up.status_code == 404
    # only the hash is stored
    import asyncio

    import asyncpg

    async def stored() -> list[bytes]:
        conn = await asyncpg.connect(service.database_url)
        try:
            return [r["key_hash"] for r in await conn.fetch("SELECT key_hash FROM api_keys")]
        finally:
            await conn.close()

    hashes = asyncio.run(stored())
    assert hashes and all(key.encode() not in h for h in hashes) and all(len(h) == 32 for h in hashes)
