"""deploy/image_test.sh, step 4: the built image run against this machine's PostgreSQL and Redis.

    PYTHONPATH=. DOCKER_HOST=unix://… .venv/bin/python deploy/image_serve_test.py --image bonus-engine:image-test

- `migrate` (the image's `bonus-engine migrate`) on a fresh database, and a pos key from `keys create`;
- the image's own command (`serve --workers 2`) on the host's network: /readyz ready, the health check healthy;
- the storm's program (tests/test_storm.py) loaded, and a receipt confirmed through the container with the
  pos key (201, then a replay);
- `docker stop` during a stream of confirms from CLIENTS connections: the service exits 0 within docker's
  10 s grace (no SIGKILL); every request in flight when `docker stop` was called is answered 201; every
  confirm that got a 2xx is in the ledger, and none that got no answer or an error is (what the service had
  read, it finished and answered); after `docker start` the others, sent again, are applied (201), and a
  third send of them is a replay;
- the storm's exactly-once check: its sequential replay of the ledger (tests.test_storm.replay) holds every
  receipt sent exactly once, every 2xx answer's totals and tier are the replay's, every card's balance and
  tier purchases read through the API are the replay's, and the image's `bonus-engine audit` is clean.

The database, the container and the Redis keys are removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import redis

import tests.test_storm as storm
from app import embedded
from tests.conftest import _with_database
from tests.load import Answer, sql, timed

DOCKER = "/usr/bin/docker"
URL = "http://127.0.0.1:8000"  # the image's port, on the host's network (its health check asks 8000)
CLIENTS = 16
STOP_AFTER = 400  # confirms answered before `docker stop`: the stream is in full flow by then
RECEIPTS = 4000  # more than the stream gets through before the service is gone
STOP_GRACE_S = 10  # docker stop's default, then SIGKILL


def say(text: str) -> None:
    print(f"== image: {text}", flush=True)


def docker(*args: str, timeout: float = 120) -> str:
    done = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])}… exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout.strip()


def wait_ready(timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{URL}/readyz", timeout=2)
            last = answer.json()
            if answer.status_code == 200 and last["status"] == "ready":
                return dict(last)
        except httpx.TransportError as error:
            last = repr(error)
        time.sleep(0.2)
    raise AssertionError(f"/readyz not ready in {timeout_s} s: {last}")


def wait_healthy(container: str, timeout_s: float = 60) -> float:
    started = time.monotonic()
    status = ""
    while time.monotonic() - started < timeout_s:
        status = docker("inspect", "-f", "{{.State.Health.Status}}", container)
        if status == "healthy":
            return time.monotonic() - started
        assert status in ("starting", ""), f"health check: {status}"
        time.sleep(0.5)
    raise AssertionError(f"the health check is '{status}' after {timeout_s} s")


class Stream:
    """CLIENTS threads confirm receipts in order, each on its own keep-alive connection, until the service
    is gone: a client stops at its first request without an HTTP answer."""

    def __init__(self, receipts: list[dict[str, Any]], key: str):
        self.receipts = iter(receipts)
        self.key = key
        self.lock = threading.Lock()
        self.sent: list[tuple[str, Answer]] = []
        self.ok = 0
        self.over = threading.Event()
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(CLIENTS)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self, timeout_s: float) -> None:
        self.over.set()
        deadline = time.monotonic() + timeout_s
        for thread in self.threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self.threads), "a client still waits for an answer"

    def _client(self) -> None:
        with httpx.Client(base_url=URL, headers={"Authorization": f"Bearer {self.key}"}, timeout=30) as client:
            while not self.over.is_set():
                with self.lock:
                    body = next(self.receipts, None)
                if body is None:
                    return
                answer = timed(client, "POST", "/v1/receipts", body, op="confirm")
                with self.lock:
                    self.sent.append((body["receipt_id"], answer))
                    self.ok += answer.ok
                if answer.status is None:
                    return


def stop_under_load(container: str, receipts: list[dict[str, Any]], key: str, database_url: str
                    ) -> tuple[list[tuple[str, Answer]], dict[str, Any]]:
    stream = Stream(receipts, key)
    stream.start()
    deadline = time.monotonic() + 60
    while stream.ok < STOP_AFTER:
        assert time.monotonic() < deadline, f"only {stream.ok} confirms answered in 60 s"
        assert any(t.is_alive() for t in stream.threads), "every client stopped before `docker stop`"
        time.sleep(0.01)
    stop_at = time.monotonic()
    docker("stop", container, timeout=STOP_GRACE_S + 30)
    stopped_in = time.monotonic() - stop_at
    stream.join(40)
    state = docker("inspect", "-f", "{{.State.ExitCode}} {{.State.OOMKilled}}", container)
    sent = stream.sent

    answered = [(rid, a) for rid, a in sent if a.ok]
    unanswered = [(rid, a) for rid, a in sent if a.status is None]
    refused = [(rid, a) for rid, a in sent if a.status is not None and not a.ok]
    in_flight = [a for _, a in answered if a.started < stop_at < a.ended]
    after_stop = [a for _, a in answered if a.ended > stop_at]
    stats = {
        "sent": len(sent), "answered_2xx": len(answered), "statuses": Counter(a.status for _, a in answered),
        "in_flight_at_stop_answered": len(in_flight), "answered_after_stop": len(after_stop),
        "last_answer_after_stop_s": round(max((a.ended - stop_at for a in after_stop), default=0), 2),
        "non_2xx": Counter(f"{a.status} {a.code}" for _, a in refused),
        "no_answer": Counter((a.error or "").split(":")[0] for _, a in unanswered),
        "stopped_in_s": round(stopped_in, 2), "exit": state,
    }
    assert state == "0 false", f"the container exited {state} (137 is docker's SIGKILL after the grace)"
    assert stopped_in < STOP_GRACE_S, f"docker stop took {stopped_in:.1f} s: the grace ran out"
    assert answered and all(a.status == 201 for _, a in answered), stats
    cut = [(rid, a.status, a.error) for rid, a in sent if a.started < stop_at and not a.ok]
    assert not cut, f"requests in flight when `docker stop` was called got no 2xx: {cut[:5]}"

    # straight from the database: every 2xx is there; nothing that went unanswered or was refused is
    in_ledger = {row["receipt_id"] for row in sql(database_url, "SELECT DISTINCT receipt_id FROM ledger"
                                                                " WHERE receipt_id IS NOT NULL")}
    missing = [rid for rid, _ in answered if rid not in in_ledger]
    assert not missing, f"answered 2xx but not in the ledger: {missing[:5]}"
    applied_unanswered = [rid for rid, _ in unanswered + refused if rid in in_ledger]
    assert not applied_unanswered, f"applied, but the client got no 2xx: {applied_unanswered[:5]}"
    return sent, stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", required=True)
    args = parser.parse_args()
    image = args.image
    admin_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    run_id = secrets.token_hex(4)
    admin_key = "image-admin-" + secrets.token_hex(16)
    prefix = f"image{run_id}:"
    name = f"bonus_image_{run_id}"
    container = f"bonus-image-{run_id}"
    asyncio.run(embedded.create_database(admin_url, name))
    database_url = _with_database(admin_url, name)
    env = ["--network", "host", "-e", f"DATABASE_URL={database_url}", "-e", f"REDIS_URL={redis_url}",
           "-e", f"BONUS_ENGINE_REDIS_PREFIX={prefix}", "-e", f"BONUS_ENGINE_BOOTSTRAP_ADMIN_KEY={admin_key}",
           "-e", "BONUS_ENGINE_PROGRAM_POLL_MS=200"]

    def cli(*command: str) -> str:
        return docker("run", "--rm", *env, "--entrypoint", "bonus-engine", image, *command)

    try:
        started = time.monotonic()
        out = cli("migrate")
        assert "migrations applied" in out, out
        pos_key = cli("keys", "create", "--role", "pos")
        assert pos_key and "\n" not in pos_key, pos_key
        say(f"migrate on a fresh database ({name}) and a pos key from `keys create` "
            f"({time.monotonic() - started:.1f} s)")

        docker("run", "-d", "--name", container, *env, image)
        started = time.monotonic()
        ready = wait_ready()
        ready_in = time.monotonic() - started
        healthy_in = wait_healthy(container)
        user = docker("exec", container, "id", "-u")
        assert user == "10001", user
        say(f"serve: /readyz ready in {ready_in:.1f} s ({ready['checks']}), health check healthy after "
            f"{healthy_in:.1f} s more, uid {user}")

        admin = httpx.Client(base_url=URL, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30)
        pos = httpx.Client(base_url=URL, headers={"Authorization": f"Bearer {pos_key}"}, timeout=30)
        answer = admin.put("/v1/program", content=storm.PROGRAM, headers={"Content-Type": "application/yaml"})
        assert answer.status_code == 200, answer.text
        time.sleep(1)  # the second worker finds the program by polling
        rng = random.Random(int(os.environ.get("BONUS_STORM_SEED", "20261206")))
        cards = [f"29{rng.randrange(10**11):011d}" for _ in range(storm.CARDS)]
        storm.RECEIPTS = RECEIPTS  # make_stream reads the module's count
        _, bodies = storm.make_stream(rng, cards)
        receipts = list(bodies.values())
        first = receipts[0]
        answers: dict[str, Any] = {}  # receipt id -> the body of a 2xx answer
        confirmed = pos.post("/v1/receipts", json=first)
        assert confirmed.status_code == 201, confirmed.text
        again = pos.post("/v1/receipts", json=first)
        assert again.status_code == 200 and again.headers.get("idempotent-replayed") == "true", again.text
        assert again.json() == confirmed.json()
        answers[first["receipt_id"]] = confirmed.json()
        account = pos.get(f"/v1/accounts/{first['card']}").json()
        say(f"a receipt confirmed through the container: 201 ({confirmed.json()['totals']}), a resend 200 "
            f"replayed; the card holds {account['points']['available']} points")
        admin.close()
        pos.close()

        stream_receipts = receipts[1:]
        sent, stats = stop_under_load(container, stream_receipts, pos_key, database_url)
        cut = ", ".join(f"{n} {kind}" for kind, n in stats["no_answer"].items()) or "none"
        say(f"docker stop during a stream of confirms from {CLIENTS} clients: {stats['sent']} sent, "
            f"{stats['answered_2xx']} answered 201 ({stats['in_flight_at_stop_answered']} of them in flight when "
            f"docker stop was called, {stats['answered_after_stop']} answered after it, the last "
            f"{stats['last_answer_after_stop_s']} s after); other statuses: {dict(stats['non_2xx']) or 'none'}; "
            f"no answer (connections closed by the stopping server): {cut}, none of them applied; "
            f"the container exited {stats['exit'].split()[0]} in {stats['stopped_in_s']} s")
        answers.update({rid: a.body for rid, a in sent if a.ok})

        docker("start", container)
        started = time.monotonic()
        wait_ready()
        say(f"docker start: ready again in {time.monotonic() - started:.1f} s")
        others = [rid for rid, a in sent if not a.ok]
        with httpx.Client(base_url=URL, headers={"Authorization": f"Bearer {pos_key}"}, timeout=30) as client:
            for rid in others:
                resent = client.post("/v1/receipts", json=bodies[rid])
                assert resent.status_code == 201, (rid, resent.status_code, resent.text)
                answers[rid] = resent.json()
            for rid in others:
                replayed = client.post("/v1/receipts", json=bodies[rid])
                assert replayed.status_code == 200 and replayed.headers.get("idempotent-replayed") == "true", rid
                assert replayed.json() == answers[rid], rid
        say(f"the {len(others)} confirms without a 2xx, sent again: each applied (201), and a replay the time after")

        # the storm's exactly-once check on every receipt sent
        sent_ids = {first["receipt_id"]} | {rid for rid, _ in sent}
        assert set(answers) == sent_ids
        model = storm.replay(database_url, bodies, datetime.now(UTC))
        applied = {rid for card in model.cards.values() for rid in card.receipts}
        assert applied == sent_ids, "every receipt sent applied exactly once"
        by_receipt = {rid: card.receipts[rid] for card in model.cards.values() for rid in card.receipts}
        for rid, body in answers.items():
            expected = by_receipt[rid]
            got = {name: body["totals"][name] for name in expected.totals}
            assert got == expected.totals, (rid, got, expected.totals)
            assert body["account"]["tier_applied"] == expected.tier_applied, rid
        now = datetime.now(UTC)
        with httpx.Client(base_url=URL, headers={"Authorization": f"Bearer {pos_key}"}, timeout=30) as client:
            for number, card in model.cards.items():
                account = client.get(f"/v1/accounts/{number}").json()
                assert account["points"]["available"] == card.balance, (number, account["points"], card.balance)
                assert account["tier"]["purchases"] == card.facts(now)[0], (number, account["tier"])
        statuses = Counter(r["status"] for r in sql(database_url, "SELECT status FROM receipts"))
        assert statuses == {"confirmed": len(sent_ids)}, statuses
        audit = cli("audit")
        assert audit.startswith("audit clean"), audit
        say(f"exactly once: the storm's sequential replay of the ledger holds the {len(sent_ids)} receipts sent, "
            f"each once; every answer, balance and tier of the {len(model.cards)} cards equals the replay; "
            f"the image's audit is clean")
        return 0
    finally:
        subprocess.run([DOCKER, "rm", "-f", container], capture_output=True)
        asyncio.run(embedded.drop_database(admin_url, name))
        with redis.Redis.from_url(redis_url) as client:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)


if __name__ == "__main__":
    sys.exit(main())
