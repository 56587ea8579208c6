"""Coupons and gift certificates through HTTP, including races for a last use and a last balance."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from app.core.codes import ALPHABET
from tests.programs import program
from tests.support import Service, assert_problem, card, confirm, line, metric, receipt

COUPONS = [
    # 10 % off from 500.00, at most 2 uses in all and 1 per card
    {"id": "winter10", "name": "WINTER10", "type": "coupon", "priority": 20, "code": "WINTER10", "percent": 10,
     "min_amount": 50000, "max_uses": 2, "max_uses_per_account": 1},
    {"id": "last-one", "name": "LAST", "type": "coupon", "priority": 21, "code": "LAST", "amount": 1000,
     "max_uses": 1},
    # unique codes from batches: 500.00 off
    {"id": "comeback", "name": "Come back", "type": "coupon", "priority": 30, "amount": 50000},
    # double points on this receipt
    {"id": "double", "name": "Double points", "type": "coupon", "priority": 40, "code": "DOUBLE",
     "accrual_multiplier": 2},
]


@pytest.fixture(scope="module")
def svc(make_module_service: Callable[..., Service]) -> Service:
    return make_module_service(program(pending_days=0, campaigns=COUPONS), BONUS_ENGINE_FAILED_LOOKUP_LIMIT="1000")


def verdict(result: dict[str, Any], code: str) -> dict[str, Any]:
    return next(c for c in result["coupons"] if c["code"] == code)


def race(svc: Service, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(bodies))
    answers: list[httpx.Response | None] = [None] * len(bodies)

    def send(index: int) -> None:
        with httpx.Client(base_url=svc.url, headers=svc.client().headers, timeout=30) as client:
            barrier.wait()
            answers[index] = client.post("/v1/receipts", json=bodies[index])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(a is not None for a in answers)
    return [a for a in answers if a is not None]


def assert_audit(svc: Service) -> None:
    audit = svc.audit()
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_shared_code_limits_and_release(svc: Service) -> None:
    client, number = svc.client(), card()
    # 10 % of 1,000.00 = 100.00 off; codes match case-insensitively after trimming
    first = confirm(client, receipt([line("1", 100000)], number, coupons=["  winter10 "]))
    assert verdict(first, "WINTER10") == {"code": "WINTER10", "status": "applied"}
    assert first["totals"]["discount"] == 10000
    assert first["campaigns"][0] == {"id": "winter10", "name": "WINTER10", "discount": 10000, "points": 0}
    # one use per card
    again = confirm(client, receipt([line("1", 100000)], number, coupons=["WINTER10"]))
    assert verdict(again, "WINTER10")["reason"] == "usage_limit_reached" and again["totals"]["discount"] == 0
    # under 500.00 in scope
    small = confirm(client, receipt([line("1", 40000)], card(), coupons=["WINTER10"]))
    assert verdict(small, "WINTER10")["reason"] == "min_amount_not_met"
    # a per-account limit needs a card
    cardless = confirm(client, receipt([line("1", 100000)], coupons=["WINTER10"]))
    assert verdict(cardless, "WINTER10")["reason"] == "card_required"
    assert client.get("/v1/coupons/winter10").json()["uses"] == 1
    # a full refund releases the use
    client.post(f"/v1/receipts/{first['receipt_id']}/refunds", json={"refund_id": "all"})
    status = client.get("/v1/coupons/WINTER10").json()
    assert status["uses"] == 0 and status["kind"] == "shared" and status["history"][0]["released_at"]
    unknown = confirm(client, receipt([line("1", 100000)], number, coupons=["NOPE"]))
    assert verdict(unknown, "NOPE") == {"code": "NOPE", "status": "rejected", "reason": "unknown"}
    assert_audit(svc)


def test_batch_codes_are_unique_single_use_and_unguessable(svc: Service) -> None:
    client = svc.client()
    made = client.post("/v1/coupons/batches", json={"campaign_id": "comeback", "count": 50, "prefix": "CB"})
    assert made.status_code == 201, made.text
    codes = made.json()["codes"]
    assert len(codes) == len(set(codes)) == 50
    assert all(re.fullmatch(f"CB[{ALPHABET}]{{13}}", code) for code in codes)  # 13 × 5 bits = 65 bits
    code = codes[0]
    first = confirm(client, receipt([line("1", 80000)], card(), coupons=[code.lower()]))
    assert verdict(first, code)["status"] == "applied" and first["totals"]["discount"] == 50000
    second = confirm(client, receipt([line("1", 80000)], card(), coupons=[code]))
    assert verdict(second, code)["reason"] == "used"
    assert client.get(f"/v1/coupons/{code}").json()["status"] == "used"
    # a shared-code campaign cannot have batches; an unknown campaign neither
    assert_problem(client.post("/v1/coupons/batches", json={"campaign_id": "winter10", "count": 1}),
                   422, "campaign_not_coupon")
    assert_problem(client.post("/v1/coupons/batches", json={"campaign_id": "nope", "count": 1}),
                   422, "campaign_not_coupon")
    assert_problem(client.get("/v1/coupons/CBXXXXXXXXXXXXX"), 404, "coupon_not_found")
    pos = svc.key("pos")
    assert httpx.post(f"{svc.url}/v1/coupons/batches", json={"campaign_id": "comeback", "count": 1},
                      headers={"Authorization": f"Bearer {pos}"}).status_code == 403


def test_two_codes_of_one_campaign_and_points_coupon(svc: Service) -> None:
    client = svc.client()
    codes = client.post("/v1/coupons/batches", json={"campaign_id": "comeback", "count": 2}).json()["codes"]
    result = confirm(client, receipt([line("1", 100000)], card(), coupons=codes + ["DOUBLE"]))
    assert verdict(result, codes[0])["status"] == "applied"
    assert verdict(result, codes[1])["reason"] == "not_combinable"
    # 1,000.00 − 500.00 = 500.00 at base 3 % doubled = 6 % → 30.00 points
    assert result["totals"]["points_accrued"] == 3000
    # the rejected code was not used
    assert client.get(f"/v1/coupons/{codes[1]}").json()["status"] == "available"


def test_racing_for_the_last_use(svc: Service) -> None:
    bodies = [receipt([line("1", 20000)], card(), coupons=["LAST"]) for _ in range(8)]
    answers = race(svc, bodies)
    assert [a.status_code for a in answers] == [201] * 8
    verdicts = [verdict(a.json(), "LAST") for a in answers]
    assert sum(v["status"] == "applied" for v in verdicts) == 1
    assert sorted(v.get("reason") for v in verdicts if v["status"] == "rejected") == ["usage_limit_reached"] * 7
    assert svc.client().get("/v1/coupons/LAST").json()["uses"] == 1
    text = httpx.get(f"{svc.url}/metrics").text
    assert metric(text, "bonus_coupon_verdicts_total", status="rejected", reason="usage_limit_reached") >= 7
    assert_audit(svc)


def issue(client: httpx.Client, **fields: Any) -> list[str]:
    answer = client.post("/v1/gift-certificates", json={"count": 1, "nominal": 100000, **fields})
    assert answer.status_code == 201, answer.text
    return list(answer.json()["codes"])


def test_paying_with_certificates_and_refunding(svc: Service) -> None:
    client = svc.client()
    code, single = issue(client, count=2, active=True)
    assert client.get(f"/v1/gift-certificates/{code}").json() == {
        "code": code, "status": "active", "balance": 100000, "nominal": 100000, "expires_at": None,
        "single_use": False}
    # two lines 600.00 + 400.00; 300.00 from the certificate spread 180.00 / 120.00
    body = receipt([line("1", 60000), line("2", 40000)], card(), gift_certificates=[{"code": code, "amount": 30000}])
    result = confirm(client, body)
    assert [x["gift_certificates"] for x in result["lines"]] == [18000, 12000]
    assert result["gift_certificates"] == [{"code": code, "status": "applied", "charged": 30000, "balance": 70000}]
    assert result["totals"]["to_pay"] == 70000
    # certificates do not lower the accrual base: 1,000.00 × 3 % = 30.00
    assert result["totals"]["points_accrued"] == 3000
    # returning line 2 gives the certificate back its 120.00
    client.post(f"/v1/receipts/{body['receipt_id']}/refunds",
                json={"refund_id": "r2", "lines": [{"line_id": "2", "quantity": "1"}]})
    assert client.get(f"/v1/gift-certificates/{code}").json()["balance"] == 82000
    assert_audit(svc)


def test_single_use_burns_the_rest_and_a_full_refund_restores_it(svc: Service) -> None:
    client = svc.client()
    (code,) = issue(client, active=True, single_use=True)
    body = receipt([line("1", 25000)], card(), gift_certificates=[{"code": code}])
    result = confirm(client, body)
    # no amount: pays min(balance, left to pay) = 250.00; the other 750.00 burn
    assert result["gift_certificates"][0] == {"code": code, "status": "applied", "charged": 25000, "balance": 0}
    assert client.get(f"/v1/gift-certificates/{code}").json()["status"] == "used"
    again = confirm(client, receipt([line("1", 100)], card(), gift_certificates=[{"code": code}]))
    assert again["gift_certificates"][0]["reason"] == "used"
    client.post(f"/v1/receipts/{body['receipt_id']}/cancel")
    restored = client.get(f"/v1/gift-certificates/{code}").json()
    assert restored["balance"] == 100000 and restored["status"] == "active"
    assert_audit(svc)


def test_selling_a_certificate_activates_it_and_returning_it_voids_it(svc: Service) -> None:
    client = svc.client()
    sold, spent = issue(client, count=2)
    assert client.get(f"/v1/gift-certificates/{sold}").json()["status"] == "issued"
    not_yet = confirm(client, receipt([line("1", 5000)], card(), gift_certificates=[{"code": sold}]))
    assert not_yet["gift_certificates"][0]["reason"] == "not_active"
    # a sale line: no discount, no points, activated with the line's amount
    sale = receipt([line("1", 300000, gift_certificate=sold), line("2", 100000)], card())
    result = confirm(client, sale)
    assert result["lines"][0]["points_accrued"] == 0 and result["lines"][1]["points_accrued"] == 3000
    assert client.get(f"/v1/gift-certificates/{sold}").json() == {
        "code": sold, "status": "active", "balance": 300000, "nominal": 100000, "expires_at": None,
        "single_use": False}
    assert_problem(client.post("/v1/receipts", json=receipt([line("1", 1000, gift_certificate=sold)], card())),
                   409, "gift_certificate_not_sellable")
    client.post(f"/v1/receipts/{sale['receipt_id']}/refunds",
                json={"refund_id": "gc", "lines": [{"line_id": "1", "quantity": "1"}]})
    assert client.get(f"/v1/gift-certificates/{sold}").json()["status"] == "void"
    # a spent certificate cannot be returned
    sale2 = receipt([line("1", 50000, gift_certificate=spent)], card())
    confirm(client, sale2)
    confirm(client, receipt([line("1", 1000)], card(), gift_certificates=[{"code": spent, "amount": 500}]))
    assert_problem(client.post(f"/v1/receipts/{sale2['receipt_id']}/refunds", json={"refund_id": "x"}),
                   409, "gift_certificate_used")
    assert client.get(f"/v1/gift-certificates/{spent}").json()["balance"] == 49500
    assert_audit(svc)


def test_racing_for_the_last_balance(svc: Service) -> None:
    client = svc.client()
    (code,) = issue(client, active=True, nominal=50000)
    bodies = [receipt([line("1", 30000)], card(), gift_certificates=[{"code": code, "amount": 20000}])
              for _ in range(6)]
    answers = race(svc, bodies)
    assert [a.status_code for a in answers] == [201] * 6
    charged = sorted(a.json()["gift_certificates"][0]["charged"] for a in answers)
    # 500.00 shared out: 200.00, 200.00, then what is left (100.00), then nothing
    assert sum(charged) == 50000 and charged[-3:] == [10000, 20000, 20000]
    assert client.get(f"/v1/gift-certificates/{code}").json() == {
        "code": code, "status": "used", "balance": 0, "nominal": 50000, "expires_at": None, "single_use": False}
    assert_audit(svc)


def test_failed_look_ups_are_limited_per_key(make_module_service: Callable[..., Service]) -> None:
    svc = make_module_service(program(), BONUS_ENGINE_FAILED_LOOKUP_LIMIT="3")
    (known,) = issue(svc.client(), active=True)
    key = svc.key("pos")
    pos = httpx.Client(base_url=svc.url, headers={"Authorization": f"Bearer {key}"})
    # unknown and blank codes get the same answer
    assert_problem(pos.get("/v1/gift-certificates/GCNOPE"), 404, "gift_certificate_not_found")
    assert_problem(pos.get("/v1/gift-certificates/%20"), 404, "gift_certificate_not_found")
    # unknown codes in receipts count too
    result = confirm(pos, receipt([line("1", 1000)], card(), gift_certificates=[{"code": "GCNOPE2"}]))
    assert result["gift_certificates"][0]["reason"] == "unknown"
    limited = pos.get(f"/v1/gift-certificates/{known}")
    assert_problem(limited, 429, "too_many_failed_lookups")
    assert int(limited.headers["Retry-After"]) > 0
    # other keys are not affected
    assert svc.client().get(f"/v1/gift-certificates/{known}").status_code == 200
    pos.close()
