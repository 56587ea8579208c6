"""Custom segments at scale: one refresh of 20 segments, a segment's count and its members' CSV over HTTP.

    DATABASE_URL=postgresql://…/DB python -m loadtests.segments_bench [--http-only]

DB is a seeded database at this tree's head, rolled up and loaded with a program (as `loadtests.reports_bench
--keep-database` leaves one: `loadtests.seed_history`, `bonus-engine program load`, `report rebuild`). It
stores 20 segments that use every kind of condition (replacing any of the same ids) and times, with
`app.segments.refresh.refresh` (as `bonus-engine segments refresh` and the background run it):
- a refresh of every segment over every account (`full`: the first one, or after a program change);
- an incremental refresh with nothing changed (the steady state of the background refresh), and a full one
  again for comparison (what every refresh cost before the incremental design);
- an incremental refresh a day later (`now` moved: the day's time-based conditions), then a full one at that
  same moment, which must change no row (the incremental one found every change), then a full one now.
Then it starts `serve`, times `GET /v1/segments/{id}` and the members CSV of the biggest segment (first
byte and whole), confirms `--receipts` receipts of random members, and times a PUT of one segment with a
changed document (that segment over every account, then the others incrementally) and the same PUT again
(nothing to evaluate but the accounts changed since). Prints one line per measure; the segments it stored
stay.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import asyncpg
import httpx

from app.core.context import utcnow
from app.core.db import Database, asyncpg_dsn
from app.core.settings import Settings
from app.program.service import ProgramHolder
from app.segments import repository
from app.segments.refresh import refresh
from app.segments.schemas import SegmentDocument

KEY = "segments-bench-" + secrets.token_hex(8)

FILTERS: dict[str, dict[str, Any]] = {
    "big-spenders": {"all": [{"ltv": {"gte": 2_000_000}}]},
    "frequent": {"all": [{"receipts": {"gte": 10}}]},
    "big-checks": {"all": [{"average_check": {"gte": 300_000}}]},
    "lapsed-90": {"all": [{"days_since_last": {"gt": 90}}]},
    "rfm-champions": {"all": [{"rfm": {"r": {"gte": 4}, "f": {"gte": 4}, "m": {"gte": 4}}}]},
    "drifting": {"all": [{"segment": {"in": ["pre_churn", "churn"]}}]},
    "newcomers": {"all": [{"segment": {"in": ["newcomer"]}}, {"ltv": {"gte": 100_000}}]},
    "silver-plus": {"all": [{"tier": {"in": ["silver", "gold"]}}]},
    "coffee-90": {"all": [{"bought": {"categories": ["cat-00"], "within_days": 90}}]},
    "sku-7-30": {"all": [{"bought": {"skus": ["SKU-0007"], "within_days": 30}}]},
    "women": {"all": [{"gender": {"in": ["female"]}}]},
    "december": {"all": [{"birth_month": {"in": [12]}}]},
    "parents": {"all": [{"attributes": {"children": {"gte": 1}}}]},
    "new-accounts": {"all": [{"registered_within_days": 30}]},
    "store-s1": {"all": [{"store": {"in": ["s1"]}}]},
    "store-s2-30": {"all": [{"store": {"in": ["s2", "s3"], "within_days": 30}}]},
    "coffee-drifters": {"all": [{"ltv": {"gte": 100_000}}, {"segment": {"in": ["pre_churn", "churn"]}},
                                {"bought": {"categories": ["cat-00"], "within_days": 90}}]},
    "either": {"any": [{"receipts": {"gte": 20}}, {"days_since_last": {"lte": 3}}]},
    "nested": {"any": [{"all": [{"ltv": {"gte": 500_000}}, {"store": {"in": ["s1"]}}]},
                       {"all": [{"registered_within_days": 60}, {"receipts": {"gte": 2}}]}]},
    "everyone-buying": {"all": [{"receipts": {"gte": 1}}]},
}


async def store_and_refresh(settings: Settings) -> None:
    db = Database(settings)
    await db.connect()
    try:
        programs = ProgramHolder(db, settings.program_poll_ms)
        await programs.refresh()
        program, zone = programs.current.program, settings.report_time_zone
        async with db.transaction() as conn:
            for segment_id, condition in FILTERS.items():
                document = SegmentDocument.model_validate({"id": segment_id, "name": segment_id, "filter": condition})
                await repository.save(conn, segment_id, document.model_dump(mode="json", by_alias=True,
                                                                            exclude_none=True))
        tomorrow = utcnow() + timedelta(days=1)
        steps: list[tuple[str, dict[str, Any]]] = [
            ("full refresh (every account)", {"full": True}),
            ("incremental refresh (nothing changed)", {}),
            ("incremental refresh again", {}),
            ("full refresh (nothing changed: each refresh before the incremental design)", {"full": True}),
            ("incremental refresh a day later", {"now": tomorrow}),
            ("full refresh at that moment (must change nothing)", {"full": True, "now": tomorrow}),
            ("full refresh now (back to the present)", {"full": True}),
        ]
        for label, options in steps:
            started = time.perf_counter()
            done = await refresh(db, program, zone, **options)
            assert done is not None
            evaluated = "every account" if done.evaluated is None else f"{done.evaluated} accounts"
            print(f"{label}: {time.perf_counter() - started:.2f} s, {done.segments} segments, {evaluated} evaluated,"
                  f" {done.changed} accounts changed", flush=True)
            if "must change nothing" in label:
                assert done.changed == 0, "the incremental refresh missed a change"
        async with db.connection() as conn:
            for row in await repository.all_segments(conn):
                print(f"  {row['id']}: {row['members']} members", flush=True)
    finally:
        await db.close()


def confirm_receipts(client: httpx.Client, database_url: str, count: int) -> None:
    """`count` receipts of random members, today, in s1 with a line of cat-00: new facts to refresh."""
    async def cards() -> list[str]:
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            rows = await conn.fetch("SELECT card FROM accounts TABLESAMPLE SYSTEM (1) WHERE card IS NOT NULL LIMIT $1",
                                    count)
            return [row["card"] for row in rows]
        finally:
            await conn.close()

    for number in asyncio.run(cards()):
        body = {"receipt_id": "seg-bench-" + secrets.token_hex(8), "store_id": "s1", "card": number,
                "issued_at": utcnow().replace(microsecond=0).isoformat(),
                "lines": [{"line_id": "1", "sku": "SKU-0007", "category": "cat-00", "quantity": "1",
                           "price": 150000, "amount": 150000}]}
        answer = client.post("/v1/receipts", json=body)
        assert answer.status_code == 201, answer.text


def over_http(database_url: str, receipts: int, csv_runs: int) -> None:
    port = 18000 + secrets.randbelow(1000)
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": "", "BONUS_ENGINE_BOOTSTRAP_ADMIN_KEY": KEY,
           "BONUS_ENGINE_REPORT_INTERVAL_S": "0", "BONUS_ENGINE_EXPIRE_INTERVAL_S": "0"}
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], env=env)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {KEY}"},
                          timeout=600)
    try:
        for _ in range(150):
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        biggest = max(client.get("/v1/segments").json()["segments"], key=lambda row: row["members"] or 0)
        for _ in range(3):
            started = time.perf_counter()
            answer = client.get(f"/v1/segments/{biggest['id']}")
            print(f"GET /v1/segments/{biggest['id']} (count {answer.json()['members']}): "
                  f"{1000 * (time.perf_counter() - started):.0f} ms", flush=True)
        for _ in range(csv_runs):
            started = time.perf_counter()
            with client.stream("GET", f"/v1/segments/{biggest['id']}/members") as answer:
                chunks = answer.iter_bytes()
                first = next(chunks)
                first_ms = 1000 * (time.perf_counter() - started)
                size = len(first) + sum(len(chunk) for chunk in chunks)
            print(f"members CSV of {biggest['id']}: first byte {first_ms:.0f} ms, whole "
                  f"{1000 * (time.perf_counter() - started):.0f} ms, {size} bytes", flush=True)
        confirm_receipts(client, database_url, receipts)
        for label, name in (("a changed document", "big"), ("the same document", "big")):
            started = time.perf_counter()
            answer = client.put("/v1/segments/big-spenders", json={"name": name, "filter": FILTERS["big-spenders"]})
            assert answer.status_code == 200, answer.text
            print(f"PUT /v1/segments/big-spenders ({label}, after {receipts} receipts): "
                  f"{time.perf_counter() - started:.2f} s, members {answer.json()['members']}", flush=True)
    finally:
        process.terminate()
        process.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--http-only", action="store_true", help="the segments are stored and refreshed already")
    parser.add_argument("--receipts", type=int, default=200, help="receipts confirmed before the PUTs")
    parser.add_argument("--csv-runs", type=int, default=3, help="downloads of the biggest segment's members")
    args = parser.parse_args()
    settings = Settings()
    if not args.http_only:
        asyncio.run(store_and_refresh(settings))
    over_http(settings.database_url, args.receipts, args.csv_runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
