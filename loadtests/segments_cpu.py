"""CPU per confirm with 20 custom segments used by campaigns, against a tree without them (issue 14, part 3).

    python -m loadtests.segments_cpu --old DIR [--apply all|none] [--confirms 1500] [--rounds 3] [--concurrency 4]

DIR is a checkout of the tree to compare with (e.g. `git archive $(git merge-base HEAD main) | tar -x -C DIR`),
run with this tree's interpreter. Each tree gets a fresh database on DATABASE_URL's server, migrated by that
tree, a `serve` of one worker, the same 200 cards with one purchase each, and a program of 20 receipt
discounts: in this tree each names one of 20 custom segments (defined and refreshed first), in the old tree
each names a CVM segment; with `--apply all` every campaign applies to every receipt in both trees, with
`none` none does. Then, alternating old and new `--rounds` times, each
sends `--confirms` receipts of 3 lines over HTTP (`--concurrency` connections) and measures the CPU of its
`serve` process and of its database's backends per confirm. Prints one line per phase and the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from loadtests import cpu
from loadtests._http import Connection, build
from loadtests._sql import drop_database, execute

ROOT = Path(__file__).resolve().parents[1]
KEY = "segments-cpu-" + secrets.token_hex(8)
SEGMENTS = 20
CARDS = 200


def program(custom: bool, apply: bool) -> str:
    """20 receipt discounts of 1 % each; `custom`: each for one custom segment, else for a CVM segment. With
    `apply` every campaign applies to every card (each card is in every custom segment; the CVM segment named
    is `newcomer`, which every card is), else none does (no card is in the segments; `churn`, which none is):
    both trees then do the same work but for the way a campaign's segment is told."""
    campaigns = [{"id": f"c{i}", "name": f"1% {i}", "type": "receipt_discount", "priority": i,
                  "when": {"segments": [f"seg-{i}" if custom else ("newcomer" if apply else "churn")]},
                  "thresholds": [{"min_amount": 0, "percent": 1}]} for i in range(SEGMENTS)]
    document = {"max_receipt_age_days": 30, "points": {"pending_days": 0},
                "tiers": {"levels": [{"id": "base", "min_purchases": 0, "accrual_percent": 3}]},
                "campaigns": campaigns}
    return yaml.safe_dump(document)


@dataclass
class Tree:
    name: str
    path: Path
    custom: bool
    apply: bool
    database: str = ""
    process: subprocess.Popen[bytes] | None = None
    port: int = 0

    def env(self) -> dict[str, str]:
        base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres").rsplit("/", 1)[0]
        return {**os.environ, "DATABASE_URL": f"{base}/{self.database}", "REDIS_URL": os.environ.get("REDIS_URL", ""),
                "BONUS_ENGINE_REDIS_PREFIX": f"segcpu-{self.name}-", "BONUS_ENGINE_BOOTSTRAP_ADMIN_KEY": KEY,
                "BONUS_ENGINE_REPORT_INTERVAL_S": "0", "BONUS_ENGINE_EXPIRE_INTERVAL_S": "0",
                "PYTHONPATH": str(self.path)}

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=self.path, env=self.env(),
                              capture_output=True, text=True, check=False, timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stdout


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(tree: Tree, admin_url: str) -> list[str]:
    tree.database = f"segcpu_{tree.name}_{secrets.token_hex(3)}"
    asyncio.run(execute(admin_url, f"CREATE DATABASE {tree.database}"))
    tree.cli("migrate")
    tree.port = _free_port()
    tree.process = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(tree.port)],
                                    cwd=tree.path, env=tree.env())
    client = httpx.Client(base_url=f"http://127.0.0.1:{tree.port}", headers={"Authorization": f"Bearer {KEY}"},
                          timeout=600)
    for _ in range(100):
        try:
            if client.get("/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    answer = client.put("/v1/program", content=program(False, tree.apply),
                        headers={"Content-Type": "application/yaml"})
    assert answer.status_code == 200, answer.text
    cards = [f"29{n:011d}" for n in range(1, CARDS + 1)]
    rng = random.Random(7)
    for number in cards:  # one purchase each, of 1,000.00 to 100,000.00: the segments below split them
        answer = client.post("/v1/receipts", json=_receipt(number, rng.randrange(100_000, 10_000_000)))
        assert answer.status_code == 201, answer.text
    if tree.custom:
        for i in range(SEGMENTS):  # every card with a purchase, or none
            answer = client.put(f"/v1/segments/seg-{i}", json={"name": f"s{i}", "filter": {"any": [
                {"receipts": {"gte": 1 if tree.apply else 10**6}}, {"attributes": {"tag": i}}]}})
            assert answer.status_code == 201, answer.text
        answer = client.put("/v1/program", content=program(True, tree.apply),
                            headers={"Content-Type": "application/yaml"})
        assert answer.status_code == 200, answer.text
    return cards


