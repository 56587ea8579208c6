"""The benchmark commands run end to end, briefly, on the suite's servers: each prints its JSON, with
figures from real requests (a smoke test of the commands, not a measurement: the numbers are not judged)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import Servers

ROOT = Path(__file__).resolve().parents[1]


def run(servers: Servers, *args: str) -> list[dict[str, Any]]:
    env = {**os.environ, "DATABASE_URL": servers.admin_url, "REDIS_URL": servers.redis_url}
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_bench_prints_every_figure(servers: Servers) -> None:
    (result,) = run(servers, "loadtests.bench", "--accounts", "300", "--seconds", "1", "--ceiling-seconds", "0.3")
    for key in ("confirm_rps", "confirm_p50_ms", "confirm_p99_ms", "balance_rps", "balance_p99_ms",
                "sql_ceiling_tps", "sql_ceiling_small_documents_tps", "http_ceiling_rps",
                "confirm_to_sql_ceiling", "balance_to_http_ceiling", "loadgen_cpu_share",
                "service_cpu_ms_per_confirm"):
        assert result[key] > 0, (key, result)
    assert result["sql_statements_per_confirm"] == 11
    assert result["errors"] == {}, result


def test_latency_prints_a_phase_per_fraction(servers: Servers) -> None:
    phases = run(servers, "loadtests.latency", "--accounts", "300", "--seconds", "1", "--fractions", "0.3,0.6")
    assert [p["phase"] for p in phases] == ["peak", "30% of the peak", "60% of the peak"]
    assert all(p["confirm_rps"] > 0 and p["confirm_p99_ms"] >= p["confirm_p50_ms"] > 0 for p in phases), phases
