"""A small HTTP load probe for the capacity estimate in deploy/SCALING.md (not a test, not the full benchmark).

    python -m loadtests.bench_confirms --url http://127.0.0.1:8000 --key $ADMIN --receipts /tmp/receipts.jsonl \
        [--count 2000] [--concurrency 32] [--path /v1/receipts]

Sends the first `--count` receipt bodies of a JSONL file (`python -m loadtests.make_receipts`) to `--path`
over `--concurrency` keep-alive connections and prints one JSON line: requests/s, latency percentiles
and the count of each status. The client is raw asyncio streams with pre-built HTTP/1.1 requests, so the
load generator costs little CPU next to the service on the same machine. With `--path account` it reads
`GET /v1/accounts/{card}` for the receipts' cards instead (the read endpoint).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from urllib.parse import urlsplit


def _requests(args: argparse.Namespace, host: str) -> list[bytes]:
    with open(args.receipts, encoding="utf-8") as source:
        bodies = [json.loads(row) for row, _ in zip(source, range(args.count), strict=False)]
    made = []
    for body in bodies:
        if args.path == "account":
            made.append(f"GET /v1/accounts/{body.get('card', '0')} HTTP/1.1\r\nHost: {host}\r\n"
                        f"Authorization: Bearer {args.key}\r\n\r\n".encode())
            continue
        raw = json.dumps(body).encode()
        made.append(f"POST {args.path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {args.key}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n\r\n".encode() + raw)
    return made


async def _worker(host: str, port: int, queue: list[bytes], latencies: list[float], statuses: Counter[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while queue:
            request = queue.pop()
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for header in head.split(b"\r\n")[1:]:
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses[int(head.split(b" ", 2)[1])] += 1
    finally:
        writer.close()


async def run(args: argparse.Namespace) -> dict[str, object]:
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    queue = _requests(args, f"{host}:{port}")
    queue.reverse()  # pop() takes them in file order
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    started = time.perf_counter()
    await asyncio.gather(*(_worker(host, port, queue, latencies, statuses) for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1)

    return {"path": args.path, "requests": len(latencies), "concurrency": args.concurrency,
            "seconds": round(elapsed, 2), "per_second": round(len(latencies) / elapsed),
            "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
            "statuses": dict(sorted(statuses.items()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--key", required=True)
    parser.add_argument("--receipts", required=True)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--path", default="/v1/receipts", help="/v1/receipts, /v1/receipts/calculate or account")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
