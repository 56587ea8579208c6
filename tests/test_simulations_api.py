"""Simulations on stored receipts: POST /v1/simulations, its job process, `simulate --from --to` and
`receipts export`, on a small history worked out by hand.

The program P is tests/programs.py's (tiers base 0 → 3 %, silver 100,000 → 5 %; accrual on what is paid,
available at once, auto_enroll on) with 10 % off every receipt; the draft P' gives 20 % instead. Money and
points in minor units.

History (confirmed under P): card C1 buys 200,000 five days ago: 20,000 off, pays 180,000 (silver from then on),
accrues 180,000 × 3 % = 5,400 points. The period is the last two days:
  r1  C1, 100,000, redeems 2,000
  r2  C2 (a new card), 50,000
  r3  no card, 30,000
Under P' (C1 opens the period silver with 5,400 points):
  r1  20,000 off → 80,000; 2,000 redeemed; (80,000 − 2,000) × 5 % = 3,900 accrued
  r2  10,000 off → 40,000; × 3 % = 1,200      r3  6,000 off → 24,000
  discount 36,000, accrued 5,100, redeemed 2,000, cost 41,100; revenue 144,000 = 48,000 a receipt
Under P (the baseline, as confirmed):
  r1  10,000 off → 90,000; (90,000 − 2,000) × 5 % = 4,400     r2  5,000 off → 45,000 × 3 % = 1,350
  r3  3,000 off
  discount 18,000, accrued 5,750, redeemed 2,000, cost 23,750
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.load import sql
from tests.programs import program
from tests.support import Service, assert_problem, confirm, line, receipt

P_CAMPAIGN = {"id": "ten-off", "name": "Off everything", "type": "receipt_discount", "priority": 10,
              "thresholds": [{"min_amount": 0, "percent": 10}]}
DRAFT_CAMPAIGN = {**P_CAMPAIGN, "thresholds": [{"min_amount": 0, "percent": 20}]}
P = program(campaigns=[P_CAMPAIGN])
P_DRAFT = program(campaigns=[DRAFT_CAMPAIGN])
ENV = {"BONUS_ENGINE_SIMULATION_POLL_S": "0.2"}


def _at(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).replace(microsecond=0).isoformat()


def _history(c1: str) -> dict[str, Any]:
    return receipt([line("1", 200_000)], c1, receipt_id="h1", issued_at=_at(timedelta(days=-5)))


def _period(c1: str, c2: str) -> list[dict[str, Any]]:
    return [
        receipt([line("1", 100_000)], c1, receipt_id="r1", issued_at=_at(timedelta(minutes=-30)), redeem_points=2_000),
        receipt([line("1", 50_000)], c2, receipt_id="r2", issued_at=_at(timedelta(minutes=-20))),
        receipt([line("1", 30_000)], None, receipt_id="r3", issued_at=_at(timedelta(minutes=-10))),
    ]


def _days() -> tuple[str, str]:
    today = datetime.now(UTC).date()
    return (today - timedelta(days=1)).isoformat(), today.isoformat()


@pytest.fixture(scope="module")
def stored(make_module_service: Callable[..., Service]) -> tuple[Service, list[dict[str, Any]]]:
    """A service under P with the history and the period's receipts confirmed; their results."""
    service = make_module_service(P, **ENV)
    client = service.client()
    confirm(client, _history("2900000000001"))
    results = [confirm(client, body) for body in _period("2900000000001", "2900000000002")]
    return service, results


def _wait_done(service: Service, location: str, timeout_s: float = 60) -> dict[str, Any]:
    client = service.client()
    deadline = time.monotonic() + timeout_s
    while True:
        job = client.get(location).json()
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            return dict(job)
        time.sleep(0.2)


