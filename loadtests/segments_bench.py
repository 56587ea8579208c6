"""Custom segments at scale: one refresh of 20 segments, a segment's count and its members' CSV over HTTP.

    DATABASE_URL=postgresql://…/DB python -m loadtests.segments_bench [--http-only]

DB is a seeded database at this tree's head, rolled up and loaded with a program (as `loadtests.reports_bench
--keep-database` leaves one: `loadtests.seed_history`, `bonus-engine program load`, `report rebuild`). It
stores 20 segments that use every kind of condition (replacing any of the same ids), times one refresh of all
of them (`app.segments.refresh.refresh`, as `bonus-engine segments refresh` runs it) and a second one (nothing
changed: the steady state of the background refresh), then starts `serve` and times `GET /v1/segments/{id}`
and the members CSV of the biggest segment (first byte and whole), and a PUT of one segment (which refreshes
all 20). Prints one line per measure; the segments it stored stay.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import time
from typing import Any

import httpx

from app.core.db import Database
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
        async with db.transaction() as conn:
            for segment_id, condition in FILTERS.items():
                document = SegmentDocument.model_validate({"id": segment_id, "name": segment_id, "filter": condition})
                await repository.save(conn, segment_id, document.model_dump(mode="json", by_alias=True,
                                                                            exclude_none=True))
        for label in ("first refresh (every membership written)", "second refresh (nothing changed)"):
            started = time.perf_counter()
            done = await refresh(db, programs.current.program, settings.report_time_zone)
            assert done is not None
            print(f"{label}: {time.perf_counter() - started:.1f} s, {done.segments} segments, "
                  f"{done.changed} accounts changed", flush=True)
        async with db.connection() as conn:
            for row in await repository.all_segments(conn):
                print(f"  {row['id']}: {row['members']} members", flush=True)
    finally:
        await db.close()


def over_http(database_url: str) -> None:
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
        for _ in range(3):
            started = time.perf_counter()
            with client.stream("GET", f"/v1/segments/{biggest['id']}/members") as answer:
                chunks = answer.iter_bytes()
                first = next(chunks)
                first_ms = 1000 * (time.perf_counter() - started)
                size = len(first) + sum(len(chunk) for chunk in chunks)
            print(f"members CSV of {biggest['id']}: first byte {first_ms:.0f} ms, whole "
                  f"{1000 * (time.perf_counter() - started):.0f} ms, {size} bytes", flush=True)
        started = time.perf_counter()
        answer = client.put("/v1/segments/big-spenders", json={"name": "big", "filter": FILTERS["big-spenders"]})
        assert answer.status_code == 200, answer.text
        print(f"PUT /v1/segments/big-spenders (refreshes all 20): {time.perf_counter() - started:.1f} s", flush=True)
    finally:
        process.terminate()
        process.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--http-only", action="store_true", help="the segments are stored and refreshed already")
    args = parser.parse_args()
    settings = Settings()
    if not args.http_only:
        asyncio.run(store_and_refresh(settings))
    over_http(settings.database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
