"""Synthetic past receipts of a shoe chain, as JSONL for `bonus-engine simulate` (deterministic per seed).

    python -m loadtests.make_receipts [--count 10000] [--seed 1] [--cards 2000] [--start 2026-11-01] [--days 30]

Receipts are in time order over `--days` days from `--start` (10:00–21:59, +03:00), 1 to 5 lines from a
small catalogue (shoes/winter, shoes/summer, care, bags, socks, clearance), a card from a pool of
`--cards` on 4 receipts of 5 (the rest cardless), and a wish to redeem points on 1 receipt of 10.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import datetime, timedelta, timezone

MSK = timezone(timedelta(hours=3))
CATALOGUE = [
    # sku, category, price (minor units)
    ("BOOT-123", "shoes/winter", 899_000),
    ("BOOT-124", "shoes/winter", 649_000),
    ("BOOT-999", "shoes/winter", 1_299_000),
    ("SANDAL-7", "shoes/summer", 249_000),
    ("SNEAKER-3", "shoes/summer", 459_000),
    ("CREAM-7", "care", 49_000),
    ("SPRAY-2", "care", 69_000),
    ("BAG-11", "bags", 389_000),
    ("SOCKS-1", "socks", 29_000),
    ("SOCKS-2", "socks", 39_000),
    ("SALE-1", "clearance", 199_000),
    ("SALE-2", "clearance", 99_000),
]


def receipts(count: int, seed: int, cards: int, start: datetime, days: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    moments = sorted(rng.randrange(days * 24 * 60) for _ in range(count))
    made = []
    for number, minutes in enumerate(moments, start=1):
        day, minute = divmod(minutes, 24 * 60)
        at = start + timedelta(days=day, hours=10, minutes=minute % (12 * 60))
        lines = []
        for index, (sku, category, price) in enumerate(rng.sample(CATALOGUE, rng.randint(1, 5)), start=1):
            quantity = rng.choice([1, 1, 1, 2, 3]) if category in ("socks", "care") else 1
            lines.append({"line_id": str(index), "sku": sku, "category": category, "quantity": str(quantity),
                          "price": price, "amount": price * quantity})
        receipt: dict[str, object] = {
            "receipt_id": f"s{1 + number % 7}-p1-{number:07d}", "store_id": f"s{1 + number % 7}", "channel": "pos",
            "issued_at": at.isoformat(), "lines": lines,
        }
        if rng.random() < 0.8:
            receipt["card"] = f"29{rng.randrange(cards):011d}"
            if rng.random() < 0.1:
                receipt["redeem_points"] = rng.choice([10_000, 50_000, 100_000])
        made.append(receipt)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.make_receipts", description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cards", type=int, default=2_000)
    parser.add_argument("--start", default="2026-11-01", help="first day (Moscow time)")
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args(argv)
    start = datetime.fromisoformat(args.start).replace(tzinfo=MSK)
    for receipt in receipts(args.count, args.seed, args.cards, start, args.days):
        sys.stdout.write(json.dumps(receipt, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
