"""Confirm latency against load: the register mix's peak rate, then the mix paced at fractions of it.

    python -m loadtests.latency [--fractions 0.5,0.65,0.8] [--accounts 100000] [--workers 2] [--seconds 20]

Same servers, seed and service as `loadtests.bench` (DATABASE_URL/REDIS_URL or embedded ones). The peak is
the closed loop of 32 connections; each paced phase is an open loop of 64 connections at the fraction of
that rate. Prints one JSON line per phase: the rate asked, the confirms per second reached, their p50,
p99 and max, and the slowest second (its p50) to show whether the tail is spread or comes in bursts.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import orjson

from .bench import CONFIRMS, Stats, drive, serving
from .scenarios import register_mix


def phase(name: str, stats: Stats, rate: float | None) -> dict[str, Any]:
    seconds: dict[int, list[float]] = {}
    for at, seconds_taken in stats.timeline:
        seconds.setdefault(int(at), []).append(seconds_taken)
    worst = max((sorted(v)[len(v) // 2] for v in seconds.values()), default=0.0)
    return {"phase": name, "rate_rps": round(rate, 1) if rate else None,
            "confirm_rps": round(stats.rps(*CONFIRMS), 1),
            "confirm_p50_ms": round(stats.percentile_ms(50, *CONFIRMS), 1),
            "confirm_p99_ms": round(stats.percentile_ms(99, *CONFIRMS), 1),
            "confirm_max_ms": round(stats.percentile_ms(100, *CONFIRMS), 1),
            "worst_second_p50_ms": round(worst * 1000, 1)}


async def run(args: argparse.Namespace) -> None:
    async with serving("latency", args.accounts, 0, 0, args.workers) as served:
        peak = await drive(served.port, register_mix(200_000, served.cards, seed=1, run_id="peak"), 32, args.seconds)
        print(orjson.dumps(phase("peak", peak, None)).decode(), flush=True)
        peak_rps = peak.rps(*CONFIRMS, "calculate_only", "refund", "balance")
        for index, fraction in enumerate(args.fractions):
            steps = register_mix(200_000, served.cards, seed=2 + index, run_id=f"paced{index}")
            paced = await drive(served.port, steps, 64, args.seconds, rate=fraction * peak_rps)
            print(orjson.dumps(phase(f"{fraction:.0%} of the peak", paced, fraction * peak_rps)).decode(),
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtests.latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fractions", type=lambda text: [float(f) for f in text.split(",")],
                        default=[0.5, 0.65, 0.8])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
