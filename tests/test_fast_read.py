"""The fast read (app/accounts/fast.py): cache hits of GET /v1/accounts/{card} answered ahead of FastAPI.

It must answer exactly what the endpoint answers (the same bytes, status and headers), count the same
metrics, and leave everything it cannot answer (no key, a revoked key, a bad card, a miss, no program,
Redis away) to the endpoint.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis

from app.core.db import asyncpg_dsn
from tests.support import (
    ADMIN_KEY,
    Service,
    assert_problem,
    card,
    confirm,
    line,
    metric,
    receipt,
    registered_card,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "rules" / "examples" / "program.yaml"
ROUTE = "/v1/accounts/{card}"


def raw_get(service: Service, path: str, key: str | None = ADMIN_KEY) -> bytes:
    """The whole HTTP/1.1 answer as it came over the socket, with its Date header (the clock) cut out."""
    host, port = service.url.removeprefix("http://").split(":")
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
    request += f"Authorization: Bearer {key}\r\n\r\n" if key else "\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return re.sub(rb"(?im)^date: [^\r]*\r\n", b"", answer)


def counts(service: Service) -> dict[str, float]:
    """The cache look-ups by result, and the 200s of the read route."""
    text = httpx.get(f"{service.url}/metrics").text
    found = {result: metric(text, "bonus_cache_requests_total", result=result)
             for result in ("hit", "miss", "error", "skipped")}
    found["reads"] = metric(text, "bonus_http_requests_total", route=ROUTE, method="GET", status="200")
    return found


def grew(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before[name] for name in after if after[name] != before[name]}


def forget(service: Service, number: str) -> None:
    """Drop the card's cached snapshots from Redis, so that the next read is a miss."""
    client = redis.Redis.from_url(service.env["REDIS_URL"])
    try:
        for key in client.scan_iter(match=f"{service.env['BONUS_ENGINE_REDIS_PREFIX']}{{acct:{number}}}:*"):
            client.delete(key)
    finally:
        client.close()


def test_a_hit_answers_byte_for_byte_what_the_endpoint_answers(service: Service) -> None:
    number = registered_card(service.client())
    forget(service, number)
    before = counts(service)
    slow = raw_get(service, f"/v1/accounts/{number}")  # a miss: the endpoint reads PostgreSQL and caches
    missed = counts(service)
    fast = raw_get(service, f"/v1/accounts/{number}")  # a hit: the fast read sends the cached bytes
    hit = counts(service)

    assert slow.startswith(b"HTTP/1.1 200 OK\r\n"), slow
    assert b"\r\ncontent-type: application/json\r\n" in slow.lower()
    assert fast == slow
    # each read is one look-up, counted once, and one request of the route template
    assert grew(before, missed) == {"miss": 1, "reads": 1}
    assert grew(missed, hit) == {"hit": 1, "reads": 1}
    text = httpx.get(f"{service.url}/metrics").text
    assert number not in text  # the label is the template, never the card


