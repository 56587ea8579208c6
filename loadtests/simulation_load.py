"""Confirm latency while simulations run (issue 18: "confirms at half the peak rate keep their p99 within twice
the quiet figure while it runs").

    python -m loadtests.simulation_load [--accounts 20000] [--history-seconds 60] [--seconds 20] [--rounds 2]
                                        [--jobs 4]

On a fresh database (as `loadtests.bench`: DATABASE_URL's server or an embedded PostgreSQL, REDIS_URL or an
embedded Valkey), `serve --workers 2` with the example program. First the register mix at full speed for
`--history-seconds`: the peak rate, and the stored receipts the simulations replay. Then `--rounds` times, two
phases of the mix at half the peak (open loop, `--seconds` each):
- `quiet`: no simulation queued or running;
- `simulating`: `--jobs` simulations of today's receipts queued first (a draft that raises the base tier's
  percent, so that every receipt is evaluated under the draft and the baseline), the phase starting once one
  runs. The jobs run as `serve` runs them: a child process at nice 19 per job, one job at a time per worker.
  After the phase the remaining jobs are waited for, so that the next quiet phase is quiet.
Each phase prints one JSON line: confirms/s, p50 and p99, and for `simulating` how many jobs were done and
running at its end (`ran_out`: none left running before the phase ended, so part of it was quiet). The last
line compares the median p99 of each kind of phase. A command that prints numbers, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import statistics
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from .bench import CONFIRMS, KEY, Served, Stats, drive, serving
from .scenarios import register_mix


def _phase(name: str, stats: Stats, **extra: Any) -> dict[str, Any]:
    return {"phase": name, "confirm_rps": round(stats.rps(*CONFIRMS), 1),
            "confirm_p50_ms": round(stats.percentile_ms(50, *CONFIRMS), 2),
            "confirm_p99_ms": round(stats.percentile_ms(99, *CONFIRMS), 2), "errors": stats.errors, **extra}


async def _draft(client: httpx.AsyncClient) -> dict[str, Any]:
    """The active program with the base tier's percent raised by one: every receipt of a card changes."""
    answer = await client.get("/v1/program")
    answer.raise_for_status()
    document: dict[str, Any] = copy.deepcopy(answer.json())
    level = document["tiers"]["levels"][0]
    level["accrual_percent"] = int(float(level["accrual_percent"])) + 1
    return document


async def _statuses(client: httpx.AsyncClient, ids: list[int]) -> list[str]:
    found = []
    for job in ids:
        answer = await client.get(f"/v1/simulations/{job}")
        answer.raise_for_status()
        found.append(answer.json()["status"])
    return found


async def _simulating(served: Served, client: httpx.AsyncClient, draft: dict[str, Any], jobs: int, rate: float,
                      seconds: float, round_: int) -> dict[str, Any]:
    today = datetime.now(UTC).date().isoformat()
    ids = []
    for _ in range(jobs):
        answer = await client.post("/v1/simulations", json={"program": draft, "from": today, "to": today})
        answer.raise_for_status()
        ids.append(answer.json()["id"])
    while "running" not in await _statuses(client, ids):
        await asyncio.sleep(0.2)
    steps = register_mix(200_000, served.cards, seed=100 + round_, run_id=f"sim{round_}")
    stats = await drive(served.port, steps, 64, seconds, rate=rate)
    at_end = await _statuses(client, ids)
    while any(status in ("queued", "running") for status in await _statuses(client, ids)):
        await asyncio.sleep(0.5)
    failed = [status for status in await _statuses(client, ids) if status == "failed"]
    return _phase("simulating", stats, jobs_done_at_end=at_end.count("done"),
                  jobs_running_at_end=at_end.count("running"), ran_out="running" not in at_end, jobs_failed=len(failed))


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    async with serving("simload", args.accounts, 0, 0, 2) as served:
        history = await drive(served.port, register_mix(500_000, served.cards, seed=1, run_id="history"), 32,
                              args.history_seconds)
        peak = history.rps(*CONFIRMS, "calculate_only", "refund", "balance")
        lines.append(_phase("history", history, stored_receipts=history.count(*CONFIRMS), mix_rps=round(peak, 1)))
        print(json.dumps(lines[-1]), flush=True)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{served.port}", timeout=30,
                                     headers={"Authorization": f"Bearer {KEY}"}) as client:
            draft = await _draft(client)
            for round_ in range(args.rounds):
                steps = register_mix(200_000, served.cards, seed=10 + round_, run_id=f"quiet{round_}")
                started = time.perf_counter()
                quiet = await drive(served.port, steps, 64, args.seconds, rate=peak / 2)
                lines.append(_phase("quiet", quiet, seconds=round(time.perf_counter() - started, 1)))
                print(json.dumps(lines[-1]), flush=True)
                lines.append(await _simulating(served, client, draft, args.jobs, peak / 2, args.seconds, round_))
                print(json.dumps(lines[-1]), flush=True)
    quiet_p99 = statistics.median(line["confirm_p99_ms"] for line in lines if line["phase"] == "quiet")
    busy_p99 = statistics.median(line["confirm_p99_ms"] for line in lines if line["phase"] == "simulating")
    summary = {"half_peak_rps": round(lines[0]["mix_rps"] / 2, 1), "quiet_p99_ms": quiet_p99,
               "simulating_p99_ms": busy_p99, "ratio": round(busy_p99 / quiet_p99, 2) if quiet_p99 else None,
               "goal": "ratio <= 2"}
    print(json.dumps(summary), flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--history-seconds", type=float, default=60)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=4, help="simulations queued for each simulating phase")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
