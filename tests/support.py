"""Test support: the service as a real process on a real port, helpers to build receipts, the API calls
and checks the API tests share, and a reader of /metrics samples."""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import httpx

ADMIN_KEY = "test-admin-" + secrets.token_hex(8)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[Any], timeout_s: float) -> None:
    """Until `url` answers /healthz with 200; RuntimeError when `process` ends or the time runs out first."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the service did not start (exit code {process.poll()})")
        time.sleep(0.1)


@dataclass
class Service:
    url: str
    database_url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    _clients: list[httpx.Client] = field(default_factory=list)

    def client(self, key: str | None = ADMIN_KEY) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self._clients.append(client)
        return client

    def cli(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run `bonus-engine ARGS` against this service's database."""
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args], env=self.env, capture_output=True, text=True, check=check,
            timeout=120,
        )

    def key(self, role: str, store: str | None = None) -> str:
        args = ["keys", "create", "--role", role] + (["--store", store] if store else [])
        return self.cli(*args, check=True).stdout.strip()

    def audit(self) -> subprocess.CompletedProcess[str]:
        return self.cli("audit")

    def stop(self) -> None:
        for client in self._clients:
            client.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_service(database_url: str, redis_url: str, redis_prefix: str, program_yaml: str,
                  extra_env: dict[str, str], workers: int = 1, stderr: IO[bytes] | None = None) -> Service:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "BONUS_ENGINE_REDIS_PREFIX": redis_prefix,
        "BONUS_ENGINE_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
        "BONUS_ENGINE_PROGRAM_POLL_MS": "200",
        **extra_env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", str(workers)], env=env,
        stderr=stderr,
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, process, 30)
    service = Service(url, database_url, env, process)
    if program_yaml:
        answer = service.client().put("/v1/program", content=program_yaml,
                                      headers={"Content-Type": "application/yaml"})
        assert answer.status_code == 200, answer.text
    return service


Call = Callable[[httpx.Client], httpx.Response]


def race(calls: list[tuple[Service, Call]], timeout_s: float = 60) -> list[httpx.Response]:
    """Each call in its own thread on its own connection to its service, all released at once by a
    barrier; answers in call order."""
    barrier = threading.Barrier(len(calls))

    def run(call: tuple[Service, Call]) -> httpx.Response:
        service, request = call
        with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                          timeout=timeout_s) as client:
            client.get("/healthz")  # connect before the race
            barrier.wait(timeout=timeout_s)
            return request(client)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def post(path: str, body: dict[str, Any] | None = None) -> Call:
    """A call for `race`: POST `body` (or nothing) to `path`."""

    def call(client: httpx.Client) -> httpx.Response:
        return client.post(path, json=body) if body is not None else client.post(path)

    return call


_counter = iter(range(1, 10**9))


def unique(prefix: str) -> str:
    """Ids unique within the test run, so tests can share one service."""
    return f"{prefix}{secrets.token_hex(3)}{next(_counter)}"


def card() -> str:
    return f"29{secrets.randbelow(10**11):011d}"


def now_iso(delta: timedelta = timedelta(0), offset_hours: int = 3) -> str:
    from datetime import timezone

    moment = datetime.now(UTC) + delta
    return moment.astimezone(timezone(timedelta(hours=offset_hours))).replace(microsecond=0).isoformat()