def test_keys_are_checked_as_the_endpoint_checks_them(service: Service) -> None:
    number = registered_card(service.client())
    service.client().get(f"/v1/accounts/{number}")  # cached now
    before = counts(service)
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer be_pos_unknown"},
                    {"Authorization": f"Basic {ADMIN_KEY}"}):
        answer = httpx.get(f"{service.url}/v1/accounts/{number}", headers=headers)
        assert_problem(answer, 401, "unauthorized")
        assert answer.headers["www-authenticate"] == "Bearer"
    assert grew(before, counts(service)) == {}  # no look-up without a valid key
    # any valid key reads: a pos key, a pos key bound to another store, the scheme in any case
    for key, scheme in ((service.key("pos"), "Bearer"), (service.key("pos", "s99"), "bearer"),
                        (ADMIN_KEY, "BEARER")):
        answer = httpx.get(f"{service.url}/v1/accounts/{number}", headers={"Authorization": f"{scheme}  {key}"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["card"] == number
    assert grew(before, counts(service)) == {"hit": 3, "reads": 3}


def test_a_revoked_key_stops_reading_cached_cards_within_5_s(service: Service) -> None:
    key = service.key("pos")
    key_id = json.loads(service.cli("keys", "list", "--format", "json", check=True).stdout.splitlines()[-1])["id"]
    number = registered_card(service.client())
    reader = service.client(key)
    assert reader.get(f"/v1/accounts/{number}").status_code == 200
    hits = counts(service)["hit"]
    service.cli("keys", "revoke", str(key_id), check=True)
    revoked = time.monotonic()
    while (answer := reader.get(f"/v1/accounts/{number}")).status_code == 200:
        assert time.monotonic() - revoked < 6.5, "still served 6.5 s after revocation (the key cache lives 5 s)"
        time.sleep(0.2)
    assert_problem(answer, 401, "unauthorized")
    assert counts(service)["hit"] > hits  # the reads before the refusal were hits


@pytest.mark.parametrize("path", ["/v1/accounts/abc_def", "/v1/accounts/a%20b", "/v1/accounts/" + "1" * 65,
                                  "/v1/accounts/%D0%AF", "/v1/accounts/a.b"])
def test_cards_outside_the_pattern_get_the_endpoints_422(service: Service, path: str) -> None:
    before = counts(service)
    problem = assert_problem(service.client().get(path), 422, "validation_error")
    assert problem["errors"][0]["path"] == "path.card", problem
    assert grew(before, counts(service)) == {}


def test_an_unknown_card_is_one_miss_and_the_endpoints_404(service: Service) -> None:
    before = counts(service)
    assert_problem(service.client().get(f"/v1/accounts/{card()}"), 404, "account_not_found")
    assert grew(before, counts(service)) == {"miss": 1}


def test_writes_show_in_the_next_read(service: Service) -> None:
    client = service.client()
    number = registered_card(client)
    first = client.get(f"/v1/accounts/{number}").json()
    body = receipt([line("1", 100000)], number, redeem_points=5000)
    totals = confirm(client, body)["totals"]
    before = counts(service)
    points = client.get(f"/v1/accounts/{number}").json()["points"]
    assert points["available"] == first["points"]["available"] - 5000
    assert points["pending"] == first["points"]["pending"] + totals["points_accrued"]
    assert grew(before, counts(service)) == {"hit": 1, "reads": 1}  # the confirm cached the new snapshot
    assert client.post(f"/v1/accounts/{number}/block").status_code == 200
    assert client.get(f"/v1/accounts/{number}").json()["status"] == "blocked"
    assert client.post(f"/v1/accounts/{number}/unblock").status_code == 200
    assert client.get(f"/v1/accounts/{number}").json()["status"] == "active"


def test_a_program_change_or_a_new_cache_generation_is_not_served_old_snapshots(
        make_module_service: Callable[..., Service]) -> None:
    service = make_module_service()
    client = service.client()
    number = registered_card(client)
    assert client.get(f"/v1/accounts/{number}").json()["tier"]["accrual_percent"] in (3, "3")

    changed = EXAMPLE.read_text().replace("accrual_percent: 3}", "accrual_percent: 4}")
    answer = client.put("/v1/program", content=changed, headers={"Content-Type": "application/yaml"})
    assert answer.status_code == 200, answer.text
    before = counts(service)
    assert client.get(f"/v1/accounts/{number}").json()["tier"]["accrual_percent"] in (4, "4")
    assert grew(before, counts(service)) == {"miss": 1, "reads": 1}  # the new version's key: not cached yet
    before = counts(service)
    client.get(f"/v1/accounts/{number}")
    assert grew(before, counts(service)) == {"hit": 1, "reads": 1}

    async def bump() -> None:
        conn = await asyncpg.connect(asyncpg_dsn(service.database_url))
        try:
            await conn.execute("UPDATE cache_state SET generation = generation + 1 WHERE id = 1")
        finally:
            await conn.close()

    asyncio.run(bump())
    time.sleep(0.6)  # workers follow the generation every BONUS_ENGINE_PROGRAM_POLL_MS (200 ms in tests)
    before = counts(service)
    assert client.get(f"/v1/accounts/{number}").status_code == 200
    assert grew(before, counts(service)) == {"miss": 1, "reads": 1}


def test_without_a_program_or_redis_the_endpoint_answers(make_module_service: Callable[..., Service]) -> None:
    bare = make_module_service(program_yaml="")
    before = counts(bare)
    assert_problem(bare.client().get(f"/v1/accounts/{card()}"), 503, "program_not_loaded")
    assert grew(before, counts(bare)) == {}

    service = make_module_service(REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens on port 1
    number = registered_card(service.client())
    for _ in range(3):
        before = counts(service)
        assert service.client().get(f"/v1/accounts/{number}").status_code == 200
        # one look-up, counted once: an error (then the pause begins) or skipped during the pause
        assert set(grew(before, counts(service)).items()) in ({("error", 1), ("reads", 1)},
                                                              {("skipped", 1), ("reads", 1)})
