"""Locust scenarios for real use, against a running service (`bonus-engine dev` or `serve`).

    BONUS_KEY=<pos or admin key> locust -f loadtests/locustfile.py --host http://127.0.0.1:8000 \\
        --headless -u 50 -r 10 -t 60s --csv /tmp/bonus [RegisterUser|EshopUser]

RegisterUser is the cash-register mix (70% confirm with a card, 10% cardless, 10% calculate then confirm,
5% refunds, 5% balance reads; 5 to 30 lines); EshopUser is the online checkout (calculate-heavy, coupons).
Cards are drawn from BONUS_CARDS (default 1,000) numbers `29` + 11 digits, as `loadtests.seed` makes them;
unknown cards are auto-enrolled by the example program. `python -m loadtests.bench` is the measured run;
this file is for exploring with Locust's UI and CSV.
"""

from __future__ import annotations

import os
import random
import uuid

import orjson
from locust import FastHttpUser, between, task

from loadtests.scenarios import receipt_body
from loadtests.seed import card_of

KEY = os.environ.get("BONUS_KEY", "")
CARDS = int(os.environ.get("BONUS_CARDS", "1000"))
HEADERS = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}


def _issued_at() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(microsecond=0).isoformat()


class RegisterUser(FastHttpUser):
    wait_time = between(0.0, 0.05)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.confirmed: list[str] = []

    def _confirm(self, card: str | None, name: str) -> None:
        receipt_id = f"loc-{uuid.uuid4().hex[:16]}"
        body = orjson.dumps(receipt_body(receipt_id, card, self.rng, _issued_at()))
        with self.client.post("/v1/receipts", data=body, headers=HEADERS, name=name, catch_response=True) as r:
            if r.status_code in (200, 201):
                self.confirmed.append(receipt_id)
                r.success()

    @task(70)
    def confirm_with_card(self) -> None:
        self._confirm(card_of(self.rng.randint(1, CARDS)), "confirm")

    @task(10)
    def confirm_cardless(self) -> None:
        self._confirm(None, "confirm cardless")

    @task(10)
    def calculate_then_confirm(self) -> None:
        card = card_of(self.rng.randint(1, CARDS))
        receipt_id = f"loc-{uuid.uuid4().hex[:16]}"
        body = orjson.dumps(receipt_body(receipt_id, card, self.rng, _issued_at()))
        self.client.post("/v1/receipts/calculate", data=body, headers=HEADERS, name="calculate")
        self.client.post("/v1/receipts", data=body, headers=HEADERS, name="confirm after calculate")

    @task(5)
    def refund(self) -> None:
        if self.confirmed:
            receipt_id = self.confirmed.pop(self.rng.randrange(len(self.confirmed)))
            self.client.post(f"/v1/receipts/{receipt_id}/refunds", data=b'{"refund_id": "all"}',
                             headers=HEADERS, name="refund")

    @task(5)
    def balance(self) -> None:
        self.client.get(f"/v1/accounts/{card_of(self.rng.randint(1, CARDS))}", headers=HEADERS, name="balance")


class EshopUser(FastHttpUser):
    """Online checkout: the basket is recalculated as it changes, coupons are tried, then one confirm."""

    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        self.rng = random.Random()

    @task
    def checkout(self) -> None:
        card = card_of(self.rng.randint(1, CARDS))
        receipt_id = f"web-{uuid.uuid4().hex[:16]}"
        body = receipt_body(receipt_id, card, self.rng, _issued_at())
        body["channel"] = "online"
        for _ in range(self.rng.randint(2, 5)):
            self.client.post("/v1/receipts/calculate", data=orjson.dumps(body), headers=HEADERS, name="calculate")
        body["coupons"] = [self.rng.choice(["WINTER10", "NOPE-123"])]
        self.client.post("/v1/receipts/calculate", data=orjson.dumps(body), headers=HEADERS,
                         name="calculate with coupon")
        self.client.post("/v1/receipts", data=orjson.dumps(body), headers=HEADERS, name="confirm")
