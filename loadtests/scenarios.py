"""Request mixes, built before the timed run so that generating load costs as little CPU as possible.

The register mix: 70% confirm with a card, 10% cardless confirm, 10% calculate then confirm, 5% full
refunds of receipts confirmed earlier in the run, 5% balance reads. Receipts carry 5 to 30 lines from a
shoe chain's catalogue (the example program's categories), and 1 in 5 card receipts redeem points.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

CATALOGUE = [
    ("BOOT-123", "shoes/winter", 899_000), ("BOOT-124", "shoes/winter", 649_000),
    ("SANDAL-7", "shoes/summer", 249_000), ("SNEAKER-3", "shoes/summer", 459_000),
    ("CREAM-7", "care", 49_000), ("SPRAY-2", "care", 69_000), ("BAG-11", "bags", 389_000),
    ("SOCKS-1", "accessories/socks", 29_000), ("SOCKS-2", "accessories/socks", 39_000),
    ("CLEAR-5", "clearance", 99_000), ("LACES-1", "care", 9_000), ("INSOLE-4", "care", 19_000),
]


@dataclass(frozen=True, slots=True)
class Step:
    kind: str  # confirm | cardless | calculate | refund | balance
    body: bytes = b""
    card: str = ""
    receipt_id: str = ""


def receipt_body(receipt_id: str, card: str | None, rng: random.Random, issued_at: str) -> dict[str, Any]:
    lines = []
    for index in range(rng.randint(5, 30)):
        sku, category, price = rng.choice(CATALOGUE)
        quantity = rng.choice((1, 1, 1, 2, 3))
        lines.append({"line_id": str(index + 1), "sku": sku, "category": category, "quantity": str(quantity),
                      "price": price, "amount": price * quantity})
    body: dict[str, Any] = {"receipt_id": receipt_id, "store_id": f"s{rng.randint(1, 1000)}",
                            "terminal_id": "p1", "issued_at": issued_at, "lines": lines}
    if card is not None:
        body["card"] = card
        if rng.random() < 0.2:
            body["redeem_points"] = rng.choice((5_000, 20_000, 50_000))
    return body


def register_mix(count: int, cards: list[str], seed: int, run_id: str) -> list[Step]:
    rng = random.Random(seed)
    issued_at = (datetime.now(UTC) - timedelta(minutes=1)).replace(microsecond=0).isoformat()
    steps: list[Step] = []
    for index in range(count):
        roll = rng.random()
        receipt_id = f"{run_id}-{index}"
        if roll < 0.05:
            steps.append(Step("balance", card=rng.choice(cards)))
        elif roll < 0.10:
            steps.append(Step("refund"))
        elif roll < 0.20:
            steps.append(Step("cardless", orjson.dumps(receipt_body(receipt_id, None, rng, issued_at)),
                              receipt_id=receipt_id))
        else:
            kind = "calculate" if roll < 0.30 else "confirm"
            body = orjson.dumps(receipt_body(receipt_id, rng.choice(cards), rng, issued_at))
            steps.append(Step(kind, body, receipt_id=receipt_id))
    return steps
