"""Test support: the service as a real process on a real port, and helpers to build receipts."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

ADMIN_KEY = "test-admin-" + secrets.token_hex(8)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
                  extra_env: dict[str, str], workers: int = 1) -> Service:
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
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", str(workers)], env=env
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the service did not start (exit code {process.poll()})")
        time.sleep(0.1)
    service = Service(url, database_url, env, process)
    if program_yaml:
        answer = service.client().put("/v1/program", content=program_yaml,
                                      headers={"Content-Type": "application/yaml"})
        assert answer.status_code == 200, answer.text
    return service


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
