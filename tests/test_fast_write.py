"""The fast write (app/receipts/fast.py): confirm, calculate, refunds and cancel served ahead of FastAPI's
router.

What it serves must look exactly like the endpoint's answers (status, headers, problem+json, metrics by
route template); what it cannot serve (no key, a bad body, a body over the limit) goes on to the endpoint
with its body intact.
"""

from __future__ import annotations

import httpx

from tests.support import ADMIN_KEY, Service, assert_problem, card, line, metric, receipt

ROUTE = "/v1/receipts"


def requests_counted(service: Service, route: str, status: str) -> float:
    return metric(service.client().get("/metrics").text, "bonus_http_requests_total", route=route, method="POST",
                  status=status)


def test_a_confirm_and_its_replay_look_like_the_endpoints(service: Service) -> None:
    client = service.client()
    body = receipt([line("1", 50000)], card())
    before = requests_counted(service, ROUTE, "201"), requests_counted(service, ROUTE, "200")
    first = client.post(ROUTE, json=body)
    again = client.post(ROUTE, json=body)
    assert first.status_code == 201, first.text
    assert first.headers["content-type"] == "application/json"
    assert int(first.headers["content-length"]) == len(first.content)
    assert "idempotent-replayed" not in first.headers
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json() == client.get(f"{ROUTE}/{body['receipt_id']}").json()
    assert (requests_counted(service, ROUTE, "201"), requests_counted(service, ROUTE, "200")) == (
        before[0] + 1, before[1] + 1)
    calculated = client.post(f"{ROUTE}/calculate", json=receipt([line("1", 50000)]))
    assert calculated.status_code == 200 and calculated.json()["status"] == "calculated"


def test_domain_errors_are_the_same_problems(service: Service) -> None:
    """A key bound to another store, and a receipt from the future: refused by the service behind the fast
    path, answered as problem+json and counted by code."""
    bound = service.key("pos", store="s1")
    errors_before = metric(service.client().get("/metrics").text, "bonus_http_errors_total", code="forbidden")
    with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {bound}"}) as other_store:
        for route in (ROUTE, f"{ROUTE}/calculate"):
            answer = other_store.post(route, json=receipt([line("1", 1000)], store_id="s2"))
            problem = assert_problem(answer, 403, "forbidden")
            assert problem["type"] == "/problems/forbidden" and "s2" in problem["detail"]
    assert metric(service.client().get("/metrics").text, "bonus_http_errors_total",
                  code="forbidden") == errors_before + 2
    future = receipt([line("1", 1000)], issued_at="2099-01-01T00:00:00+00:00")
    assert_problem(service.client().post(ROUTE, json=future), 422, "receipt_in_future")


def test_what_it_cannot_serve_reaches_the_endpoint_whole(service: Service) -> None:
    body = receipt([line("1", 1000)])
    with httpx.Client(base_url=service.url) as anonymous:
        assert_problem(anonymous.post(ROUTE, json=body), 401, "unauthorized")
    with httpx.Client(base_url=service.url, headers={"Authorization": "Bearer nope"}) as unknown:
        assert_problem(unknown.post(ROUTE, json=body), 401, "unauthorized")
    client = service.client(ADMIN_KEY)
    invalid = assert_problem(client.post(ROUTE, json={**body, "lines": []}), 422, "validation_error")
    assert [e["path"] for e in invalid["errors"]] == ["lines"]
    broken = client.post(ROUTE, content=b'{"receipt_id": ', headers={"Content-Type": "application/json"})
    assert_problem(broken, 422, "invalid_json")
    # sent in chunks, over the limit: the endpoint sees every byte and answers 413
    chunks = (b"x" * 65536 for _ in range(20))
    assert_problem(client.post(ROUTE, content=chunks, headers={"Content-Type": "application/json"}),
                   413, "body_too_large")
    # the NUL character is refused by the endpoint's own check
    nul = client.post(ROUTE, content=httpx.Request("POST", "/", json=body).content.replace(
        b'"s17"', b'"s\\u000017"'), headers={"Content-Type": "application/json"})
    assert_problem(nul, 422, "validation_error")


def test_refunds_and_cancels_look_like_the_endpoints(service: Service) -> None:
    """A refund (201, then its replay 200), and a cancel (200, then again 200 with the stored result), counted by
    their route templates; a refund body the endpoint refuses, an id its path pattern refuses and a cancel of
    an unknown receipt are answered as the endpoint answers them."""
    client = service.client()
    refunds_route, cancel_route = f"{ROUTE}/{{receipt_id}}/refunds", f"{ROUTE}/{{receipt_id}}/cancel"
    before = {(route, status): requests_counted(service, route, status)
              for route in (refunds_route, cancel_route) for status in ("200", "201")}
    first, second = (receipt([line("1", 50000), line("2", 20000)], card()) for _ in range(2))
    for body in (first, second):
        assert client.post(ROUTE, json=body).status_code == 201
    refund = {"refund_id": "f1", "lines": [{"line_id": "1", "quantity": "1"}]}
    refunded = client.post(f"{ROUTE}/{first['receipt_id']}/refunds", json=refund)
    assert refunded.status_code == 201, refunded.text
    assert refunded.headers["content-type"] == "application/json" and "idempotent-replayed" not in refunded.headers
    assert refunded.json()["status"] == "partially_refunded" and refunded.json()["refund"]["refund_id"] == "f1"
    again = client.post(f"{ROUTE}/{first['receipt_id']}/refunds", json=refund)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == refunded.json()
    cancelled = client.post(f"{ROUTE}/{second['receipt_id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    assert "idempotent-replayed" not in cancelled.headers
    twice = client.post(f"{ROUTE}/{second['receipt_id']}/cancel", json={"anything": "ignored"})
    assert twice.status_code == 200 and twice.headers["idempotent-replayed"] == "true"
    stored = client.get(f"{ROUTE}/{second['receipt_id']}").json()
    assert twice.json() == cancelled.json()
    assert stored == {k: v for k, v in cancelled.json().items() if k != "refund"}
    assert {key: requests_counted(service, *key) for key in before} == {
        **before, (refunds_route, "201"): before[(refunds_route, "201")] + 1,
        (refunds_route, "200"): before[(refunds_route, "200")] + 1,
        (cancel_route, "200"): before[(cancel_route, "200")] + 2}

    invalid = assert_problem(client.post(f"{ROUTE}/{first['receipt_id']}/refunds",
                                         json={"refund_id": "f2", "lines": [{"line_id": "1", "quantity": "x"}]}),
                             422, "validation_error")
    assert [e["path"] for e in invalid["errors"]] == ["lines[0].quantity"]
    assert client.post(f"{ROUTE}/{'x' * 65}/refunds", json={"refund_id": "f3"}).status_code == 422  # the pattern
    assert_problem(client.post(f"{ROUTE}/no-such-receipt/cancel"), 404, "receipt_not_found")
    with httpx.Client(base_url=service.url) as anonymous:
        assert_problem(anonymous.post(f"{ROUTE}/{first['receipt_id']}/cancel"), 401, "unauthorized")
    assert client.get(f"{ROUTE}/{first['receipt_id']}").json()["status"] == "partially_refunded"