def _receipt(card: str, amount: int) -> dict[str, Any]:
    lines = [{"line_id": str(n), "sku": f"SKU-{n}", "category": "misc", "quantity": "1", "price": amount // 3,
              "amount": amount // 3} for n in range(1, 4)]
    issued = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    return {"receipt_id": "r-" + secrets.token_hex(10), "store_id": "s1", "issued_at": issued, "card": card,
            "lines": lines}


async def _send(port: int, bodies: list[bytes], concurrency: int) -> None:
    queue = list(reversed(bodies))

    async def worker() -> None:
        connection = Connection("127.0.0.1", port)
        while queue:
            status, body = await connection.request(queue.pop())
            assert status == 201, body
        connection.close()
    await asyncio.gather(*(worker() for _ in range(concurrency)))


def phase(tree: Tree, cards: list[str], confirms: int, concurrency: int) -> tuple[float, float, float]:
    """(service CPU ms, database CPU ms, wall ms) per confirm."""
    rng = random.Random()
    bodies = [build("POST", "/v1/receipts", KEY, json.dumps(_receipt(rng.choice(cards), 30_000)).encode())
              for _ in range(confirms)]
    assert tree.process is not None
    service, database, wall = cpu.service_seconds(tree.process.pid), cpu.database_seconds(tree.database), \
        time.perf_counter()
    asyncio.run(_send(tree.port, bodies, concurrency))
    return tuple(1000 * value / confirms for value in (  # type: ignore[return-value]
        cpu.service_seconds(tree.process.pid) - service, cpu.database_seconds(tree.database) - database,
        time.perf_counter() - wall))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", required=True, type=Path)
    parser.add_argument("--confirms", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--apply", choices=("all", "none"), default="all",
                        help="every campaign applies to every receipt, or none does")
    args = parser.parse_args()
    admin_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    apply = args.apply == "all"
    trees = [Tree("old", args.old.resolve(), False, apply), Tree("new", ROOT, True, apply)]
    results: dict[str, list[tuple[float, float, float]]] = {tree.name: [] for tree in trees}
    try:
        prepared = {tree.name: start(tree, admin_url) for tree in trees}
        for tree in trees:  # a warm-up phase each: connections, caches, compiled programs
            phase(tree, prepared[tree.name], args.confirms // 3, args.concurrency)
        for round_number in range(args.rounds):
            for tree in trees if round_number % 2 == 0 else reversed(trees):
                got = phase(tree, prepared[tree.name], args.confirms, args.concurrency)
                results[tree.name].append(got)
                print(f"round {round_number + 1} {tree.name}: service {got[0]:.3f} ms, database {got[1]:.3f} ms, "
                      f"wall {got[2]:.3f} ms per confirm", flush=True)
    finally:
        for tree in trees:
            if tree.process is not None:
                tree.process.terminate()
                tree.process.wait(10)
            if tree.database:
                asyncio.run(drop_database(admin_url, tree.database))
    medians = {name: [statistics.median(got[i] for got in rows) for i in range(3)] for name, rows in results.items()}
    for name, (service, database, wall) in medians.items():
        print(f"median {name}: service {service:.3f} ms, database {database:.3f} ms, total {service + database:.3f} ms,"
              f" wall {wall:.3f} ms per confirm")
    old, new = medians["old"], medians["new"]
    print(f"new / old: service {new[0] / old[0]:.3f}, service + database {(new[0] + new[1]) / (old[0] + old[1]):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