def line(line_id: str, amount: int, quantity: str = "1", **fields: Any) -> dict[str, Any]:
    q = int(quantity) if quantity.isdigit() else 1
    return {"line_id": line_id, "sku": fields.pop("sku", f"SKU-{line_id}"), "quantity": quantity,
            "price": amount // q, "amount": amount, **fields}


def receipt(lines: list[dict[str, Any]], card_number: str | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "receipt_id": fields.pop("receipt_id", unique("r-")),
        "store_id": fields.pop("store_id", "s17"),
        "issued_at": fields.pop("issued_at", now_iso(timedelta(minutes=-1))),
        "lines": lines,
        **fields,
    }
    if card_number is not None:
        body["card"] = card_number
    return body


# --- answers ----------------------------------------------------------------------------------------

PROBLEM_FIELDS = ("type", "title", "status", "detail", "code")


def assert_problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A clear problem+json answer: RFC 9457 fields, the status repeated, the machine-readable code."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.headers
    problem = dict(answer.json())
    for name in PROBLEM_FIELDS:
        assert name in problem, problem
    assert isinstance(problem["type"], str) and problem["type"]
    assert isinstance(problem["title"], str) and problem["title"]
    assert isinstance(problem["detail"], str) and problem["detail"]
    assert problem["status"] == status
    assert problem["code"] == code, problem
    assert re.fullmatch(r"[a-z][a-z0-9_]*", problem["code"])
    assert "Traceback" not in answer.text
    return problem


# --- accounts, receipts and the books ---------------------------------------------------------------


def register(client: httpx.Client, number: str, **fields: Any) -> dict[str, Any]:
    """POST /v1/accounts for `number`: a new account (201, not a replay); returns it."""
    answer = client.post("/v1/accounts", json={"card": number, **fields})
    assert answer.status_code == 201, answer.text
    assert "idempotent-replayed" not in answer.headers
    return dict(answer.json())


def registered_card(client: httpx.Client, welcome: int | None = None, extra_points: int = 0) -> str:
    """A new card, registered; with `welcome`, its registration bonus is checked to be that many points
    available; with `extra_points`, that many points are credited by an adjustment. Returns the card."""
    number = card()
    created = register(client, number)
    if welcome is not None:
        assert created["points"]["available"] == welcome
    if extra_points:
        answer = client.post(f"/v1/accounts/{number}/adjustments", json={"points": extra_points, "reason": "test"})
        assert answer.status_code == 201, answer.text
        if welcome is not None:
            assert answer.json()["account"]["points"]["available"] == welcome + extra_points
    return number


def account(client: httpx.Client, number: str) -> dict[str, Any]:
    answer = client.get(f"/v1/accounts/{number}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def ledger(client: httpx.Client, number: str, every_page: bool = False) -> list[dict[str, Any]]:
    """The account's ledger entries, newest first. One page of 500 must hold them all (its next_cursor
    is None) unless `every_page`, which follows next_cursor through every page."""
    entries: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 500}
    while True:
        answer = client.get(f"/v1/accounts/{number}/ledger", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        entries += page["entries"]
        if not every_page:
            assert page["next_cursor"] is None
        if page["next_cursor"] is None:
            return entries
        params = {"limit": 500, "cursor": page["next_cursor"]}


def confirm(client: httpx.Client, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    answer = client.post("/v1/receipts", json=body)
    assert answer.status_code == status, answer.text
    return dict(answer.json())


def assert_books(service: Service, client: httpx.Client, number: str, every_page: bool = False,
                 non_negative: bool = False) -> dict[str, Any]:
    """The entries of an account sum to its available plus pending points; the audit agrees. With
    `non_negative`, available points must not be below zero. Returns the account's points."""
    points = account(client, number)["points"]
    entries = ledger(client, number, every_page)
    if non_negative:
        assert points["available"] >= 0, points
    assert sum(e["points"] for e in entries) == points["available"] + points["pending"], (points, entries)
    audit = service.audit()
    assert audit.returncode == 0, audit.stdout + audit.stderr
    return dict(points)


# --- metrics ----------------------------------------------------------------------------------------

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \S+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def metric(text: str, name: str, **labels: str | re.Pattern[str]) -> float:
    """The sum of the samples named `name` in a Prometheus text exposition whose labels include `labels`.

    A label given as a string must equal the sample's value; one given as a compiled pattern must match
    the whole value. No matching sample sums to 0.0.
    """
    total = 0.0
    for row in text.splitlines():
        sample = _SAMPLE.match(row)
        if sample is None or sample.group(1) != name:
            continue
        found = dict(_LABEL.findall(sample.group(2) or ""))
        if all(key in found and (want.fullmatch(found[key]) if isinstance(want, re.Pattern) else found[key] == want)
               for key, want in labels.items()):
            total += float(sample.group(3))
    return total
