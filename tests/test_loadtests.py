"""The benchmark commands run end to end, briefly, on the suite's servers: each prints its JSON, with
figures from real requests (a smoke test of the commands, not a measurement: the numbers are not judged)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from loadtests.ceiling import STATEMENTS_PER_CONFIRM
from loadtests.pgbench_ceiling import scripts_dir
from tests.conftest import Servers

ROOT = Path(__file__).resolve().parents[1]
FIXED_CEILING = ("minimal_tx_ceiling_rps", "batched_ceiling_rps", "confirm_to_minimal_tx_ceiling")


def run_command(servers: Servers, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": servers.admin_url, "REDIS_URL": servers.redis_url}
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def run(servers: Servers, *args: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in run_command(servers, *args).stdout.splitlines() if line.startswith("{")]


def test_bench_prints_every_figure(servers: Servers) -> None:
    (result,) = run(servers, "loadtests.bench", "--accounts", "300", "--seconds", "1", "--ceiling-seconds", "0.3")
    for key in ("confirm_rps", "confirm_p50_ms", "confirm_p99_ms", "balance_rps", "balance_p99_ms",
                "sql_ceiling_tps", "sql_ceiling_small_documents_tps", "http_ceiling_rps",
                "confirm_to_sql_ceiling", "balance_to_http_ceiling", "loadgen_cpu_share",
                "service_cpu_ms_per_confirm", "database_cpu_ms_per_confirm", "machine_cpu_ms_per_confirm",
                "at50_confirm_p50_ms",
                "balance_at80_p99_ms"):
        assert result[key] > 0, (key, result)
    assert result["sql_statements_per_confirm"] == STATEMENTS_PER_CONFIRM  # 6 since c5471c4
    assert result["machine_cpu_ms_per_confirm"] > result["service_cpu_ms_per_confirm"], result
    assert result["errors"] == {}, result
    assert not any(key.startswith("baseline") for key in result), result  # only with --baseline
    # the fixed ceiling: shared/bench's pgbench scripts beside the repository, found as the bench finds them
    if scripts_dir() is not None:
        assert all(result[key] > 0 for key in FIXED_CEILING), result
        assert result["batched_ceiling_rps"] > result["minimal_tx_ceiling_rps"], result
    else:  # a checkout without shared/ beside it: reported as null, not a failure
        assert all(result[key] is None for key in FIXED_CEILING), result


def test_bench_serves_a_baseline_commit_beside_this_code(servers: Servers, tmp_path: Path) -> None:
    done = run_command(servers, "loadtests.bench", "--accounts", "200", "--seconds", "1", "--ceiling-seconds", "0.3",
                       "--baseline", "HEAD", "--ceiling-scripts", str(tmp_path))  # no scripts: skips pgbench
    (result,) = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert result["baseline_ref"] == "HEAD"
    assert result["baseline_confirm_rps"] > 0 and result["baseline_service_cpu_ms_per_confirm"] > 0, result
    assert result["confirm_to_baseline"] > 0 and result["confirm_rps"] > 0, result
    assert result["baseline_errors"] == {} and result["errors"] == {}, result
    assert all(result[key] is None for key in FIXED_CEILING), result
    assert "no fixed SQL ceiling" in done.stderr
    worktrees = subprocess.run(["git", "-C", str(ROOT), "worktree", "list"], capture_output=True, text=True,
                               check=True).stdout
    assert "bench-baseline-" not in worktrees, worktrees  # removed afterwards


def test_latency_prints_a_phase_per_fraction(servers: Servers) -> None:
    phases = run(servers, "loadtests.latency", "--accounts", "300", "--seconds", "1", "--fractions", "0.3,0.6")
    assert [p["phase"] for p in phases] == ["peak", "30% of the peak", "60% of the peak"]
    assert all(p["confirm_rps"] > 0 and p["confirm_p99_ms"] >= p["confirm_p50_ms"] > 0 for p in phases), phases


def test_batch_cost_prints_cpu_per_confirm_by_batch_size(servers: Servers) -> None:
    rows = run(servers, "loadtests.batch_cost", "--sizes", "1,3", "--rounds", "3", "--warm", "2",
               "--accounts", "100")
    assert [(r["batch"], r["round"]) for r in rows] == [(1, 1), (3, 1), (1, 2), (3, 2)], rows
    assert all(r["service_cpu_ms_per_confirm"] > 0 for r in rows), rows  # the backend's may round to 0


def test_fold_cost_times_each_step_beside_a_baseline_commit(servers: Servers) -> None:
    rows = run(servers, "loadtests.fold_cost", "--accounts", "300", "--seconds", "1", "--rounds", "2",
               "--baseline", "HEAD")  # exits non-zero when HEAD's fold writes other summary rows than this tree's
    rounds, medians = rows[:-2], rows[-2:]
    assert [r["tree"] for r in rounds] == ["this tree", "HEAD"] * 2, rows
    assert all(r["fold"] >= r["items"] > 0 for r in rounds), rows
    assert [m["tree"] for m in medians] == ["this tree", "HEAD"] and all(m["receipts"] > 0 for m in medians), medians