def _submit(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    answer = service.client().post("/v1/simulations", json=body)
    assert answer.status_code == 202, answer.text
    assert answer.headers["location"] == f"/v1/simulations/{answer.json()['id']}"
    assert answer.json()["status"] == "queued"
    return _wait_done(service, answer.headers["location"])


def test_a_draft_on_the_stored_period_by_hand(stored: tuple[Service, list[dict[str, Any]]]) -> None:
    service, results = stored
    first, last = _days()
    job = _submit(service, {"campaigns": [DRAFT_CAMPAIGN], "from": first, "to": last})
    assert job["status"] == "done", job
    assert job["progress"] == {"receipts_done": 3, "receipts_total": 3}
    result = job["result"]
    assert result["receipts"] == {"replayed": 3, "unreadable": 0, "not_replayable": 0}
    totals = result["totals"]
    assert {k: totals[k] for k in ("receipts", "amount", "discount", "points_accrued", "points_redeemed", "cost",
                                   "revenue", "revenue_per_receipt", "coupon_uses")} == {
        "receipts": 3, "amount": 180_000, "discount": 36_000, "points_accrued": 5_100, "points_redeemed": 2_000,
        "cost": 41_100, "revenue": 144_000, "revenue_per_receipt": 48_000, "coupon_uses": 0}
    base = totals["baseline"]
    assert (base["discount"], base["points_accrued"], base["points_redeemed"], base["cost"]) == (
        18_000, 5_750, 2_000, 23_750)
    assert totals["cost_difference"] == 41_100 - 23_750
    # the baseline replayed is what was confirmed: the stored results under P
    assert base["discount"] == sum(r["totals"]["discount"] for r in results)
    assert base["points_accrued"] == sum(r["totals"]["points_accrued"] for r in results)
    campaign = next(c for c in result["campaigns"] if c["id"] == "ten-off")
    assert {k: campaign[k] for k in ("receipts", "discount", "points", "coupon_uses", "cost", "cost_difference",
                                     "revenue_per_receipt_touched", "revenue_per_receipt_untouched")} == {
        "receipts": 3, "discount": 36_000, "points": 0, "coupon_uses": 0, "cost": 36_000,
        "cost_difference": 18_000, "revenue_per_receipt_touched": 48_000, "revenue_per_receipt_untouched": None}
    assert campaign["baseline"]["discount"] == 18_000
    assert result["card_status"] == {"ok": 2, "none": 1, "unknown": 0, "blocked": 0}


def test_the_draft_equals_confirming_under_it(stored: tuple[Service, list[dict[str, Any]]],
                                              make_module_service: Callable[..., Service]) -> None:
    """The same history under P in a fresh database, then P' published and the period's receipts confirmed:
    what they give is what the simulation said."""
    service, _ = stored
    first, last = _days()
    job = _submit(service, {"program": json.loads(json.dumps(_document(P_DRAFT))), "from": first, "to": last,
                            "baseline": "active"})
    fresh = make_module_service(P, **ENV)
    client = fresh.client()
    confirm(client, _history("2900000000001"))
    assert client.put("/v1/program", content=P_DRAFT, headers={"Content-Type": "application/yaml"}).status_code == 200
    results = [confirm(client, body) for body in _period("2900000000001", "2900000000002")]
    totals = job["result"]["totals"]
    for name in ("discount", "points_accrued", "points_redeemed"):
        assert totals[name] == sum(r["totals"][name] for r in results), name
    assert [r["totals"]["points_accrued"] for r in results] == [3_900, 1_200, 0]


def _document(text: str) -> dict[str, Any]:
    import yaml

    return dict(yaml.safe_load(text))


def test_export_then_file_simulation_equals_the_database_one(stored: tuple[Service, list[dict[str, Any]]],
                                                             tmp_path: Path) -> None:
    """Over a period holding the whole history every account starts empty in both paths, so they agree."""
    service, _ = stored
    first = (datetime.now(UTC).date() - timedelta(days=6)).isoformat()
    last = datetime.now(UTC).date().isoformat()
    exported = tmp_path / "receipts.jsonl"
    done = service.cli("receipts", "export", "--from", first, "--to", last, "--out", str(exported))
    assert done.returncode == 0, done.stderr
    bodies = [json.loads(row) for row in exported.read_text().splitlines()]
    assert [b["receipt_id"] for b in bodies] == ["h1", "r1", "r2", "r3"]
    assert bodies[1]["redeem_points"] == 2_000 and bodies[1]["lines"][0]["amount"] == 100_000
    draft, base = tmp_path / "draft.yaml", tmp_path / "p.yaml"
    draft.write_text(P_DRAFT)
    base.write_text(P)
    from_file = service.cli("simulate", "--program", str(draft), "--receipts", str(exported), "--baseline", str(base),
                            "--format", "json")
    from_database = service.cli("simulate", "--program", str(draft), "--from", first, "--to", last, "--baseline",
                                "active", "--format", "json")
    assert from_file.returncode == 0 and from_database.returncode == 0, from_file.stderr + from_database.stderr
    file_result, database_result = json.loads(from_file.stdout), json.loads(from_database.stdout)
    for side in ("program", "baseline", "difference"):
        assert file_result[side] == database_result[side], side
    assert database_result["program"]["totals"]["receipts"] == 4
    assert database_result["baseline_file"] == "version 1"


def test_bad_drafts_are_refused_with_paths_and_nothing_is_queued(stored: tuple[Service, list[dict[str, Any]]]) -> None:
    service, _ = stored
    client = service.client()
    first, last = _days()
    before = sql(service.database_url, "SELECT count(*) AS n FROM simulations")[0]["n"]
    bad = {**DRAFT_CAMPAIGN, "thresholds": [{"min_amount": 0, "percent": 120}]}
    problem = assert_problem(client.post("/v1/simulations", json={"campaigns": [bad], "from": first, "to": last}),
                             422, "invalid_program")
    assert problem["errors"][0]["path"].startswith("campaigns[0].thresholds[0].percent"), problem
    document = _document(P_DRAFT)
    document["campaigns"][0]["priority"] = "high"
    problem = assert_problem(client.post("/v1/simulations", json={"program": document, "from": first, "to": last}),
                             422, "invalid_program")
    assert problem["errors"][0]["path"] == "program.campaigns[0].priority"
    problem = assert_problem(client.post("/v1/simulations", json={"program": document, "from": last, "to": first}),
                             422, "invalid_period")
    assert_problem(client.post("/v1/simulations", json={"campaigns": [DRAFT_CAMPAIGN], "from": "2025-01-01",
                                                        "to": "2026-12-31"}), 422, "invalid_period")
    assert_problem(client.post("/v1/simulations", json={"campaigns": [DRAFT_CAMPAIGN], "from": first, "to": last,
                                                        "baseline": 999}), 404, "program_version_not_found")
    assert_problem(client.post("/v1/simulations", json={"from": first, "to": last}), 422, "validation_error")
    assert_problem(client.post("/v1/simulations", json={"program": _document(P), "campaigns": [DRAFT_CAMPAIGN],
                                                        "from": first, "to": last}), 422, "validation_error")
    assert sql(service.database_url, "SELECT count(*) AS n FROM simulations")[0]["n"] == before


def test_unknown_ids_keys_and_roles(stored: tuple[Service, list[dict[str, Any]]]) -> None:
    service, _ = stored
    assert_problem(service.client().get("/v1/simulations/999999"), 404, "simulation_not_found")
    first, last = _days()
    body = {"campaigns": [DRAFT_CAMPAIGN], "from": first, "to": last}
    pos = service.client(service.key("pos"))
    for answer in (pos.post("/v1/simulations", json=body), pos.get("/v1/simulations"), pos.get("/v1/simulations/1")):
        assert_problem(answer, 403, "forbidden")
    marketer = service.client(service.key("marketer"))
    answer = marketer.post("/v1/simulations", json=body)
    assert answer.status_code == 202, answer.text
    assert marketer.get(answer.headers["location"]).status_code == 200
    assert marketer.get("/v1/simulations").status_code == 200
    nobody = service.client(None)
    assert_problem(nobody.post("/v1/simulations", json=body), 401, "unauthorized")
    assert_problem(nobody.get("/v1/simulations"), 401, "unauthorized")


def test_listing_is_paged_newest_first(stored: tuple[Service, list[dict[str, Any]]]) -> None:
    service, _ = stored
    client = service.client()
    first, last = _days()
    ids = [client.post("/v1/simulations", json={"campaigns": [DRAFT_CAMPAIGN], "from": first, "to": last}).json()["id"]
           for _ in range(3)]
    page = client.get("/v1/simulations", params={"limit": 2}).json()
    assert [job["id"] for job in page["simulations"]] == ids[::-1][:2]
    assert all("result" not in job for job in page["simulations"])
    rest = client.get("/v1/simulations", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert rest["simulations"][0]["id"] == ids[0]
    assert_problem(client.get("/v1/simulations", params={"cursor": "x"}), 422, "invalid_cursor")
    for job_id in ids:
        assert _wait_done(service, f"/v1/simulations/{job_id}")["status"] == "done"


def test_a_job_whose_process_died_is_failed_not_left_running(
        make_module_service: Callable[..., Service]) -> None:
    """A job marked running by an instance that is gone (its heartbeat stops) is failed after
    simulation_stale_s; a job whose process is killed is failed by the instance that started it."""
    service = make_module_service(P, BONUS_ENGINE_SIMULATION_POLL_S="0.2", BONUS_ENGINE_SIMULATION_STALE_S="2")
    orphan = sql(service.database_url,
                 "INSERT INTO simulations (status, period_from, period_to, program, baseline, baseline_version,"
                 " runner, started_at, heartbeat_at) SELECT 'running', current_date, current_date, document, document,"
                 " version, 'gone:1', now(), now() FROM programs RETURNING id")[0]["id"]
    job = _wait_done(service, f"/v1/simulations/{orphan}", timeout_s=20)
    assert job["status"] == "failed" and "stopped reporting" in job["error"], job
    assert job["finished_at"] is not None


def test_a_job_whose_process_is_killed_mid_run_is_failed(stored: tuple[Service, list[dict[str, Any]]]) -> None:
    """The job's process waits on a lock the test holds on `receipts` (mid-run: claimed, adopted, reading); it
    is killed, and its serving instance fails the job at once."""
    service, _ = stored
    first, last = _days()

    async def scenario() -> dict[str, Any]:
        conn = await asyncpg.connect(service.database_url)
        try:
            async with conn.transaction():
                await conn.execute("LOCK TABLE receipts IN ACCESS EXCLUSIVE MODE")
                answer = service.client().post("/v1/simulations", json={"campaigns": [DRAFT_CAMPAIGN], "from": first,
                                                                        "to": last})
                job_id = answer.json()["id"]
                deadline = time.monotonic() + 30
                pid = service.process.pid
                while pid == service.process.pid and time.monotonic() < deadline:  # until its own process has it
                    await asyncio.sleep(0.1)
                    runner = await conn.fetchval("SELECT runner FROM simulations WHERE id = $1", job_id)
                    pid = int(runner.rsplit(":", 1)[1]) if runner else pid
                assert pid != service.process.pid
                assert await conn.fetchval("SELECT status FROM simulations WHERE id = $1", job_id) == "running"
                os.kill(pid, signal.SIGKILL)
                while time.monotonic() < deadline:
                    row = await conn.fetchrow("SELECT status, error FROM simulations WHERE id = $1", job_id)
                    if row["status"] != "running":
                        return dict(row)
                    await asyncio.sleep(0.1)
                return dict(row)
        finally:
            await conn.close()

    row = asyncio.run(scenario())
    assert row["status"] == "failed" and "exited with code -9" in row["error"], row


def test_the_same_figures_in_two_processes(make_module_service: Callable[..., Service]) -> None:
    """The history replayed in two processes (by account) sums to the figures of one."""
    service = make_module_service(P, BONUS_ENGINE_SIMULATION_POLL_S="0.2", BONUS_ENGINE_SIMULATION_PROCESSES="2")
    client = service.client()
    confirm(client, _history("2900000000001"))
    for body in _period("2900000000001", "2900000000002"):
        confirm(client, body)
    first, last = _days()
    job = _submit(service, {"campaigns": [DRAFT_CAMPAIGN], "from": first, "to": last})
    assert job["status"] == "done", job
    totals = job["result"]["totals"]
    assert (totals["receipts"], totals["discount"], totals["points_accrued"], totals["points_redeemed"],
            totals["cost"], totals["revenue"]) == (3, 36_000, 5_100, 2_000, 41_100, 144_000)
    assert totals["baseline"]["cost"] == 23_750
    assert job["result"]["card_status"] == {"ok": 2, "none": 1, "unknown": 0, "blocked": 0}
    assert job["progress"] == {"receipts_done": 3, "receipts_total": 3}
